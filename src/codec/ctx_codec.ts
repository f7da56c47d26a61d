/**
 * The `ctx` codec: FP16 tensors of one shape `[tokens, kv_heads, head_dim]` (a
 * dump's K and V) coded with adaptive context models and rANS, into one payload.
 *
 * Read me first:
 * - Each tensor's rows (tokens) are of three kinds. A row that repeats an earlier
 *   row of the same tensor exactly is a reference (`row_repeats.ts`), nothing else.
 *   A row the encoder chose to predict by rotation (a RoPE K row of a token whose V
 *   row repeats, `rotary_prediction.ts`) codes each element's distance from its
 *   prediction. Every other row codes each element as `hi6` and its top 2 mantissa
 *   bits, each with an adaptive model picked by the context model (`ctx_model.ts`),
 *   and stores its low byte raw.
 * - One rANS stream (`rans.ts`) carries all symbols on four lanes: an element of an
 *   even channel index (within its row) puts its `hi6` or residual on lane 0 and its
 *   mantissa top on lane 1, an element of an odd one uses lanes 2 and 3.
 * - Models and channel states start afresh for each tensor: nothing is carried from
 *   K to V or from one payload to another, so every dump decodes on its own. Only
 *   the repeat lists are shared: a tensor's predicted rows are the rows another
 *   tensor (its "source") repeats.
 * - Payload layout, all integers unsigned LEB128 varints:
 *
 *   | part | content |
 *   | --- | --- |
 *   | per tensor: repeat list | count `n`, then `n` pairs: row gap (row minus the previous listed row minus 1; the first is the row itself) and distance back to the referenced row (>= 1) |
 *   | per tensor: predictor | 1 byte: 0 none, 1 rotation pairing `i` with `i + head_dim/2`, 2 pairing `2i` with `2i+1`; when not 0, varint source tensor and varint RoPE base |
 *   | rANS stream length | in bytes |
 *   | rANS stream | 4 states, then 16-bit words; symbols in tensor, row and channel order: `hi6` then top for a coded element; residual (then `hi6` and top when it escapes) for a predicted one |
 *   | raw low bytes | the low byte of each element coded with `hi6`, same order; runs to the end |
 *
 *   A row of a tensor is predicted when the tensor has a predictor, the row is not
 *   in the tensor's own repeat list and is in its source's: it is predicted from the
 *   row its source's list refers to, turned by the distance between the two.
 * - Decoding is bounded by the shape: it reads one or three symbols per element,
 *   checks the raw bytes before each row and each escape, reads the stream only
 *   while whole 16-bit words remain, and ends with the rANS end check (states back
 *   at 2^15, every byte used). Corrupt input ends in `KvbitsDataError` or in wrong
 *   words that the caller's CRC-32 catches; it never loops or reads out of bounds.
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
  RESIDUAL_ALPHABET,
  RESIDUAL_CONTEXTS,
  RESIDUAL_ESCAPE,
  RESIDUAL_LIMIT,
  SIGN_BUCKET_OF_BIAS,
  TOP_ALPHABET,
  TOP_CONTEXT_NO_HISTORY,
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
import {
  orderedFp16,
  predictRotatedRow,
  ROTARY_BASES,
  ROTARY_PAIRING,
  rotaryAngles,
  rotaryFrequencies,
  type RotaryPairing,
  unorderedFp16,
} from "./rotary_prediction.ts";
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

/** Rows the encoder predicts to choose a rotation (or none). */
const ROTARY_TRIAL_ROWS = 8;

const STREAM = "ctx payload";
const SLOT_MASK = (1 << RANS_PROBABILITY_BITS) - 1;
const HI6_ROW = HI6_ALPHABET + 1;
const TOP_ROW = TOP_ALPHABET + 1;
const RAW_SHIFT = 10 - TOP_MANTISSA_BITS;
/** Record bits of the lane pair of odd channels (lanes 2 and 3): bit 31. */
const ODD_CHANNEL_LANES = 1 << 31;
/** Record bit of a mantissa-top lane (1 or 3): bit 30. */
const TOP_LANE = 1 << 30;

/** How one tensor's rows are coded: what the payload says before the stream. */
interface TensorPlan {
  /** Per row: the earlier row it repeats, or -1. */
  readonly references: Int32Array;
  /** 0, or the rotation pairing of its predicted rows. */
  readonly pairing: 0 | RotaryPairing;
  /** The tensor whose repeat list names the predicted rows. */
  readonly source: number;
  /** The RoPE base of the rotation. */
  readonly base: number;
}

