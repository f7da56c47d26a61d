/**
 * Table-driven decoding of canonical Huffman streams (FORMAT.md §3).
 *
 * Read me first:
 * - A primary table indexed by the next `primaryBits` (at most 11) bits of the
 *   stream gives symbol and length of every code that short in one lookup. Its
 *   entries pack `symbol << 6 | length`; length 0 marks a bit pattern that starts no
 *   code (possible in incomplete codes), length 63 one that starts a longer code.
 * - Longer codes (kvbits writes at most 15 bits, reference streams up to 32) are
 *   resolved canonically: for each length from `primaryBits + 1` up, the next bits
 *   are a code of that length exactly when they lie in `[firstCode, firstCode +
 *   count)`. Such codes are rare by construction (each one stands for a symbol rarer
 *   than about one in 2^11), so this path costs little.
 * - Bits are read from a copy of the stream with 8 zero bytes appended, so a peek of
 *   up to 32 bits never reads past the end. Each decoded symbol checks that the bit
 *   position has not passed the real end: a truncated stream fails at once, and the
 *   loop is bounded by the symbol count the caller gives.
 * - After the last symbol only zero padding bits may remain: trailing bytes or
 *   non-zero padding mean the stream does not hold what the caller expects.
 *
 * @module
 */

import type { CanonicalCode } from "./canonical_code.ts";
import { KvbitsDataError } from "./errors.ts";
import { HUFFMAN_MAX_READ_CODE_LENGTH } from "./huffman_code_lengths.ts";

/** Bits resolved by one lookup of the primary table (2^11 entries, 8 KiB). */
const PRIMARY_BITS_MAX = 11;
/** Primary entry length meaning "the code is longer than the primary table". */
const LONG_CODE = 63;

/** Decoding tables of one canonical code, built once and reused for many streams. */
export interface HuffmanDecodeTable {
  /** Bits of the primary lookup, `min(maxLength, 11)`. */
  readonly primaryBits: number;
  /** `symbol << 6 | length` per `primaryBits`-bit pattern (see the module notes). */
  readonly primary: Int32Array;
  /** Longest code length. */
  readonly maxLength: number;
  /** First canonical code of each length (a double: codes reach 2^32 - 1). */
  readonly firstCode: Float64Array;
  /** Number of codes of each length. */
  readonly lengthCounts: Uint32Array;
  /** Index into `symbolsInCodeOrder` of the first code of each length. */
  readonly firstIndex: Int32Array;
  /** Used symbols sorted by (length, symbol), that is, in code order. */
  readonly symbolsInCodeOrder: Uint16Array;
}

/**
 * Builds the decoding tables of a canonical code.
 *
 * @param code The canonical code (see `canonicalCode`), up to 32-bit codes.
 * @returns Tables for {@link huffmanDecode}.
 *
 * @example
 * ```ts
 * import { canonicalCode } from "./canonical_code.ts";
 * import { huffmanDecodeTable } from "./huffman_decoder.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const table = huffmanDecodeTable(canonicalCode([2, 1, 3, 3]));
 * assertEquals(table.primaryBits, 3);
 * assertEquals(table.primary.length, 8);
 * ```
 */
export function huffmanDecodeTable(code: CanonicalCode): HuffmanDecodeTable {
  const { lengths, codes, lengthCounts, maxLength } = code;
  const primaryBits = Math.min(maxLength, PRIMARY_BITS_MAX);
  const primary = new Int32Array(1 << primaryBits);
  const firstCode = new Float64Array(HUFFMAN_MAX_READ_CODE_LENGTH + 2);
  const firstIndex = new Int32Array(HUFFMAN_MAX_READ_CODE_LENGTH + 2);
  let used = 0;
  for (let length = 1; length <= maxLength; length++) {
    firstIndex[length] = used;
    used += lengthCounts[length];
  }
  const symbolsInCodeOrder = new Uint16Array(used);
  const filled = Int32Array.from(firstIndex);
  for (let symbol = 0; symbol < lengths.length; symbol++) {
    const length = lengths[symbol];
    if (length === 0) continue;
    const value = codes[symbol];
    if (filled[length] === firstIndex[length]) firstCode[length] = value;
    symbolsInCodeOrder[filled[length]++] = symbol;
    if (length <= primaryBits) {
      // A loop, not fill(): most codes fill a handful of entries, and the call
      // would cost more than the stores (per-dump codes build four tables a dump).
      const shift = primaryBits - length;
      const start = value << shift;
      const end = start + (1 << shift);
      const entry = (symbol << 6) | length;
      for (let index = start; index < end; index++) primary[index] = entry;
    } else {
      // Every long code starts with a primary-size prefix marked LONG_CODE.
      primary[Math.floor(value / 2 ** (length - primaryBits))] = LONG_CODE;
    }
  }
  return {
    primaryBits,
    primary,
    maxLength,
    firstCode,
    lengthCounts,
    firstIndex,
    symbolsInCodeOrder,
  };
}

