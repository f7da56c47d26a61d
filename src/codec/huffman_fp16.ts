/**
 * Huffman coding of both planes of FP16 words in one pass (FORMAT.md §3): split
 * and encode fused, decode and join fused. The bytes are exactly those of
 * `huffmanEncode` on the `hi6` and `lo10` planes of `splitFp16Planes`, and the
 * decoder accepts and refuses exactly what `huffmanDecode` does.
 *
 * Read me first:
 * - Each loop codes the `hi6` and the `lo10` plane side by side; only the `hi6`
 *   block is written by hand, and its `lo10` twin is generated from it by
 *   `scripts/fp16_twins.ts` (`tests/fp16_twins_test.ts` fails when it is not
 *   current): edit the `hi6` block, then run the script.
 * - Encoding reads each word once and appends to two streams, each with its own
 *   32-bit bit accumulator. A plane's code is looked up in one `Int32Array` that
 *   packs `code << 5 | length` (0: no code), so a symbol costs one load.
 * - Output is branch-free: after a symbol at most 7 + 16 bits are pending, and one
 *   big-endian 32-bit store (`DataView.setUint32`, which V8 compiles to a single
 *   store and a byte swap) writes them, left-aligned, unconditionally; the
 *   position then advances by the complete bytes only, so an incomplete byte is
 *   simply written again with the next symbol. (A branch on "16 bits pending"
 *   mispredicts about every other symbol, as code lengths vary; three byte stores
 *   instead of the one cost 60% more time on kv-real.)
 * - Each stream is sized once from a bound, `count * maxLength` bits, and the
 *   result is a view of the bytes used (no copy); both streams share one
 *   buffer. Codes longer than 16 bits
 *   (reference codebooks only; kvbits writes at most 15) take the plane-at-a-time
 *   path of `huffmanEncode`, which handles up to 32.
 * - Decoding interleaves the two streams in one loop: each symbol's position
 *   depends on the one before in the same stream only, so the CPU overlaps the
 *   two dependency chains, and the word is joined as it is written. Each peek is
 *   one big-endian 32-bit load (`DataView.getUint32`) from a copy of the stream
 *   with zero bytes after it; codes longer than the primary table (up to 11 bits)
 *   are resolved canonically out of line, as in huffman_decoder.ts.
 *
 * @module
 */

import { fp16DecodeOutput } from "./_fp16_streams.ts";
import { checkHuffmanEnd, longCodeEntry } from "./_huffman_steps.ts";
import type { CanonicalCode } from "./canonical_code.ts";
import { KvbitsDataError } from "./errors.ts";
import { splitFp16Planes } from "./fp16_planes.ts";
import { huffmanEncode } from "./huffman_encoder.ts";
import { huffmanDecode, type HuffmanDecodeTable } from "./huffman_decoder.ts";

/** Longest code the packed table holds: `code << 5 | length` stays below 2^21. */
const PACKED_MAX_LENGTH = 16;
/** Primary entry length meaning "longer than the primary table" (huffman_decoder.ts). */
const LONG_CODE = 63;
/** Bytes past the bound: the branch-free writer stores 4 bytes at a time. */
const WRITE_SLACK = 4;
/** Zero bytes after the copy of a stream: a 4-byte peek, or a 5-byte long-code read. */
const READ_PADDING = 8;
/** What stopped the fused decoder: a bit pattern that is no code, or the end, of a stream. */
const FAILED_HI_CODE = 1;
const FAILED_LO_CODE = 2;
const FAILED_HI_END = 3;
const FAILED_LO_END = 4;

/** A canonical code ready for {@link huffmanEncodeFp16}. */
export interface HuffmanEncodeTable {
  /** The code. */
  readonly code: CanonicalCode;
  /** `code << 5 | length` per symbol, 0 for symbols without a code; empty when `maxLength > 16`. */
  readonly packed: Int32Array;
}

/**
 * Packs a canonical code for the fused encoder; build it once per code.
 *
 * @param code The canonical code (see `canonicalCode`).
 * @param scratch Memory to reuse, when it holds 4 bytes a symbol: the table
 * is then a view of it, valid until it is reused.
 * @returns The packed table.
 *
 * @example
 * ```ts
 * import { canonicalCode } from "./canonical_code.ts";
 * import { huffmanEncodeTable } from "./huffman_fp16.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const table = huffmanEncodeTable(canonicalCode([2, 1, 3, 3]));
 * assertEquals(table.packed[2], (0b110 << 5) | 3);
 * ```
 */
