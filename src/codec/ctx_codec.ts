/**
 * The `ctx` codec: FP16 tensors of one shape `[tokens, kv_heads, head_dim]` (a
 * dump's K and V) coded with adaptive context models and rANS, into one payload.
 *
 * Read me first:
 * - Per tensor, rows (tokens) that repeat an earlier row exactly are listed as
 *   references and not coded (`row_repeats.ts`). Every other element is coded as
 *   `hi6` and its top 2 mantissa bits, each by an adaptive model chosen by the
 *   context model (`ctx_model.ts`), with rANS (`rans.ts`): `hi6` on lane 0, the
 *   mantissa top on lane 1. Its low byte is stored raw.
 * - Models and channel states start afresh for each tensor: nothing is carried from
 *   K to V or from one payload to another, so every dump decodes on its own.
 * - Payload layout, all integers unsigned LEB128 varints:
 *
 *   | part | content |
 *   | --- | --- |
 *   | repeat list, per tensor | count `n`, then `n` pairs: row gap (row minus the previous listed row minus 1; the first is the row itself) and distance back to the referenced row (>= 1) |
 *   | rANS stream length | in bytes |
 *   | rANS stream | see `rans.ts`: 2 states, then 16-bit words; symbols in tensor order, row order, channel order, `hi6` then top bits for each element |
 *   | raw low bytes | the low byte of each coded element, same order; runs to the end |
 *
 * - Decoding is bounded by the shape: it reads exactly one `hi6` and one top symbol
 *   per coded element, checks that the raw bytes exactly fill the rest, and ends with
 *   the rANS end check (states back at 2^16, every byte used). Corrupt input ends in
 *   `KvbitsDataError` or in wrong words that the caller's CRC-32 catches; it never
 *   loops or reads out of bounds.
 *
 * @module
 */

import { AdaptiveFrequencies, BUCKET_SHIFT } from "./adaptive_frequencies.ts";
import { ByteReader, ByteWriter } from "./byte_io.ts";
import {
  CHANNEL_AVERAGE_SHIFT,
  ChannelStates,
  DISTANCE_OFFSET,
  HI6_ALPHABET,
  HI6_CONTEXTS,
  SIGN_BUCKET_OF_BIAS,
  TOP_ALPHABET,
  TOP_CONTEXT_OF_DISTANCE,
  TOP_CONTEXTS,
  TOP_MANTISSA_BITS,
} from "./ctx_model.ts";
import { KvbitsDataError } from "./errors.ts";
import {
  RANS_HEADER_BYTES,
  RANS_LOWER_BOUND,
  RANS_PROBABILITY_BITS,
  ransCheckEnd,
  ransEncode,
  ransReadStates,
} from "./rans.ts";
import { findRepeatedRows } from "./row_repeats.ts";

/** The shape shared by the tensors of a payload. */
export interface TensorShape {
  /** Token rows (`seq_len`). */
  readonly tokens: number;
  /** KV heads per row (`kv_heads`). */
  readonly heads: number;
  /** Channels per head (`head_dim`). */
  readonly headDim: number;
}

/** Largest tensor the codec handles: 2^30 elements (2 GiB of FP16). */
export const CTX_MAX_ELEMENTS = 2 ** 30;

const SLOT_MASK = (1 << RANS_PROBABILITY_BITS) - 1;
const HI6_ROW = HI6_ALPHABET + 1;
const TOP_ROW = TOP_ALPHABET + 1;
const RAW_SHIFT = 10 - TOP_MANTISSA_BITS;

/** Models reused across calls (allocated once; every call resets them). */
let sharedModels: { hi6: AdaptiveFrequencies; top: AdaptiveFrequencies };
function models() {
  sharedModels ??= {
    hi6: new AdaptiveFrequencies(HI6_CONTEXTS, HI6_ALPHABET),
    top: new AdaptiveFrequencies(TOP_CONTEXTS, TOP_ALPHABET),
  };
  return sharedModels;
}

function elementsOf(shape: TensorShape): { rowLength: number; count: number } {
  const { tokens, heads, headDim } = shape;
  for (const [name, value] of Object.entries({ tokens, heads, headDim })) {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new RangeError(
        `Cannot code a tensor with ${name} ${value}: a non-negative integer is needed`,
      );
    }
  }
  const rowLength = heads * headDim;
  const count = tokens * rowLength;
  if (count > CTX_MAX_ELEMENTS) {
    throw new RangeError(
      `Cannot code a tensor of ${count} elements: at most 2^30 are supported`,
    );
  }
  return { rowLength, count };
}

