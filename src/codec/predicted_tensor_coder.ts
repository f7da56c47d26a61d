/**
 * Predicted coding of FP16 tensors: a target tensor coded as residuals against a
 * predictor tensor of the same shape, with adaptive models and channel statistics
 * carried from one tensor to the next of a block (see `predicted_tensor_model.ts`
 * for the model).
 *
 * Read me first:
 * - One encoder (or decoder) object per block: it keeps one set of adaptive
 *   models for all the tensors of the block (the scale context already says what
 *   a layer's residuals look like: separate models for K and V cost 0.3% on
 *   kv-real with int8, learning twice), and the channel state of each slot (group
 *   and K or V) apart. Tensors must be decoded in the order they were encoded,
 *   with the same slots and predictors; after a decode error the decoder's state
 *   is undefined and the rest of the block is lost.
 * - Elements are coded in the tensor's order (token rows, then heads, then
 *   channels); element `j` of a row uses rANS lane `j mod 4`.
 * - Payload of one tensor: varint length of the rANS stream, the rANS stream (one
 *   residual symbol per element, `rans.ts`), then the raw bits of the large
 *   residuals, least significant bit first, packed into 16-bit little-endian words
 *   (the last one padded with zeros). The element count comes from the shape.
 * - Decoding is bounded by the shape and checks everything it reads: the rANS end
 *   state, every raw word used and its padding zero, every decoded ordinal inside
 *   `0..65535`. Corrupt input ends in `KvbitsDataError`, or (rarely) in wrong words
 *   that the caller's checksum catches; it never loops or reads out of bounds.
 *
 * @module
 */

import { AdaptiveFrequencies, adaptiveLayout } from "./adaptive_frequencies.ts";
import { ByteReader, putVarint, varintLength } from "./byte_io.ts";
import type { TensorShape } from "./ctx_codec.ts";
import { KvbitsDataError } from "./errors.ts";
import {
  inverseUlps,
  PREDICTED_ALPHABET,
  PREDICTED_CONTEXTS,
  PredictedChannels,
  residualTables,
} from "./predicted_tensor_model.ts";
import {
  RANS_HEADER_BYTES,
  RANS_LANE_SHIFT,
  RANS_LOWER_BOUND,
  RANS_PROBABILITY_BITS,
  ransCheckEnd,
  ransEncodeInto,
  ransReadStates,
} from "./rans.ts";

/**
 * Where a tensor belongs in its block: the tensors of one group and kind share a
 * channel state.
 */
export interface PredictedSlot {
  /**
   * The group whose tensors follow each other: a run's layer (the pack passes
   * `${run_id}\u0000${layer_id}`, as for its own carried state).
   */
  readonly group: string;
  /** Which tensor of the dump. */
  readonly tensor: "k" | "v";
}

const STREAM = "predicted tensor";
// What the hot loops read: module-private constants and functions, which V8
// folds, where it loads an imported binding from its cell, with a check, at
// every use (DEVELOPERS.md, hot loops). On kv-real with int8, encode 54 -> 47
// ms, decode 68 -> 64 (in memory, best of 20, alternating with the imports).
const SLOT_MASK = (1 << RANS_PROBABILITY_BITS) - 1;
const TABLE_ROW = PREDICTED_ALPHABET + 1;
const ALPHABET = PREDICTED_ALPHABET;
const PROBABILITY_BITS = RANS_PROBABILITY_BITS;
const LOWER_BOUND = RANS_LOWER_BOUND;
const LANE_SHIFT = RANS_LANE_SHIFT;
/**
 * Where the loops find the models' arrays in the one view of their buffer
 * (`AdaptiveFrequencies.words`): counts at 0, then the countdowns and the
 * coding tables. One view rather than three keeps fewer array bases and
 * lengths live in loops that hold more than the processor has registers
 * for (see `ctx_rows.ts`).
 */
const LAYOUT = adaptiveLayout(PREDICTED_CONTEXTS, PREDICTED_ALPHABET, false);
const UNTIL = LAYOUT.untilRebuild;
const TABLE = LAYOUT.table;
/** What a decode that stopped early found, by the code its loop notes. */
const FAILURES = [
  "",
  "rANS stream ends early",
  "raw bits end early",
  "a decoded word lies outside the 65,536 FP16 words",
];

