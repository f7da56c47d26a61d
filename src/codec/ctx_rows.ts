/**
 * The row coding loops of the `ctx` context model, the one copy that both the
 * `ctx` codec (`ctx_encoder.ts`, `ctx_decoder.ts`) and the pack coder
 * (`pack_coder.ts`) run: a coded row (`hi6` and mantissa top per element through
 * the channel's contexts, the low byte raw) and a row predicted by rotation
 * (residuals, escapes coded as in a coded row), each recorded for the rANS
 * encoder and decoded from the four rANS lanes.
 *
 * Read me first:
 * - {@link TensorModels} is what a tensor's rows are coded with: the three
 *   adaptive model sets and one running state per channel (contexts in
 *   `ctx_model.ts`). `ctx` resets it for every tensor; the pack carries it from
 *   dump to dump.
 * - Lanes: a coded element puts `hi6` on lane 0 and its top bits on lane 1 (even
 *   channels) or lanes 2 and 3 (odd channels), unless the caller puts every
 *   channel on lanes 0 and 1 (`oddLanes` 0 when recording, `fourLanes` false when
 *   decoding: the pack's small dumps).
 * - The hot loops (one element an iteration) call nothing and hold no inner
 *   loop. V8 peels the first iteration of such a loop, so each typed array's
 *   map is checked and its fields loaded once, not at every element; a call
 *   anywhere in the loop (even on a rare branch) or a loop inside it stops
 *   that. So a loop stops before an element whose `hi6` context has not
 *   started (`start` and the loop resumes), and after an element that made a
 *   table due for rebuilding (rebuilt before the next element, as soon as the
 *   schedule asks: no later symbol of its context was coded yet). The
 *   mantissa-top contexts, 8 of 4 symbols, start with the models
 *   ({@link TensorModels.reset}). Decoding takes the `hi6` search's first step
 *   without a branch, and the rare element that needs more (2% on kv-real, up
 *   to 60 steps in a young context) a written-out binary search; the top's 4
 *   symbols take 3 comparisons. Measured on kv-real, the loops alone (with a
 *   channel's state in one word, `ctx_model.ts`): recording 15.3 -> 7.9 ns an
 *   element, decoding 26.4 -> 18.5.
 * - The decoding loop is bound by the latency of each element's chain of
 *   loads (state, bucket, table entry, then the top's context and entries)
 *   and by how many of its instructions the processor can hold ahead. So it
 *   loads the bucket's entry and the next two at once and picks between them
 *   by a mask, takes the top's entry among the four by masks instead of a
 *   second load, compares entries (`start << 16 | frequency`) with the slot
 *   shifted instead of shifting each, reads a stream word in one load (a
 *   `DataView`), and reads each model's arrays through one view of the
 *   buffer they share (`AdaptiveFrequencies.words`, indexed by the layout
 *   `adaptiveLayout` gives): V8 then keeps 7 array bases and lengths, not
 *   13, and spills less. Measured by CPU samples in one process against the
 *   loop before (kv-real in pack order, 30 runs): about 10% fewer.
 * - Bounds when decoding: {@link RowDecoder} reads the stream where it lies when
 *   its buffer holds one more row of words after it (else from a copy with
 *   that room), so the hot loop shifts words in without a bounds check; after
 *   each row the position is checked against the stream's real end. Raw bytes
 *   are checked before each row and each escape.
 *
 * @module
 */

import {
  AdaptiveFrequencies,
  adaptiveLayout,
  BUCKET_BITS,
  BUCKET_SHIFT,
  symbolInTable,
} from "./adaptive_frequencies.ts";
import {
  channelContext,
  ChannelStates,
  HI6_ALPHABET,
  HI6_CONTEXTS,
  nextChannelState,
  RESIDUAL_ALPHABET,
  RESIDUAL_CONTEXTS,
  RESIDUAL_ESCAPE,
  residualContext,
  residualSymbol,
  residualWord,
  TOP_ALPHABET,
  TOP_CONTEXT_NO_HISTORY,
  TOP_CONTEXTS,
  TOP_MANTISSA_BITS,
  topContext,
} from "./ctx_model.ts";
import { KvbitsDataError } from "./errors.ts";
import {
  RANS_LOWER_BOUND,
  RANS_PROBABILITY_BITS,
  RANS_SLOT_MASK,
  ransCheckEnd,
  ransDecodeStep,
  ransReadStates,
  ransShiftIn,
} from "./rans.ts";

/** Most stream bytes one row can take: 3 symbols an element, a word each. */
const ROW_BYTES_PER_ELEMENT = 6;

