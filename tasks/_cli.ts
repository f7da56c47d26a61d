/**
 * What the command-line tasks share: flag parsing with clear errors, help text,
 * exit codes, and the translation of errors into one-line messages.
 *
 * @module
 */

import { parseArgs } from "@std/cli";
import { KvbitsDataError } from "../src/codec/errors.ts";
import { KvbitsFileError } from "../src/dump/file_error.ts";
import { KvbitsFormatError } from "../src/format/format_error.ts";
import { KvbitsJobError } from "../src/jobs/job_error.ts";
import type { DumpOutcome, JobProgress } from "../src/jobs/job_report.ts";

/** Exit codes of every task; scripts can rely on them. */
export const EXIT_CODES = {
  /** Everything asked for was done. */
  ok: 0,
  /** No dump was found or selected: nothing was done. */
  nothingFound: 1,
  /** At least one dump failed (or, for verify, differs or could not be checked). */
  dumpsFailed: 2,
  /** The job could not run: a folder is missing, an output would clobber an input. */
  fatal: 3,
  /** The command line is wrong: unknown flag, missing or bad value. */
  usage: 64,
  /** A bug in kvbits: please report it with the message. */
  internal: 70,
} as const;

/** The exit codes as help text lines. */
const EXIT_CODE_HELP = [
  "Exit codes:",
  "  0   success",
  "  1   no dump found or selected",
  "  2   one or more dumps failed (verify: differ or could not be checked)",
  "  3   the job could not run (missing folder, refused output folder, ...)",
  "  64  usage error (unknown flag, missing or bad value)",
  "  70  internal error (a bug; please report it)",
];

/** One flag of a task. */
export interface FlagDefinition {
  /** `string`: any text; `integer`: a non-negative integer; `boolean`: a switch. */
  readonly type: "string" | "integer" | "boolean";
  /** For strings: the only values allowed. */
  readonly choices?: readonly string[];
  /** The flag must be given. */
  readonly required?: boolean;
  /** Value when the flag is not given. */
  readonly default?: string | number | boolean;
  /** Placeholder of the value in the help, e.g. `DIR`. */
  readonly value?: string;
  /** One line of help. */
  readonly help: string;
}

/** A task's name, help and flags. */
export interface TaskDefinition {
  /** E.g. `encode`. */
  readonly name: string;
  /** One sentence: what the task does. */
  readonly summary: string;
  /** Flags by name, without the leading dashes. */
  readonly flags: Readonly<Record<string, FlagDefinition>>;
  /** Further help paragraphs. */
  readonly notes?: readonly string[];
}

/** Parsed flag values by name (`undefined` when an optional flag is absent). */
export type FlagValues = Record<string, string | number | boolean | undefined>;

/** A wrong command line: the message says what was expected. */
export class UsageError extends Error {
  /** @param message What is wrong and what was expected. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/**
 * Parses a task's command line strictly: unknown flags, positional arguments,
 * repeated flags, missing required flags and bad values are usage errors.
 *
 * @param args The command line arguments.
 * @param task The task definition.
 * @returns The flag values, or `undefined` when `--help` was asked for.
 * @throws {UsageError} When the command line is wrong.
 */
export function parseTaskFlags(
  args: string[],
  task: TaskDefinition,
): FlagValues | undefined {
  const names = Object.keys(task.flags);
  const booleans = names.filter((name) => task.flags[name].type === "boolean");
  const strings = names.filter((name) => task.flags[name].type !== "boolean");
  // "--min-seq-len -3" would read "-3" as a flag: attach such a value to its flag
  // ("--min-seq-len=-3") so that the value check below can say what is wrong.
  const attached: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const next = args[i + 1];
    if (
      strings.includes(arg.replace(/^--/, "")) && arg.startsWith("--") &&
      next !== undefined && /^-\d/.test(next)
    ) {
      attached.push(`${arg}=${next}`);
      i++;
    } else {
      attached.push(arg);
    }
  }
  const parsed = parseArgs(attached, {
    boolean: [...booleans, "help"],
    string: strings,
    collect: strings,
    alias: { h: "help" },
    unknown: (arg: string) => {
      if (arg.startsWith("-")) {
        throw new UsageError(
          `unknown flag ${arg.split("=")[0]}; the flags of ${task.name} are ${
            names.map((name) => `--${name}`).join(", ")
          }`,
        );
      }
      throw new UsageError(
        `unexpected argument ${
          JSON.stringify(arg)
        }: ${task.name} takes only flags (see --help)`,
      );
    },
  });
  if (parsed.help) return undefined;
  const values: FlagValues = {};
  for (const name of names) {
    const flag = task.flags[name];
    if (flag.type === "boolean") {
      values[name] = parsed[name] === true;
      continue;
    }
    const all = parsed[name] as string[];
    if (all.length > 1) {
      throw new UsageError(
        `--${name} is given ${all.length} times; give it once`,
      );
    }
    const given = all[0];
    if (given === undefined) {
      if (flag.required) {
        throw new UsageError(
          `--${name} ${flag.value ?? "VALUE"} is required: ${flag.help}`,
        );
      }
      values[name] = flag.default;
      continue;
    }
    const raw = String(given);
    if (raw === "") {
      throw new UsageError(
        `--${name} needs a value (${flag.value ?? "VALUE"})`,
      );
    }
    if (flag.type === "integer") {
      if (!/^\d+$/.test(raw) || !Number.isSafeInteger(Number(raw))) {
        throw new UsageError(
          `--${name} must be a non-negative integer, got ${
            JSON.stringify(raw)
          }`,
        );
      }
      values[name] = Number(raw);
      continue;
    }
    if (flag.choices && !flag.choices.includes(raw)) {
      throw new UsageError(
        `--${name} must be one of ${flag.choices.join(", ")}, got ${
          JSON.stringify(raw)
        }`,
      );
    }
    values[name] = raw;
  }
  return values;
}

