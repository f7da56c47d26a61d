/**
 * The error of the format layer: a file that is not what its layout requires.
 *
 * @module
 */

/**
 * A file's content does not follow its format: invalid JSON, a missing or mistyped
 * key, a tensor whose size does not match its shape. The message says what is wrong;
 * the caller, which knows the path, puts it in front.
 *
 * @example
 * ```ts
 * import { KvbitsFormatError } from "./format_error.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const error = new KvbitsFormatError('key "seq_len" is missing', "seq_len");
 * assertEquals(error.key, "seq_len");
 * assertEquals(error.message, 'key "seq_len" is missing');
 * ```
 */
export class KvbitsFormatError extends Error {
  /** The JSON key at fault, when there is one. */
  readonly key?: string;

  /**
   * Makes the error.
   *
   * @param message What is wrong, without the file path.
   * @param key The JSON key at fault, if any.
   */
  constructor(message: string, key?: string) {
    super(message);
    this.name = "KvbitsFormatError";
    this.key = key;
  }
}