/**
 * Runs the models forward over one tensor's coded rows, appending each element's
 * two rANS records (`hi6` on even indices, mantissa top on odd ones).
 *
 * @returns The record count after this tensor.
 */
function recordTensor(
  words: Uint16Array,
  references: Int32Array,
  rowLength: number,
  records: Uint32Array,
  recordCount: number,
  channels: ChannelStates,
): number {
  const { hi6, top } = models();
  hi6.reset();
  top.reset();
  channels.reset();
  const hiTable = hi6.table, hiCounts = hi6.counts, hiSeen = hi6.seen;
  const hiNext = hi6.nextRebuild, hiStarted = hi6.started;
  const topTable = top.table, topCounts = top.counts, topSeen = top.seen;
  const topNext = top.nextRebuild, topStarted = top.started;
  const mean = channels.meanExponent, bias = channels.signBias;
  const hiContext = channels.hi6Context, rounded = channels.roundedExponent;
  const distanceContext = TOP_CONTEXT_OF_DISTANCE;
  const signBucket = SIGN_BUCKET_OF_BIAS;
  const hiRowLength = HI6_ROW, topRowLength = TOP_ROW, rawShift = RAW_SHIFT;
  const shift = CHANNEL_AVERAGE_SHIFT, offset = DISTANCE_OFFSET;
  let k = recordCount;
  for (let row = 0; row < references.length; row++) {
    if (references[row] >= 0) continue;
    for (let j = 0, i = row * rowLength; j < rowLength; j++, i++) {
      const word = words[i];
      const h = word >>> 10;
      const exponent = h & 31;
      const c = hiContext[j];
      if (hiStarted[c] === 0) hi6.start(c);
      records[k++] = hiTable[c * hiRowLength + h];
      hiCounts[(c << 6) + h]++;
      if (++hiSeen[c] >= hiNext[c]) hi6.rebuild(c);
      const t = distanceContext[exponent - rounded[j] + offset];
      const topBits = (word >>> rawShift) & 3;
      if (topStarted[t] === 0) top.start(t);
      records[k++] = topTable[t * topRowLength + topBits];
      topCounts[(t << 2) + topBits]++;
      if (++topSeen[t] >= topNext[t]) top.rebuild(t);
      // ChannelStates.update, inlined.
      const sign = 256 - ((h >>> 5) << 9);
      let m = exponent << 8;
      let s = sign;
      if (c !== 0) {
        m = mean[j];
        m += ((exponent << 8) - m) >> shift;
        s = bias[j];
        s += (sign - s) >> shift;
      }
      mean[j] = m;
      bias[j] = s;
      const r = (m + 128) >> 8;
      rounded[j] = r;
      hiContext[j] = 1 + (r << 2) + signBucket[s + 256];
    }
  }
  return k;
}

function checkTensors(
  tensors: readonly Uint16Array[],
  count: number,
  what: string,
): void {
  tensors.forEach((tensor, index) => {
    if (tensor.length !== count) {
      throw new RangeError(
        `Cannot ${what}: tensor ${index} has ${tensor.length} elements, the shape needs ${count}`,
      );
    }
  });
}

/** Repeat references, coded rows and record count of each tensor. */
function plan(tensors: readonly Uint16Array[], shape: TensorShape) {
  const { rowLength } = elementsOf(shape);
  const references = tensors.map((tensor) =>
    findRepeatedRows(tensor, rowLength, shape.tokens)
  );
  let codedElements = 0;
  for (const refs of references) {
    for (const ref of refs) if (ref < 0) codedElements += rowLength;
  }
  return { rowLength, references, codedElements };
}

/**
 * Encodes tensors of one shape (a dump's K and V) into a `ctx` payload.
 *
 * @param tensors FP16 words, `tokens * heads * headDim` each.
 * @param shape Their shape.
 * @returns The payload (layout in the module notes).
 * @throws {RangeError} When a tensor does not have the shape's element count, or
 * the shape is invalid or larger than 2^30 elements.
 *
 * @example K and V of a 3-token dump, round trip
 * ```ts
 * import { ctxDecode, ctxEncode } from "@kvbits/kvbits";
 * import { assertEquals } from "@std/assert";
 *
 * const shape = { tokens: 3, heads: 1, headDim: 4 };
 * const k = Uint16Array.from([0x3c00, 0xbc01, 0x3555, 0x0001, 0x3c10, 0xbc11, 0x3556, 0x8000, 0x7c00, 0xfe01, 0x0000, 0x3c00]);
 * const v = Uint16Array.from([1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4]); // rows repeat
 * const payload = ctxEncode([k, v], shape);
 * assertEquals(ctxDecode(payload, 2, shape), [k, v]);
 * ```
 */
