/**
 * The steps the Huffman decoders share (internal: not exported from `mod.ts`):
 * resolving a code longer than the primary table, and the end check. The plane
 * decoder (`huffman_decoder.ts`) and the fused FP16 decoder (`huffman_fp16.ts`)
 * call these.
 *
 * @module
 */

import { KvbitsDataError } from "./errors.ts";
import type { HuffmanDecodeTable } from "./huffman_decoder.ts";

/**
 * Resolves the code at a bit position by canonical ranges: for a code longer
 * than the primary table, or a pattern the primary table does not know.
 *
 * @param buffer The stream, with at least 5 readable bytes from the position's
 * byte on (zero padding).
 * @param position The code's first bit.
 * @param table The decode table.
 * @returns `symbol << 6 | length`, as a primary entry; -1 when no code matches.
 *
 * @example
 * ```ts
 * import { longCodeEntry } from "./_huffman_steps.ts";
 * import { canonicalCode } from "./canonical_code.ts";
 * import { huffmanDecodeTable } from "./huffman_decoder.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const table = huffmanDecodeTable(canonicalCode([1, 2, 2])); // 0, 10, 11
 * assertEquals(longCodeEntry(Uint8Array.of(0b11000000, 0, 0, 0, 0), 0, table), (2 << 6) | 2);
 * ```
 */
export function longCodeEntry(
  buffer: Uint8Array,
  position: number,
  table: HuffmanDecodeTable,
): number {
  const p = position >>> 3;
  const shift = position & 7;
  // The next 32 bits of the stream, most significant first.
  const next32 = ((((buffer[p] << 24) | (buffer[p + 1] << 16) |
    (buffer[p + 2] << 8) | buffer[p + 3]) << shift) |
    (buffer[p + 4] >>> (8 - shift))) >>> 0;
  const { firstCode, lengthCounts, firstIndex, symbolsInCodeOrder } = table;
  for (let length = 1; length <= table.maxLength; length++) {
    const value = Math.floor(next32 / 2 ** (32 - length));
    const offset = value - firstCode[length];
    if (offset >= 0 && offset < lengthCounts[length]) {
      return (symbolsInCodeOrder[firstIndex[length] + offset] << 6) | length;
    }
  }
  return -1;
}

/**
 * After the last symbol only zero padding bits, less than one byte, may remain.
 *
 * @param bytes The stream.
 * @param position Bits used by the symbols.
 * @param stream Stream name for errors.
 * @throws {KvbitsDataError} When whole bytes follow, or a padding bit is set.
 *
 * @example
 * ```ts
 * import { checkHuffmanEnd } from "./_huffman_steps.ts";
 * import { assertThrows } from "@std/assert";
 *
 * checkHuffmanEnd(Uint8Array.of(0b10100000), 3, "s");
 * assertThrows(() => checkHuffmanEnd(Uint8Array.of(0b10100001), 3, "s"), Error, "padding");
 * ```
 */
export function checkHuffmanEnd(
  bytes: Uint8Array,
  position: number,
  stream: string | undefined,
): void {
  const usedBytes = Math.ceil(position / 8);
  if (bytes.length > usedBytes) {
    throw new KvbitsDataError(
      `${
        bytes.length - usedBytes
      } bytes follow the last symbol (the stream holds more than expected)`,
      { stream, bitOffset: position },
    );
  }
  const padding = position & 7;
  if (padding !== 0 && (bytes[usedBytes - 1] & (0xff >>> padding)) !== 0) {
    throw new KvbitsDataError(
      "padding bits after the last symbol are not zero",
      { stream, bitOffset: position },
    );
  }
}