/** Record bits of the lane pair of odd channels (lanes 2 and 3): bit 31. */
export const ODD_CHANNEL_LANES: number = 1 << 31;
/** Record bit of a mantissa-top lane (1 or 3): bit 30. */
export const TOP_LANE: number = 1 << 30;

// The hot loops read module-local constants only: V8 loads an imported (or
// exported) binding from its module cell, with a hole check, at every use in
// a loop, and folds a local constant; the same goes for the helpers they
// inline (measured: see rans.ts).
const HI6_SIZE = HI6_ALPHABET;
const HI6_ROW = HI6_ALPHABET + 1;
const TOP_SIZE = TOP_ALPHABET;
const TOP_ROW = TOP_ALPHABET + 1;
const RAW_SHIFT = 10 - TOP_MANTISSA_BITS;
const TOP_BIT = TOP_LANE;
const ESCAPE = RESIDUAL_ESCAPE;
const BUCKET_LOG = BUCKET_BITS;
const SLOT_TO_BUCKET = BUCKET_SHIFT;
const SLOT_MASK = RANS_SLOT_MASK;
const LOWER_BOUND = RANS_LOWER_BOUND;
const PROBABILITY_BITS = RANS_PROBABILITY_BITS;

/**
 * Where the hot loops find each model's arrays in its buffer
 * (`AdaptiveFrequencies.words` and `.bytes`): the layout of models with
 * search tables, a decoder's. The offsets of counts, countdowns and tables,
 * which the recording loops read, are the same without them.
 */
const HI6_LAYOUT = adaptiveLayout(HI6_CONTEXTS, HI6_ALPHABET, true);
const TOP_LAYOUT = adaptiveLayout(TOP_CONTEXTS, TOP_ALPHABET, true);
const RESIDUAL_LAYOUT = adaptiveLayout(
  RESIDUAL_CONTEXTS,
  RESIDUAL_ALPHABET,
  true,
);
const HI_UNTIL = HI6_LAYOUT.untilRebuild;
const HI_TABLE = HI6_LAYOUT.table;
const HI_BUCKET = HI6_LAYOUT.bucket;
const HI_STARTED = HI6_LAYOUT.started;
const TOP_UNTIL = TOP_LAYOUT.untilRebuild;
const TOP_TABLE = TOP_LAYOUT.table;
const RES_UNTIL = RESIDUAL_LAYOUT.untilRebuild;
const RES_TABLE = RESIDUAL_LAYOUT.table;
const RES_BUCKET = RESIDUAL_LAYOUT.bucket;
const RES_STARTED = RESIDUAL_LAYOUT.started;
const RES_SIZE = RESIDUAL_ALPHABET;
const RES_ROW = RESIDUAL_ALPHABET + 1;

/** Throws unless the models keep search tables (the decoding loops read them). */
function checkDecoding(m: TensorModels): void {
  if (m.hi6.bucket.length === 0 || m.residual.bucket.length === 0) {
    throw new RangeError(
      "Cannot decode rows with models made without search tables",
    );
  }
}

/**
 * The models and channel states a tensor's rows are coded with.
 *
 * @example Fresh models for rows of 4 channels
 * ```ts
 * import { TensorModels } from "./ctx_rows.ts";
 * import { TOP_CONTEXT_NO_HISTORY } from "./ctx_model.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const models = new TensorModels(4);
 * assertEquals(models.channels.length, 4);
 * assertEquals([models.hi6.alphabet, models.top.frozen[TOP_CONTEXT_NO_HISTORY]], [64, 1]);
 * ```
 */
export class TensorModels {
  /** `hi6` (sign and exponent), by the channel's `hi6` context. */
  readonly hi6: AdaptiveFrequencies;
  /** Top mantissa bits, by the exponent's distance from the channel's mean. */
  readonly top: AdaptiveFrequencies;
  /** Residuals of predicted rows, by the predicted exponent / 4. */
  readonly residual: AdaptiveFrequencies;
  /** Running state of each channel. */
  readonly channels: ChannelStates;

  /**
   * Fresh models for rows of `rowLength` channels.
   *
   * @param rowLength `kv_heads * head_dim`.
   * @param search Whether they will decode (else they keep no search tables:
   * an encoder's, whose rebuilds then cost less).
   */
  constructor(rowLength: number, search = true) {
    this.hi6 = new AdaptiveFrequencies(HI6_CONTEXTS, HI6_ALPHABET, search);
    this.top = new AdaptiveFrequencies(TOP_CONTEXTS, TOP_ALPHABET, search);
    this.top.freeze(TOP_CONTEXT_NO_HISTORY);
    this.residual = new AdaptiveFrequencies(
      RESIDUAL_CONTEXTS,
      RESIDUAL_ALPHABET,
      search,
    );
    this.channels = new ChannelStates(rowLength);
    this.reset();
  }