/**
 * Buckets of the decoder's symbol search: 256 a context (2^8), of 16 slots
 * each. The models' own 64-slot buckets (`adaptive_frequencies.ts`) left 0.29
 * steps an element to take; these leave few enough that a plain loop beats a
 * first step without a branch (int8, in memory, best of 15: decode 60.1 ->
 * 56.9 ms; 512 and 1024 buckets gained less, 128 lost).
 */
const SEARCH_BITS = 8;
/** Right shift from a slot to its search bucket. */
const SEARCH_SHIFT = PROBABILITY_BITS - SEARCH_BITS;
/** Where fillSearch keeps its marks: after every context's buckets. */
const MARKS = PREDICTED_CONTEXTS << SEARCH_BITS;

/**
 * Fills context `c`'s search buckets from its coding table: bucket `u` holds
 * the first symbol whose interval reaches into slots `16u .. 16u + 15`, so a
 * search steps forward from it. Without a loop per symbol: each symbol marks
 * the first bucket past its end (`ceil(end / 16)`, a later symbol's mark
 * replacing an earlier one's) in the 257 bytes after the buckets, then a
 * running maximum takes the marks and clears them, as `rebuild` does for the
 * models' buckets (the loop per symbol ends where the processor cannot
 * foresee; kv-real in memory, three sessions of best of 30 to 80: int8
 * decode 41.6-42.0 -> 41.1-41.6 ms, bf16 40.4-40.7 -> 40.2-40.5).
 */
function fillSearch(search: Uint8Array, words: Int32Array, c: number): void {
  const row = TABLE + c * TABLE_ROW;
  const at = c << SEARCH_BITS;
  for (let s = 0; s < ALPHABET - 1; s++) {
    const end = ((words[row + s + 1] >>> 16) + (1 << SEARCH_SHIFT) - 1) >>>
      SEARCH_SHIFT;
    search[MARKS + end] = s + 1;
  }
  let first = 0;
  for (let u = 0; u < 1 << SEARCH_BITS; u++) {
    first = Math.max(first, search[MARKS + u]);
    search[MARKS + u] = 0;
    search[at + u] = first;
  }
}

/** What encoder and decoder share: models, channel states, residual tables. */
class PredictedState {
  // Without the models' 64-slot search buckets: the encoder never searches,
  // the decoder keeps finer ones (fillSearch).
  readonly model: AdaptiveFrequencies = new AdaptiveFrequencies(
    PREDICTED_CONTEXTS,
    PREDICTED_ALPHABET,
    false,
  );
  /**
   * The channel states of the K and the V slots by group, and of any slot
   * whose group's other tensors have another row length, by a key of all
   * three (found without making a string per tensor: most are one token).
   */
  readonly kSlots = new Map<string, PredictedChannels>();
  readonly vSlots = new Map<string, PredictedChannels>();
  readonly otherSlots = new Map<string, PredictedChannels>();
  readonly inverse: Float64Array = inverseUlps();
  // The residual tables as fields of their own: read from the object
  // literal residualTables returns, they made V8 throw away the compiled
  // encoder when the next block's state was made (that literal's field
  // types are widened on its second creation), and compile it again.
  readonly symbolOf: Uint8Array;
  readonly rawBits: Uint8Array;
  /**
   * The decoder's view of a symbol in one word: `rawBits << 16 | base`
   * (one array, one load, rather than two).
   */
  readonly symbolInfo: Int32Array = new Int32Array(PREDICTED_ALPHABET);
  /** A row's contexts and predictions, as `PredictedChannels.prepareRow` gives them. */
  row: Int32Array = new Int32Array(0);

  constructor() {
    const residuals = residualTables();
    this.symbolOf = residuals.symbolOf;
    this.rawBits = residuals.rawBits;
    for (let s = 0; s < PREDICTED_ALPHABET; s++) {
      this.symbolInfo[s] = (residuals.rawBits[s] << 16) | residuals.base[s];
    }
    // Every context starts now rather than when first used (the same tables
    // either way), which keeps that check out of the coding loops; in one go
    // (startAll), since every block makes a coder.
    this.model.startAll();
  }

