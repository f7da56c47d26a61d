/**
 * The encoder of the `ctx` codec. It runs the models forward over each tensor in
 * decoding order, appending each symbol's rANS record (its interval in the model's
 * current table, and its lane) and each raw low byte; `ransEncode` then codes the
 * records backwards. Layout and invariants: `ctx_codec.ts`.
 *
 * @module
 */

import type { AdaptiveFrequencies } from "./adaptive_frequencies.ts";
import { ByteWriter } from "./byte_io.ts";
import { writePlan } from "./ctx_header.ts";
import {
  type ChannelStates,
  type CtxModels,
  HI6_ALPHABET,
  RESIDUAL_ESCAPE,
  residualContext,
  residualSymbol,
  TOP_ALPHABET,
  TOP_MANTISSA_BITS,
  topContext,
  updateChannel,
} from "./ctx_model.ts";
import {
  checkTensorSizes,
  ctxElements,
  outputBounds,
  planTensors,
  type PredictedRowCoding,
  predictedRows,
  predictRow,
  rotationOf,
  type TensorPlan,
  type TensorShape,
} from "./ctx_plan.ts";
import { type CtxOptions, CtxScratch } from "./ctx_scratch.ts";
import { RANS_HEADER_BYTES, ransEncodeInto } from "./rans.ts";

const HI6_ROW = HI6_ALPHABET + 1;
const TOP_ROW = TOP_ALPHABET + 1;
const RAW_SHIFT = 10 - TOP_MANTISSA_BITS;
/** Record bits of the lane pair of odd channels (lanes 2 and 3): bit 31. */
const ODD_CHANNEL_LANES = 1 << 31;
/** Record bit of a mantissa-top lane (1 or 3): bit 30. */
const TOP_LANE = 1 << 30;

/** Where the encoder's forward pass appends records and raw bytes. */
export interface RecordOutput {
  /** rANS records, in decoding order. */
  readonly records: Uint32Array;
  /** Records appended so far. */
  recordCount: number;
  /** Raw low bytes, in decoding order. */
  readonly raw: Uint8Array;
  /** Raw bytes appended so far. */
  rawCount: number;
}

/**
 * Appends one symbol's record (with `laneBits` ORed in) and counts it: the slow
 * path of escaped elements of predicted rows.
 */
function recordSymbol(
  model: AdaptiveFrequencies,
  context: number,
  symbol: number,
  laneBits: number,
  out: RecordOutput,
): void {
  if (model.started[context] === 0) model.start(context);
  out.records[out.recordCount++] =
    model.table[context * (model.alphabet + 1) + symbol] | laneBits;
  model.observe(context, symbol);
}

/**
 * Records one predicted row: each element's residual, and an escaped element's
 * `hi6` and top as a coded row would (predicted rows are few: the slow path).
 */
function recordPredictedRow(
  words: Uint16Array,
  row: number,
  from: number,
  coding: PredictedRowCoding,
  out: RecordOutput,
): void {
  const { shape, channels, models: m } = coding;
  const rowLength = shape.heads * shape.headDim;
  const predicted = predictRow(words, row, from, shape, coding.rotation);
  for (let j = 0, i = row * rowLength; j < rowLength; j++, i++) {
    const word = words[i];
    const guess = predicted[j];
    const lanes = -(j & 1) & ODD_CHANNEL_LANES;
    const symbol = residualSymbol(word, guess);
    recordSymbol(m.residual, residualContext(guess), symbol, lanes, out);
    if (symbol !== RESIDUAL_ESCAPE) continue;
    const h = word >>> 10;
    recordSymbol(m.hi6, channels.hi6Context[j], h, lanes, out);
    const t = topContext(h, channels.roundedExponent[j]);
    recordSymbol(
      m.top,
      t,
      (word >>> RAW_SHIFT) & (TOP_ALPHABET - 1),
      lanes | TOP_LANE,
      out,
    );
    out.raw[out.rawCount++] = word;
  }
}

/**
 * Runs the models forward over one tensor (after resetting them and the channel
 * states), appending each symbol's rANS record and each raw byte in decoding
 * order.
 *
 * @param words The tensor.
 * @param plan Its plan.
 * @param predictedFrom Its predicted rows (`predictedRows`).
 * @param shape The shape.
 * @param models The models.
 * @param channels Channel states for the shape's rows.
 * @param out Where to append; sized by `outputBounds`.
 *
 * @example Two elements of one coded row: four records, two raw bytes
 * ```ts
 * import { recordTensor } from "./ctx_encoder.ts";
 * import { ChannelStates, CtxModels } from "./ctx_model.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const plan = { references: Int32Array.of(-1), pairing: 0 as const, source: 0, base: 0 };
 * const out = { records: new Uint32Array(4), recordCount: 0, raw: new Uint8Array(2), rawCount: 0 };
 * const shape = { tokens: 1, heads: 1, headDim: 2 };
 * recordTensor(Uint16Array.of(0x3c01, 0x3c02), plan, undefined, shape, new CtxModels(), new ChannelStates(2), out);
 * assertEquals([out.recordCount, ...out.raw], [4, 1, 2]);
 * ```
 */
