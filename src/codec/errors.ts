/**
 * The one error class of the codec layer for corrupt or inconsistent data.
 *
 * Codec functions throw {@link KvbitsDataError} when the bytes or tables they are
 * given cannot be what a correct encoder wrote: a stream that ends early, an invalid
 * code, a table that breaks the Kraft inequality, trailing bytes. Misuse of the API
 * (a wrong argument type, a negative count) throws the built-in `TypeError` or
 * `RangeError` instead, so that callers can tell "the file is bad" from "the call is
 * bad" without matching on message text.
 *
 * @module
 */

/** Where in a stream a data error was found. */
export interface DataErrorLocation {
  /** Name of the stream, e.g. `k_hi6`, when the caller gave one. */
  readonly stream?: string;
  /** Bit offset into the stream where decoding stopped, when known. */
  readonly bitOffset?: number;
}

/**
 * Corrupt or inconsistent coded data: the message says what is wrong, `stream` and
 * `bitOffset` say where.
 *
 * @example Telling a data error from misuse
 * ```ts
 * import { KvbitsDataError } from "./errors.ts";
 * import { assertEquals, assertInstanceOf } from "@std/assert";
 *
 * const error = new KvbitsDataError("stream ends early", { stream: "k_hi6", bitOffset: 40 });
 * assertInstanceOf(error, KvbitsDataError);
 * assertEquals(error.message, "Cannot decode k_hi6 at bit 40: stream ends early");
 * assertEquals(error.bitOffset, 40);
 * ```
 */
export class KvbitsDataError extends Error {
  /** Name of the stream, when known. */
  readonly stream?: string;
  /** Bit offset into the stream, when known. */
  readonly bitOffset?: number;
  /** The problem alone, without the stream and offset prefix. */
  readonly detail: string;

  /**
   * Creates the error; the message reads `Cannot decode <stream> at bit <offset>:
   * <detail>`.
   *
   * @param detail What is wrong with the data, e.g. "stream ends early".
   * @param location Stream name and bit offset, both optional.
   */
  constructor(detail: string, location: DataErrorLocation = {}) {
    const where = (location.stream ? ` ${location.stream}` : "") +
      (location.bitOffset !== undefined ? ` at bit ${location.bitOffset}` : "");
    super(`Cannot decode${where}: ${detail}`);
    this.name = "KvbitsDataError";
    this.detail = detail;
    this.stream = location.stream;
    this.bitOffset = location.bitOffset;
  }
}