  /**
   * Forgets everything learned (start of a `ctx` tensor). The `hi6` and
   * residual contexts start when first used; the few mantissa-top contexts
   * start here, which the hot loops then need not check.
   */
  reset(): void {
    this.hi6.reset();
    this.top.reset();
    this.residual.reset();
    this.channels.reset();
    for (let t = 0; t < TOP_CONTEXTS; t++) this.top.start(t);
  }
}

/** Where recording appends rANS records and raw bytes. */
export interface RowOutput {
  /** {@link ODD_CHANNEL_LANES}, or 0 to put every channel on lanes 0 and 1. */
  oddLanes: number;
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
 * A fresh {@link RowOutput} (every caller makes them here, so the hot loops see
 * one object shape).
 *
 * @param records Room for the records.
 * @param raw Room for the raw bytes.
 * @param oddLanes {@link ODD_CHANNEL_LANES}, or 0.
 * @returns The output, empty.
 *
 * @example
 * ```ts
 * import { ODD_CHANNEL_LANES, rowOutput } from "./ctx_rows.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(rowOutput(new Uint32Array(2), new Uint8Array(1), ODD_CHANNEL_LANES).recordCount, 0);
 * ```
 */
export function rowOutput(
  records: Uint32Array,
  raw: Uint8Array,
  oddLanes: number,
): RowOutput {
  return { oddLanes, records, recordCount: 0, raw, rawCount: 0 };
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
  out: RowOutput,
): void {
  if (model.started[context] === 0) model.start(context);
  out.records[out.recordCount++] =
    model.table[context * (model.alphabet + 1) + symbol] | laneBits;
  model.observe(context, symbol);
}

/**
 * What a row loop does between elements, outside its hot inner loop: rebuilds
 * the tables that came due (`-1`: none) and starts the `hi6` context the next
 * element codes in (`-1`: none, after the row).
 */
function prepareModels(
  m: TensorModels,
  dueHi: number,
  dueTop: number,
  context: number,
): void {
  if (dueHi >= 0) m.hi6.rebuild(dueHi);
  if (dueTop >= 0) m.top.rebuild(dueTop);
  if (context >= 0 && m.hi6.started[context] === 0) m.hi6.start(context);
}

/**
 * One step of the decoder's binary search in a `hi6` table row: `s + step`
 * (at most the sentinel) when its symbol starts at or before `slot`, else `s`.
 */
function hi6Step(
  table: Int32Array,
  row: number,
  s: number,
  step: number,
  slot: number,
): number {
  const next = Math.min(s + step, HI6_SIZE);
  return table[row + next] >>> 16 <= slot ? next : s;
}

/**
 * Records one coded row: `hi6` and top per element, the low byte raw (the hot
 * loop of every encoder).
 *
 * @param words The words.
 * @param start Index of the row's first word.
 * @param rowLength Words in the row (the models' channels).
 * @param m The models.
 * @param out Where to append.
 *
 * @example Two elements: four records, two raw bytes
 * ```ts
 * import { ODD_CHANNEL_LANES, recordCodedRow, rowOutput, TensorModels } from "./ctx_rows.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const out = rowOutput(new Uint32Array(4), new Uint8Array(2), ODD_CHANNEL_LANES);
 * recordCodedRow(Uint16Array.of(0x3c01, 0x3c02), 0, 2, new TensorModels(2), out);
 * assertEquals([out.recordCount, ...out.raw], [4, 1, 2]);
 * ```
 */
export function recordCodedRow(
  words: Uint16Array,
  start: number,
  rowLength: number,
  m: TensorModels,
  out: RowOutput,
): void {
  const { hi6, top, channels } = m;
  const records = out.records, raw = out.raw, oddLanes = out.oddLanes;
  const hiTable = hi6.table, hiCounts = hi6.counts;
  const hiUntil = hi6.untilRebuild, hiStarted = hi6.started;
  const topTable = top.table, topCounts = top.counts;
  const topUntil = top.untilRebuild;
  const state = channels.state;
  let k = out.recordCount;
  let r = out.rawCount;
  let dueHi = -1, dueTop = -1;
  for (let j = 0, i = start; j < rowLength;) {
    prepareModels(m, dueHi, dueTop, channelContext(state[j]));
    dueHi = dueTop = -1;
    while (j < rowLength) {
      const word = words[i];
      const h = word >>> 10;
      const lanes = -(j & 1) & oddLanes;
      const w = state[j];
      const c = channelContext(w);
      if (hiStarted[c] === 0) break;
      records[k++] = hiTable[c * HI6_ROW + h] | lanes;
      hiCounts[c * HI6_SIZE + h]++;
      if (--hiUntil[c] === 0) dueHi = c;
      const t = topContext(h, c);
      const topBits = (word >>> RAW_SHIFT) & (TOP_SIZE - 1);
      records[k++] = topTable[t * TOP_ROW + topBits] | lanes | TOP_BIT;
      topCounts[t * TOP_SIZE + topBits]++;
      if (--topUntil[t] === 0) dueTop = t;
      raw[r++] = word;
      state[j] = nextChannelState(w, h);
      j++;
      i++;
      if ((dueHi & dueTop) !== -1) break;
    }
  }
  prepareModels(m, dueHi, dueTop, -1);
  out.recordCount = k;
  out.rawCount = r;
}

/**
 * Records one row predicted by rotation: each element's residual, and an
 * escaped element's `hi6` and top as a coded row would (predicted rows are few:
 * the slow path). Channel states are left as they were.
 *
 * @param words The words.
 * @param start Index of the row's first word.
 * @param predicted The row's prediction.
 * @param rowLength Words in the row.
 * @param m The models.
 * @param out Where to append.
 *
 * @example An exact prediction: one residual record, no raw byte
 * ```ts
 * import { ODD_CHANNEL_LANES, recordPredictedRow, rowOutput, TensorModels } from "./ctx_rows.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const out = rowOutput(new Uint32Array(3), new Uint8Array(1), ODD_CHANNEL_LANES);
 * recordPredictedRow(Uint16Array.of(0x3c00), 0, Uint16Array.of(0x3c00), 1, new TensorModels(1), out);
 * assertEquals([out.recordCount, out.rawCount], [1, 0]);
 * ```
 */
export function recordPredictedRow(
  words: Uint16Array,
  start: number,
  predicted: Uint16Array,
  rowLength: number,
  m: TensorModels,
  out: RowOutput,
): void {
  const resWords = m.residual.words, resStarted = m.residual.started;
  const records = out.records, oddLanes = out.oddLanes;
  let k = out.recordCount;
  let due = -1;
  for (let j = 0, i = start; j < rowLength;) {
    if (due >= 0) m.residual.rebuild(due);
    due = -1;
    const context = residualContext(predicted[j]);
    if (resStarted[context] === 0) m.residual.start(context);
    let escaped = false;
    while (j < rowLength) {
      const guess = predicted[j];
      const rc = residualContext(guess);
      if (resStarted[rc] === 0) break;
      const symbol = residualSymbol(words[i], guess);
      records[k++] = resWords[RES_TABLE + rc * RES_ROW + symbol] |
        (-(j & 1) & oddLanes);
      resWords[rc * RES_SIZE + symbol]++;
      if (--resWords[RES_UNTIL + rc] === 0) due = rc;
      if (symbol === ESCAPE) {
        escaped = true;
        break;
      }
      j++;
      i++;
      if (due !== -1) break;
    }
    if (!escaped) continue;
    // An escape: the element's hi6 and top as a coded row would record them
    // (the slow path), then its raw byte.
    out.recordCount = k;
    const word = words[i];
    const lanes = -(j & 1) & oddLanes;
    const h = word >>> 10;
    const c = channelContext(m.channels.state[j]);
    recordSymbol(m.hi6, c, h, lanes, out);
    recordSymbol(
      m.top,
      topContext(h, c),
      (word >>> RAW_SHIFT) & (TOP_SIZE - 1),
      lanes | TOP_BIT,
      out,
    );
    out.raw[out.rawCount++] = word;
    k = out.recordCount;
    j++;
    i++;
  }
  if (due >= 0) m.residual.rebuild(due);
  out.recordCount = k;
}

/** What a {@link RowDecoder} is made from. */
export interface RowStream {
  /** The rANS stream (`rans.ts`); empty when nothing was coded and `empty` allows it. */
  readonly stream: Uint8Array;
  /** Offset of the stream in the caller's bytes, for messages. */
  readonly offset: number;
  /** The raw low bytes. */
  readonly raw: Uint8Array;
  /** Longest row that will be decoded. */
  readonly rowLength: number;
  /**
   * Whether odd channels use lanes 2 and 3 (else every channel 0 and 1, and
   * the stream stores only lanes 0 and 1's states: an 8-byte header).
   */
  readonly fourLanes: boolean;
  /** Name of the stream in errors. */
  readonly name: string;
  /** Whether an empty stream means "no symbols" (else it is too short). */
  readonly empty?: boolean;
  /** Working memory: a buffer of at least `length` bytes, contents undefined. */
  readonly buffer: (length: number) => Uint8Array;
}

/**
 * The rANS decoder's state between rows, and the raw bytes.
 *
 * @example Nothing coded: the end check passes at once
 * ```ts
 * import { RowDecoder } from "./ctx_rows.ts";
 *
 * const stream = Uint8Array.of(0, 0x80, 0, 0, 0, 0x80, 0, 0, 0, 0x80, 0, 0, 0, 0x80, 0, 0);
 * const decoder = new RowDecoder({
 *   stream, offset: 0, raw: new Uint8Array(0), rowLength: 1, fourLanes: true,
 *   name: "example", buffer: (n) => new Uint8Array(n),
 * });
 * decoder.finish();
 * ```
 */
export class RowDecoder {
  /**
   * The stream, then room for one row's words: the bytes that follow it in
   * its buffer when there are enough, else a copy followed by zeros.
   */
  readonly bytes: Uint8Array;
  /** {@link bytes} as a view: the hot loop reads a word in one load. */
  readonly view: DataView;
  /** Offset of the stream in the caller's bytes, for messages. */
  readonly offset: number;
  /** Bytes of the stream itself. */
  readonly length: number;
  /** The raw low bytes. */
  readonly raw: Uint8Array;
  /** The four lanes' states. */
  readonly states: Int32Array;
  /** Whether odd channels use lanes 2 and 3. */
  readonly fourLanes: boolean;
  /** Name of the stream in errors. */
  readonly name: string;
  /** Next stream byte. */
  pos: number;
  /** Raw bytes used. */
  rawCount = 0;