/**
 * Decodes `count` symbols of a canonical Huffman stream.
 *
 * @param bytes The coded stream.
 * @param count Number of symbols it holds.
 * @param table Decoding tables of its code (see {@link huffmanDecodeTable}).
 * @param into Where to write the symbols (length at least `count`); a new
 * `Uint16Array` when omitted. A `Uint8Array` is enough for alphabets up to 256.
 * @param stream Stream name for error messages, e.g. `k_hi6`.
 * @returns `into`, or the new array, holding the symbols.
 * @throws {KvbitsDataError} When the stream ends early, holds a bit pattern that is
 * no code, has bytes after the last symbol or non-zero padding bits.
 * @throws {RangeError} When `count` is negative, `into` is too short, or `into` is
 * a `Uint8Array` and the code has symbols above 255.
 * @throws {TypeError} When `bytes` is not a `Uint8Array` or `into` not a
 * `Uint8Array` or `Uint16Array`.
 *
 * @example A round trip
 * ```ts
 * import { canonicalCode } from "./canonical_code.ts";
 * import { huffmanCodeLengths } from "./huffman_code_lengths.ts";
 * import { huffmanDecode, huffmanDecodeTable } from "./huffman_decoder.ts";
 * import { huffmanEncode } from "./huffman_encoder.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const symbols = new Uint16Array([5, 5, 5, 1, 5, 1000, 5, 1]);
 * const counts = new Array(1024).fill(0);
 * for (const s of symbols) counts[s]++;
 * const code = canonicalCode(huffmanCodeLengths(counts));
 * const bytes = huffmanEncode(symbols, code);
 * assertEquals(huffmanDecode(bytes, symbols.length, huffmanDecodeTable(code)), symbols);
 * ```
 */
export function huffmanDecode<T extends Uint8Array | Uint16Array = Uint16Array>(
  bytes: Uint8Array,
  count: number,
  table: HuffmanDecodeTable,
  into?: T,
  stream?: string,
): T {
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError(
      `Cannot decode ${stream ?? "stream"}: the stream must be a Uint8Array`,
    );
  }
  if (
    into !== undefined && !(into instanceof Uint8Array) &&
    !(into instanceof Uint16Array)
  ) {
    throw new TypeError(
      `Cannot decode ${
        stream ?? "stream"
      }: the output must be a Uint8Array or a Uint16Array`,
    );
  }
  if (!Number.isSafeInteger(count) || count < 0) {
    throw new RangeError(
      `Cannot decode ${
        stream ?? "stream"
      }: symbol count ${count} is not a non-negative integer`,
    );
  }
  const out = (into ?? new Uint16Array(count)) as T;
  if (out.length < count) {
    throw new RangeError(
      `Cannot decode ${
        stream ?? "stream"
      }: output holds ${out.length} symbols, ${count} needed`,
    );
  }
  if (
    out instanceof Uint8Array && table.symbolsInCodeOrder.some((s) => s > 255)
  ) {
    throw new RangeError(
      `Cannot decode ${
        stream ?? "stream"
      }: the code has symbols above 255, which a Uint8Array output cannot hold`,
    );
  }
  const totalBits = bytes.length * 8;
  if (count > 0 && table.maxLength === 0) {
    throw new KvbitsDataError(
      `the codebook has no codes but ${count} symbols are expected`,
      { stream, bitOffset: 0 },
    );
  }
  const buffer = new Uint8Array(bytes.length + 8);
  buffer.set(bytes);
  const { primary, primaryBits } = table;
  const primaryShift = 24 - primaryBits;
  const primaryMask = (1 << primaryBits) - 1;
  let position = 0;
  for (let i = 0; i < count; i++) {
    const p = position >>> 3;
    const window = (buffer[p] << 16) | (buffer[p + 1] << 8) | buffer[p + 2];
    const entry =
      primary[(window >>> (primaryShift - (position & 7))) & primaryMask];
    let length = entry & 63;
    let symbol = entry >>> 6;
    if (length === LONG_CODE || length === 0) {
      symbol = decodeLongCode(buffer, position, table);
      if (symbol < 0) {
        throw new KvbitsDataError(
          `bit pattern at symbol ${i} of ${count} is not a code of the codebook`,
          { stream, bitOffset: position },
        );
      }
      length = symbol >>> 16;
      symbol &= 0xffff;
    }
    position += length;
    if (position > totalBits) {
      throw new KvbitsDataError(
        `stream ends early: ${bytes.length} bytes hold fewer than the ${count} symbols expected (stopped in symbol ${i})`,
        { stream, bitOffset: position - length },
      );
    }
    out[i] = symbol;
  }
  checkEnd(bytes, position, stream);
  return out;
}

/**
 * Resolves a code longer than the primary table (or reports none) by canonical
 * ranges. Returns `length << 16 | symbol`, or -1 when no code matches.
 */
function decodeLongCode(
  buffer: Uint8Array,
  position: number,
  table: HuffmanDecodeTable,
): number {
  const p = position >>> 3;
  const shift = position & 7;
  // The next 32 bits of the stream, most significant first.
  const next32 = (((buffer[p] << 24) | (buffer[p + 1] << 16) |
        (buffer[p + 2] << 8) | buffer[p + 3]) << shift |
    (buffer[p + 4] >>> (8 - shift))) >>> 0;
  const { firstCode, lengthCounts, firstIndex, symbolsInCodeOrder } = table;
  for (let length = 1; length <= table.maxLength; length++) {
    const value = Math.floor(next32 / 2 ** (32 - length));
    const offset = value - firstCode[length];
    if (offset >= 0 && offset < lengthCounts[length]) {
      return (length << 16) | symbolsInCodeOrder[firstIndex[length] + offset];
    }
  }
  return -1;
}

/** After the last symbol only zero padding bits, less than one byte, may remain. */
function checkEnd(
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