export function huffmanEncodeTable(
  code: CanonicalCode,
  scratch?: ArrayBuffer,
): HuffmanEncodeTable {
  const { lengths, codes } = code;
  const size = code.maxLength <= PACKED_MAX_LENGTH ? lengths.length : 0;
  const packed = scratch && scratch.byteLength >= 4 * size
    ? new Int32Array(scratch, 0, size)
    : new Int32Array(size);
  for (let symbol = 0; symbol < size; symbol++) {
    const length = lengths[symbol];
    packed[symbol] = length === 0 ? 0 : (codes[symbol] << 5) | length;
  }
  return { code, packed };
}

/** Stream names for the messages of the fused coders. */
export interface Fp16StreamNames {
  /** Name of the `hi6` stream, e.g. `k_hi6`. */
  readonly hiStream?: string;
  /** Name of the `lo10` stream, e.g. `k_lo10`. */
  readonly loStream?: string;
}

/**
 * Encodes the `hi6` and `lo10` planes of FP16 words in one pass.
 *
 * @param words The FP16 bit patterns.
 * @param hi The packed code of the `hi6` plane (64 symbols).
 * @param lo The packed code of the `lo10` plane (1024 symbols).
 * @param names Stream names for error messages.
 * @returns The `hi6` and the `lo10` stream, each as `huffmanEncode` writes it.
 * @throws {RangeError} When a symbol has no code; the message names the symbol,
 * its index and the stream.
 *
 * @example The same bytes as plane by plane
 * ```ts
 * import { canonicalCode } from "./canonical_code.ts";
 * import { splitFp16Planes } from "./fp16_planes.ts";
 * import { countFp16Symbols } from "./histogram.ts";
 * import { huffmanCodeLengths } from "./huffman_code_lengths.ts";
 * import { huffmanEncode } from "./huffman_encoder.ts";
 * import { huffmanEncodeFp16, huffmanEncodeTable } from "./huffman_fp16.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const words = new Uint16Array([0x3c00, 0x3c01, 0xbc00, 0x3555, 0x3c01]);
 * const counts = countFp16Symbols(words);
 * const hiCode = canonicalCode(huffmanCodeLengths(counts.hi6));
 * const loCode = canonicalCode(huffmanCodeLengths(counts.lo10));
 * const [hiBytes, loBytes] = huffmanEncodeFp16(
 *   words, huffmanEncodeTable(hiCode), huffmanEncodeTable(loCode),
 * );
 * const planes = splitFp16Planes(words);
 * assertEquals(hiBytes, huffmanEncode(planes.hi6, hiCode));
 * assertEquals(loBytes, huffmanEncode(planes.lo10, loCode));
 * ```
 */
export function huffmanEncodeFp16(
  words: Uint16Array,
  hi: HuffmanEncodeTable,
  lo: HuffmanEncodeTable,
  names: Fp16StreamNames = {},
): [Uint8Array, Uint8Array] {
  const hiStream = names.hiStream ?? "hi6";
  const loStream = names.loStream ?? "lo10";
  const hiPacked = hi.packed;
  const loPacked = lo.packed;
  if (hiPacked.length < 64 || loPacked.length < 1024) {
    // Codes above 16 bits (or alphabets too small to hold every symbol, which
    // huffmanEncode reports by symbol): plane by plane.
    const planes = splitFp16Planes(words);
    return [
      huffmanEncode(planes.hi6, hi.code, hiStream),
      huffmanEncode(planes.lo10, lo.code, loStream),
    ];
  }
  const count = words.length;
  const hiBound = Math.ceil(count * hi.code.maxLength / 8);
  const loBound = Math.ceil(count * lo.code.maxLength / 8);
  // Both streams in one buffer: one allocation (which costs more than coding a
  // small dump's plane), and each its own view.
  const hiSize = hiBound + WRITE_SLACK;
  const loSize = loBound + WRITE_SLACK;
  const buffer = new ArrayBuffer(hiSize + loSize);
  const hiOut = new Uint8Array(buffer, 0, hiSize);
  const loOut = new Uint8Array(buffer, hiSize, loSize);
  const hiView = new DataView(buffer, 0, hiSize);
  const loView = new DataView(buffer, hiSize, loSize);
  let hiAcc = 0; // the low hiBits bits are pending; hiBits < 8 between words
  let hiBits = 0;
  let hiAt = 0;
  let loAcc = 0;
  let loBits = 0;
  let loAt = 0;
  // Errors are raised after the loop: code that can throw with the stream names
  // inside it keeps them alive there, which cost a third of the speed.
  let missing = -1;
  for (let i = 0; i < count; i++) {
    const word = words[i];
    const hiEntry = hiPacked[word >>> 10];
    const loEntry = loPacked[word & 0x3ff];
    if (hiEntry === 0 || loEntry === 0) {
      missing = i;
      break;
    }
    // hi6: append the code (1..16 bits: the pending bits stay below 24),
    // store the pending bits left-aligned, keep the incomplete byte pending.
    {
      hiAcc = (hiAcc << (hiEntry & 31)) | (hiEntry >>> 5);
      hiBits += hiEntry & 31;
      hiView.setUint32(hiAt, hiAcc << (32 - hiBits));
      hiAt += hiBits >>> 3;
      hiBits &= 7;
    }
    // lo10: generated from the hi6 block above by scripts/fp16_twins.ts; do not edit.
    {
      loAcc = (loAcc << (loEntry & 31)) | (loEntry >>> 5);
      loBits += loEntry & 31;
      loView.setUint32(loAt, loAcc << (32 - loBits));
      loAt += loBits >>> 3;
      loBits &= 7;
    }
  }
  if (missing >= 0) {
    const word = words[missing];
    throw missingCode(word, missing, hiPacked[word >>> 10], hiStream, loStream);
  }
  // The last partial byte, zero-padded (the stores above may have left other bits).
  if (hiBits > 0) hiOut[hiAt++] = hiAcc << (8 - hiBits);
  if (loBits > 0) loOut[loAt++] = loAcc << (8 - loBits);
  return [hiOut.subarray(0, hiAt), loOut.subarray(0, loAt)];
}