  /**
   * Reads the lanes' states and copies the stream into working memory.
   *
   * @param from The stream and how to read it.
   * @throws {KvbitsDataError} When the states are impossible.
   */
  constructor(from: RowStream) {
    const { stream, offset, name } = from;
    this.offset = offset;
    this.name = name;
    this.length = stream.length;
    this.raw = from.raw;
    this.fourLanes = from.fourLanes;
    if (stream.length === 0 && from.empty) {
      // Reading any symbol needs a word, so any attempt ends early.
      this.states = new Int32Array(4).fill(RANS_LOWER_BOUND);
      this.pos = 0;
    } else {
      const lanes = from.fourLanes ? 4 : 2;
      try {
        const read = ransReadStates(stream, name, lanes);
        // Element by element: the constructor from an array iterates it
        // (about 1 microsecond, a dump).
        this.states = new Int32Array(4);
        for (let lane = 0; lane < 4; lane++) this.states[lane] = read[lane];
      } catch (error) {
        throw this.#located(error as KvbitsDataError);
      }
      this.pos = 4 * lanes;
    }
    const end = stream.length + ROW_BYTES_PER_ELEMENT * from.rowLength + 2;
    if (stream.byteOffset + end <= stream.buffer.byteLength) {
      // Bytes follow the stream where it lies (a pack dump's raw bytes, say):
      // read there. A word past the stream's end only enters a row the end
      // check then refuses, whatever it holds.
      this.bytes = new Uint8Array(stream.buffer, stream.byteOffset, end);
    } else {
      this.bytes = from.buffer(end);
      this.bytes.set(stream);
      this.bytes.fill(0, stream.length, end);
    }
    this.view = new DataView(
      this.bytes.buffer,
      this.bytes.byteOffset,
      this.bytes.byteLength,
    );
  }

