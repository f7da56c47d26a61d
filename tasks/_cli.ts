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
import { KvbitsJobError, sayOptions } from "../src/jobs/job_error.ts";
import type { AnalyzeReport } from "../src/jobs/analyze_job.ts";
import type { DecodeReport } from "../src/jobs/decode_job.ts";
import { countOutcomes, type DumpOutcome } from "../src/jobs/job_report.ts";

// The progress bar lives in its own file; tasks take it from here with the rest.
export { terminalProgress } from "./_progress.ts";

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
  /** A string flag that may be given several times: its value is a `string[]`. */
  readonly repeatable?: boolean;
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

/**
 * Parsed flag values by name (`undefined` when an optional flag is absent; a
 * `string[]` for a repeatable flag, empty when absent).
 */
export type FlagValues = Record<
  string,
  string | string[] | number | boolean | undefined
>;

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
    if (flag.repeatable) {
      if (all.length === 0 && flag.required) {
        throw new UsageError(
          `--${name} ${flag.value ?? "VALUE"} is required: ${flag.help}`,
        );
      }
      if (all.some((value) => String(value) === "")) {
        throw new UsageError(
          `--${name} needs a value (${flag.value ?? "VALUE"})`,
        );
      }
      values[name] = all.map(String);
      continue;
    }
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
 * How the user started a task, for help and hints: `kvbits-encode` for a compiled
 * executable, `deno run [permissions] kvbits-encode.js` for a bundle, otherwise
 * `deno task encode`.
 *
 * @param task The task definition.
 * @returns The command, without flags.
 *
 * @example
 * ```ts
 * import { commandOf } from "./_cli.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(commandOf({ name: "encode", summary: "", flags: {} }), "deno task encode");
 * ```
 */
