/**
 * Huffman encoding of a symbol plane with a canonical code (FORMAT.md §3).
 *
 * Read me first:
 * - Bits are written most significant first, codes back to back, and the last byte
 *   is padded with zero bits. There is no header: the reader must know the symbol
 *   count.
 * - The hot loop keeps up to 31 pending bits in a 32-bit accumulator and stores two
 *   bytes whenever 16 or more are pending, so a code of up to 16 bits is always one
 *   shift and one OR. Codes of 17..32 bits (reference codebooks only) are emitted in
 *   two parts.
 * - The output is sized once from the exact bit count of the symbols (one counting
 *   pass), so nothing is allocated per symbol and nothing is copied at the end.
 *
 * @module
 */

import type { CanonicalCode } from "./canonical_code.ts";

/**
 * Encodes a symbol plane with a canonical code.
 *
 * @param symbols The symbols, each with a code length above zero in `code`.
 * @param code The canonical code (see `canonicalCode`).
 * @param stream Stream name for error messages, e.g. `k_hi6`.
 * @returns The packed bits, `ceil(total bits / 8)` bytes.
 * @throws {RangeError} When a symbol has no code (length 0 or outside the alphabet);
 * the message names the symbol, its index and the stream.
 *
 * @example Encoding with the code of lengths [2, 1, 3, 3]
 * ```ts
 * import { canonicalCode } from "./canonical_code.ts";
 * import { huffmanEncode } from "./huffman_encoder.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const code = canonicalCode([2, 1, 3, 3]); // 0 -> 10, 1 -> 0, 2 -> 110, 3 -> 111
 * const bytes = huffmanEncode(new Uint8Array([0, 1, 3, 2]), code);
 * assertEquals([...bytes], [0b10011111, 0b00000000]); // 10 0 111 11|0 + padding
 * ```
 */
export function huffmanEncode(
  symbols: Uint8Array | Uint16Array,
  code: CanonicalCode,
  stream = "stream",
): Uint8Array {
  const { lengths, codes } = code;
  const count = symbols.length;
  // Pass 1: exact size, and every symbol checked before a byte is written.
  const alphabetSize = lengths.length;
  let totalBits = 0;
  for (let i = 0; i < count; i++) {
    const symbol = symbols[i];
    const length = symbol < alphabetSize ? lengths[symbol] : 0;
    if (length === 0) {
      throw new RangeError(
        `Cannot encode ${stream}: symbol ${symbol} at index ${i} has no code in the codebook`,
      );
    }
    totalBits += length;
  }
  const out = new Uint8Array(Math.ceil(totalBits / 8));
  let pending = 0; // the low `pendingBits` bits are not yet written
  let pendingBits = 0;
  let o = 0;
  if (code.maxLength <= 16) {
    for (let i = 0; i < count; i++) {
      const symbol = symbols[i];
      const length = lengths[symbol];
      pending = (pending << length) | codes[symbol];
      pendingBits += length;
      if (pendingBits >= 16) {
        pendingBits -= 16;
        const word = pending >>> pendingBits;
        out[o++] = word >>> 8;
        out[o++] = word;
      }
    }
  } else {
    for (let i = 0; i < count; i++) {
      const symbol = symbols[i];
      let length = lengths[symbol];
      const value = codes[symbol];
      if (length > 16) {
        // High part first: the top `length - 16` bits.
        const high = length - 16;
        pending = (pending << high) | (value >>> 16);
        pendingBits += high;
        if (pendingBits >= 16) {
          pendingBits -= 16;
          const word = pending >>> pendingBits;
          out[o++] = word >>> 8;
          out[o++] = word;
        }
        length = 16;
      }
      pending = (pending << length) | (value & 0xffff);
      pendingBits += length;
      if (pendingBits >= 16) {
        pendingBits -= 16;
        const word = pending >>> pendingBits;
        out[o++] = word >>> 8;
        out[o++] = word;
      }
    }
  }
  while (pendingBits >= 8) {
    pendingBits -= 8;
    out[o++] = pending >>> pendingBits;
  }
  if (pendingBits > 0) out[o] = pending << (8 - pendingBits);
  return out;
}
