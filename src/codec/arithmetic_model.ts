/**
 * Static frequency models of the 32-bit arithmetic coder (FORMAT.md §4): a table
 * checked once and turned into the cumulative counts and lookup tables the encoder
 * and decoder index in their hot loops.
 *
 * Read me first:
 * - `cum[s]` is the sum of the frequencies below `s`; `total = cum[alphabet]`.
 *   Symbol `s` owns the targets `cum[s] .. cum[s+1] - 1`. A symbol of frequency 0
 *   owns none and cannot be coded.
 * - The usable totals are 1 .. 2^30: after renormalization the coder's range is
 *   always above 2^30, so `floor(range * cum / total)` gives every symbol with a
 *   frequency of at least 1 a non-empty interval only while `total <= 2^30`. A
 *   larger total is refused, naming the table.
 * - Three arithmetic paths, chosen once per table:
 *   1. a power-of-two total up to 2^16 (every table kvbits writes, see
 *      {@link ARITHMETIC_KVBITS_TOTAL}): `scaledCumulative[s] = cum[s] / total` is
 *      exact, so `range * cum[s] / total` is one exact multiplication, and its
 *      floor comes for free from the integer truncation that follows;
 *   2. any other total up to 2^21 (e.g. the reference tools' raw counts of
 *      kv-real, 1,150,976): the coder's products stay below 2^53 and float64
 *      `Math.floor(x / y)` is exact (see `_exact_arithmetic.ts`);
 *   3. totals above 2^21 (raw counts of a larger corpus): an exact two-step
 *      division on 16-bit halves, a few times slower.
 * - Decoding finds the symbol of a target with a slot table (one `Uint16Array`
 *   entry per target) when `total <= 2^16`, else by binary search over `cum`.
 *
 * @module
 */

import { KvbitsDataError } from "./errors.ts";

/** Largest usable total: the range after renormalization exceeds 2^30 (FORMAT.md §4). */
export const ARITHMETIC_MAX_TOTAL = 2 ** 30;

/**
 * Largest total of the tables kvbits writes, 2^14 (see
 * `arithmeticTableFromCounts`). Why: a power of two keeps the coder on its fastest
 * path; 2^14 keeps the decoder's slot table at 32 KiB, inside a 48 KiB L1 data
 * cache (about 4% faster decoding than 2^15 on kv-real), and the per-dump JSON
 * short; and it costs almost nothing in ratio, since a 1024-symbol alphabet still
 * gets 16 slots per symbol on average. Measured on kv-real with a global
 * codebook: 65 bytes more than 2^15 in 3.94 MB of coded streams (0.002%), and the
 * same KV ratio as the reference's raw counts to four digits.
 */
export const ARITHMETIC_KVBITS_TOTAL = 2 ** 14;

/** Largest total for which every product of the coder stays below 2^53 (2^32 * 2^21). */
const FLOAT_EXACT_MAX_TOTAL = 2 ** 21;

/**
 * Largest total that gets a slot table (2^16 entries of 2 bytes, 128 KiB) and,
 * when it is a power of two, scaled cumulative counts: `low + range * cum /
 * total` then needs 33 integer and 16 fraction bits, exact in a float64.
 */
const SLOT_TABLE_MAX_TOTAL = 2 ** 16;

/** Largest alphabet: slot tables hold symbols in 16 bits. */
const MAX_ALPHABET_SIZE = 65536;

/** A frequency table ready for {@link arithmeticEncode} and {@link arithmeticDecode}. */
export interface ArithmeticModel {
  /** The frequency of each symbol (the table as written). */
  readonly frequencies: Uint32Array;
  /** `cum[s]`: sum of the frequencies below `s`; one longer than the alphabet. */
  readonly cumulative: Uint32Array;
  /** Sum of all frequencies, 0 .. 2^30. */
  readonly total: number;
  /** Whether the coder needs the exact two-step path (total above 2^21). */
  readonly exact: boolean;
  /** Target to symbol, one entry per target, when `total <= 2^16`. */
  readonly slots?: Uint16Array;
  /**
   * `cum[s] / total`, exact, when `total` is a power of two up to 2^16: the fast
   * path multiplies by it instead of dividing.
   */
  readonly scaledCumulative?: Float64Array;
}

/**
 * Checks a frequency table and builds its model.
 *
 * @param frequencies One non-negative integer per symbol of the alphabet.
 * @param tableName Name of the table for messages, e.g. `k_hi6_freq`.
 * @returns The model.
 * @throws {KvbitsDataError} When the total exceeds 2^30 (the message names the
 * table and says how much it can hold).
 * @throws {TypeError} When an entry is not a non-negative safe integer, or the
 * alphabet is empty or larger than 65536.
 *
 * @example A table and its cumulative counts
 * ```ts
 * import { arithmeticModel } from "./arithmetic_model.ts";
 * import { assertEquals, assertThrows } from "@std/assert";
 *
 * const model = arithmeticModel([3, 0, 1]);
 * assertEquals([...model.cumulative], [0, 3, 3, 4]);
 * assertEquals(model.total, 4);
 * assertThrows(() => arithmeticModel([2 ** 30, 1], "k_hi6_freq"), Error, "k_hi6_freq");
 * ```
 */
export function arithmeticModel(
  frequencies: ArrayLike<number>,
  tableName = "frequency table",
): ArithmeticModel {
  const size = frequencies.length;
  if (size < 1 || size > MAX_ALPHABET_SIZE) {
    throw new TypeError(
      `Cannot build the arithmetic model of ${tableName}: ${size} symbols, expected 1 to ${MAX_ALPHABET_SIZE}`,
    );
  }
  const table = new Uint32Array(size);
  const cumulative = new Uint32Array(size + 1);
  let total = 0;
  for (let s = 0; s < size; s++) {
    const frequency = frequencies[s];
    if (!Number.isSafeInteger(frequency) || frequency < 0) {
      throw new TypeError(
        `Cannot build the arithmetic model of ${tableName}: entry ${s} is ${frequency}, not a non-negative integer`,
      );
    }
    total += frequency;
    if (total > ARITHMETIC_MAX_TOTAL) {
      let sum = total;
      for (let t = s + 1; t < size; t++) sum += frequencies[t];
      throw new KvbitsDataError(
        `its frequencies sum to ${sum}, above 2^30 = ${ARITHMETIC_MAX_TOTAL}, the largest total the 32-bit arithmetic coder can use`,
        { stream: tableName },
      );
    }
    table[s] = frequency;
    cumulative[s + 1] = total;
  }
  let slots: Uint16Array | undefined;
  if (total <= SLOT_TABLE_MAX_TOTAL) {
    slots = new Uint16Array(total);
    for (let s = 0; s < size; s++) {
      const end = cumulative[s + 1];
      for (let target = cumulative[s]; target < end; target++) {
        slots[target] = s;
      }
    }
  }
  let scaledCumulative: Float64Array | undefined;
  if (
    total > 0 && total <= SLOT_TABLE_MAX_TOTAL && (total & (total - 1)) === 0
  ) {
    scaledCumulative = new Float64Array(size + 1);
    const inverse = 1 / total; // a power of two: exact
    for (let s = 0; s <= size; s++) {
      scaledCumulative[s] = cumulative[s] * inverse;
    }
  }
  return {
    frequencies: table,
    cumulative,
    total,
    exact: total > FLOAT_EXACT_MAX_TOTAL,
    slots,
    scaledCumulative,
  };
}