function missingCode(
  word: number,
  index: number,
  hiEntry: number,
  hiStream: string,
  loStream: string,
): RangeError {
  const [stream, symbol] = hiEntry === 0
    ? [hiStream, word >>> 10]
    : [loStream, word & 0x3ff];
  return new RangeError(
    `Cannot encode ${stream}: symbol ${symbol} at index ${index} has no code in the codebook`,
  );
}

/**
 * Decodes a `hi6` and a `lo10` stream of `count` symbols each into FP16 words,
 * `(hi6 << 10) | lo10`, both streams in one loop.
 *
 * @param hiBytes The `hi6` stream.
 * @param loBytes The `lo10` stream.
 * @param count Symbols in each stream: words to decode.
 * @param hi Decoding tables of the `hi6` code (see `huffmanDecodeTable`).
 * @param lo Decoding tables of the `lo10` code.
 * @param options Where to write (at least `count` words; a new array when
 * omitted) and the stream names for errors.
 * @returns The words (`into` when given).
 * @throws {KvbitsDataError} As `huffmanDecode`: a stream ends early, holds a bit
 * pattern that is no code, has bytes after its last symbol or non-zero padding;
 * the message names the stream.
 * @throws {RangeError} When `count` is negative or `into` is too short.
 *
 * @example A round trip
 * ```ts
 * import { canonicalCode } from "./canonical_code.ts";
 * import { countFp16Symbols } from "./histogram.ts";
 * import { huffmanCodeLengths } from "./huffman_code_lengths.ts";
 * import { huffmanDecodeTable } from "./huffman_decoder.ts";
 * import { huffmanDecodeFp16, huffmanEncodeFp16, huffmanEncodeTable } from "./huffman_fp16.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const words = new Uint16Array([0x3c00, 0x3c01, 0xbc00, 0x3555, 0x3c01]);
 * const counts = countFp16Symbols(words);
 * const hiCode = canonicalCode(huffmanCodeLengths(counts.hi6));
 * const loCode = canonicalCode(huffmanCodeLengths(counts.lo10));
 * const [hiBytes, loBytes] = huffmanEncodeFp16(
 *   words, huffmanEncodeTable(hiCode), huffmanEncodeTable(loCode),
 * );
 * const back = huffmanDecodeFp16(
 *   hiBytes, loBytes, words.length, huffmanDecodeTable(hiCode), huffmanDecodeTable(loCode),
 * );
 * assertEquals(back, words);
 * ```
 */