export function ctxEncode(
  tensors: readonly Uint16Array[],
  shape: TensorShape,
): Uint8Array {
  const { count } = elementsOf(shape);
  checkTensors(tensors, count, "ctx-encode");
  const { rowLength, references, codedElements } = plan(tensors, shape);
  const writer = new ByteWriter(64 + 2 * codedElements);
  for (const refs of references) writeRepeatList(writer, refs);
  const records = new Uint32Array(2 * codedElements);
  const channels = new ChannelStates(rowLength);
  let k = 0;
  tensors.forEach((tensor, index) => {
    k = recordTensor(
      tensor,
      references[index],
      rowLength,
      records,
      k,
      channels,
    );
  });
  const stream = ransEncode(records, k);
  writer.varint(stream.length);
  writer.bytes(stream);
  const raw = new Uint8Array(codedElements);
  let r = 0;
  tensors.forEach((tensor, index) => {
    const refs = references[index];
    for (let row = 0; row < refs.length; row++) {
      if (refs[row] >= 0) continue;
      const end = (row + 1) * rowLength;
      for (let i = row * rowLength; i < end; i++) raw[r++] = tensor[i];
    }
  });
  writer.bytes(raw);
  return writer.finish().slice();
}

function writeRepeatList(writer: ByteWriter, references: Int32Array): void {
  let count = 0;
  for (const ref of references) if (ref >= 0) count++;
  writer.varint(count);
  let previous = -1;
  for (let row = 0; row < references.length; row++) {
    const ref = references[row];
    if (ref < 0) continue;
    writer.varint(row - previous - 1);
    writer.varint(row - ref);
    previous = row;
  }
}

function readRepeatList(
  reader: ByteReader,
  tokens: number,
  tensor: number,
): Int32Array {
  const references = new Int32Array(tokens).fill(-1);
  const count = reader.varintAtMost(
    tokens,
    `repeated rows of tensor ${tensor}`,
  );
  let row = -1;
  for (let n = 0; n < count; n++) {
    const at = reader.offset;
    row += reader.varint() + 1;
    const distance = reader.varint();
    if (row >= tokens) {
      throw reader.error(
        `repeated row ${row} of tensor ${tensor} is past its ${tokens} rows`,
        at,
      );
    }
    if (distance < 1 || distance > row) {
      throw reader.error(
        `repeated row ${row} of tensor ${tensor} refers ${distance} rows back`,
        at,
      );
    }
    references[row] = row - distance;
  }
  return references;
}

/**
 * Decodes a `ctx` payload into its tensors.
 *
 * @param payload Bytes from {@link ctxEncode}.
 * @param tensorCount Number of tensors it holds (2 for K and V).
 * @param shape Their shape.
 * @returns The tensors, in encoding order.
 * @throws {KvbitsDataError} When the payload is corrupt, truncated, or does not
 * match the shape (stream `ctx payload`, with the bit offset).
 * @throws {RangeError} When the shape is invalid.
 *
 * @example A truncated payload is a data error
 * ```ts
 * import { ctxDecode, ctxEncode, KvbitsDataError } from "@kvbits/kvbits";
 * import { assertThrows } from "@std/assert";
 *
 * const shape = { tokens: 2, heads: 1, headDim: 2 };
 * const payload = ctxEncode([Uint16Array.from([1, 2, 3, 4])], shape);
 * assertThrows(() => ctxDecode(payload.subarray(0, payload.length - 1), 1, shape), KvbitsDataError);
 * ```
 */
export function ctxDecode(
  payload: Uint8Array,
  tensorCount: number,
  shape: TensorShape,
): Uint16Array[] {
  const { rowLength, count } = elementsOf(shape);
  const reader = new ByteReader(payload, "ctx payload");
  // Every row costs a byte or more (a raw byte per element, or a list entry), so
  // this bounds what the repeat lists below allocate.
  if (tensorCount > 0 && shape.tokens > payload.length) {
    throw reader.error(
      `${shape.tokens} rows cannot fit in ${payload.length} bytes`,
      0,
    );
  }
  const references: Int32Array[] = [];
  let codedElements = 0;
  for (let t = 0; t < tensorCount; t++) {
    const refs = readRepeatList(reader, shape.tokens, t);
    references.push(refs);
    for (const ref of refs) if (ref < 0) codedElements += rowLength;
  }
  const streamStart = reader.offset;
  const streamLength = reader.varint();
  if (streamLength > reader.remaining) {
    throw reader.error(
      `rANS stream of ${streamLength} bytes is longer than the ${reader.remaining} bytes left`,
      streamStart,
    );
  }
  const streamOffset = reader.offset;
  const stream = reader.bytes(streamLength);
  if (reader.remaining !== codedElements) {
    throw reader.error(
      `${reader.remaining} raw bytes follow the rANS stream, the shape needs ${codedElements}`,
    );
  }
  const raw = reader.bytes(codedElements);
  const tensors = references.map(() => new Uint16Array(count));
  decodeStream(stream, streamOffset, raw, tensors, references, rowLength);
  for (let t = 0; t < tensorCount; t++) {
    copyRepeatedRows(tensors[t], references[t], rowLength);
  }
  return tensors;
}

