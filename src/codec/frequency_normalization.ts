/**
 * Frequency tables for the arithmetic coder from symbol counts: scaling counts to
 * an exact total, and the table kvbits writes.
 *
 * Read me first:
 * - {@link normalizeFrequencies} keeps three invariants: the result sums to the
 *   target exactly; a symbol is used (frequency >= 1) exactly when its count is
 *   non-zero; and every frequency stays near its exact share `count * target /
 *   total` (within 1 when no rare symbol had to be raised to 1; otherwise the
 *   slots those symbols take are removed from the others in proportion to their
 *   size, so when the target is at least twice the number of used symbols each
 *   keeps at least half of its share).
 * - The steps are deterministic (ties go to the lower symbol), so one corpus always
 *   gives one global codebook file.
 * - {@link arithmeticTableFromCounts} is kvbits' policy: a power-of-two total of
 *   at most `ARITHMETIC_KVBITS_TOTAL`, the raw counts when they already sum to
 *   one (exact statistics and the shortest JSON).
 *
 * @module
 */

import { ARITHMETIC_KVBITS_TOTAL } from "./arithmetic_model.ts";

/** Largest target: the largest total the 32-bit coder can use. */
const MAX_TARGET = 2 ** 30;

/**
 * Scales symbol counts to frequencies that sum to exactly `target`, keeping every
 * used symbol at a frequency of at least 1.
 *
 * @param counts How often each symbol occurs (non-negative integers, not all 0).
 * @param target The total wanted, from the number of used symbols up to 2^30.
 * @returns One frequency per symbol, summing to `target`.
 * @throws {RangeError} When no symbol is used, more symbols are used than
 * `target`, `target` is not an integer in 1 .. 2^30, or a count is not a
 * non-negative integer.
 *
 * @example Scaling a skewed histogram to 16
 * ```ts
 * import { normalizeFrequencies } from "./frequency_normalization.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const frequencies = normalizeFrequencies([1000, 0, 10, 1], 16);
 * assertEquals([...frequencies], [14, 0, 1, 1]); // sum 16; the rare symbols keep 1
 * ```
 */
export function normalizeFrequencies(
  counts: ArrayLike<number>,
  target: number,
): Uint32Array {
  if (!Number.isSafeInteger(target) || target < 1 || target > MAX_TARGET) {
    throw new RangeError(
      `Cannot normalize frequencies: target ${target} is not an integer from 1 to 2^30`,
    );
  }
  const size = counts.length;
  let total = 0;
  let used = 0;
  for (let s = 0; s < size; s++) {
    const count = counts[s];
    if (!Number.isSafeInteger(count) || count < 0) {
      throw new RangeError(
        `Cannot normalize frequencies: count ${s} is ${count}, not a non-negative integer`,
      );
    }
    total += count;
    if (count > 0) used++;
  }
  if (used === 0) {
    throw new RangeError(
      "Cannot normalize frequencies: every count is 0, no symbol to give a frequency",
    );
  }
  if (used > target) {
    throw new RangeError(
      `Cannot normalize frequencies: ${used} symbols are used but the target total is ${target}; each needs at least 1`,
    );
  }
  const scale = target / total;
  const frequencies = new Uint32Array(size);
  const share = new Float64Array(size); // the exact share, count * target / total
  let sum = 0;
  for (let s = 0; s < size; s++) {
    if (counts[s] === 0) continue;
    share[s] = counts[s] * scale;
    const frequency = Math.max(1, Math.floor(share[s]));
    frequencies[s] = frequency;
    sum += frequency;
  }
  if (sum < target) {
    // Floors lost less than 1 each: give +1 by largest remainder (share - frequency).
    const order = usedSymbols(frequencies).sort((a, b) =>
      (share[b] - frequencies[b]) - (share[a] - frequencies[a]) || a - b
    );
    for (let i = 0; sum < target; i = (i + 1) % order.length) {
      frequencies[order[i]]++;
      sum++;
    }
  } else if (sum > target) {
    // Rare symbols raised to 1 took `excess` slots: take them back from the
    // symbols above 1, in proportion to what they have above 1, then one by one
    // from the largest.
    const excess = sum - target;
    let spare = 0; // sum of (frequency - 1), >= excess because used <= target
    for (let s = 0; s < size; s++) {
      if (frequencies[s] > 1) spare += frequencies[s] - 1;
    }
    for (let s = 0; s < size; s++) {
      if (frequencies[s] <= 1) continue;
      const take = Math.min(
        Math.floor((frequencies[s] - 1) * excess / spare), // <= frequency - 1
        sum - target, // in case float rounding gave one too many
      );
      frequencies[s] -= take;
      sum -= take;
    }
    const order = usedSymbols(frequencies).sort((a, b) =>
      frequencies[b] - frequencies[a] || a - b
    );
    while (sum > target) {
      for (let i = 0; i < order.length && sum > target; i++) {
        if (frequencies[order[i]] > 1) {
          frequencies[order[i]]--;
          sum--;
        }
      }
    }
  }
  return frequencies;
}