/** The three model sets, allocated once and reset for every tensor. */
interface Models {
  readonly hi6: AdaptiveFrequencies;
  readonly top: AdaptiveFrequencies;
  readonly residual: AdaptiveFrequencies;
}
let sharedModels: Models | undefined;
function models(): Models {
  if (!sharedModels) {
    const top = new AdaptiveFrequencies(TOP_CONTEXTS, TOP_ALPHABET);
    top.freeze(TOP_CONTEXT_NO_HISTORY);
    sharedModels = {
      hi6: new AdaptiveFrequencies(HI6_CONTEXTS, HI6_ALPHABET),
      top,
      residual: new AdaptiveFrequencies(RESIDUAL_CONTEXTS, RESIDUAL_ALPHABET),
    };
  }
  return sharedModels;
}
/**
 * Scratch reused across calls, grown when a larger tensor comes (one allocation per
 * size instead of several per dump; decode dumps are small and many).
 */
let scratchRecords = new Uint32Array(0);
let scratchRaw = new Uint8Array(0);
let scratchChannels = new ChannelStates(0);
function channelStates(rowLength: number): ChannelStates {
  if (scratchChannels.hi6Context.length !== rowLength) {
    scratchChannels = new ChannelStates(rowLength);
  }
  return scratchChannels;
}