  /** The slot's channel state, made (without history) on first use. */
  channels(slot: PredictedSlot, channels: number): PredictedChannels {
    const byGroup = slot.tensor === "k" ? this.kSlots : this.vSlots;
    let state = byGroup.get(slot.group);
    if (state === undefined) {
      state = new PredictedChannels(channels);
      byGroup.set(slot.group, state);
    } else if (state.channels !== channels) {
      const key = `${slot.tensor}\u0000${channels}\u0000${slot.group}`;
      state = this.otherSlots.get(key);
      if (state === undefined) {
        state = new PredictedChannels(channels);
        this.otherSlots.set(key, state);
      }
    }
    return state;
  }

  /** Makes {@link row} hold a row of `rowLength`. */
  reserveRow(rowLength: number): void {
    if (this.row.length < rowLength) this.row = new Int32Array(rowLength);
  }
}

/**
 * The shape's element count, checked against the target's length (when
 * encoding) and the predictor's (without allocating: this runs per tensor, and
 * most tensors are one token).
 */
function checkShape(
  action: string,
  shape: TensorShape,
  target: Uint16Array | undefined,
  predictor: Uint16Array,
): number {
  const { tokens, heads, headDim } = shape;
  if (!wholeNumber(tokens) || !wholeNumber(heads) || !wholeNumber(headDim)) {
    throw new RangeError(
      `Cannot ${action}: shape ${tokens} x ${heads} x ${headDim} is not made of whole numbers`,
    );
  }
  const elements = tokens * heads * headDim;
  const wrong = target !== undefined && target.length !== elements
    ? "target"
    : predictor.length !== elements
    ? "predictor"
    : undefined;
  if (wrong !== undefined) {
    const length = wrong === "target" ? target!.length : predictor.length;
    throw new RangeError(
      `Cannot ${action}: the ${wrong} holds ${length} words, the shape ${tokens} x ${heads} x ${headDim} wants ${elements}`,
    );
  }
  return elements;
}

function wholeNumber(n: number): boolean {
  return Number.isInteger(n) && n >= 0;
}

function checkSlot(action: string, slot: PredictedSlot): void {
  if (
    typeof slot.group !== "string" ||
    (slot.tensor !== "k" && slot.tensor !== "v")
  ) {
    throw new RangeError(
      `Cannot ${action}: slot group ${slot.group} tensor ${slot.tensor} is not a string and "k" or "v"`,
    );
  }
}

/**
 * The encoder's hot loop: each element's rANS record (its interval in its
 * context's table, lane `j mod 4`) into `records`, its raw bits into `raw`
 * from `rawStart`, the models and channel state learning as it goes.
 *
 * The hot loops live in functions of their own, apart from the methods that
 * check arguments and size buffers: code that runs rarely (a buffer grown for
 * a larger tensor) made V8 discard the optimized coder when it first ran
 * there, and a job compiles in its own thread (--no-concurrent-recompilation:
 * about 20 ms a compile of a coder with its loop). kv-real with int8, first
 * pass in a fresh process with the job's V8 flags, median of 5: encode 185 ->
 * 138 ms, decode 141 -> 121 (with the residual tables' fields, below).
 *
 * @returns The bytes of raw bits written.
 */