/** Symbols with a frequency above zero, ascending. */
function usedSymbols(frequencies: Uint32Array): number[] {
  const symbols: number[] = [];
  for (let s = 0; s < frequencies.length; s++) {
    if (frequencies[s] > 0) symbols.push(s);
  }
  return symbols;
}

/**
 * The frequency table kvbits writes for symbol counts. Its total is always a power
 * of two up to `ARITHMETIC_KVBITS_TOTAL`, the coder's fastest path: the counts
 * themselves when their total already is one (the common case: dumps hold
 * `seq_len * kv_heads * head_dim` elements), else the counts normalized to the
 * smallest power of two at least their total, or to `ARITHMETIC_KVBITS_TOTAL` when
 * that is smaller. Every symbol that occurs keeps a frequency of at least 1; no
 * counts at all give a table of zeros (an empty stream).
 *
 * @param counts How often each symbol occurs.
 * @returns The frequency table.
 * @throws {RangeError} When a count is not a non-negative integer, or more symbols
 * occur than `ARITHMETIC_KVBITS_TOTAL`.
 *
 * @example Counts are kept, scaled up to a power of two, or scaled down
 * ```ts
 * import { ARITHMETIC_KVBITS_TOTAL } from "./arithmetic_model.ts";
 * import { arithmeticTableFromCounts } from "./frequency_normalization.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals([...arithmeticTableFromCounts([5, 0, 3])], [5, 0, 3]); // total 8
 * assertEquals([...arithmeticTableFromCounts([5, 0, 2])], [6, 0, 2]); // total 7 -> 8
 * const table = arithmeticTableFromCounts([3_000_000, 1, 0, 1_000_000]);
 * assertEquals(table.reduce((a, b) => a + b), ARITHMETIC_KVBITS_TOTAL);
 * ```
 */
export function arithmeticTableFromCounts(
  counts: ArrayLike<number>,
): Uint32Array {
  const table = new Uint32Array(counts.length);
  let total = 0;
  for (let s = 0; s < counts.length; s++) {
    const count = counts[s];
    if (!Number.isSafeInteger(count) || count < 0) {
      throw new RangeError(
        `Cannot build a frequency table: count ${s} is ${count}, not a non-negative integer`,
      );
    }
    total += count;
    table[s] = count; // kept only when total ends up small
  }
  if (
    total === 0 || (total <= ARITHMETIC_KVBITS_TOTAL && isPowerOfTwo(total))
  ) {
    return table;
  }
  let target = 1;
  while (target < total && target < ARITHMETIC_KVBITS_TOTAL) target *= 2;
  return normalizeFrequencies(counts, target);
}

function isPowerOfTwo(n: number): boolean {
  return (n & (n - 1)) === 0;
}