function copyRepeatedRows(
  tensor: Uint16Array,
  references: Int32Array,
  rowLength: number,
): void {
  for (let row = 0; row < references.length; row++) {
    const ref = references[row];
    if (ref < 0) continue;
    tensor.copyWithin(
      row * rowLength,
      ref * rowLength,
      (ref + 1) * rowLength,
    );
  }
}

/** Decodes every coded element of every tensor (the hot loop). */
function decodeStream(
  stream: Uint8Array,
  streamOffset: number,
  raw: Uint8Array,
  tensors: Uint16Array[],
  references: Int32Array[],
  rowLength: number,
): void {
  const name = "ctx payload";
  const [first0, first1] = ransReadStates(stream, name);
  let x0 = first0;
  let x1 = first1;
  const length = stream.length;
  // Renormalizations stop at the last whole word; reading on is "ends early".
  const lastWord = length - 2;
  const bytes = stream;
  let pos = RANS_HEADER_BYTES;
  let r = 0;
  const { hi6, top } = models();
  const channels = new ChannelStates(rowLength);
  const hiTable = hi6.table, hiCounts = hi6.counts, hiSeen = hi6.seen;
  const hiNext = hi6.nextRebuild, hiStarted = hi6.started;
  const hiBucket = hi6.bucket;
  const topTable = top.table, topCounts = top.counts, topSeen = top.seen;
  const topNext = top.nextRebuild, topStarted = top.started;
  const topBucket = top.bucket;
  const mean = channels.meanExponent, bias = channels.signBias;
  const hiContext = channels.hi6Context, rounded = channels.roundedExponent;
  for (let t = 0; t < tensors.length; t++) {
    const out = tensors[t];
    const refs = references[t];
    hi6.reset();
    top.reset();
    channels.reset();
    for (let row = 0; row < refs.length; row++) {
      if (refs[row] >= 0) continue;
      for (let j = 0, i = row * rowLength; j < rowLength; j++, i++) {
        // hi6 on lane 0: find the symbol whose slots hold x0's low 12 bits.
        const c = hiContext[j];
        if (hiStarted[c] === 0) hi6.start(c);
        let slot = x0 & SLOT_MASK;
        const hiRow = c * HI6_ROW;
        let h = hiBucket[(c << 6) + (slot >>> BUCKET_SHIFT)];
        while (hiTable[hiRow + h + 1] >>> 16 <= slot) h++;
        let entry = hiTable[hiRow + h];
        x0 = (entry & 0xffff) * (x0 >>> RANS_PROBABILITY_BITS) + slot -
          (entry >>> 16);
        if (x0 < RANS_LOWER_BOUND) {
          if (pos > lastWord) {
            throw streamEndsEarly(t, row, streamOffset + length);
          }
          x0 = x0 * 65536 + (bytes[pos] | (bytes[pos + 1] << 8));
          pos += 2;
        }
        hiCounts[c * HI6_ALPHABET + h]++;
        if (++hiSeen[c] >= hiNext[c]) hi6.rebuild(c);
        const exponent = h & 31;
        // Mantissa top on lane 1.
        const tc =
          TOP_CONTEXT_OF_DISTANCE[exponent - rounded[j] + DISTANCE_OFFSET];
        if (topStarted[tc] === 0) top.start(tc);
        slot = x1 & SLOT_MASK;
        const topRow = tc * TOP_ROW;
        let m2 = topBucket[(tc << 6) + (slot >>> BUCKET_SHIFT)];
        while (topTable[topRow + m2 + 1] >>> 16 <= slot) m2++;
        entry = topTable[topRow + m2];
        x1 = (entry & 0xffff) * (x1 >>> RANS_PROBABILITY_BITS) + slot -
          (entry >>> 16);
        if (x1 < RANS_LOWER_BOUND) {
          if (pos > lastWord) {
            throw streamEndsEarly(t, row, streamOffset + length);
          }
          x1 = x1 * 65536 + (bytes[pos] | (bytes[pos + 1] << 8));
          pos += 2;
        }
        topCounts[tc * TOP_ALPHABET + m2]++;
        if (++topSeen[tc] >= topNext[tc]) top.rebuild(tc);
        out[i] = (h << 10) | (m2 << RAW_SHIFT) | raw[r++];
        // ChannelStates.update, inlined.
        const sign = 256 - ((h >>> 5) << 9);
        let m = exponent << 8;
        let s = sign;
        if (c !== 0) {
          m = mean[j];
          m += ((exponent << 8) - m) >> CHANNEL_AVERAGE_SHIFT;
          s = bias[j];
          s += (sign - s) >> CHANNEL_AVERAGE_SHIFT;
        }
        mean[j] = m;
        bias[j] = s;
        const rr = (m + 128) >> 8;
        rounded[j] = rr;
        hiContext[j] = 1 + (rr << 2) + SIGN_BUCKET_OF_BIAS[s + 256];
      }
    }
  }
  try {
    ransCheckEnd(x0, x1, pos, length, name);
  } catch (error) {
    const e = error as KvbitsDataError;
    throw new KvbitsDataError(e.detail, {
      stream: name,
      bitOffset: 8 * streamOffset + (e.bitOffset ?? 0),
    });
  }
}