function recordRows(
  state: PredictedState,
  channels: PredictedChannels,
  target: Uint16Array,
  predictor: Uint16Array,
  tokens: number,
  rowLength: number,
  records: Uint32Array,
  raw: Uint8Array,
  rawStart: number,
): number {
  const model = state.model;
  const words = model.words;
  const symbolOf = state.symbolOf;
  const rawBits = state.rawBits;
  const inverse = state.inverse;
  const prepared = state.row;
  let rawPos = rawStart;
  let acc = 0;
  let accBits = 0;
  for (let row = 0, i = 0; row < tokens; row++) {
    channels.prepareRow(predictor, i, inverse, prepared);
    for (let j = 0; j < rowLength; j++, i++) {
      const cp = prepared[j];
      const c = cp >>> 16;
      const t = target[i];
      // Ordinals without a branch on the sign (see predictedOrdinal).
      const residual = (t ^ (0x8000 | (-(t >>> 15) & 0x7fff))) -
        (cp & 0xffff);
      const symbol = symbolOf[residual + 0xffff];
      const sign = residual >> 31;
      const bits = rawBits[symbol];
      acc |= (((residual ^ sign) - sign) & ((1 << bits) - 1)) << accBits;
      accBits += bits;
      if (accBits >= 16) {
        raw[rawPos++] = acc & 0xff;
        raw[rawPos++] = (acc >>> 8) & 0xff;
        acc >>>= 16;
        accBits -= 16;
      }
      records[i] = words[TABLE + c * TABLE_ROW + symbol] |
        ((j & 3) << LANE_SHIFT);
      words[c * ALPHABET + symbol]++;
      if (--words[UNTIL + c] === 0) model.rebuild(c);
    }
    channels.learnRow(target, predictor, i - rowLength);
  }
  if (accBits > 0) {
    raw[rawPos++] = acc & 0xff;
    raw[rawPos++] = (acc >>> 8) & 0xff;
  }
  return rawPos - rawStart;
}

/**
 * The decoder's hot loop (the counterpart of {@link recordRows}, apart for
 * the same reason): decodes a tensor's rows into `out`, the models and
 * channel state learning as it goes. `bytes` holds the rANS stream from 0,
 * two zero bytes (the loop reads a word before it knows whether it needs
 * it), and the raw words from `cursor[1]` to `rawEnd`. `states` holds the
 * four rANS lanes in and out, `cursor` the rANS byte and the raw byte in and
 * out, and the raw bits left over (out).
 *
 * @returns 0, or what failed (see FAILURES).
 */
function decodeRows(
  state: PredictedState,
  channels: PredictedChannels,
  search: Uint8Array,
  bytes: DataView,
  streamLength: number,
  rawEnd: number,
  predictor: Uint16Array,
  tokens: number,
  rowLength: number,
  out: Uint16Array,
  states: Int32Array,
  cursor: Int32Array,
): number {
  const model = state.model;
  const words = model.words;
  const symbolInfo = state.symbolInfo;
  const inverse = state.inverse;
  const prepared = state.row;
  const turn = rowLength & 3;
  let pos = cursor[0];
  let rawPos = cursor[1];
  let acc = 0;
  let accBits = 0;
  let failure = 0;
  let x0 = states[0], x1 = states[1], x2 = states[2], x3 = states[3];
  rows: for (let row = 0, i = 0; row < tokens; row++) {
    channels.prepareRow(predictor, i, inverse, prepared);
    // Element j codes on lane j mod 4, which is x0 when it comes.
    for (let j = 0; j < rowLength; j++, i++) {
      const cp = prepared[j];
      const c = cp >>> 16;
      const slotValue = x0 & SLOT_MASK;
      const row0 = TABLE + c * TABLE_ROW;
      let symbol = search[(c << SEARCH_BITS) | (slotValue >>> SEARCH_SHIFT)];
      // Entries are `start << 16 | frequency`: the next symbol starts at or
      // before the slot when its entry lies below `(slot + 1) << 16`.
      const limit = (slotValue + 1) << 16;
      while (words[row0 + symbol + 1] < limit) symbol++;
      const entry = words[row0 + symbol];
      x0 = (entry & 0xffff) * (x0 >>> PROBABILITY_BITS) + slotValue -
        (entry >>> 16);
      // Renormalization without a branch (taken for about a quarter of
      // the elements, at random): -1 when x0 needs the next word, else 0.
      const low = (x0 - LOWER_BOUND) >> 31;
      x0 = (x0 << (low & 16)) | (bytes.getUint16(pos, true) & low);
      pos += low & 2;
      if (pos > streamLength) {
        failure = 1;
        break rows;
      }
      words[c * ALPHABET + symbol]++;
      if (--words[UNTIL + c] === 0) {
        model.rebuild(c);
        fillSearch(search, words, c);
      }
      const info = symbolInfo[symbol];
      const bits = info >>> 16;
      if (accBits < bits) {
        if (rawPos >= rawEnd) {
          failure = 2;
          break rows;
        }
        acc |= bytes.getUint16(rawPos, true) << accBits;
        rawPos += 2;
        accBits += 16;
      }
      const m = (info & 0xffff) | (acc & ((1 << bits) - 1));
      acc >>>= bits;
      accBits -= bits;
      const negative = (symbol & 1) - 1;
      const ordinal = (cp & 0xffff) + ((m ^ negative) - negative);
      // The next element's lane.
      const next = x0;
      x0 = x1;
      x1 = x2;
      x2 = x3;
      x3 = next;
      if (ordinal >>> 16 !== 0) {
        failure = 3;
        break rows;
      }
      // The word of the ordinal, without a branch on the sign.
      out[i] = ordinal ^ (0x8000 | (((ordinal >>> 15) - 1) & 0x7fff));
    }
    channels.learnRow(out, predictor, i - rowLength);
    // Back to lane order: after the row, x0 holds lane (rowLength mod 4).
    if (turn !== 0) {
      states[turn] = x0;
      states[(turn + 1) & 3] = x1;
      states[(turn + 2) & 3] = x2;
      states[(turn + 3) & 3] = x3;
      x0 = states[0];
      x1 = states[1];
      x2 = states[2];
      x3 = states[3];
    }
  }
  states[0] = x0;
  states[1] = x1;
  states[2] = x2;
  states[3] = x3;
  cursor[0] = pos;
  cursor[1] = rawPos;
  cursor[2] = acc;
  return failure;
}