  #located(e: KvbitsDataError): KvbitsDataError {
    return new KvbitsDataError(e.detail, {
      stream: this.name,
      bitOffset: 8 * this.offset + (e.bitOffset ?? 0),
    });
  }

  /**
   * Throws when row `row` of `tensor` read past the stream's end.
   *
   * @param tensor The tensor's name in messages.
   * @param row The row.
   * @throws {KvbitsDataError} When it did.
   */
  checkRow(tensor: string, row: number): void {
    if (this.pos > this.length) {
      throw new KvbitsDataError(
        `rANS stream ends early in row ${row} of ${tensor}`,
        { stream: this.name, bitOffset: 8 * (this.offset + this.length) },
      );
    }
  }

  /**
   * The error of raw bytes that end in row `row` of `tensor`.
   *
   * @param tensor The tensor's name in messages.
   * @param row The row.
   * @returns The error.
   */
  rawEndsEarly(tensor: string, row: number): KvbitsDataError {
    return new KvbitsDataError(
      `raw bytes end early in row ${row} of ${tensor}`,
      { stream: this.name },
    );
  }

  /**
   * Decodes one symbol of `model` in `context` on a lane (the slow path).
   *
   * @param model The model.
   * @param context Its context.
   * @param lane The lane, 0..3.
   * @returns The symbol.
   */
  symbol(model: AdaptiveFrequencies, context: number, lane: number): number {
    if (model.started[context] === 0) model.start(context);
    const row = context * (model.alphabet + 1);
    let x = this.states[lane];
    const symbol = symbolInTable(
      model.table,
      model.bucket,
      context,
      row,
      x & SLOT_MASK,
    );
    x = ransDecodeStep(x, model.table[row + symbol]);
    if (x < LOWER_BOUND) {
      x = ransShiftIn(x, this.bytes, this.pos);
      this.pos += 2;
    }
    this.states[lane] = x;
    model.observe(context, symbol);
    return symbol;
  }

