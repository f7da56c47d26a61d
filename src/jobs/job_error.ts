/**
 * The error that stops a whole job before or while it runs (as opposed to one
 * dump failing, which is reported and the job goes on).
 *
 * @module
 */

/** Marks an option named inside a job error's detail (see {@link mentionOption}). */
const MENTION = /\u2039([A-Za-z]+)\u203a/g;

const OPTION_WORDS: Readonly<Record<string, string>> = {
  dumpDir: "dump folder",
  outDir: "output folder",
  bitstreamDir: "bitstream folder",
  origDumpDir: "original dump folder",
};

/**
 * Words for a job option: `dumpDir` gives `dump folder`, `overwrite` gives
 * `overwrite`.
 *
 * @param option A key of a job's options.
 * @returns Words for people.
 *
 * @example
 * ```ts
 * import { optionWords } from "./job_error.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals([optionWords("origDumpDir"), optionWords("minSeqLen")], ["original dump folder", "min seq len"]);
 * ```
 */
export function optionWords(option: string): string {
  return OPTION_WORDS[option] ??
    option.replace(/[A-Z]/g, (letter) => ` ${letter.toLowerCase()}`);
}

/**
 * Names a job option inside a job's text (the detail of a
 * {@link KvbitsJobError}, the reason of a dump's outcome): `‹overwrite›`. A CLI
 * says it as its flag ({@link sayOptions}); the text reads as it is otherwise.
 *
 * @param option A key of the job's options, e.g. `dumpDir`.
 * @returns The mention, to put in a detail.
 *
 * @example
 * ```ts
 * import { KvbitsJobError, mentionOption } from "./job_error.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const error = new KvbitsJobError(`x is the ${mentionOption("dumpDir")}`, "outDir");
 * assertEquals(error.message, "output folder x is the dump folder");
 * ```
 */
export function mentionOption(option: string): string {
  return `\u2039${option}\u203a`;
}

/**
 * A job cannot run: a folder is missing, the output folder is the input folder, a
 * global codebook on disk disagrees with the dumps. The message is one line and
 * names concepts, not flags (`dump folder x: not a folder`); `option` says which
 * of the job's options is at fault, and {@link KvbitsJobError.describe} lets a CLI
 * say its flags instead.
 *
 * @example
 * ```ts
 * import { KvbitsJobError } from "./job_error.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const error = new KvbitsJobError("x: file not found", "dumpDir");
 * assertEquals([error.message, error.option], ["dump folder x: file not found", "dumpDir"]);
 * assertEquals(error.describe((option) => `--${option}`), "--dumpDir x: file not found");
 * ```
 */
export class KvbitsJobError extends Error {
  /** The job option at fault (a key of the job's options), if one is. */
  readonly option?: string;
  readonly #detail: string;

  /**
   * @param detail What stops the job, one line; options named in it with
   * {@link mentionOption}.
   * @param option The job option at fault, e.g. `dumpDir`; it leads the message.
   */
  constructor(detail: string, option?: string) {
    const words = sayOptions(detail, optionWords);
    super(option === undefined ? words : `${optionWords(option)} ${words}`);
    this.name = "KvbitsJobError";
    this.option = option;
    this.#detail = detail;
  }

  /**
   * The message with each option said by `name` (a CLI gives its flags).
   *
   * @param name How to say an option; `lead` is true for the option at fault.
   * @returns The message.
   */
  describe(name: (option: string, lead: boolean) => string): string {
    const detail = sayOptions(this.#detail, (option) => name(option, false));
    return this.option === undefined
      ? detail
      : `${name(this.option, true)} ${detail}`;
  }
}

/**
 * A job's text with each option it mentions said by `name`.
 *
 * @param text Text with mentions (see {@link mentionOption}).
 * @param name How to say an option, e.g. as a CLI flag.
 * @returns The text.
 *
 * @example
 * ```ts
 * import { mentionOption, sayOptions } from "./job_error.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const reason = `x exists (use ${mentionOption("overwrite")} to replace it)`;
 * assertEquals(sayOptions(reason, (option) => `--${option}`), "x exists (use --overwrite to replace it)");
 * ```
 */
export function sayOptions(
  text: string,
  name: (option: string) => string,
): string {
  return text.replace(MENTION, (_, option) => name(option));
}
