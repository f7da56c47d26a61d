/**
 * The error that stops a whole job before or while it runs (as opposed to one
 * dump failing, which is reported and the job goes on).
 *
 * @module
 */

/**
 * A job cannot run: a folder is missing, the output folder is the input folder, a
 * global codebook on disk disagrees with the dumps. The message is one line.
 *
 * @example
 * ```ts
 * import { KvbitsJobError } from "./job_error.ts";
 * import { assertInstanceOf } from "@std/assert";
 *
 * assertInstanceOf(new KvbitsJobError("--dump-dir x: folder not found"), Error);
 * ```
 */
export class KvbitsJobError extends Error {
  /** @param message What stops the job, one line. */
  constructor(message: string) {
    super(message);
    this.name = "KvbitsJobError";
  }
}