  /**
   * The end check: states back at 2^15, every stream and raw byte used.
   *
   * @throws {KvbitsDataError} When they are not.
   */
  finish(): void {
    if (this.rawCount !== this.raw.length) {
      throw new KvbitsDataError(
        `${
          this.raw.length - this.rawCount
        } raw bytes left after the last element`,
        { stream: this.name },
      );
    }
    try {
      ransCheckEnd(this.states, this.pos, this.length, this.name);
    } catch (error) {
      throw this.#located(error as KvbitsDataError);
    }
  }
}

/**
 * Decodes one coded row into `out` (the hot loop of every decoder), then checks
 * the stream's end.
 *
 * @param out The words.
 * @param start Index of the row's first word.
 * @param rowLength Words in the row.
 * @param m The models, as the encoder had them.
 * @param decoder The stream.
 * @param tensor The tensor's name in messages.
 * @param row The row, for messages.
 * @throws {KvbitsDataError} When the stream or the raw bytes end early.
 * @throws {RangeError} When the models were made without search tables.
 *
 * @example Round trip of one row
 * ```ts
 * import { ransEncode } from "./rans.ts";
 * import { decodeCodedRow, ODD_CHANNEL_LANES, recordCodedRow, RowDecoder, rowOutput, TensorModels } from "./ctx_rows.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const words = Uint16Array.of(0x3c01, 0xbc02, 0x0003);
 * const out = rowOutput(new Uint32Array(6), new Uint8Array(3), ODD_CHANNEL_LANES);
 * recordCodedRow(words, 0, 3, new TensorModels(3), out);
 * const decoder = new RowDecoder({
 *   stream: ransEncode(out.records, out.recordCount), offset: 0, raw: out.raw, rowLength: 3,
 *   fourLanes: true, name: "example", buffer: (n) => new Uint8Array(n),
 * });
 * const decoded = new Uint16Array(3);
 * decodeCodedRow(decoded, 0, 3, new TensorModels(3), decoder, "K", 0);
 * decoder.finish();
 * assertEquals(decoded, words);
 * ```
 */