export function commandOf(task: TaskDefinition): string {
  if (Deno.build.standalone) return `kvbits-${task.name}`;
  const bundle = `kvbits-${task.name}.js`;
  return Deno.mainModule.endsWith(`/${bundle}`)
    ? `deno run [permissions] ${bundle}`
    : `deno task ${task.name}`;
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
    `Usage: ${commandOf(task)} [flags]`,
    "",
    "Flags:",
  ];
  const entries = Object.entries(task.flags).map(([name, flag]) => {
    const left = `--${name}` +
      (flag.type === "boolean" ? "" : ` ${flag.value ?? "VALUE"}`);
    const extras = [
      flag.required ? "required" : undefined,
      flag.repeatable ? "repeatable" : undefined,
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
 * it is a bug). With `--json`, a job that cannot run (or a bug) also prints its
 * JSON summary, `{"task", "exitCode", "error"}`, so that stdout always holds one
 * object; a wrong command line has none, since its flags could not be read.
 *
 * @param task The task definition.
 * @param main The task's work, returning its exit code.
 */
export async function runTask(
  task: TaskDefinition,
  main: (flags: FlagValues) => Promise<number>,
): Promise<void> {
  let code: number;
  let flags: FlagValues | undefined;
  try {
    flags = parseTaskFlags(Deno.args, task);
    if (flags === undefined) {
      console.log(helpText(task));
      code = EXIT_CODES.ok;
    } else {
      code = await main(flags);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`kvbits ${task.name}: ${error.message}`);
      console.error(`Run "${commandOf(task)} --help" for the flags.`);
      code = EXIT_CODES.usage;
    } else if (
      error instanceof KvbitsJobError || error instanceof KvbitsFileError ||
      error instanceof KvbitsFormatError || error instanceof KvbitsDataError
    ) {
      console.error(`kvbits ${task.name}: ${messageOf(error)}`);
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
    if (flags?.json === true && code !== EXIT_CODES.usage) {
      printJson({
        task: task.name,
        exitCode: code,
        error: error instanceof Error ? messageOf(error) : String(error),
      });
    }
  }
  Deno.exit(code);
}

/** The flag of a job option: `dumpDir` is `--dump-dir`. */
function flagOf(option: string): string {
  return `--${option.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/**
 * An error's message as the CLI says it: a job's options as their flags
 * (`--dump-dir`, and `--dump-dir folder` inside a sentence).
 */
function messageOf(error: Error): string {
  if (!(error instanceof KvbitsJobError)) return error.message;
  return error.describe((option, lead) =>
    lead || !option.endsWith("Dir")
      ? flagOf(option)
      : `${flagOf(option)} folder`
  );
}

/**
 * A job's text (a dump's reason) as the CLI says it: the options it mentions
 * as flags.
 *
 * @param text The text.
 * @returns It with flags.
 *
 * @example
 * ```ts
 * import { flagsIn } from "./_cli.ts";
 * import { mentionOption } from "../src/jobs/job_error.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(flagsIn(`below ${mentionOption("minSeqLen")} 4`), "below --min-seq-len 4");
 * ```
 */
export function flagsIn(text: string): string {
  return sayOptions(text, flagOf);
}

/**
 * Prints the skipped and failed dumps of a job, one line each, to stderr.
 *
 * @param outcomes The job's outcomes.
 */
export function printProblems(outcomes: readonly DumpOutcome[]): void {
  for (const outcome of outcomes) {
    if (outcome.status === "skipped") {
      console.error(`skipped ${flagsIn(outcome.reason ?? "")}`);
    }
  }
  for (const outcome of outcomes) {
    if (outcome.status === "failed") {
      console.error(`failed  ${flagsIn(outcome.reason ?? "")}`);
    }
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
 * Bytes for people: `233,472 B (0.23 MB)`.
 *
 * @param bytes A byte count.
 * @returns The formatted count.
 */
export function formatBytes(bytes: number): string {
  const exact = `${Math.round(bytes).toLocaleString("en-US")} B`;
  return bytes >= 1e5 ? `${exact} (${(bytes / 1e6).toFixed(2)} MB)` : exact;
}

/** `--quiet` and `--json`, shared by the tasks that run over a folder. */
export const OUTPUT_FLAGS = {
  quiet: {
    type: "boolean",
    help:
      "no progress bar, only the summary (off a terminal there is none anyway)",
  },
  json: {
    type: "boolean",
    help:
      "print the summary as one JSON object on stdout, and nothing else there",
  },
} as const satisfies Record<string, FlagDefinition>;

/** `--no-fsync`, shared by the tasks that write a folder (encode, decode). */
export const NO_FSYNC_FLAG = {
  "no-fsync": {
    type: "boolean",
    help:
      "do not flush outputs to the disk (faster on slow disks; outputs then survive a killed run but not a power cut)",
  },
} as const satisfies Record<string, FlagDefinition>;

/** A dump left out or failed, as the JSON summary lists it. */
export interface DumpProblem {
  /** The dump's meta file, relative to the folder the task read. */
  readonly dump: string;
  /** One line: the file at fault and what is wrong. */
  readonly reason: string;
}

/**
 * The skipped and failed dumps of a job, for the JSON summary.
 *
 * @param outcomes The job's outcomes.
 * @returns The skipped and the failed dumps with their reasons, in path order.
 *
 * @example
 * ```ts
 * import { problemsOf } from "./_cli.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(
 *   problemsOf([{ dump: "a", status: "done" }, { dump: "b", status: "skipped", reason: "why" }]),
 *   { skipped: [{ dump: "b", reason: "why" }], failed: [] },
 * );
 * ```
 */
export function problemsOf(
  outcomes: readonly DumpOutcome[],
): { skipped: DumpProblem[]; failed: DumpProblem[] } {
  const pick = (status: DumpOutcome["status"]) =>
    outcomes.filter((outcome) => outcome.status === status).map((outcome) => ({
      dump: outcome.dump,
      reason: flagsIn(outcome.reason ?? ""),
    }));
  return { skipped: pick("skipped"), failed: pick("failed") };
}

/**
 * A ratio for the JSON summary: `null` when there is nothing to divide by.
 *
 * @param numerator Bytes before.
 * @param denominator Bytes after.
 * @returns `numerator / denominator`, or `null` when `denominator` is 0.
 *
 * @example
 * ```ts
 * import { ratioOrNull } from "./_cli.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals([ratioOrNull(3, 2), ratioOrNull(3, 0)], [1.5, null]);
 * ```
 */
export function ratioOrNull(
  numerator: number,
  denominator: number,
): number | null {
  return denominator > 0 ? numerator / denominator : null;
}

/**
 * Seconds for the JSON summary, to the millisecond.
 *
 * @param seconds A duration.
 * @returns The duration rounded to 3 decimals.
 *
 * @example
 * ```ts
 * import { roundSeconds } from "./_cli.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(roundSeconds(0.123456), 0.123);
 * ```
 */
export function roundSeconds(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}

/**
 * The JSON summary of decode and verify: dumps found, done, skipped and failed,
 * what was checked how, bytes read (streams and JSON) and decoded (tensors), the
 * ratio, time and rate, and every skipped or failed dump with its reason.
 *
 * @param task `decode` or `verify`.
 * @param report The decode job's report.
 * @param exitCode The task's exit code.
 * @returns The summary object.
 *
 * @example
 * ```ts
 * import { decodeSummary } from "./_cli.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const summary = decodeSummary("verify", {
 *   layout: "bitstream_huffman", outcomes: [{ dump: "a", status: "done" }],
 *   checkedByChecksum: 1, checkedAgainstOriginals: 0, unchecked: 0,
 *   rawBytes: 300, streamBytes: 200, metaBytes: 100, codebookBytes: 0, seconds: 0.5,
 * }, 0);
 * assertEquals(summary.ratio, { streams: 1.5, withJson: 1 });
 * ```
 */
export function decodeSummary(
  task: string,
  report: Pick<
    DecodeReport,
    | "layout"
    | "outcomes"
    | "checkedByChecksum"
    | "checkedAgainstOriginals"
    | "unchecked"
    | "rawBytes"
    | "streamBytes"
    | "metaBytes"
    | "codebookBytes"
    | "seconds"
  >,
  exitCode: number,
): Record<string, unknown> {
  const json = report.metaBytes + report.codebookBytes;
  const read = report.streamBytes + json;
  return {
    task,
    exitCode,
    layout: report.layout ?? null,
    dumps: { found: report.outcomes.length, ...countOutcomes(report.outcomes) },
    checked: {
      againstOriginals: report.checkedAgainstOriginals,
      byChecksum: report.checkedByChecksum,
      unchecked: report.unchecked,
    },
    bytes: {
      in: read,
      out: report.rawBytes,
      tensors: report.rawBytes,
      streams: report.streamBytes,
      json,
    },
    ratio: {
      streams: ratioOrNull(report.rawBytes, report.streamBytes),
      withJson: ratioOrNull(report.rawBytes, read),
    },
    seconds: roundSeconds(report.seconds),
    megabytesPerSecond: ratioOrNull(report.rawBytes / 1e6, report.seconds),
    ...problemsOf(report.outcomes),
  };
}

/**
 * The JSON summary of one analyzed bitstream folder: dumps found, done and failed,
 * K and V bytes, coded bytes with and without the JSON files, both ratios, the
 * K, V and KV totals as in the summary table, the files written, and every failed
 * dump with its reason.
 *
 * @param report The analyze job's report.
 * @param exitCode The task's exit code.
 * @param seconds Wall time of the job.
 * @returns The summary object.
 *
 * @example
 * ```ts
 * import { analyzeSummary } from "./_cli.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const totals = (coded: number) => ({
 *   dumps: 1, kRaw: 100, vRaw: 100, kCoded: coded, vCoded: coded,
 *   kRatio: 100 / coded, vRatio: 100 / coded, kvRatio: 100 / coded,
 * });
 * const summary = analyzeSummary({
 *   codec: "huffman", outcomes: [{ dump: "a", status: "done" }],
 *   withoutMeta: totals(80), withMeta: totals(100), written: [],
 * }, 0, 0.25);
 * assertEquals(summary.bytes, { in: 200, out: 200, tensors: 200, streams: 160, json: 40 });
 * assertEquals(summary.ratio, { streams: 1.25, withJson: 1 });
 * ```
 */
export function analyzeSummary(
  report: Pick<
    AnalyzeReport,
    "codec" | "outcomes" | "withoutMeta" | "withMeta" | "written"
  >,
  exitCode: number,
  seconds: number,
): Record<string, unknown> {
  const tensors = report.withoutMeta.kRaw + report.withoutMeta.vRaw;
  const streams = report.withoutMeta.kCoded + report.withoutMeta.vCoded;
  const withJson = report.withMeta.kCoded + report.withMeta.vCoded;
  return {
    task: "analyze",
    exitCode,
    codec: report.codec ?? null,
    dumps: { found: report.outcomes.length, ...countOutcomes(report.outcomes) },
    bytes: {
      in: tensors,
      out: withJson,
      tensors,
      streams,
      json: withJson - streams,
    },
    ratio: {
      streams: ratioOrNull(tensors, streams),
      withJson: ratioOrNull(tensors, withJson),
    },
    withoutMeta: report.withoutMeta,
    withMeta: report.withMeta,
    written: report.written,
    seconds: roundSeconds(seconds),
    ...problemsOf(report.outcomes),
  };
}

/**
 * Prints a task's JSON summary: one object on stdout (indented, for people too).
 *
 * @param summary The summary object.
 */
export function printJson(summary: Record<string, unknown>): void {
  console.log(JSON.stringify(summary, null, 2));
}
