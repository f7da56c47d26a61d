/**
 * What the command-line tasks share: flag parsing with clear errors, help text,
 * exit codes, and the translation of errors into one-line messages.
 *
 * @module
 */

import { parseArgs } from "@std/cli";
import { isAbsolute, resolve } from "../src/dump/path.ts";
import denoJson from "../deno.json" with { type: "json" };
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

/** What each exit code means, as `--help` says it unless a task words it its own way. */
const EXIT_CODE_MEANINGS: Readonly<Record<keyof typeof EXIT_CODES, string>> = {
  ok: "success",
  nothingFound: "no dump found or selected",
  dumpsFailed: "one or more dumps failed",
  fatal: "the job could not run (missing folder, refused output folder, ...)",
  usage: "usage error (unknown flag, missing or bad value)",
  internal: "internal error (a bug; please report it)",
};

/** kvbits' version, from deno.json. */
export const VERSION: string = denoJson.version;

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
  /**
   * How `--help` states the default when the value alone would not say it
   * (e.g. `one per CPU (2 here)`).
   */
  readonly defaultText?: string;
  /** One-letter alias, without the dash (`o` for `-o`). */
  readonly short?: string;
  /**
   * A file or folder: a relative value is taken from the folder the user ran the
   * command in (see {@link userDirectory}) and made absolute, `-` is left as is.
   */
  readonly path?: boolean;
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
  /** Arguments that are not flags (`merge a.kvp b.kvp`); none when absent. */
  readonly operands?: OperandsDefinition;
  /** Further help paragraphs. */
  readonly notes?: readonly string[];
  /**
   * The exit codes this task can end with besides 0, 64 and 70 (which every task
   * can), each with the task's own wording or `true` for the usual one.
   */
  readonly exitCodes: Partial<
    Record<"nothingFound" | "dumpsFailed" | "fatal", string | true>
  >;
}

/** The arguments of a task that are not flags: one or more values of one kind. */
export interface OperandsDefinition {
  /** The key of their values (a `string[]`) among the parsed flags. */
  readonly name: string;
  /** How help names one of them, e.g. `PACK`. */
  readonly value: string;
  /** What they are. */
  readonly help: string;
  /** Paths: made absolute against the folder the user ran the command in. */
  readonly path?: boolean;
}

