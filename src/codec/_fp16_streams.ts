/**
 * What the fused FP16 coders (`huffman_fp16.ts`, `arithmetic_fp16.ts`) share
 * (internal: not exported from `mod.ts`).
 *
 * @module
 */

/**
 * Checks a fused decoder's symbol count and returns where its words go.
 *
 * @param count Symbols in each stream: words to decode.
 * @param into The caller's output, or undefined for a new array.
 * @param stream The `hi6` stream's name, for messages.
 * @returns `into`, or a new array of `count` words.
 * @throws {RangeError} When `count` is not a non-negative integer or `into`
 * holds fewer than `count` words.
 *
 * @example
 * ```ts
 * import { fp16DecodeOutput } from "./_fp16_streams.ts";
 * import { assertEquals, assertThrows } from "@std/assert";
 *
 * assertEquals(fp16DecodeOutput(3, undefined, "k_hi6").length, 3);
 * assertThrows(() => fp16DecodeOutput(3, new Uint16Array(2), "k_hi6"), RangeError, "holds 2 words");
 * ```
 */
export function fp16DecodeOutput(
  count: number,
  into: Uint16Array | undefined,
  stream: string,
): Uint16Array {
  if (!Number.isSafeInteger(count) || count < 0) {
    throw new RangeError(
      `Cannot decode ${stream}: symbol count ${count} is not a non-negative integer`,
    );
  }
  const out = into ?? new Uint16Array(count);
  if (out.length < count) {
    throw new RangeError(
      `Cannot decode ${stream}: output holds ${out.length} words, ${count} needed`,
    );
  }
  return out;
}