/**
 * Codes FP16 tensors against predictor tensors, carrying its models from one
 * tensor to the next (one encoder per block; see the module notes).
 *
 * @example Two dumps of one layer, decoded back in order
 * ```ts
 * import { PredictedTensorDecoder, PredictedTensorEncoder } from "./predicted_tensor_coder.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const shape = { tokens: 2, heads: 1, headDim: 4 };
 * const first = Uint16Array.from([0x3c00, 0x3c01, 0xbc00, 0x0001, 0x7e00, 0x8000, 0x3555, 0x2000]);
 * const second = Uint16Array.from([0x3c02, 0x3bff, 0xbc03, 0x0000, 0x7c00, 0x0000, 0x3556, 0x2001]);
 * const predictor = Uint16Array.from([0x3c01, 0x3c01, 0xbc01, 0x0002, 0x3c00, 0x8001, 0x3550, 0x2000]);
 * const slot = { group: "run\u00000", tensor: "k" } as const;
 *
 * const encoder = new PredictedTensorEncoder();
 * const payloads = [encoder.encode(first, predictor, shape, slot), encoder.encode(second, predictor, shape, slot)];
 * const decoder = new PredictedTensorDecoder();
 * assertEquals(decoder.decode(payloads[0], predictor, shape, slot), first);
 * assertEquals(decoder.decode(payloads[1], predictor, shape, slot), second);
 * ```
 */
export class PredictedTensorEncoder {
  readonly #state = new PredictedState();
  // One buffer for a tensor's records, rANS stream and raw bits, laid out so
  // that the payload comes out whole: the records from 0 (4n bytes), the
  // stream coded from them backwards to end at `8n + 24` (`ransEncodeInto`:
  // at most `2n + 16` bytes, so its length's varint fits before it), the raw
  // bits from there (at most `2n + 2` bytes).
  #scratch = new Uint8Array(0);
  /** The records' view of {@link #scratch}. */
  #records = new Uint32Array(0);

  /**
   * Codes one tensor against its predictor.
   *
   * @param target The FP16 words to code.
   * @param predictor The predictor's FP16 words, same shape.
   * @param shape `[tokens, heads, headDim]` of both.
   * @param slot The tensor's group (a run's layer), and K or V.
   * @returns The payload (a fresh array).
   * @throws {RangeError} When a length does not match the shape, or the slot is
   * not a string and "k" or "v".
   */
  encode(
    target: Uint16Array,
    predictor: Uint16Array,
    shape: TensorShape,
    slot: PredictedSlot,
  ): Uint8Array {
    return this.encodeView(target, predictor, shape, slot).slice();
  }

