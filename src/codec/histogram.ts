/**
 * Symbol histograms: how often each symbol of an alphabet occurs in a plane.
 *
 * Counts are kept in a `Float64Array`, exact up to 2^53, so that the histograms of
 * a whole corpus (more than 2^32 symbols) can be summed without overflow.
 *
 * @module
 */

import { HI6_ALPHABET_SIZE, LO10_ALPHABET_SIZE } from "./fp16_planes.ts";

/**
 * Counts the symbols of a plane, adding to `into` when it is given.
 *
 * @param symbols Symbols, each below `alphabetSize`.
 * @param alphabetSize Number of distinct symbols.
 * @param into Counts to add to (length `alphabetSize`); a new array when omitted.
 * @returns The counts, `into` itself when given.
 * @throws {RangeError} When a symbol is not below `alphabetSize`, or `into` has the
 * wrong length.
 *
 * @example Counting a small plane
 * ```ts
 * import { countSymbols } from "./histogram.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const counts = countSymbols(new Uint8Array([3, 1, 3, 3]), 4);
 * assertEquals([...counts], [0, 1, 0, 3]);
 * ```
 */
export function countSymbols(
  symbols: Uint8Array | Uint16Array,
  alphabetSize: number,
  into: Float64Array = new Float64Array(alphabetSize),
): Float64Array {
  if (into.length !== alphabetSize) {
    throw new RangeError(
      `Cannot count symbols: counts have length ${into.length}, expected ${alphabetSize}`,
    );
  }
  const count = symbols.length;
  for (let i = 0; i < count; i++) {
    const symbol = symbols[i];
    if (symbol >= alphabetSize) {
      throw new RangeError(
        `Cannot count symbols: symbol ${symbol} at index ${i} is not below ${alphabetSize}`,
      );
    }
    into[symbol]++;
  }
  return into;
}

/** Histograms of both planes of an FP16 tensor. */
export interface Fp16Histograms {
  /** Counts of the 64 `hi6` symbols. */
  readonly hi6: Float64Array;
  /** Counts of the 1024 `lo10` symbols. */
  readonly lo10: Float64Array;
}

/**
 * Counts the `hi6` and `lo10` symbols of FP16 words in one pass, without building
 * the planes, adding to `into` when it is given.
 *
 * @param words FP16 bit patterns.
 * @param into Histograms to add to; new ones when omitted.
 * @returns The histograms, `into` itself when given.
 *
 * @example Histograms of three words
 * ```ts
 * import { countFp16Symbols } from "./histogram.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const { hi6, lo10 } = countFp16Symbols(new Uint16Array([0x3c00, 0x3c01, 0xbc01]));
 * assertEquals(hi6[0x0f], 2); // two positive values with exponent 15
 * assertEquals(hi6[0x2f], 1); // one negative
 * assertEquals(lo10[1], 2);
 * ```
 */
export function countFp16Symbols(
  words: Uint16Array,
  into: Fp16Histograms = newFp16Histograms(),
): Fp16Histograms {
  const { hi6, lo10 } = into;
  if (hi6.length !== HI6_ALPHABET_SIZE || lo10.length !== LO10_ALPHABET_SIZE) {
    throw new RangeError(
      `Cannot count FP16 symbols: histograms have lengths ${hi6.length} and ${lo10.length}, expected 64 and 1024`,
    );
  }
  const count = words.length;
  for (let i = 0; i < count; i++) {
    const word = words[i];
    hi6[word >>> 10]++;
    lo10[word & 0x3ff]++;
  }
  return into;
}

/**
 * Empty histograms for both planes of an FP16 tensor, two views of one buffer
 * (one allocation: it costs more than counting a small dump).
 *
 * @returns Zeroed `hi6` (64) and `lo10` (1024) counts.
 *
 * @example
 * ```ts
 * import { newFp16Histograms } from "./histogram.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const { hi6, lo10 } = newFp16Histograms();
 * assertEquals([hi6.length, lo10.length], [64, 1024]);
 * ```
 */
export function newFp16Histograms(): Fp16Histograms {
  const buffer = new ArrayBuffer(8 * (HI6_ALPHABET_SIZE + LO10_ALPHABET_SIZE));
  return {
    hi6: new Float64Array(buffer, 0, HI6_ALPHABET_SIZE),
    lo10: new Float64Array(buffer, 8 * HI6_ALPHABET_SIZE, LO10_ALPHABET_SIZE),
  };
}