function streamEndsEarly(
  tensor: number,
  row: number,
  end: number,
): KvbitsDataError {
  return new KvbitsDataError(
    `rANS stream ends early in row ${row} of tensor ${tensor}`,
    { stream: "ctx payload", bitOffset: 8 * end },
  );
}

/** Bits a `ctx` payload spends on one tensor, by plane. */
export interface CtxPlaneBits {
  /** Elements of the tensor. */
  readonly elements: number;
  /** Rows stored as references to earlier rows. */
  readonly repeatedRows: number;
  /** Bits of the `hi6` symbols (sign and exponent), model cost. */
  readonly hi6: number;
  /** Bits of the top 2 mantissa bits, model cost. */
  readonly mantissaTop: number;
  /** Bits of the raw low mantissa bits: 8 per coded element. */
  readonly mantissaRaw: number;
  /** Bits of the tensor's repeat list. */
  readonly repeats: number;
}

/**
 * What a `ctx` payload spends on each tensor, plane by plane. The `hi6` and top
 * costs are the model's code lengths, `12 - log2(frequency)` per symbol; the rANS
 * stream itself is within a few bytes of their sum (its 8-byte state header and the
 * final partial word are not in any plane).
 *
 * @param tensors The tensors, as given to {@link ctxEncode}.
 * @param shape Their shape.
 * @returns One entry per tensor.
 * @throws {RangeError} As {@link ctxEncode}.
 *
 * @example
 * ```ts
 * import { ctxPlaneBits } from "@kvbits/kvbits";
 * import { assertEquals } from "@std/assert";
 *
 * const shape = { tokens: 2, heads: 1, headDim: 4 };
 * const [k] = ctxPlaneBits([Uint16Array.from([1, 2, 3, 4, 1, 2, 3, 4])], shape);
 * assertEquals([k.elements, k.repeatedRows, k.mantissaRaw], [8, 1, 32]);
 * ```
 */
export function ctxPlaneBits(
  tensors: readonly Uint16Array[],
  shape: TensorShape,
): CtxPlaneBits[] {
  const { count } = elementsOf(shape);
  checkTensors(tensors, count, "measure ctx planes");
  const { rowLength, references } = plan(tensors, shape);
  const cost = new Float64Array((1 << RANS_PROBABILITY_BITS) + 1);
  for (let f = 1; f < cost.length; f++) {
    cost[f] = RANS_PROBABILITY_BITS - Math.log2(f);
  }
  const channels = new ChannelStates(rowLength);
  return tensors.map((tensor, index) => {
    const refs = references[index];
    let repeatedRows = 0;
    for (const ref of refs) if (ref >= 0) repeatedRows++;
    const coded = (refs.length - repeatedRows) * rowLength;
    const records = new Uint32Array(2 * coded);
    recordTensor(tensor, refs, rowLength, records, 0, channels);
    let hi6 = 0, mantissaTop = 0;
    for (let k = 0; k < records.length; k += 2) {
      hi6 += cost[records[k] & 0xffff];
      mantissaTop += cost[records[k + 1] & 0xffff];
    }
    const list = new ByteWriter();
    writeRepeatList(list, refs);
    return {
      elements: tensor.length,
      repeatedRows,
      hi6,
      mantissaTop,
      mantissaRaw: 8 * coded,
      repeats: 8 * list.length,
    };
  });
}