export function huffmanDecodeFp16(
  hiBytes: Uint8Array,
  loBytes: Uint8Array,
  count: number,
  hi: HuffmanDecodeTable,
  lo: HuffmanDecodeTable,
  options: Fp16StreamNames & { readonly into?: Uint16Array } = {},
): Uint16Array {
  const hiStream = options.hiStream ?? "hi6";
  const loStream = options.loStream ?? "lo10";
  const out = fp16DecodeOutput(count, options.into, hiStream);
  if (count > 0 && (hi.maxLength === 0 || lo.maxLength === 0)) {
    // Plane by plane: huffmanDecode names the stream and the problem.
    return joinPlanes(hiBytes, loBytes, count, hi, lo, out, hiStream, loStream);
  }
  const hiBuffer = new Uint8Array(hiBytes.length + READ_PADDING);
  hiBuffer.set(hiBytes);
  const loBuffer = new Uint8Array(loBytes.length + READ_PADDING);
  loBuffer.set(loBytes);
  const hiTotal = hiBytes.length * 8;
  const loTotal = loBytes.length * 8;
  const hiView = new DataView(hiBuffer.buffer);
  const loView = new DataView(loBuffer.buffer);
  const hiTable = hi;
  const loTable = lo;
  const hiPrimary = hi.primary;
  const loPrimary = lo.primary;
  // The primary index is the top primaryBits of the 32 bits at the position.
  const hiShift = 32 - hi.primaryBits;
  const loShift = 32 - lo.primaryBits;
  let hiAt = 0; // bit positions
  let loAt = 0;
  // As in the encoder, errors are raised after the loop (see there): the loop
  // only notes what failed (a FAILED_* code) and where.
  let failed = 0;
  let failedAt = 0;
  let failedBit = 0;
  for (let i = 0; i < count; i++) {
    // 32 bits from the byte of the position, shifted past its used bits: at
    // least 25 valid bits, more than any primary index needs.
    let hiEntry =
      hiPrimary[(hiView.getUint32(hiAt >>> 3) << (hiAt & 7)) >>> hiShift];
    let loEntry =
      loPrimary[(loView.getUint32(loAt >>> 3) << (loAt & 7)) >>> loShift];
    // hi6: a code longer than the primary table resolved out of line, then
    // the position advanced, within the stream.
    {
      let hiLength = hiEntry & 63;
      if (hiLength === LONG_CODE || hiLength === 0) {
        hiEntry = longCodeEntry(hiBuffer, hiAt, hiTable);
        if (hiEntry < 0) {
          failed = FAILED_HI_CODE;
          failedAt = i;
          failedBit = hiAt;
          break;
        }
        hiLength = hiEntry & 63;
      }
      hiAt += hiLength;
      if (hiAt > hiTotal) {
        failed = FAILED_HI_END;
        failedAt = i;
        failedBit = hiAt - hiLength;
        break;
      }
    }
    // lo10: generated from the hi6 block above by scripts/fp16_twins.ts; do not edit.
    {
      let loLength = loEntry & 63;
      if (loLength === LONG_CODE || loLength === 0) {
        loEntry = longCodeEntry(loBuffer, loAt, loTable);
        if (loEntry < 0) {
          failed = FAILED_LO_CODE;
          failedAt = i;
          failedBit = loAt;
          break;
        }
        loLength = loEntry & 63;
      }
      loAt += loLength;
      if (loAt > loTotal) {
        failed = FAILED_LO_END;
        failedAt = i;
        failedBit = loAt - loLength;
        break;
      }
    }
    out[i] = ((hiEntry >>> 6) << 10) | (loEntry >>> 6);
  }
  if (failed !== 0) {
    const hiFailed = failed === FAILED_HI_CODE || failed === FAILED_HI_END;
    const stream = hiFailed ? hiStream : loStream;
    throw new KvbitsDataError(
      failed === FAILED_HI_CODE || failed === FAILED_LO_CODE
        ? `bit pattern at symbol ${failedAt} of ${count} is not a code of the codebook`
        : `stream ends early: ${
          (hiFailed ? hiBytes : loBytes).length
        } bytes hold fewer than the ${count} symbols expected (stopped in symbol ${failedAt})`,
      { stream, bitOffset: failedBit },
    );
  }
  checkHuffmanEnd(hiBytes, hiAt, hiStream);
  checkHuffmanEnd(loBytes, loAt, loStream);
  return out;
}

/** The plane-at-a-time path, for the rare tables the fused loop does not take. */
function joinPlanes(
  hiBytes: Uint8Array,
  loBytes: Uint8Array,
  count: number,
  hi: HuffmanDecodeTable,
  lo: HuffmanDecodeTable,
  out: Uint16Array,
  hiStream: string,
  loStream: string,
): Uint16Array {
  const hiPlane = huffmanDecode(
    hiBytes,
    count,
    hi,
    new Uint8Array(count),
    hiStream,
  );
  const loPlane = huffmanDecode(loBytes, count, lo, undefined, loStream);
  for (let i = 0; i < count; i++) {
    out[i] = ((hiPlane[i] & 0x3f) << 10) | (loPlane[i] & 0x3ff);
  }
  return out;
}
