/**
 * The decoder of the `ctx` codec: reads the plans, then takes each element's
 * symbols from the four rANS lanes with the same models, in the same order, as
 * the encoder recorded them. Layout and invariants: `ctx_codec.ts`.
 *
 * Bounds: the stream is copied into a buffer with room for one more row of words
 * at its end, so the hot loops shift words in without a bounds check; after each
 * row the position is checked against the real end. Raw bytes are checked before
 * each row and each escape.
 *
 * @module
 */

import {
  type AdaptiveFrequencies,
  BUCKET_BITS,
  BUCKET_SHIFT,
  symbolInTable,
} from "./adaptive_frequencies.ts";
import { ByteReader } from "./byte_io.ts";
import { readPlan } from "./ctx_header.ts";
import {
  type ChannelStates,
  type CtxModels,
  HI6_ALPHABET,
  RESIDUAL_ESCAPE,
  residualContext,
  residualWord,
  TOP_ALPHABET,
  TOP_MANTISSA_BITS,
  topContext,
  updateChannel,
} from "./ctx_model.ts";
import {
  ctxElements,
  outputBounds,
  type PredictedRowCoding,
  predictedRows,
  predictRow,
  rotationOf,
  type TensorPlan,
  type TensorShape,
} from "./ctx_plan.ts";
import { type CtxOptions, CtxScratch } from "./ctx_scratch.ts";
import { KvbitsDataError } from "./errors.ts";
import {
  RANS_HEADER_BYTES,
  RANS_LOWER_BOUND,
  RANS_SLOT_MASK,
  ransCheckEnd,
  ransDecodeStep,
  ransReadStates,
  ransShiftIn,
} from "./rans.ts";

const STREAM = "ctx payload";
const HI6_ROW = HI6_ALPHABET + 1;
const TOP_ROW = TOP_ALPHABET + 1;
const RAW_SHIFT = 10 - TOP_MANTISSA_BITS;
/** Most stream bytes one row can take: 3 symbols an element, a word each. */
const ROW_BYTES_PER_ELEMENT = 6;

/** The rANS decoder's state between rows, and the raw bytes. */
class StreamDecoder {
  /** The stream, then zeros for one row's words. */
  readonly bytes: Uint8Array;
  /** Offset of the stream in the payload, for messages. */
  readonly offset: number;
  /** Bytes of the stream itself. */
  readonly length: number;
  readonly raw: Uint8Array;
  /** The four lanes' states. */
  readonly states: Int32Array;
  pos = RANS_HEADER_BYTES;
  rawCount = 0;

  constructor(
    stream: Uint8Array,
    offset: number,
    raw: Uint8Array,
    rowLength: number,
    scratch: CtxScratch,
  ) {
    this.offset = offset;
    this.length = stream.length;
    this.raw = raw;
    try {
      this.states = Int32Array.from(ransReadStates(stream, STREAM));
    } catch (error) {
      throw this.#located(error as KvbitsDataError);
    }
    const end = stream.length + ROW_BYTES_PER_ELEMENT * rowLength + 2;
    this.bytes = scratch.bytes(end);
    this.bytes.set(stream);
    this.bytes.fill(0, stream.length, end);
  }

  #located(e: KvbitsDataError): KvbitsDataError {
    return new KvbitsDataError(e.detail, {
      stream: STREAM,
      bitOffset: 8 * this.offset + (e.bitOffset ?? 0),
    });
  }

  /** Throws when row `row` of tensor `tensor` read past the stream's end. */
  checkRow(tensor: number, row: number): void {
    if (this.pos > this.length) {
      throw new KvbitsDataError(
        `rANS stream ends early in row ${row} of tensor ${tensor}`,
        { stream: STREAM, bitOffset: 8 * (this.offset + this.length) },
      );
    }
  }

  rawEndsEarly(tensor: number, row: number): KvbitsDataError {
    return new KvbitsDataError(
      `raw bytes end early in row ${row} of tensor ${tensor}`,
      { stream: STREAM },
    );
  }

  /** Decodes one symbol of `model` in `context` on a lane (the slow path). */
  symbol(model: AdaptiveFrequencies, context: number, lane: number): number {
    if (model.started[context] === 0) model.start(context);
    const row = context * (model.alphabet + 1);
    let x = this.states[lane];
    const symbol = symbolInTable(
      model.table,
      model.bucket,
      context,
      row,
      x & RANS_SLOT_MASK,
    );
    x = ransDecodeStep(x, model.table[row + symbol]);
    if (x < RANS_LOWER_BOUND) {
      x = ransShiftIn(x, this.bytes, this.pos);
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
      ransCheckEnd(this.states, this.pos, this.length, STREAM);
    } catch (error) {
      throw this.#located(error as KvbitsDataError);
    }
  }
}

/**
 * Decodes one predicted row into `out`: each element's residual, and an escaped
 * element's `hi6`, top and raw byte (predicted rows are few: the slow path).
 */