export function recordTensor(
  words: Uint16Array,
  plan: TensorPlan,
  predictedFrom: Int32Array | undefined,
  shape: TensorShape,
  models: CtxModels,
  channels: ChannelStates,
  out: RecordOutput,
): void {
  models.reset();
  channels.reset();
  const { hi6, top } = models;
  const rowLength = shape.heads * shape.headDim;
  const rotation = rotationOf(plan, shape);
  const coding = rotation && { shape, rotation, channels, models };
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
    if (coding && predictedFrom![row] >= 0) {
      recordPredictedRow(words, row, predictedFrom![row], coding, out);
      continue;
    }
    let k = out.recordCount;
    let r = out.rawCount;
    for (let j = 0, i = row * rowLength; j < rowLength; j++, i++) {
      const word = words[i];
      const h = word >>> 10;
      const lanes = -(j & 1) & ODD_CHANNEL_LANES;
      const c = hiContext[j];
      if (hiStarted[c] === 0) hi6.start(c);
      records[k++] = hiTable[c * HI6_ROW + h] | lanes;
      hiCounts[c * HI6_ALPHABET + h]++;
      if (--hiUntil[c] === 0) hi6.rebuild(c);
      const t = topContext(h, rounded[j]);
      const topBits = (word >>> RAW_SHIFT) & (TOP_ALPHABET - 1);
      if (topStarted[t] === 0) top.start(t);
      records[k++] = topTable[t * TOP_ROW + topBits] | lanes | TOP_LANE;
      topCounts[t * TOP_ALPHABET + topBits]++;
      if (--topUntil[t] === 0) top.rebuild(t);
      raw[r++] = word;
      updateChannel(mean, bias, rounded, hiContext, j, h, c);
    }
    out.recordCount = k;
    out.rawCount = r;
  }
}

/**
 * Encodes tensors of one shape (a dump's K and V) into a `ctx` payload.
 *
 * @param tensors FP16 words, `tokens * heads * headDim` each.
 * @param shape Their shape.
 * @param options Working memory to reuse (the bytes do not depend on it).
 * @returns The payload (layout in `ctx_codec.ts`).
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
  options: CtxOptions = {},
): Uint8Array {
  const { count, rowLength } = ctxElements(shape);
  checkTensorSizes(tensors, count, "ctx-encode");
  const plans = planTensors(tensors, shape);
  const header = new ByteWriter(16 + 2 * tensors.length);
  for (const plan of plans) writePlan(header, plan);
  // One buffer: room for the header, the records, then the raw bytes. The rANS
  // stream is written backwards over the records it has coded, ending where the
  // raw bytes start, and the header goes just before it: the payload is one
  // run of the buffer. Room: the plans, the stream length's varint, and the
  // stream's 16-byte state header beyond what the records give back.
  const bounds = outputBounds(plans, rowLength);
  const room = (header.length + 8 + RANS_HEADER_BYTES) & ~3;
  const rawStart = room + 4 * bounds.records;
  const size = rawStart + bounds.raw;
  const bytes = options.scratch?.bytes(size) ?? new Uint8Array(size);
  const out: RecordOutput = {
    records: new Uint32Array(
      bytes.buffer,
      bytes.byteOffset + room,
      bounds.records,
    ),
    recordCount: 0,
    raw: bytes.subarray(rawStart, size),
    rawCount: 0,
  };
  const scratch = options.scratch ?? new CtxScratch();
  const channels = scratch.channels(rowLength);
  tensors.forEach((tensor, index) => {
    const plan = plans[index];
    recordTensor(
      tensor,
      plan,
      predictedRows(plan, plans),
      shape,
      scratch.models,
      channels,
      out,
    );
  });
  const streamStart = ransEncodeInto(
    out.records,
    out.recordCount,
    bytes,
    rawStart,
  );
  header.varint(rawStart - streamStart);
  const start = streamStart - header.length;
  bytes.set(header.finish(), start);
  const payload = bytes.subarray(start, rawStart + out.rawCount);
  // A caller's scratch is reused: the payload must not be a view of it.
  return options.scratch ? payload.slice() : payload;
}