/**
 * The `--help` text of a task: summary, usage, flags, notes and exit codes.
 *
 * @param task The task definition.
 * @returns The help text.
 */
export function helpText(task: TaskDefinition): string {
  const lines = [
    `kvbits ${task.name}: ${task.summary}`,
    "",
    `Usage: deno task ${task.name} [flags]`,
    "",
    "Flags:",
  ];
  const entries = Object.entries(task.flags).map(([name, flag]) => {
    const left = `--${name}` +
      (flag.type === "boolean" ? "" : ` ${flag.value ?? "VALUE"}`);
    const extras = [
      flag.required ? "required" : undefined,
      flag.choices ? `one of ${flag.choices.join(", ")}` : undefined,
      flag.default !== undefined && flag.type !== "boolean"
        ? `default ${flag.default}`
        : undefined,
    ].filter((item) => item !== undefined);
    return [left, flag.help + (extras.length ? ` (${extras.join("; ")})` : "")];
  });
  entries.push(["--help, -h", "show this help"]);
  const width = Math.max(...entries.map(([left]) => left.length)) + 2;
  for (const [left, right] of entries) {
    lines.push(`  ${left.padEnd(width)}${right}`);
  }
  for (const note of task.notes ?? []) lines.push("", note);
  lines.push("", ...EXIT_CODE_HELP);
  return lines.join("\n");
}

/**
 * Runs a task: parses its flags, prints help on `--help`, runs `main` and exits with
 * its code. Errors become one line on stderr and an exit code: usage errors 64, a
 * job that cannot run 3 (kvbits' own errors, and access refused by Deno's
 * permissions or the file system), anything unexpected 70 (with the stack, since
 * it is a bug).
 *
 * @param task The task definition.
 * @param main The task's work, returning its exit code.
 */
export async function runTask(
  task: TaskDefinition,
  main: (flags: FlagValues) => Promise<number>,
): Promise<void> {
  let code: number;
  try {
    const flags = parseTaskFlags(Deno.args, task);
    if (flags === undefined) {
      console.log(helpText(task));
      code = EXIT_CODES.ok;
    } else {
      code = await main(flags);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`kvbits ${task.name}: ${error.message}`);
      console.error(`Run "deno task ${task.name} --help" for the flags.`);
      code = EXIT_CODES.usage;
    } else if (
      error instanceof KvbitsJobError || error instanceof KvbitsFileError ||
      error instanceof KvbitsFormatError || error instanceof KvbitsDataError
    ) {
      console.error(`kvbits ${task.name}: ${error.message}`);
      code = EXIT_CODES.fatal;
    } else if (
      error instanceof Deno.errors.NotCapable ||
      error instanceof Deno.errors.PermissionDenied
    ) {
      // The environment, not kvbits: Deno's flags or the file system refuse access.
      console.error(`kvbits ${task.name}: ${error.message.split("\n")[0]}`);
      code = EXIT_CODES.fatal;
    } else {
      console.error(
        `kvbits ${task.name}: internal error, please report it:`,
        error,
      );
      code = EXIT_CODES.internal;
    }
  }
  Deno.exit(code);
}

/**
 * Prints the skipped and failed dumps of a job, one line each, to stderr.
 *
 * @param outcomes The job's outcomes.
 */
export function printProblems(outcomes: readonly DumpOutcome[]): void {
  for (const outcome of outcomes) {
    if (outcome.status === "skipped") {
      console.error(`skipped ${outcome.reason}`);
    }
  }
  for (const outcome of outcomes) {
    if (outcome.status === "failed") console.error(`failed  ${outcome.reason}`);
  }
}

/**
 * Says, on stderr, how many temporary files of an interrupted run were removed
 * from the output folder (nothing when none were).
 *
 * @param count Files removed.
 */
export function printTemporaryFilesRemoved(count: number): void {
  if (count > 0) {
    console.error(
      `removed ${count} temporary file${
        count === 1 ? "" : "s"
      } left in the output folder by an interrupted run`,
    );
  }
}

/**
 * A progress listener that redraws one status line on stderr when it is a
 * terminal, and shows nothing otherwise.
 *
 * @returns The listener and a function that clears the line at the end.
 */
export function terminalProgress(): {
  listener?: (progress: JobProgress) => void;
  finish: () => void;
} {
  if (!Deno.stderr.isTerminal()) return { finish: () => {} };
  const encoder = new TextEncoder();
  const started = performance.now();
  let shown = false;
  return {
    listener: (progress) => {
      const seconds = (performance.now() - started) / 1000;
      const rate = seconds > 0 ? progress.bytes / 1e6 / seconds : 0;
      const line =
        `${progress.phase} ${progress.done}/${progress.total} dumps, ${
          formatBytes(progress.bytes)
        }, ${rate.toFixed(1)} MB/s`;
      Deno.stderr.writeSync(encoder.encode(`\r\x1b[2K${line}`));
      shown = true;
    },
    finish: () => {
      if (shown) Deno.stderr.writeSync(encoder.encode("\r\x1b[2K"));
    },
  };
}

/**
 * Bytes for people: `233,472 B (0.23 MB)`.
 *
 * @param bytes A byte count.
 * @returns The formatted count.
 */
export function formatBytes(bytes: number): string {
  const exact = `${Math.round(bytes).toLocaleString("en-US")} B`;
  return bytes >= 1e5 ? `${exact} (${(bytes / 1e6).toFixed(2)} MB)` : exact;
}