function resetModels(m: Models): void {
  m.hi6.reset();
  m.top.reset();
  m.residual.reset();
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

/** The rotation a predicted row uses: frequencies, and scratch for one row. */
interface Rotation {
  readonly pairing: RotaryPairing;
  readonly frequencies: Float64Array;
  readonly cos: Float64Array;
  readonly sin: Float64Array;
  readonly predicted: Uint16Array;
}

function rotationOf(
  plan: TensorPlan,
  shape: TensorShape,
): Rotation | undefined {
  if (plan.pairing === 0) return undefined;
  const half = shape.headDim / 2;
  return {
    pairing: plan.pairing,
    frequencies: rotaryFrequencies(shape.headDim, plan.base),
    cos: new Float64Array(half),
    sin: new Float64Array(half),
    predicted: new Uint16Array(shape.heads * shape.headDim),
  };
}

/** Predicts row `row` of `words` from row `from` into `rotation.predicted`. */
function predictRow(
  words: Uint16Array,
  row: number,
  from: number,
  shape: TensorShape,
  rotation: Rotation,
): Uint16Array {
  const { cos, sin, predicted } = rotation;
  rotaryAngles(row - from, rotation.frequencies, cos, sin);
  predictRotatedRow(
    words,
    from * shape.heads * shape.headDim,
    shape.heads,
    shape.headDim,
    rotation.pairing,
    cos,
    sin,
    predicted,
  );
  return predicted;
}

// ---------------------------------------------------------------- encoding --

/** Where the encoder's forward pass appends records and raw bytes. */
interface Output {
  readonly records: Uint32Array;
  recordCount: number;
  readonly raw: Uint8Array;
  rawCount: number;
}

/**
 * Appends one symbol's record (with `laneBits` ORed in) and counts it: the slow
 * path of predicted rows.
 */
function recordSymbol(
  model: AdaptiveFrequencies,
  context: number,
  symbol: number,
  laneBits: number,
  out: Output,
): void {
  if (model.started[context] === 0) model.start(context);
  out.records[out.recordCount++] =
    model.table[context * (model.alphabet + 1) + symbol] | laneBits;
  model.observe(context, symbol);
}

/** Records one predicted row: residuals, and escaped elements coded as usual. */
function recordPredictedRow(
  words: Uint16Array,
  row: number,
  from: number,
  shape: TensorShape,
  rotation: Rotation,
  channels: ChannelStates,
  m: Models,
  out: Output,
): void {
  const rowLength = shape.heads * shape.headDim;
  const predicted = predictRow(words, row, from, shape, rotation);
  const model = m.residual;
  const table = model.table, counts = model.counts;
  const until = model.untilRebuild, started = model.started;
  const records = out.records;
  let k = out.recordCount;
  for (let j = 0, i = row * rowLength; j < rowLength; j++, i++) {
    const word = words[i];
    const guess = predicted[j];
    const residual = orderedFp16(word) - orderedFp16(guess);
    const c = ((guess >>> 10) & 31) >>> 2;
    const lanes = -(j & 1) & ODD_CHANNEL_LANES;
    const symbol = residual >= -RESIDUAL_LIMIT && residual <= RESIDUAL_LIMIT
      ? residual + 32
      : RESIDUAL_ESCAPE;
    if (started[c] === 0) model.start(c);
    records[k++] = table[c * (RESIDUAL_ALPHABET + 1) + symbol] | lanes;
    counts[c * RESIDUAL_ALPHABET + symbol]++;
    if (--until[c] === 0) model.rebuild(c);
    if (symbol !== RESIDUAL_ESCAPE) continue;
    out.recordCount = k;
    const h = word >>> 10;
    recordSymbol(m.hi6, channels.hi6Context[j], h, lanes, out);
    const t = TOP_CONTEXT_OF_DISTANCE[
      (h & 31) - channels.roundedExponent[j] + DISTANCE_OFFSET
    ];
    recordSymbol(
      m.top,
      t,
      (word >>> RAW_SHIFT) & (TOP_ALPHABET - 1),
      lanes | TOP_LANE,
      out,
    );
    out.raw[out.rawCount++] = word;
    k = out.recordCount;
  }
  out.recordCount = k;
}

/**
 * Runs the models forward over one tensor, appending each symbol's rANS record and
 * each raw byte in decoding order.
 */
function recordTensor(
  words: Uint16Array,
  plan: TensorPlan,
  predictedFrom: Int32Array | undefined,
  shape: TensorShape,
  channels: ChannelStates,
  out: Output,
): void {
  const m = models();
  resetModels(m);
  channels.reset();
  const { hi6, top } = m;
  const rowLength = shape.heads * shape.headDim;
  const rotation = rotationOf(plan, shape);
  const references = plan.references;
  const records = out.records, raw = out.raw;
  const hiTable = hi6.table, hiCounts = hi6.counts;
  const hiUntil = hi6.untilRebuild, hiStarted = hi6.started;
  const topTable = top.table, topCounts = top.counts;
  const topUntil = top.untilRebuild, topStarted = top.started;
  const mean = channels.meanExponent, bias = channels.signBias;
  const hiContext = channels.hi6Context, rounded = channels.roundedExponent;
  for (let row = 0; row < references.length; row++) {
    if (references[row] >= 0) continue;
    if (rotation && predictedFrom![row] >= 0) {
      recordPredictedRow(
        words,
        row,
        predictedFrom![row],
        shape,
        rotation,
        channels,
        m,
        out,
      );
      continue;
    }
    let k = out.recordCount;
    let r = out.rawCount;
    for (let j = 0, i = row * rowLength; j < rowLength; j++, i++) {
      const word = words[i];
      const h = word >>> 10;
      const exponent = h & 31;
      const lanes = -(j & 1) & ODD_CHANNEL_LANES;
      const c = hiContext[j];
      if (hiStarted[c] === 0) hi6.start(c);
      records[k++] = hiTable[c * HI6_ROW + h] | lanes;
      hiCounts[c * HI6_ALPHABET + h]++;
      if (--hiUntil[c] === 0) hi6.rebuild(c);
      const t =
        TOP_CONTEXT_OF_DISTANCE[exponent - rounded[j] + DISTANCE_OFFSET];
      const topBits = (word >>> RAW_SHIFT) & (TOP_ALPHABET - 1);
      if (topStarted[t] === 0) top.start(t);
      records[k++] = topTable[t * TOP_ROW + topBits] | lanes | TOP_LANE;
      topCounts[t * TOP_ALPHABET + topBits]++;
      if (--topUntil[t] === 0) top.rebuild(t);
      raw[r++] = word;
      // ChannelStates.update, inlined.
      const sign = 256 - ((h >>> 5) << 9);
      let mm = exponent << 8;
      let s = sign;
      if (c !== 0) {
        mm = mean[j];
        mm += ((exponent << 8) - mm) >> CHANNEL_AVERAGE_SHIFT;
        s = bias[j];
        s += (sign - s) >> CHANNEL_AVERAGE_SHIFT;
      }
      mean[j] = mm;
      bias[j] = s;
      const rr = (mm + 128) >> 8;
      rounded[j] = rr;
      hiContext[j] = 1 + (rr << 2) + SIGN_BUCKET_OF_BIAS[s + 256];
    }
    out.recordCount = k;
    out.rawCount = r;
  }
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

/**
 * The rotation (if any) that predicts the rows of `tensor` that `sourceReferences`
 * pairs: the pairing and base, of those kvbits knows, that put the most elements
 * of the first {@link ROTARY_TRIAL_ROWS} such rows within one FP16 step; none
 * unless that is at least half of them.
 */
function chooseRotation(
  tensor: Uint16Array,
  references: Int32Array,
  sourceReferences: Int32Array,
  shape: TensorShape,
): { pairing: RotaryPairing; base: number; hits: number } | undefined {
  if (shape.headDim % 2 !== 0) return undefined;
  const rows: number[] = [];
  for (let row = 0; row < references.length; row++) {
    if (references[row] < 0 && sourceReferences[row] >= 0) rows.push(row);
    if (rows.length === ROTARY_TRIAL_ROWS) break;
  }
  if (rows.length === 0) return undefined;
  const rowLength = shape.heads * shape.headDim;
  let best: { pairing: RotaryPairing; base: number; hits: number } | undefined;
  for (const base of ROTARY_BASES) {
    for (const pairing of [ROTARY_PAIRING.half, ROTARY_PAIRING.interleaved]) {
      const rotation = rotationOf(
        { references, pairing, source: 0, base },
        shape,
      )!;
      let hits = 0;
      for (const row of rows) {
        const predicted = predictRow(
          tensor,
          row,
          sourceReferences[row],
          shape,
          rotation,
        );
        for (let j = 0; j < rowLength; j++) {
          const residual = orderedFp16(tensor[row * rowLength + j]) -
            orderedFp16(predicted[j]);
          if (residual >= -1 && residual <= 1) hits++;
        }
      }
      if (hits > (best?.hits ?? 0)) best = { pairing, base, hits };
    }
  }
  return best && 2 * best.hits >= rows.length * rowLength ? best : undefined;
}

/** Repeat lists and predictors of all tensors, as the encoder chooses them. */
function planTensors(
  tensors: readonly Uint16Array[],
  shape: TensorShape,
): TensorPlan[] {
  const { rowLength } = elementsOf(shape);
  const references = tensors.map((tensor) =>
    findRepeatedRows(tensor, rowLength, shape.tokens)
  );
  return tensors.map((tensor, index) => {
    let chosen: TensorPlan = {
      references: references[index],
      pairing: 0,
      source: 0,
      base: 0,
    };
    let bestHits = 0;
    references.forEach((sourceReferences, source) => {
      if (source === index) return;
      const rotation = chooseRotation(
        tensor,
        references[index],
        sourceReferences,
        shape,
      );
      if (rotation && rotation.hits > bestHits) {
        bestHits = rotation.hits;
        chosen = { ...chosen, ...rotation, source };
      }
    });
    return chosen;
  });
}

/** For each row of a tensor with a predictor, the row it is predicted from, or -1. */
function predictedRows(
  plan: TensorPlan,
  plans: readonly TensorPlan[],
): Int32Array | undefined {
  if (plan.pairing === 0) return undefined;
  const source = plans[plan.source].references;
  return source.map((from, row) => plan.references[row] < 0 ? from : -1);
}

/** Upper bounds of records and raw bytes of the given tensors of `plans`. */
function outputBounds(
  plans: readonly TensorPlan[],
  rowLength: number,
  tensors: readonly number[] = plans.map((_, index) => index),
): { records: number; raw: number } {
  let records = 0, raw = 0;
  for (const index of tensors) {
    const plan = plans[index];
    const predicted = predictedRows(plan, plans);
    plan.references.forEach((reference, row) => {
      if (reference >= 0) return;
      const isPredicted = predicted !== undefined && predicted[row] >= 0;
      records += (isPredicted ? 3 : 2) * rowLength;
      raw += rowLength;
    });
  }
  return { records, raw };
}

/** Runs the forward pass of every tensor. */
function recordAll(
  tensors: readonly Uint16Array[],
  plans: readonly TensorPlan[],
  shape: TensorShape,
): Output {
  const { rowLength } = elementsOf(shape);
  const bounds = outputBounds(plans, rowLength);
  if (scratchRecords.length < bounds.records) {
    scratchRecords = new Uint32Array(bounds.records);
  }
  if (scratchRaw.length < bounds.raw) scratchRaw = new Uint8Array(bounds.raw);
  const out: Output = {
    records: scratchRecords,
    recordCount: 0,
    raw: scratchRaw,
    rawCount: 0,
  };
  const channels = channelStates(rowLength);
  tensors.forEach((tensor, index) => {
    const plan = plans[index];
    recordTensor(
      tensor,
      plan,
      predictedRows(plan, plans),
      shape,
      channels,
      out,
    );
  });
  return out;
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
 * import { ctxDecode, ctxEncode } from "./ctx_codec.ts";
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
  const plans = planTensors(tensors, shape);
  const out = recordAll(tensors, plans, shape);
  const stream = ransEncode(out.records, out.recordCount);
  const header = new ByteWriter(16 + 2 * tensors.length);
  for (const plan of plans) writePlan(header, plan);
  header.varint(stream.length);
  const payload = new Uint8Array(header.length + stream.length + out.rawCount);
  payload.set(header.finish());
  payload.set(stream, header.length);
  payload.set(
    out.raw.subarray(0, out.rawCount),
    header.length + stream.length,
  );
  return payload;
}

function writePlan(writer: ByteWriter, plan: TensorPlan): void {
  const references = plan.references;
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
  writer.byte(plan.pairing);
  if (plan.pairing !== 0) {
    writer.varint(plan.source);
    writer.varint(plan.base);
  }
}

// ---------------------------------------------------------------- decoding --

function readPlan(
  reader: ByteReader,
  shape: TensorShape,
  tensor: number,
  tensorCount: number,
): TensorPlan {
  const tokens = shape.tokens;
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
  const at = reader.offset;
  const pairing = reader.byte();
  if (pairing === 0) return { references, pairing, source: 0, base: 0 };
  if (
    pairing !== ROTARY_PAIRING.half && pairing !== ROTARY_PAIRING.interleaved
  ) {
    throw reader.error(`unknown predictor ${pairing} of tensor ${tensor}`, at);
  }
  const source = reader.varintAtMost(tensorCount - 1, "predictor source");
  const base = reader.varint();
  if (source === tensor || base < 2 || shape.headDim % 2 !== 0) {
    throw reader.error(
      `predictor of tensor ${tensor} (source ${source}, base ${base}, head_dim ${shape.headDim}) is impossible`,
      at,
    );
  }
  return { references, pairing: pairing as RotaryPairing, source, base };
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
 * import { ctxDecode, ctxEncode } from "./ctx_codec.ts";
 * import { KvbitsDataError } from "./errors.ts";
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
  const reader = new ByteReader(payload, STREAM);
  // Every row costs a byte or more (a raw byte per element, a list entry, or a
  // residual symbol), so this bounds what the repeat lists below allocate.
  if (tensorCount > 0 && shape.tokens > payload.length) {
    throw reader.error(
      `${shape.tokens} rows cannot fit in ${payload.length} bytes`,
      0,
    );
  }
  const plans: TensorPlan[] = [];
  for (let t = 0; t < tensorCount; t++) {
    plans.push(readPlan(reader, shape, t, tensorCount));
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
  const { raw: rawBound } = outputBounds(plans, rowLength);
  if (reader.remaining > rawBound) {
    throw reader.error(
      `${reader.remaining} raw bytes follow the rANS stream, the shape allows ${rawBound}`,
    );
  }
  const raw = reader.bytes(reader.remaining);
  const tensors = plans.map(() => new Uint16Array(count));
  const decoder = new StreamDecoder(stream, streamOffset, raw);
  const channels = channelStates(rowLength);
  plans.forEach((plan, index) => {
    decodeTensor(
      tensors[index],
      plan,
      predictedRows(plan, plans),
      shape,
      channels,
      decoder,
      index,
    );
  });
  decoder.finish();
  return tensors;
}

/** The rANS decoder's state between rows, and the raw bytes. */
class StreamDecoder {
  readonly bytes: Uint8Array;
  readonly offset: number;
  readonly lastWord: number;
  readonly raw: Uint8Array;
  /** The four lanes' states. */
  readonly states: Float64Array;
  pos = RANS_HEADER_BYTES;
  rawCount = 0;

  constructor(bytes: Uint8Array, offset: number, raw: Uint8Array) {
    this.bytes = bytes;
    this.offset = offset;
    this.lastWord = bytes.length - 2;
    this.raw = raw;
    try {
      this.states = Float64Array.from(ransReadStates(bytes, STREAM));
    } catch (error) {
      const e = error as KvbitsDataError;
      throw new KvbitsDataError(e.detail, {
        stream: STREAM,
        bitOffset: 8 * offset + (e.bitOffset ?? 0),
      });
    }
  }

  endsEarly(tensor: number, row: number): KvbitsDataError {
    return new KvbitsDataError(
      `rANS stream ends early in row ${row} of tensor ${tensor}`,
      { stream: STREAM, bitOffset: 8 * (this.offset + this.bytes.length) },
    );
  }

  rawEndsEarly(tensor: number, row: number): KvbitsDataError {
    return new KvbitsDataError(
      `raw bytes end early in row ${row} of tensor ${tensor}`,
      { stream: STREAM },
    );
  }

  /** Decodes one symbol of `model` in `context` on a lane (the slow path). */
  symbol(
    model: AdaptiveFrequencies,
    context: number,
    lane: number,
    tensor: number,
    row: number,
  ): number {
    if (model.started[context] === 0) model.start(context);
    let x = this.states[lane];
    const slot = x & SLOT_MASK;
    const symbol = model.symbolAt(context, slot);
    const entry = model.table[context * (model.alphabet + 1) + symbol];
    x = (entry & 0xffff) * (x >>> RANS_PROBABILITY_BITS) + slot -
      ((entry >>> 16) & 0x7fff);
    if (x < RANS_LOWER_BOUND) {
      if (this.pos > this.lastWord) throw this.endsEarly(tensor, row);
      x = (x << 16) | this.bytes[this.pos] | (this.bytes[this.pos + 1] << 8);
      this.pos += 2;
    }
    this.states[lane] = x;
    model.observe(context, symbol);
    return symbol;
  }

  /** The end check: states back at 2^15, every stream and raw byte used. */
  finish(): void {
    if (this.rawCount !== this.raw.length) {
      throw new KvbitsDataError(
        `${
          this.raw.length - this.rawCount
        } raw bytes left after the last element`,
        { stream: STREAM },
      );
    }
    try {
      ransCheckEnd(this.states, this.pos, this.bytes.length, STREAM);
    } catch (error) {
      const e = error as KvbitsDataError;
      throw new KvbitsDataError(e.detail, {
        stream: STREAM,
        bitOffset: 8 * this.offset + (e.bitOffset ?? 0),
      });
    }
  }
}

/** Decodes one predicted row into `out`. */
function decodePredictedRow(
  out: Uint16Array,
  row: number,
  from: number,
  shape: TensorShape,
  rotation: Rotation,
  channels: ChannelStates,
  m: Models,
  decoder: StreamDecoder,
  tensor: number,
): void {
  const rowLength = shape.heads * shape.headDim;
  const predicted = predictRow(out, row, from, shape, rotation);
  const model = m.residual;
  const table = model.table, counts = model.counts, bucket = model.bucket;
  const until = model.untilRebuild, started = model.started;
  const states = decoder.states, bytes = decoder.bytes;
  const lastWord = decoder.lastWord;
  // The residual lanes of even and odd channels (0 and 2), kept in locals and
  // written back around the rare escapes, which take the slow path.
  let even = states[0], odd = states[2];
  let pos = decoder.pos;
  for (let j = 0, i = row * rowLength; j < rowLength; j++, i++) {
    const guess = predicted[j];
    const c = ((guess >>> 10) & 31) >>> 2;
    if (started[c] === 0) model.start(c);
    let x = j & 1 ? odd : even;
    const slot = x & SLOT_MASK;
    const base = c * (RESIDUAL_ALPHABET + 1);
    let symbol = bucket[(c << 6) + (slot >>> BUCKET_SHIFT)];
    while (table[base + symbol + 1] >>> 16 <= slot) symbol++;
    const entry = table[base + symbol];
    x = (entry & 0xffff) * (x >>> RANS_PROBABILITY_BITS) + slot -
      (entry >>> 16);
    if (x < RANS_LOWER_BOUND) {
      if (pos > lastWord) throw decoder.endsEarly(tensor, row);
      x = (x << 16) | bytes[pos] | (bytes[pos + 1] << 8);
      pos += 2;
    }
    if (j & 1) odd = x;
    else even = x;
    counts[c * RESIDUAL_ALPHABET + symbol]++;
    if (--until[c] === 0) model.rebuild(c);
    if (symbol !== RESIDUAL_ESCAPE) {
      out[i] = unorderedFp16((orderedFp16(guess) + symbol - 32) & 0xffff);
      continue;
    }
    states[0] = even;
    states[2] = odd;
    decoder.pos = pos;
    const lane = 2 * (j & 1);
    const h = decoder.symbol(m.hi6, channels.hi6Context[j], lane, tensor, row);
    const t = TOP_CONTEXT_OF_DISTANCE[
      (h & 31) - channels.roundedExponent[j] + DISTANCE_OFFSET
    ];
    const topBits = decoder.symbol(m.top, t, lane + 1, tensor, row);
    if (decoder.rawCount >= decoder.raw.length) {
      throw decoder.rawEndsEarly(tensor, row);
    }
    out[i] = (h << 10) | (topBits << RAW_SHIFT) |
      decoder.raw[decoder.rawCount++];
    even = states[0];
    odd = states[2];
    pos = decoder.pos;
  }
  states[0] = even;
  states[2] = odd;
  decoder.pos = pos;
}

/** Decodes one tensor's rows (the hot loop is the coded rows'). */
function decodeTensor(
  out: Uint16Array,
  plan: TensorPlan,
  predictedFrom: Int32Array | undefined,
  shape: TensorShape,
  channels: ChannelStates,
  decoder: StreamDecoder,
  tensor: number,
): void {
  const m = models();
  resetModels(m);
  channels.reset();
  const { hi6, top } = m;
  const rowLength = shape.heads * shape.headDim;
  const rotation = rotationOf(plan, shape);
  const references = plan.references;
  const bytes = decoder.bytes, lastWord = decoder.lastWord, raw = decoder.raw;
  const rawLength = raw.length;
  const hiTable = hi6.table, hiCounts = hi6.counts;
  const hiUntil = hi6.untilRebuild, hiStarted = hi6.started;
  const hiBucket = hi6.bucket;
  const topTable = top.table, topCounts = top.counts;
  const topUntil = top.untilRebuild, topStarted = top.started;
  const topBucket = top.bucket;
  const mean = channels.meanExponent, bias = channels.signBias;
  const hiContext = channels.hi6Context, rounded = channels.roundedExponent;
  for (let row = 0; row < references.length; row++) {
    const reference = references[row];
    if (reference >= 0) {
      out.copyWithin(
        row * rowLength,
        reference * rowLength,
        (reference + 1) * rowLength,
      );
      continue;
    }
    if (rotation && predictedFrom![row] >= 0) {
      decodePredictedRow(
        out,
        row,
        predictedFrom![row],
        shape,
        rotation,
        channels,
        m,
        decoder,
        tensor,
      );
      continue;
    }
    // Lanes of the even channel (x0, x1) and of the odd one (y0, y1), swapped
    // after every element.
    const states = decoder.states;
    let x0 = states[0], x1 = states[1], y0 = states[2], y1 = states[3];
    let pos = decoder.pos;
    let r = decoder.rawCount;
    if (r + rowLength > rawLength) throw decoder.rawEndsEarly(tensor, row);
    for (let j = 0, i = row * rowLength; j < rowLength; j++, i++) {
      // hi6 on the channel pair's first lane (x0): find the symbol whose slots
      // hold the low 12 bits of the state.
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
        if (pos > lastWord) throw decoder.endsEarly(tensor, row);
        x0 = (x0 << 16) | bytes[pos] | (bytes[pos + 1] << 8);
        pos += 2;
      }
      hiCounts[c * HI6_ALPHABET + h]++;
      if (--hiUntil[c] === 0) hi6.rebuild(c);
      const exponent = h & 31;
      // Mantissa top on the pair's second lane (x1).
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
        if (pos > lastWord) throw decoder.endsEarly(tensor, row);
        x1 = (x1 << 16) | bytes[pos] | (bytes[pos + 1] << 8);
        pos += 2;
      }
      topCounts[tc * TOP_ALPHABET + m2]++;
      if (--topUntil[tc] === 0) top.rebuild(tc);
      out[i] = (h << 10) | (m2 << RAW_SHIFT) | raw[r++];
      // ChannelStates.update, inlined.
      const sign = 256 - ((h >>> 5) << 9);
      let mm = exponent << 8;
      let s = sign;
      if (c !== 0) {
        mm = mean[j];
        mm += ((exponent << 8) - mm) >> CHANNEL_AVERAGE_SHIFT;
        s = bias[j];
        s += (sign - s) >> CHANNEL_AVERAGE_SHIFT;
      }
      mean[j] = mm;
      bias[j] = s;
      const rr = (mm + 128) >> 8;
      rounded[j] = rr;
      hiContext[j] = 1 + (rr << 2) + SIGN_BUCKET_OF_BIAS[s + 256];
      const swap0 = x0;
      x0 = y0;
      y0 = swap0;
      const swap1 = x1;
      x1 = y1;
      y1 = swap1;
    }
    // After an odd number of elements x holds the odd channel's lanes.
    const odd = rowLength & 1;
    states[0] = odd ? y0 : x0;
    states[1] = odd ? y1 : x1;
    states[2] = odd ? x0 : y0;
    states[3] = odd ? x1 : y1;
    decoder.pos = pos;
    decoder.rawCount = r;
  }
}

// ------------------------------------------------------------- measurement --

/** Bits a `ctx` payload spends on one tensor, by plane. */
export interface CtxPlaneBits {
  /** Elements of the tensor. */
  readonly elements: number;
  /** Rows stored as references to earlier rows. */
  readonly repeatedRows: number;
  /** Rows predicted by rotation. */
  readonly predictedRows: number;
  /** Bits of the `hi6` symbols (sign and exponent), model cost. */
  readonly hi6: number;
  /** Bits of the top 2 mantissa bits, model cost. */
  readonly mantissaTop: number;
  /** Bits of the raw low mantissa bits: 8 per element coded with `hi6`. */
  readonly mantissaRaw: number;
  /** Bits of the residuals of predicted rows (escapes included), model cost. */
  readonly residuals: number;
  /** Bits of the tensor's repeat list and predictor. */
  readonly plan: number;
}

/**
 * What a `ctx` payload spends on each tensor, plane by plane. The `hi6`, top and
 * residual costs are the model's code lengths, `12 - log2(frequency)` per symbol;
 * the rANS stream itself is within a few bytes of their sum (its 8-byte state
 * header and the final partial word are not in any plane).
 *
 * @param tensors The tensors, as given to {@link ctxEncode}.
 * @param shape Their shape.
 * @returns One entry per tensor.
 * @throws {RangeError} As {@link ctxEncode}.
 *
 * @example
 * ```ts
 * import { ctxPlaneBits } from "./ctx_codec.ts";
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
  const { count, rowLength } = elementsOf(shape);
  checkTensors(tensors, count, "measure ctx planes");
  const plans = planTensors(tensors, shape);
  const cost = new Float64Array((1 << RANS_PROBABILITY_BITS) + 1);
  for (let f = 1; f < cost.length; f++) {
    cost[f] = RANS_PROBABILITY_BITS - Math.log2(f);
  }
  const channels = channelStates(rowLength);
  return tensors.map((tensor, index) => {
    const plan = plans[index];
    const predicted = predictedRows(plan, plans);
    const bounds = outputBounds(plans, rowLength, [index]);
    const out: Output = {
      records: new Uint32Array(bounds.records),
      recordCount: 0,
      raw: new Uint8Array(bounds.raw),
      rawCount: 0,
    };
    recordTensor(tensor, plan, predicted, shape, channels, out);
    // Walk the records in the order the rows produced them.
    let hi6 = 0, mantissaTop = 0, residuals = 0;
    let repeatedRows = 0, predictedCount = 0;
    let k = 0;
    const bits = (record: number) => cost[record & 0xffff];
    plan.references.forEach((reference, row) => {
      if (reference >= 0) {
        repeatedRows++;
        return;
      }
      const isPredicted = predicted !== undefined && predicted[row] >= 0;
      if (isPredicted) predictedCount++;
      for (let j = 0; j < rowLength; j++) {
        if (isPredicted) {
          const record = out.records[k++];
          residuals += bits(record);
          // Only the escape symbol (0) has its interval start at 0.
          if (((record >>> 16) & 0x7fff) !== 0) continue;
        }
        hi6 += bits(out.records[k++]);
        mantissaTop += bits(out.records[k++]);
      }
    });
    const list = new ByteWriter();
    writePlan(list, plan);
    return {
      elements: tensor.length,
      repeatedRows,
      predictedRows: predictedCount,
      hi6,
      mantissaTop,
      mantissaRaw: 8 * out.rawCount,
      residuals,
      plan: 8 * list.length,
    };
  });
}