  /**
   * {@link PredictedTensorEncoder.encode} without a copy: the payload is a view
   * of the encoder's memory, valid until its next call (what a caller that
   * copies it into a larger whole wants).
   *
   * @param target The FP16 words to code.
   * @param predictor The predictor's FP16 words, same shape.
   * @param shape `[tokens, heads, headDim]` of both.
   * @param slot The tensor's group (a run's layer), and K or V.
   * @returns The payload, a view.
   * @throws {RangeError} When a length does not match the shape, or the slot is
   * not a string and "k" or "v".
   */
  encodeView(
    target: Uint16Array,
    predictor: Uint16Array,
    shape: TensorShape,
    slot: PredictedSlot,
  ): Uint8Array {
    const action = "encode a predicted tensor";
    const n = checkShape(action, shape, target, predictor);
    checkSlot(action, slot);
    const rowLength = shape.heads * shape.headDim;
    const streamEnd = 8 * n + 24;
    if (this.#scratch.length < streamEnd + 2 * n + 2) {
      this.#scratch = new Uint8Array(streamEnd + 2 * n + 2);
      this.#records = new Uint32Array(this.#scratch.buffer, 0, n);
    }
    const scratch = this.#scratch;
    const records = this.#records;
    const state = this.#state;
    let rawPos = 0;
    if (rowLength > 0) {
      const channels = state.channels(slot, rowLength);
      state.reserveRow(rowLength);
      rawPos = recordRows(
        state,
        channels,
        target,
        predictor,
        shape.tokens,
        rowLength,
        records,
        scratch,
        streamEnd,
      );
    }
    const streamStart = ransEncodeInto(records, n, scratch, streamEnd);
    // The stream's length goes in front of it, in place: no writer a tensor.
    const length = streamEnd - streamStart;
    const start = streamStart - varintLength(length);
    putVarint(scratch, start, length);
    return scratch.subarray(start, streamEnd + rawPos);
  }
}

/**
 * Decodes what a {@link PredictedTensorEncoder} coded, tensor by tensor in the same
 * order, with the same predictors and slots.
 *
 * @example
 * ```ts
 * import { PredictedTensorDecoder, PredictedTensorEncoder } from "./predicted_tensor_coder.ts";
 * import { assertEquals, assertThrows } from "@std/assert";
 *
 * const shape = { tokens: 1, heads: 2, headDim: 2 };
 * const target = Uint16Array.from([0x3c00, 0x3c08, 0xfc00, 0x0400]);
 * const predictor = Uint16Array.from([0x3c01, 0x3c00, 0xfc00, 0x8400]);
 * const slot = { group: "run\u00003", tensor: "v" } as const;
 * const payload = new PredictedTensorEncoder().encode(target, predictor, shape, slot);
 * assertEquals(new PredictedTensorDecoder().decode(payload, predictor, shape, slot), target);
 * assertThrows(() => new PredictedTensorDecoder().decode(payload.subarray(0, 5), predictor, shape, slot), Error);
 * ```
 */
export class PredictedTensorDecoder {
  readonly #state = new PredictedState();
  /** The search buckets of every context, kept with the tables, then fillSearch's marks. */
  readonly #search = new Uint8Array(MARKS + (1 << SEARCH_BITS) + 1);
  readonly #states = new Int32Array(4);
  /** Where decodeRows stopped: rANS byte, raw byte, unread raw bits. */
  readonly #cursor = new Int32Array(3);
  // The rANS stream, two zero bytes, then the raw words from an even offset
  // (see decodeRows), and a view that reads their 16-bit words.
  #stream = new Uint8Array(0);
  #view = new DataView(this.#stream.buffer);

