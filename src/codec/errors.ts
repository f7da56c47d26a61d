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
 * Why built-ins for misuse rather than a class of our own: they are what the
 * standard library and the platform throw for bad arguments, so callers already
 * handle them; and misuse is a bug of the caller, not something a user can fix, so
 * nothing needs to tell kvbits' misuse apart from the engine's own `RangeError`
 * ("Invalid typed array length"). That only holds while data can never reach a
 * misuse check: the format layer validates every value read from a file (counts,
 * lengths, tables) before a codec sees it, and the fuzz test
 * (`tests/fuzz_test.ts`) fails on any error from corrupt input that is not
 * `KvbitsDataError` or `KvbitsFormatError`. `KvbitsDataError` deliberately does
 * not extend `RangeError`, so that a `catch` for misuse never swallows corrupt data.
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