/** A task as the `kvbits` command and its aliases run it: its definition and its work. */
export interface TaskCommand {
  /** Name, help and flags. */
  readonly definition: TaskDefinition;
  /** The task's work on parsed flags, returning its exit code. */
  readonly main: (flags: FlagValues) => Promise<number>;
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

/** What a command line asks for besides the task's work. */
export type ParsedCommandLine = FlagValues | "help" | "version";

/**
 * Parses a task's command line strictly: unknown flags, positional arguments
 * (unless the task takes operands, which are then required), repeated flags,
 * missing required flags and bad values are usage errors. Short
 * flags (`-o DIR`, `-fq`, `-j2`) stand for their long names.
 *
 * @param args The command line arguments.
 * @param task The task definition.
 * @returns The flag values, or `"help"` / `"version"` when `--help` (`-h`) or
 * `--version` (`-V`) was asked for.
 * @throws {UsageError} When the command line is wrong.
 *
 * @example
 * ```ts
 * import { parseTaskFlags } from "./_cli.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const task = {
 *   name: "t", summary: "", exitCodes: {},
 *   flags: {
 *     "out-dir": { type: "string", short: "o", help: "" },
 *     quiet: { type: "boolean", short: "q", help: "" },
 *   },
 * } as const;
 * assertEquals(parseTaskFlags(["-qo", "x"], task), { "out-dir": "x", quiet: true });
 * assertEquals(parseTaskFlags(["-qox"], task), { "out-dir": "x", quiet: true });
 * const merge = { ...task, operands: { name: "packs", value: "PACK", help: "" } };
 * assertEquals(parseTaskFlags(["a", "-q", "b"], merge), { packs: ["a", "b"], "out-dir": undefined, quiet: true });
 * assertEquals(parseTaskFlags(["-V"], task), "version");
 * ```
 */
export function parseTaskFlags(
  args: readonly string[],
  task: TaskDefinition,
): ParsedCommandLine {
  const names = Object.keys(task.flags);
  const booleans = names.filter((name) => task.flags[name].type === "boolean");
  const strings = names.filter((name) => task.flags[name].type !== "boolean");
  const alias: Record<string, string> = { h: "help", V: "version" };
  for (const name of names) {
    const short = task.flags[name].short;
    if (short !== undefined) alias[short] = name;
  }
  const takesValue = (arg: string) =>
    arg.startsWith("--")
      ? strings.includes(arg.slice(2))
      : /^-[A-Za-z]$/.test(arg) && strings.includes(alias[arg[1]]);
  // Short switches given together ("-fqj2") one by one ("-f -q -j 2"): the
  // first letter that takes a value takes the rest of the word.
  const separate: string[] = [];
  for (const arg of args) {
    if (!/^-[A-Za-z][^=]/.test(arg)) {
      separate.push(arg);
      continue;
    }
    for (let i = 1; i < arg.length; i++) {
      separate.push(`-${arg[i]}`);
      if (strings.includes(alias[arg[i]]) && i + 1 < arg.length) {
        separate.push(arg.slice(i + 1));
        break;
      }
    }
  }
  // "--min-seq-len -3" would read "-3" as a flag: attach such a value to its flag
  // ("--min-seq-len=-3") so that the value check below can say what is wrong;
  // likewise "-" (standard input or output, as in "--pack -").
  const attached: string[] = [];
  for (let i = 0; i < separate.length; i++) {
    const arg = separate[i];
    const next = separate[i + 1];
    if (takesValue(arg) && next !== undefined && /^-(\d|$)/.test(next)) {
      attached.push(`${arg}=${next}`);
      i++;
    } else {
      attached.push(arg);
    }
  }
  const flagList = names.map((name) =>
    task.flags[name].short
      ? `--${name} (-${task.flags[name].short})`
      : `--${name}`
  ).join(", ");
  const parsed = parseArgs(attached, {
    boolean: [...booleans, "help", "version"],
    string: strings,
    collect: strings,
    alias,
    unknown: (arg: string) => {
      if (arg.startsWith("-") && !(arg === "-" && task.operands)) {
        throw new UsageError(
          `unknown flag ${
            arg.split("=")[0]
          }; the flags of ${task.name} are ${flagList}`,
        );
      }
      if (task.operands) return true;
      throw new UsageError(
        `unexpected argument ${
          JSON.stringify(arg)
        }: ${task.name} takes only flags (see --help)`,
      );
    },
  });
  if (parsed.help) return "help";
  if (parsed.version) return "version";
  const values: FlagValues = {};
  if (task.operands) {
    const operands = parsed._.map(String);
    if (operands.length === 0) {
      throw new UsageError(
        `give at least one ${task.operands.value}: ${task.operands.help}`,
      );
    }
    values[task.operands.name] = operands;
  }
  for (const name of names) {
    const flag = task.flags[name];
    if (flag.type === "boolean") {
      values[name] = parsed[name] === true;
      continue;
    }
    // An alias fills both its keys with the same array: read the long one.
    const all = (parsed[name] as unknown[]).map(String);
    if (flag.repeatable) {
      if (all.length === 0 && flag.required) {
        throw new UsageError(
          `--${name} ${flag.value ?? "VALUE"} is required: ${flag.help}`,
        );
      }
      if (all.some((value) => value === "")) {
        throw new UsageError(
          `--${name} needs a value (${flag.value ?? "VALUE"})`,
        );
      }
      values[name] = all;
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
    if (given === "") {
      throw new UsageError(
        `--${name} needs a value (${flag.value ?? "VALUE"})`,
      );
    }
    if (flag.type === "integer") {
      if (!/^\d+$/.test(given) || !Number.isSafeInteger(Number(given))) {
        throw new UsageError(
          `--${name} must be a non-negative integer, got ${
            JSON.stringify(given)
          }`,
        );
      }
      values[name] = Number(given);
      continue;
    }
    if (flag.choices && !flag.choices.includes(given)) {
      throw new UsageError(
        `--${name} must be one of ${flag.choices.join(", ")}, got ${
          JSON.stringify(given)
        }`,
      );
    }
    values[name] = given;
  }
  return values;
}

/**
 * The folder relative paths on the command line are taken from: where the user
 * ran the command. `deno task` runs a task in the folder of deno.json and says
 * where it was started in the environment variable `INIT_CWD`; it is used when a
 * task runs from a checkout's sources and may read it. Otherwise (an executable,
 * a bundle, `deno run` without `--allow-env=INIT_CWD`), the working folder.
 *
 * @returns An absolute folder.
 *
 * @example
 * ```ts
 * import { userDirectory } from "./_cli.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(userDirectory().startsWith("/") || /^[A-Za-z]:/.test(userDirectory()), true);
 * ```
 */
export function userDirectory(): string {
  if (!Deno.build.standalone && Deno.mainModule.endsWith(".ts")) {
    const permission = Deno.permissions.querySync({
      name: "env",
      variable: "INIT_CWD",
    });
    const dir = permission.state === "granted"
      ? Deno.env.get("INIT_CWD")
      : undefined;
    if (dir !== undefined && isAbsolute(dir)) return dir;
  }
  return Deno.cwd();
}

/**
 * The path flags made absolute against `base` (`-`, absent values and defaults are
 * kept: a default is a place in the checkout, where the tasks run).
 *
 * @param flags Parsed flag values.
 * @param task The task definition.
 * @param base The folder relative paths are taken from.
 * @returns The flags, with every path flag's value absolute.
 *
 * @example
 * ```ts
 * import { resolvePathFlags } from "./_cli.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const task = { name: "t", summary: "", exitCodes: {},
 *   flags: { "out-dir": { type: "string", path: true, help: "" } } } as const;
 * assertEquals(resolvePathFlags({ "out-dir": "b" }, task, "/work/a"), { "out-dir": "/work/a/b" });
 * assertEquals(resolvePathFlags({ "out-dir": "-" }, task, "/work/a"), { "out-dir": "-" });
 * ```
 */
export function resolvePathFlags(
  flags: FlagValues,
  task: TaskDefinition,
  base: string,
): FlagValues {
  const absolute = (value: string) =>
    value === "-" ? value : resolve(base, value);
  const result: FlagValues = { ...flags };
  const operands = task.operands;
  if (operands?.path && Array.isArray(flags[operands.name])) {
    result[operands.name] = (flags[operands.name] as string[]).map(absolute);
  }
  for (const [name, flag] of Object.entries(task.flags)) {
    const value = flags[name];
    // A default names a place in the checkout, where the task runs.
    if (!flag.path || value === undefined || value === flag.default) continue;
    result[name] = Array.isArray(value)
      ? value.map(absolute)
      : typeof value === "string"
      ? absolute(value)
      : value;
  }
  return result;
}

/**
 * How the user started a task, for help and hints: `kvbits encode` for the
 * compiled executable, `deno run [permissions] kvbits.js encode` for the bundle,
 * otherwise `deno task kvbits encode`.
 *
 * @param task The task definition.
 * @returns The command, without flags.
 *
 * @example
 * ```ts
 * import { commandOf } from "./_cli.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(commandOf({ name: "encode", summary: "", flags: {}, exitCodes: {} }), "deno task kvbits encode");
 * ```
 */
export function commandOf(task: TaskDefinition): string {
  return `${kvbitsCommand()} ${task.name}`;
}

/**
 * How the user runs kvbits itself: `kvbits`, `deno run [permissions] kvbits.js`
 * or `deno task kvbits`.
 *
 * @returns The command, without subcommand or flags.
 *
 * @example
 * ```ts
 * import { kvbitsCommand } from "./_cli.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(kvbitsCommand(), "deno task kvbits");
 * ```
 */
export function kvbitsCommand(): string {
  if (Deno.build.standalone) return "kvbits";
  return Deno.mainModule.endsWith("/kvbits.js")
    ? "deno run [permissions] kvbits.js"
    : "deno task kvbits";
}

/**
 * The `--help` text of a task: summary, usage, flags, notes and the exit codes it
 * can end with.
 *
 * @param task The task definition.
 * @returns The help text.
 *
 * @example
 * ```ts
 * import { helpText } from "./_cli.ts";
 * import { assertStringIncludes } from "@std/assert";
 *
 * const help = helpText({ name: "t", summary: "test.", exitCodes: { fatal: "cannot run" },
 *   flags: { jobs: { type: "integer", short: "j", default: 2, defaultText: "one per CPU, 2 here", help: "jobs" } } });
 * assertStringIncludes(help, "-j, --jobs VALUE  jobs (default: one per CPU, 2 here)");
 * assertStringIncludes(help, "  3   cannot run");
 * ```
 */
export function helpText(task: TaskDefinition): string {
  const lines = [
    `kvbits ${task.name}: ${task.summary}`,
    "",
    `Usage: ${commandOf(task)} [flags]${
      task.operands ? ` ${task.operands.value}...` : ""
    }`,
    "",
    ...(task.operands
      ? [`${task.operands.value}...: ${task.operands.help}`, ""]
      : []),
    "Flags:",
  ];
  const entries = Object.entries(task.flags).map(([name, flag]) => {
    const left = (flag.short ? `-${flag.short}, ` : "    ") + `--${name}` +
      (flag.type === "boolean" ? "" : ` ${flag.value ?? "VALUE"}`);
    const extras = [
      flag.required ? "required" : undefined,
      flag.repeatable ? "repeatable" : undefined,
      flag.choices ? `one of ${flag.choices.join(", ")}` : undefined,
      flag.defaultText !== undefined
        ? `default: ${flag.defaultText}`
        : flag.default !== undefined && flag.type !== "boolean"
        ? `default ${flag.default}`
        : undefined,
    ].filter((item) => item !== undefined);
    return [left, flag.help + (extras.length ? ` (${extras.join("; ")})` : "")];
  });
  entries.push(["-h, --help", "show this help"]);
  entries.push(["-V, --version", "show kvbits' version"]);
  const width = Math.max(...entries.map(([left]) => left.length)) + 2;
  for (const [left, right] of entries) {
    lines.push(`  ${left.padEnd(width)}${right}`);
  }
  for (const note of task.notes ?? []) lines.push("", note);
  lines.push("", "Exit codes:");
  for (const key of Object.keys(EXIT_CODES) as (keyof typeof EXIT_CODES)[]) {
    const own = key === "ok" || key === "usage" || key === "internal"
      ? true
      : task.exitCodes[key];
    if (own === undefined) continue;
    const code = String(EXIT_CODES[key]).padEnd(4);
    lines.push(`  ${code}${own === true ? EXIT_CODE_MEANINGS[key] : own}`);
  }
  return lines.join("\n");
}

/** `kvbits <version>`, as `--version` prints it. */
export function versionText(): string {
  return `kvbits ${VERSION}`;
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
 * Path flags are made absolute against the folder the user ran the command in
 * ({@link userDirectory}) before `main` sees them, so that every message names
 * the absolute path.
 *
 * @param task The task definition.
 * @param main The task's work, returning its exit code.
 * @param args The command line after the task's name (default: `Deno.args`).
 */
export async function runTask(
  task: TaskDefinition,
  main: (flags: FlagValues) => Promise<number>,
  args: readonly string[] = Deno.args,
): Promise<void> {
  let code: number;
  let flags: FlagValues | undefined;
  try {
    const parsed = parseTaskFlags(args, task);
    if (parsed === "help") {
      console.log(helpText(task));
      code = EXIT_CODES.ok;
    } else if (parsed === "version") {
      console.log(versionText());
      code = EXIT_CODES.ok;
    } else {
      flags = resolvePathFlags(parsed, task, userDirectory());
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
      console.error(`kvbits ${task.name}: ${withDeviceHint(messageOf(error))}`);
      code = EXIT_CODES.fatal;
    } else if (
      error instanceof Deno.errors.NotCapable ||
      error instanceof Deno.errors.PermissionDenied
    ) {
      // The environment, not kvbits: Deno's flags or the file system refuse access.
      console.error(
        `kvbits ${task.name}: ${withDeviceHint(error.message.split("\n")[0])}`,
      );
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
 * Deno lets a program open paths under /dev, /proc and /sys (a RAM disk at
 * /dev/shm, say) only when it was started with `--allow-all`, whatever else it
 * is allowed: its refusal gets a line saying so and what works.
 *
 * @param message An error message.
 * @returns The message, with the hint when Deno asked for all access.
 *
 * @example
 * ```ts
 * import { withDeviceHint } from "./_cli.ts";
 * import { assertStringIncludes } from "@std/assert";
 *
 * assertStringIncludes(withDeviceHint('Requires all access to "/dev/shm/x", run again with the --allow-all flag'), "deno task kvbits");
 * ```
 */
export function withDeviceHint(message: string): string {
  if (!/Requires all access to "\/(dev|proc|sys)\//.test(message)) {
    return message;
  }
  return `${message}\n(Deno opens paths under /dev, /proc and /sys only for programs run with --allow-all: ` +
    "`deno task kvbits` and its aliases run with it; with deno run, add -A, or use a RAM disk mounted elsewhere)";
}

/**
 * What a skipped dump's reason says, without the dump: dumps skipped for the same
 * kind of reason are counted in one line. Undefined for a reason about the dump's
 * own data (a missing file, another element width), which is listed dump by dump.
 *
 * @param reason A skipped dump's reason.
 * @returns The reason's kind, for a line that counts them.
 *
 * @example
 * ```ts
 * import { skipKind } from "./_cli.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(skipKind("already encoded: /o/bitstream_meta_a.json exists (use --overwrite to replace it)"),
 *   "already encoded: the output exists (--overwrite replaces it)");
 * assertEquals(skipKind('stage is "decode", not selected by --stage prefill'), 'stage is "decode", not selected by --stage prefill');
 * assertEquals(skipKind("k file /d/k_a.bin is missing"), undefined);
 * ```
 */
export function skipKind(reason: string): string | undefined {
  const done = /^already (encoded|decoded):/.exec(reason);
  if (done) {
    return `already ${done[1]}: the output exists (--overwrite replaces it)`;
  }
  const seqLen = /^seq_len \d+ (is (below|above) --(min|max)-seq-len \d+)$/
    .exec(reason);
  if (seqLen) return `seq_len ${seqLen[1]}`;
  if (/^stage is "[^"]*", not selected by --stage \S+$/.test(reason)) {
    return reason;
  }
  return undefined;
}

/**
 * Prints the skipped and failed dumps of a job to stderr: dumps skipped for the
 * same kind of reason (already encoded, left out by a selection flag) as one line
 * that counts them, every other skipped dump and every failed dump on a line of
 * its own. With `verbose`, every skipped dump gets its line.
 *
 * Dumps whose original is missing from `origDumpDir` (verify and decode against
 * the wrong folder) are counted in one line too, listed with `verbose`.
 *
 * @param outcomes The job's outcomes.
 * @param verbose List every skipped dump (`-v`).
 * @param origDumpDir The original dump folder the job compared with, if any.
 */
export function printProblems(
  outcomes: readonly DumpOutcome[],
  verbose = false,
  origDumpDir?: string,
): void {
  const counted = new Map<string, number>();
  for (const outcome of outcomes) {
    if (outcome.status !== "skipped") continue;
    const reason = flagsIn(outcome.reason ?? "");
    const kind = skipKind(reason);
    if (kind === undefined) {
      console.error(`skipped ${reason}`);
    } else if (verbose) {
      console.error(`skipped ${outcome.dump}: ${reason}`);
    } else {
      counted.set(kind, (counted.get(kind) ?? 0) + 1);
    }
  }
  for (const [kind, dumps] of counted) {
    console.error(
      `skipped ${dumps} dump${dumps === 1 ? "" : "s"}, ${kind}; -v lists ${
        dumps === 1 ? "it" : "them"
      }`,
    );
  }
  const missing = outcomes.filter((outcome) =>
    outcome.status === "failed" && origDumpDir !== undefined &&
    isMissingOriginal(outcome.reason ?? "", origDumpDir)
  );
  for (const outcome of outcomes) {
    if (outcome.status !== "failed") continue;
    if (!verbose && missing.includes(outcome)) continue;
    console.error(`failed  ${flagsIn(outcome.reason ?? "")}`);
  }
  if (missing.length > 0 && !verbose) {
    console.error(
      `failed  ${missing.length} dump${
        missing.length === 1 ? " has" : "s have"
      } no original in ${origDumpDir} (first: ${
        flagsIn(missing[0].reason ?? "")
      }); -v lists ${missing.length === 1 ? "it" : "them"}`,
    );
  }
}

/**
 * Whether a failed dump's reason says that its original is not in the original
 * dump folder.
 *
 * @param reason A failed dump's reason.
 * @param origDumpDir The original dump folder.
 * @returns True for `<origDumpDir>/...: file not found`.
 *
 * @example
 * ```ts
 * import { isMissingOriginal } from "./_cli.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(isMissingOriginal("/o/l0/meta_a.json: file not found", "/o"), true);
 * assertEquals(isMissingOriginal("/o/l0/k_a.bin: size is odd", "/o"), false);
 * ```
 */
export function isMissingOriginal(
  reason: string,
  origDumpDir: string,
): boolean {
  return reason.startsWith(`${origDumpDir.replace(/\/+$/, "")}/`) &&
    reason.endsWith(": file not found");
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
  // Digits grouped by hand: the first toLocaleString of a process loads Intl
  // (about 20 ms here, the time of 60 small dumps).
  const digits = String(Math.round(bytes)).replace(/\B(?=(\d{3})+$)/g, ",");
  const exact = `${digits} B`;
  return bytes >= 1e5 ? `${exact} (${(bytes / 1e6).toFixed(2)} MB)` : exact;
}

/** `--quiet` and `--json`, shared by the tasks that run over a folder. */
export const OUTPUT_FLAGS = {
  quiet: {
    type: "boolean",
    short: "q",
    help:
      "no progress bar, only the summary (off a terminal there is none anyway)",
  },
  verbose: {
    type: "boolean",
    short: "v",
    help:
      "list every skipped dump (otherwise dumps skipped for one reason are counted in one line)",
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
