/**
 * Order-0 (Shannon) entropy of a symbol histogram: the limit of static coders.
 *
 * Read me first:
 * - `H = sum over used symbols of p * log2(1 / p)`, with `p = count / total`, in
 *   bits per symbol. A coder that gives every symbol of a plane a fixed code (or a
 *   fixed interval) from one model spends at least `total * H` bits on that plane,
 *   not counting the model itself; Huffman spends less than one bit per symbol
 *   more, arithmetic coding a few bits per stream more. Coders that look at context
 *   (previous symbols, the element's channel) can go below it.
 * - The entropy of a pooled histogram (one model for many dumps) is at least the
 *   element-weighted mean of the dumps' own entropies (a model per dump): adapting
 *   the model can only help, before the cost of transmitting it.
 * - Computed as `sum(count * log2(total / count)) / total` after a first pass for
 *   the total: one logarithm per used symbol, exactly 0 for a single used symbol
 *   and exactly `log2(n)` for `n` equal counts when `n` is a power of two.
 *
 * @module
 */

/**
 * The order-0 entropy of a histogram, in bits per symbol.
 *
 * @param counts How often each symbol occurs (non-negative, finite); the index is
 * the symbol.
 * @returns Bits per symbol, from 0 (one used symbol, or none) to `log2` of the
 * number of used symbols.
 * @throws {RangeError} When a count is negative or not finite.
 *
 * @example Uniform, skewed and one-symbol histograms
 * ```ts
 * import { orderZeroEntropy } from "./entropy.ts";
 * import { assertAlmostEquals, assertEquals } from "@std/assert";
 *
 * assertEquals(orderZeroEntropy([5, 5, 5, 5]), 2);
 * assertAlmostEquals(orderZeroEntropy([2, 1, 1]), 1.5); // codes 0, 10, 11 reach it
 * assertEquals(orderZeroEntropy(new Float64Array([0, 7, 0])), 0);
 * assertEquals(orderZeroEntropy([]), 0);
 * ```
 */
export function orderZeroEntropy(counts: ArrayLike<number>): number {
  let total = 0;
  for (let symbol = 0; symbol < counts.length; symbol++) {
    const count = counts[symbol];
    if (!Number.isFinite(count) || count < 0) {
      throw new RangeError(
        `Cannot compute the entropy: count ${count} of symbol ${symbol} is not a finite non-negative number`,
      );
    }
    total += count;
  }
  if (total === 0) return 0;
  let bits = 0;
  for (let symbol = 0; symbol < counts.length; symbol++) {
    const count = counts[symbol];
    if (count > 0) bits += count * Math.log2(total / count);
  }
  return bits / total;
}