function decodePredictedRow(
  out: Uint16Array,
  row: number,
  from: number,
  coding: PredictedRowCoding,
  decoder: StreamDecoder,
  tensor: number,
): void {
  const { shape, channels, models: m } = coding;
  const rowLength = shape.heads * shape.headDim;
  const predicted = predictRow(out, row, from, shape, coding.rotation);
  for (let j = 0, i = row * rowLength; j < rowLength; j++, i++) {
    const guess = predicted[j];
    const lane = 2 * (j & 1);
    const symbol = decoder.symbol(m.residual, residualContext(guess), lane);
    if (symbol !== RESIDUAL_ESCAPE) {
      out[i] = residualWord(guess, symbol);
      continue;
    }
    const h = decoder.symbol(m.hi6, channels.hi6Context[j], lane);
    const t = topContext(h, channels.roundedExponent[j]);
    const topBits = decoder.symbol(m.top, t, lane + 1);
    if (decoder.rawCount >= decoder.raw.length) {
      throw decoder.rawEndsEarly(tensor, row);
    }
    out[i] = (h << 10) | (topBits << RAW_SHIFT) |
      decoder.raw[decoder.rawCount++];
  }
}

/** Decodes one tensor's rows (the hot loop is the coded rows'). */
function decodeTensor(
  out: Uint16Array,
  plan: TensorPlan,
  predictedFrom: Int32Array | undefined,
  shape: TensorShape,
  models: CtxModels,
  channels: ChannelStates,
  decoder: StreamDecoder,
  tensor: number,
): void {
  models.reset();
  channels.reset();
  const { hi6, top } = models;
  const rowLength = shape.heads * shape.headDim;
  const rotation = rotationOf(plan, shape);
  const coding = rotation && { shape, rotation, channels, models };
  const references = plan.references;
  const bytes = decoder.bytes, raw = decoder.raw, states = decoder.states;
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
    if (coding && predictedFrom![row] >= 0) {
      decodePredictedRow(
        out,
        row,
        predictedFrom![row],
        coding,
        decoder,
        tensor,
      );
      decoder.checkRow(tensor, row);
      continue;
    }
    // Lanes of the even channel (x0, x1) and of the odd one (y0, y1), swapped
    // after every element.
    let x0 = states[0], x1 = states[1], y0 = states[2], y1 = states[3];
    let pos = decoder.pos;
    let r = decoder.rawCount;
    if (r + rowLength > rawLength) throw decoder.rawEndsEarly(tensor, row);
    for (let j = 0, i = row * rowLength; j < rowLength; j++, i++) {
      // hi6 on the channel pair's first lane (x0).
      const c = hiContext[j];
      if (hiStarted[c] === 0) hi6.start(c);
      const hiRow = c * HI6_ROW;
      // The search of symbolInTable, written out: called here it costs this loop
      // 5% (measured on kv-real), the most inlining pressure of any step.
      const slot0 = x0 & RANS_SLOT_MASK;
      let h = hiBucket[(c << BUCKET_BITS) + (slot0 >>> BUCKET_SHIFT)];
      while (hiTable[hiRow + h + 1] >>> 16 <= slot0) h++;
      x0 = ransDecodeStep(x0, hiTable[hiRow + h]);
      if (x0 < RANS_LOWER_BOUND) {
        x0 = ransShiftIn(x0, bytes, pos);
        pos += 2;
      }
      hiCounts[c * HI6_ALPHABET + h]++;
      if (--hiUntil[c] === 0) hi6.rebuild(c);
      // Mantissa top on the pair's second lane (x1).
      const t = topContext(h, rounded[j]);
      if (topStarted[t] === 0) top.start(t);
      const topRow = t * TOP_ROW;
      const slot1 = x1 & RANS_SLOT_MASK;
      let m = topBucket[(t << BUCKET_BITS) + (slot1 >>> BUCKET_SHIFT)];
      while (topTable[topRow + m + 1] >>> 16 <= slot1) m++;
      x1 = ransDecodeStep(x1, topTable[topRow + m]);
      if (x1 < RANS_LOWER_BOUND) {
        x1 = ransShiftIn(x1, bytes, pos);
        pos += 2;
      }
      topCounts[t * TOP_ALPHABET + m]++;
      if (--topUntil[t] === 0) top.rebuild(t);
      out[i] = (h << 10) | (m << RAW_SHIFT) | raw[r++];
      updateChannel(mean, bias, rounded, hiContext, j, h, c);
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
    decoder.checkRow(tensor, row);
  }
}

/**
 * Decodes a `ctx` payload into its tensors.
 *
 * @param payload Bytes from `ctxEncode`.
 * @param tensorCount Number of tensors it holds (2 for K and V).
 * @param shape Their shape.
 * @param options Working memory to reuse.
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
  options: CtxOptions = {},
): Uint16Array[] {
  const { rowLength, count } = ctxElements(shape);
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
  const stream = reader.sized("rANS stream");
  const streamOffset = reader.offset - stream.length;
  const { raw: rawBound } = outputBounds(plans, rowLength);
  if (reader.remaining > rawBound) {
    throw reader.error(
      `${reader.remaining} raw bytes follow the rANS stream, the shape allows ${rawBound}`,
    );
  }
  const raw = reader.bytes(reader.remaining);
  const tensors = plans.map(() => new Uint16Array(count));
  const scratch = options.scratch ?? new CtxScratch();
  const decoder = new StreamDecoder(
    stream,
    streamOffset,
    raw,
    rowLength,
    scratch,
  );
  const channels = scratch.channels(rowLength);
  plans.forEach((plan, index) => {
    decodeTensor(
      tensors[index],
      plan,
      predictedRows(plan, plans),
      shape,
      scratch.models,
      channels,
      decoder,
      index,
    );
  });
  decoder.finish();
  return tensors;
}
