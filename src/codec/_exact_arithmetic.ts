/**
 * Exact integer arithmetic on float64 for the arithmetic coder's large tables
 * (internal: not exported from `mod.ts`).
 *
 * Read me first:
 * - The lemma everything here rests on: for integers `0 <= x < 2^53` and
 *   `y >= 1`, `Math.floor(x / y)` is exactly `floor(x / y)`. The division is
 *   rounded to nearest with a relative error of at most 2^-53, so its absolute
 *   error is below `x / (y * 2^53) < 1 / y`; and a quotient that is not an integer
 *   lies at least `1 / y` below the next integer. Rounding can thus never reach
 *   the next integer, and never falls below the floor (rounding is monotonic and
 *   integers below 2^53 are representable).
 * - The coder needs `floor(range * c / total)` and `floor((d * total - 1) /
 *   range)` with `range, d <= 2^32` and `c <= total <= 2^30`: products up to
 *   2^62. Splitting the 32-bit factor into 16-bit halves, `a = aHigh * 2^16 +
 *   aLow`, gives a long division in two steps whose every intermediate stays below
 *   2^49, so the lemma applies to each step. No BigInt, no allocation.
 *
 * @module
 */

/** 2^16: the split point of a 32-bit factor. */
const HALF = 65536;

/**
 * `floor(a * b / c)` exactly, for integers `0 <= a <= 2^32`, `0 <= b <= c`,
 * `1 <= c <= 2^30`.
 *
 * Identity: with `a = aHigh * 2^16 + aLow` and `aHigh * b = q * c + r` (`0 <= r <
 * c`), `a * b / c = q * 2^16 + (r * 2^16 + aLow * b) / c`, and `q * 2^16` is an
 * integer, so it passes through the floor.
 */
export function exactScaledFloor(a: number, b: number, c: number): number {
  const aHigh = Math.floor(a / HALF); // <= 2^16
  const aLow = a - aHigh * HALF; // < 2^16
  const product = aHigh * b; // <= 2^46
  const q = Math.floor(product / c);
  const r = product - q * c; // < c <= 2^30
  return q * HALF + Math.floor((r * HALF + aLow * b) / c); // numerator < 2^47
}

/**
 * `floor((d * b - 1) / c)` exactly, for integers `1 <= d <= c <= 2^32`,
 * `1 <= b <= 2^30`: the decoder's target.
 *
 * Identity: with `d = dHigh * 2^16 + dLow` and `dHigh * b = q * c + r` (`0 <= r <
 * c`), `(d * b - 1) / c = q * 2^16 + (r * 2^16 + dLow * b - 1) / c`; the last
 * numerator may be -1, whose floor over `c` is -1 as it must be.
 */
export function exactTargetFloor(d: number, b: number, c: number): number {
  const dHigh = Math.floor(d / HALF); // <= 2^16
  const dLow = d - dHigh * HALF; // < 2^16
  const product = dHigh * b; // <= 2^46
  const q = Math.floor(product / c);
  const r = product - q * c; // < c <= 2^32
  return q * HALF + Math.floor((r * HALF + dLow * b - 1) / c); // numerator < 2^49
}
