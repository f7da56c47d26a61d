/**
 * Splitting FP16 words into the `hi6` and `lo10` symbol planes and joining them back.
 *
 * An IEEE binary16 word `u` is `s eeeee mmmmmmmmmm`. kvbits codes it as two symbols:
 * `hi6 = u >>> 10` (sign and exponent, 64 symbols) and `lo10 = u & 0x3ff` (mantissa,
 * 1024 symbols), so that `u = (hi6 << 10) | lo10` (FORMAT.md §2). The split is a
 * bijection on all 65,536 bit patterns: NaN payloads, infinities, subnormals and
 * both zeros survive unchanged.
 *
 * @module
 */

/** Number of distinct `hi6` symbols (sign bit and 5 exponent bits). */
export const HI6_ALPHABET_SIZE = 64;
/** Number of distinct `lo10` symbols (10 mantissa bits). */
export const LO10_ALPHABET_SIZE = 1024;

/** The two symbol planes of an FP16 tensor, each with one symbol per element. */
export interface Fp16Planes {
  /** Sign and exponent of each element, `0..63`. */
  readonly hi6: Uint8Array;
  /** Mantissa of each element, `0..1023`. */
  readonly lo10: Uint16Array;
}

/**
 * Splits FP16 words into their `hi6` and `lo10` planes in one pass.
 *
 * @param words The FP16 bit patterns, one per element.
 * @returns Both planes, each `words.length` symbols long.
 *
 * @example Splitting 1.0 and -2.5
 * ```ts
 * import { splitFp16Planes } from "./fp16_planes.ts";
 * import { assertEquals } from "@std/assert";
 *
 * // 1.0 = 0x3c00, -2.5 = 0xc100
 * const { hi6, lo10 } = splitFp16Planes(new Uint16Array([0x3c00, 0xc100]));
 * assertEquals([...hi6], [0x0f, 0x30]);
 * assertEquals([...lo10], [0x000, 0x100]);
 * ```
 */
export function splitFp16Planes(words: Uint16Array): Fp16Planes {
  const count = words.length;
  const hi6 = new Uint8Array(count);
  const lo10 = new Uint16Array(count);
  for (let i = 0; i < count; i++) {
    const word = words[i];
    hi6[i] = word >>> 10;
    lo10[i] = word & 0x3ff;
  }
  return { hi6, lo10 };
}

/**
 * Joins `hi6` and `lo10` planes back into FP16 words: `(hi6 << 10) | lo10`.
 *
 * @param hi6 Sign and exponent symbols, `0..63`.
 * @param lo10 Mantissa symbols, `0..1023`, as many as `hi6`.
 * @returns The FP16 bit patterns.
 * @throws {RangeError} When the planes differ in length.
 *
 * @example A round trip over every FP16 bit pattern
 * ```ts
 * import { joinFp16Planes, splitFp16Planes } from "./fp16_planes.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const every = Uint16Array.from({ length: 65536 }, (_, i) => i);
 * const { hi6, lo10 } = splitFp16Planes(every);
 * assertEquals(joinFp16Planes(hi6, lo10), every);
 * ```
 */
export function joinFp16Planes(
  hi6: Uint8Array,
  lo10: Uint16Array,
): Uint16Array {
  const count = hi6.length;
  if (lo10.length !== count) {
    throw new RangeError(
      `Cannot join FP16 planes: hi6 has ${count} symbols but lo10 has ${lo10.length}`,
    );
  }
  const words = new Uint16Array(count);
  for (let i = 0; i < count; i++) {
    words[i] = ((hi6[i] & 0x3f) << 10) | (lo10[i] & 0x3ff);
  }
  return words;
}