export function decodeCodedRow(
  out: Uint16Array,
  start: number,
  rowLength: number,
  m: TensorModels,
  decoder: RowDecoder,
  tensor: string,
  row: number,
): void {
  checkDecoding(m);
  const hiWords = m.hi6.words, hiBytes = m.hi6.bytes, topWords = m.top.words;
  const view = decoder.view, raw = decoder.raw, states = decoder.states;
  const state = m.channels.state;
  const swap = decoder.fourLanes ? -1 : 0;
  // Lanes of the even channel (x0, x1) and of the odd one (y0, y1), swapped
  // after every element when odd channels have their own.
  let x0 = states[0], x1 = states[1], y0 = states[2], y1 = states[3];
  let pos = decoder.pos;
  let r = decoder.rawCount;
  if (r + rowLength > raw.length) throw decoder.rawEndsEarly(tensor, row);
  let dueHi = -1, dueTop = -1;
  for (let j = 0, i = start; j < rowLength;) {
    prepareModels(m, dueHi, dueTop, channelContext(state[j]));
    dueHi = dueTop = -1;
    while (j < rowLength) {
      // hi6 on the channel pair's first lane (x0).
      const w = state[j];
      const c = channelContext(w);
      if (hiBytes[HI_STARTED + c] === 0) break;
      const hiRow = HI_TABLE + c * HI6_ROW;
      const slot0 = x0 & SLOT_MASK;
      // An entry below this one starts at or before the slot.
      const above0 = (slot0 + 1) << 16;
      let h =
        hiBytes[HI_BUCKET + (c << BUCKET_LOG) + (slot0 >>> SLOT_TO_BUCKET)];
      const e0 = hiWords[hiRow + h], e1 = hiWords[hiRow + h + 1];
      const e2 = hiWords[hiRow + Math.min(h + 2, HI6_SIZE)];
      const up = (e1 - above0) >> 31;
      let entry = e0 ^ ((e0 ^ e1) & up);
      h -= up;
      if (e2 < above0) {
        h = hi6Step(hiWords, hiRow, h + 1, 32, slot0);
        h = hi6Step(hiWords, hiRow, h, 16, slot0);
        h = hi6Step(hiWords, hiRow, h, 8, slot0);
        h = hi6Step(hiWords, hiRow, h, 4, slot0);
        h = hi6Step(hiWords, hiRow, h, 2, slot0);
        h = hi6Step(hiWords, hiRow, h, 1, slot0);
        entry = hiWords[hiRow + h];
      }
      x0 = Math.imul(entry & 0xffff, x0 >>> PROBABILITY_BITS) +
        (slot0 - (entry >>> 16));
      // Renormalization without a branch (taken for a fifth of the symbols,
      // at random): -1 when x0 needs the next word, else 0 (the word is
      // read either way: the buffer has room past the stream).
      let low = (x0 - LOWER_BOUND) >> 31;
      x0 = (x0 << (low & 16)) | (view.getUint16(pos, true) & low);
      pos += low & 2;
      hiWords[c * HI6_SIZE + h]++;
      if (--hiWords[HI_UNTIL + c] === 0) dueHi = c;
      // Mantissa top on the pair's second lane (x1).
      const t = topContext(h, c);
      const topRow = TOP_TABLE + t * TOP_ROW;
      const slot1 = x1 & SLOT_MASK;
      const above1 = (slot1 + 1) << 16;
      const f0 = topWords[topRow], f1 = topWords[topRow + 1];
      const f2 = topWords[topRow + 2], f3 = topWords[topRow + 3];
      const m1 = (f1 - above1) >> 31, m2 = (f2 - above1) >> 31;
      const m3 = (f3 - above1) >> 31;
      // 0 minus, not a negation: -0 would make V8 compute b in doubles.
      const b = 0 - (m1 + m2 + m3);
      const topEntry = f0 ^ ((f0 ^ f1) & m1) ^ ((f1 ^ f2) & m2) ^
        ((f2 ^ f3) & m3);
      x1 = Math.imul(topEntry & 0xffff, x1 >>> PROBABILITY_BITS) +
        (slot1 - (topEntry >>> 16));
      low = (x1 - LOWER_BOUND) >> 31;
      x1 = (x1 << (low & 16)) | (view.getUint16(pos, true) & low);
      pos += low & 2;
      topWords[t * TOP_SIZE + b]++;
      if (--topWords[TOP_UNTIL + t] === 0) dueTop = t;
      out[i] = (h << 10) | (b << RAW_SHIFT) | raw[r++];
      state[j] = nextChannelState(w, h);
      const swap0 = (x0 ^ y0) & swap, swap1 = (x1 ^ y1) & swap;
      x0 ^= swap0;
      y0 ^= swap0;
      x1 ^= swap1;
      y1 ^= swap1;
      j++;
      i++;
      if ((dueHi & dueTop) !== -1) break;
    }
  }
  prepareModels(m, dueHi, dueTop, -1);
  // After an odd number of swaps x holds the odd channel's lanes.
  const odd = rowLength & 1 & swap;
  states[0] = odd ? y0 : x0;
  states[1] = odd ? y1 : x1;
  states[2] = odd ? x0 : y0;
  states[3] = odd ? x1 : y1;
  decoder.pos = pos;
  decoder.rawCount = r;
  decoder.checkRow(tensor, row);
}

/**
 * Decodes one row predicted by rotation into `out`: each element's residual,
 * and an escaped element's `hi6`, top and raw byte; then checks the stream's
 * end.
 *
 * @param out The words.
 * @param start Index of the row's first word.
 * @param predicted The row's prediction.
 * @param rowLength Words in the row.
 * @param m The models.
 * @param decoder The stream.
 * @param tensor The tensor's name in messages.
 * @param row The row, for messages.
 * @throws {KvbitsDataError} When the stream or the raw bytes end early.
 * @throws {RangeError} When the models were made without search tables.
 *
 * @example Round trip of a row one FP16 step off its prediction
 * ```ts
 * import { ransEncode } from "./rans.ts";
 * import { decodePredictedRow, ODD_CHANNEL_LANES, recordPredictedRow, RowDecoder, rowOutput, TensorModels } from "./ctx_rows.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const words = Uint16Array.of(0x3c01, 0x4400), predicted = Uint16Array.of(0x3c00, 0x3c00);
 * const out = rowOutput(new Uint32Array(6), new Uint8Array(2), ODD_CHANNEL_LANES);
 * recordPredictedRow(words, 0, predicted, 2, new TensorModels(2), out);
 * const decoder = new RowDecoder({
 *   stream: ransEncode(out.records, out.recordCount), offset: 0, raw: out.raw.subarray(0, out.rawCount),
 *   rowLength: 2, fourLanes: true, name: "example", buffer: (n) => new Uint8Array(n),
 * });
 * const decoded = new Uint16Array(2);
 * decodePredictedRow(decoded, 0, predicted, 2, new TensorModels(2), decoder, "K", 0);
 * decoder.finish();
 * assertEquals(decoded, words);
 * ```
 */
