/**
 * Where two byte arrays first differ.
 *
 * @module
 */

/**
 * The index of the first byte at which `a` and `b` differ, the shorter length when
 * one is a prefix of the other, or -1 when they are equal.
 *
 * @param a One byte array.
 * @param b The other.
 * @returns The first differing index, or -1.
 *
 * @example
 * ```ts
 * import { firstDifference } from "./first_difference.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(firstDifference(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 3])), -1);
 * assertEquals(firstDifference(new Uint8Array([1, 2, 3]), new Uint8Array([1, 9, 3])), 1);
 * assertEquals(firstDifference(new Uint8Array([1, 2]), new Uint8Array([1, 2, 3])), 2);
 * ```
 */
export function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    if (a[i] !== b[i]) return i;
  }
  return a.length === b.length ? -1 : length;
}
