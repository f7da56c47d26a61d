/**
 * Canonical prefix codes from code lengths (FORMAT.md §3).
 *
 * Read me first:
 * - The symbols with a length above zero are sorted by (length, symbol); the first
 *   gets code 0 and each next code is `(previous + 1) << (length - previous length)`.
 *   This is the DEFLATE rule (RFC 1951 §3.2.2), so the lengths alone define the code.
 * - Lengths may be 1..32 bits (reference codes are not length-limited). Codes of up
 *   to 32 bits do not fit a signed 32-bit integer, so code values are computed with
 *   plain arithmetic and stored in a `Uint32Array`.
 * - The lengths must satisfy Kraft's inequality, sum of 2^-length <= 1, checked
 *   exactly as an integer sum of 2^(32 - length) <= 2^32. An incomplete code (sum
 *   below 1, e.g. one symbol of length 1) is a valid prefix code; some bit patterns
 *   then decode to nothing and are reported as corrupt data.
 *
 * @module
 */

import { KvbitsDataError } from "./errors.ts";
import { HUFFMAN_MAX_READ_CODE_LENGTH } from "./huffman_code_lengths.ts";

/** A canonical prefix code: one length and one code value per symbol. */
export interface CanonicalCode {
  /** Code length of each symbol in bits, 0 for symbols without a code. */
  readonly lengths: Uint8Array;
  /** Code value of each symbol (its `length` low bits, sent most significant first). */
  readonly codes: Uint32Array;
  /** Number of symbols of each length: `lengthCounts[len]`, for `len` in 0..32. */
  readonly lengthCounts: Uint32Array;
  /** The longest code length, 0 for an empty code. */
  readonly maxLength: number;
}

/**
 * Builds the canonical code of the given code lengths, checking that they form a
 * prefix code.
 *
 * @param lengths Code length of each symbol, an integer in 0..32 (0 = unused).
 * @param stream Stream name for error messages, e.g. `k_hi6`.
 * @param scratch Memory to reuse, when it holds
 * {@link canonicalCodeScratchBytes} bytes: the code's arrays are then views of
 * it, valid until it is reused.
 * @returns The canonical code.
 * @throws {KvbitsDataError} When a length is not an integer in 0..32 or the
 * lengths break Kraft's inequality (no prefix code has them).
 *
 * @example The code of lengths [2, 1, 3, 3]
 * ```ts
 * import { canonicalCode } from "./canonical_code.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const code = canonicalCode([2, 1, 3, 3]);
 * // symbol 1 -> 0, symbol 0 -> 10, symbol 2 -> 110, symbol 3 -> 111
 * assertEquals([...code.codes], [0b10, 0b0, 0b110, 0b111]);
 * assertEquals(code.maxLength, 3);
 * ```
 */
export function canonicalCode(
  lengths: ArrayLike<number>,
  stream?: string,
  scratch?: ArrayBuffer,
): CanonicalCode {
  const alphabetSize = lengths.length;
  // One allocation for all the arrays (the code's and the working ones):
  // allocating a typed array costs more than filling one of 1,024 symbols.
  const tables = HUFFMAN_MAX_READ_CODE_LENGTH + 1;
  const bytes = canonicalCodeScratchBytes(alphabetSize);
  const buffer = scratch && scratch.byteLength >= bytes
    ? scratch
    : new ArrayBuffer(bytes);
  // First code of each length, DEFLATE style (up to 2^32: doubles).
  const nextCode = new Float64Array(buffer, 0, tables);
  const codes = new Uint32Array(buffer, 8 * tables, alphabetSize);
  const lengthCounts = new Uint32Array(
    buffer,
    8 * tables + 4 * alphabetSize,
    tables,
  );
  const lengthBytes = new Uint8Array(
    buffer,
    8 * tables + 4 * (alphabetSize + tables),
    alphabetSize,
  );
  if (buffer === scratch) {
    codes.fill(0);
    lengthCounts.fill(0);
  }
  let maxLength = 0;
  for (let symbol = 0; symbol < alphabetSize; symbol++) {
    const length = lengths[symbol];
    if (
      !Number.isInteger(length) || length < 0 ||
      length > HUFFMAN_MAX_READ_CODE_LENGTH
    ) {
      throw new KvbitsDataError(
        `code length ${length} of symbol ${symbol} is not an integer in 0..32`,
        { stream },
      );
    }
    lengthBytes[symbol] = length;
    lengthCounts[length]++;
    if (length > maxLength) maxLength = length;
  }
  lengthCounts[0] = 0;
  // Kraft: sum of 2^(32 - len) over used symbols must not exceed 2^32 (exact in a double).
  let kraft = 0;
  for (let length = 1; length <= maxLength; length++) {
    kraft += lengthCounts[length] *
      2 ** (HUFFMAN_MAX_READ_CODE_LENGTH - length);
  }
  if (kraft > 2 ** HUFFMAN_MAX_READ_CODE_LENGTH) {
    throw new KvbitsDataError(
      `code lengths break the Kraft inequality (sum of 2^-length is ${
        kraft / 2 ** HUFFMAN_MAX_READ_CODE_LENGTH
      }, above 1): they are not a prefix code`,
      { stream },
    );
  }
  let code = 0;
  for (let length = 1; length <= maxLength; length++) {
    code = (code + lengthCounts[length - 1]) * 2;
    nextCode[length] = code;
  }
  for (let symbol = 0; symbol < alphabetSize; symbol++) {
    const length = lengthBytes[symbol];
    if (length !== 0) codes[symbol] = nextCode[length]++;
  }
  return { lengths: lengthBytes, codes, lengthCounts, maxLength };
}

/**
 * Bytes of working memory that {@link canonicalCode} takes for an alphabet.
 *
 * @param alphabetSize Symbols of the alphabet.
 * @returns The bytes.
 *
 * @example
 * ```ts
 * import { canonicalCode, canonicalCodeScratchBytes } from "./canonical_code.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const scratch = new ArrayBuffer(canonicalCodeScratchBytes(4));
 * const code = canonicalCode([2, 1, 3, 3], undefined, scratch);
 * assertEquals([...code.codes], [0b10, 0b0, 0b110, 0b111]);
 * assertEquals(code.codes.buffer, scratch);
 * ```
 */
export function canonicalCodeScratchBytes(alphabetSize: number): number {
  const tables = HUFFMAN_MAX_READ_CODE_LENGTH + 1;
  return 8 * tables + 4 * (alphabetSize + tables) + alphabetSize;
}