  /** A decoder for a new block: every model fresh. */
  constructor() {
    // Every context's table is the same uniform one (see PredictedState).
    const search = this.#search;
    fillSearch(search, this.#state.model.words, 0);
    for (let c = 1; c < PREDICTED_CONTEXTS; c++) {
      search.copyWithin(c << SEARCH_BITS, 0, 1 << SEARCH_BITS);
    }
  }

  /**
   * Decodes one tensor.
   *
   * @param payload A payload from {@link PredictedTensorEncoder.encode}.
   * @param predictor The predictor's FP16 words, bit-identical to the encoder's.
   * @param shape `[tokens, heads, headDim]`.
   * @param slot The tensor's group and K or V, as at encode time.
   * @param into Gives the space to decode into, `count` words (a new array
   * when omitted).
   * @returns The FP16 words.
   * @throws {KvbitsDataError} When the payload is corrupt or does not belong to
   * this place of the block.
   * @throws {RangeError} When the predictor's length does not match the shape, or
   * the slot is not a string and "k" or "v".
   */
  decode(
    payload: Uint8Array,
    predictor: Uint16Array,
    shape: TensorShape,
    slot: PredictedSlot,
    into?: (count: number) => Uint16Array,
  ): Uint16Array {
    const action = "decode a predicted tensor";
    const n = checkShape(action, shape, undefined, predictor);
    checkSlot(action, slot);
    const reader = new ByteReader(payload, STREAM);
    const streamLength = reader.varintAtMost(
      reader.remaining,
      "rANS stream length",
    );
    const rawStart = reader.offset + streamLength;
    const streamBytes = payload.subarray(reader.offset, rawStart);
    if (streamLength < RANS_HEADER_BYTES) {
      throw new KvbitsDataError(
        `rANS stream of ${streamLength} bytes is shorter than its header`,
        { stream: STREAM, bitOffset: 8 * reader.offset },
      );
    }
    const rawWords = payload.subarray(rawStart);
    const rawLength = rawWords.length;
    if (rawLength & 1) {
      throw new KvbitsDataError(
        `raw bits take ${rawLength} bytes, not a whole number of 16-bit words`,
        { stream: STREAM, bitOffset: 8 * rawStart },
      );
    }
    const rawBase = (streamLength + 3) & ~1;
    if (this.#stream.length < rawBase + rawLength) {
      this.#stream = new Uint8Array(2 * (rawBase + rawLength));
      this.#view = new DataView(this.#stream.buffer);
    }
    const bytes = this.#stream;
    bytes.set(streamBytes);
    bytes[streamLength] = 0;
    bytes[streamLength + 1] = 0;
    bytes.set(rawWords, rawBase);
    const out = into?.(n) ?? new Uint16Array(n);
    const rowLength = shape.heads * shape.headDim;
    const states = this.#states;
    states.set(ransReadStates(streamBytes, STREAM));
    const cursor = this.#cursor;
    cursor[0] = RANS_HEADER_BYTES;
    cursor[1] = rawBase;
    cursor[2] = 0;
    // 0 while all is well, else what failed (see FAILURES).
    let failure = 0;
    if (rowLength > 0) {
      const state = this.#state;
      const channels = state.channels(slot, rowLength);
      state.reserveRow(rowLength);
      failure = decodeRows(
        state,
        channels,
        this.#search,
        this.#view,
        streamLength,
        rawBase + rawLength,
        predictor,
        shape.tokens,
        rowLength,
        out,
        states,
        cursor,
      );
    }
    const pos = cursor[0];
    const rawPos = cursor[1] - rawBase;
    if (failure !== 0) {
      throw new KvbitsDataError(
        `${FAILURES[failure]}: the payload is corrupt`,
        {
          stream: STREAM,
          bitOffset: 8 * (rawStart + rawPos),
        },
      );
    }
    if (rawPos !== rawLength || cursor[2] !== 0) {
      throw new KvbitsDataError(
        rawPos !== rawLength
          ? `${
            rawLength - rawPos
          } bytes of raw bits left after the last element`
          : "raw bits end in non-zero padding",
        { stream: STREAM, bitOffset: 8 * (rawStart + rawPos) },
      );
    }
    ransCheckEnd(states, pos, streamLength, STREAM);
    return out;
  }
}