export function decodePredictedRow(
  out: Uint16Array,
  start: number,
  predicted: Uint16Array,
  rowLength: number,
  m: TensorModels,
  decoder: RowDecoder,
  tensor: string,
  row: number,
): void {
  checkDecoding(m);
  const resWords = m.residual.words, resBytes = m.residual.bytes;
  const view = decoder.view, states = decoder.states;
  const fourLanes = decoder.fourLanes;
  const swap = fourLanes ? -1 : 0;
  // The lanes of element j's parity (x) and of the other (y), as when
  // decoding a coded row.
  let x0 = states[0], x1 = states[1], y0 = states[2], y1 = states[3];
  let pos = decoder.pos;
  let due = -1;
  for (let j = 0, i = start; j < rowLength;) {
    if (due >= 0) m.residual.rebuild(due);
    due = -1;
    const context = residualContext(predicted[j]);
    if (m.residual.started[context] === 0) m.residual.start(context);
    let escaped = false;
    while (j < rowLength) {
      const guess = predicted[j];
      const rc = residualContext(guess);
      if (resBytes[RES_STARTED + rc] === 0) break;
      const resRow = RES_TABLE + rc * RES_ROW;
      const slot0 = x0 & SLOT_MASK;
      const above0 = (slot0 + 1) << 16;
      let s =
        resBytes[RES_BUCKET + (rc << BUCKET_LOG) + (slot0 >>> SLOT_TO_BUCKET)];
      while (resWords[resRow + s + 1] < above0) s++;
      const entry = resWords[resRow + s];
      x0 = Math.imul(entry & 0xffff, x0 >>> PROBABILITY_BITS) +
        (slot0 - (entry >>> 16));
      const low = (x0 - LOWER_BOUND) >> 31;
      x0 = (x0 << (low & 16)) | (view.getUint16(pos, true) & low);
      pos += low & 2;
      resWords[rc * RES_SIZE + s]++;
      if (--resWords[RES_UNTIL + rc] === 0) due = rc;
      if (s === ESCAPE) {
        escaped = true;
        break;
      }
      out[i] = residualWord(guess, s);
      const swap0 = (x0 ^ y0) & swap, swap1 = (x1 ^ y1) & swap;
      x0 ^= swap0;
      y0 ^= swap0;
      x1 ^= swap1;
      y1 ^= swap1;
      j++;
      i++;
      if (due !== -1) break;
    }
    if (!escaped) continue;
    // An escape: the element's hi6 and top follow on its lanes, coded as in
    // a coded row, then its raw byte (the slow path, through the decoder).
    const lane = fourLanes ? 2 * (j & 1) : 0;
    states[lane] = x0;
    states[lane + 1] = x1;
    states[lane ^ 2] = y0;
    states[(lane ^ 2) + 1] = y1;
    decoder.pos = pos;
    const c = channelContext(m.channels.state[j]);
    const h = decoder.symbol(m.hi6, c, lane);
    const topBits = decoder.symbol(m.top, topContext(h, c), lane + 1);
    if (decoder.rawCount >= decoder.raw.length) {
      throw decoder.rawEndsEarly(tensor, row);
    }
    out[i] = (h << 10) | (topBits << RAW_SHIFT) |
      decoder.raw[decoder.rawCount++];
    x0 = states[lane];
    x1 = states[lane + 1];
    y0 = states[lane ^ 2];
    y1 = states[(lane ^ 2) + 1];
    pos = decoder.pos;
    const swap0 = (x0 ^ y0) & swap, swap1 = (x1 ^ y1) & swap;
    x0 ^= swap0;
    y0 ^= swap0;
    x1 ^= swap1;
    y1 ^= swap1;
    j++;
    i++;
  }
  if (due >= 0) m.residual.rebuild(due);
  const odd = rowLength & 1 & swap;
  states[0] = odd ? y0 : x0;
  states[1] = odd ? y1 : x1;
  states[2] = odd ? x0 : y0;
  states[3] = odd ? x1 : y1;
  decoder.pos = pos;
  decoder.checkRow(tensor, row);
}
