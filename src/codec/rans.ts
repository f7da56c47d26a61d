/**
 * rANS (range asymmetric numeral systems) with four interleaved 31-bit states and
 * 16-bit renormalization: the entropy coder of the `ctx` codec.
 *
 * Read me first:
 * - Why rANS: decoding a symbol is one table lookup, one multiply and a shift, with
 *   no division, which keeps the decoder of an adaptive multi-symbol model fast in
 *   JavaScript. The price is that the encoder must code symbols in reverse order, so
 *   it first runs the model forward and records each symbol's interval (see
 *   {@link ransRecord}), then codes the records backwards with {@link ransEncode}.
 * - Probabilities are frequencies out of 2^12 ({@link RANS_TOTAL}): a symbol with
 *   frequency `f` and cumulative start `c` owns the slots `c .. c+f-1` of
 *   `0 .. 4095`. Every codable symbol needs `f >= 1`.
 * - State `x` stays in `[2^15, 2^31)`: always a positive int32, which V8 keeps in
 *   an integer register (decoding is 13% faster here than with `[2^16, 2^32)`,
 *   which needs doubles). Coding identity: encode
 *   `x' = floor(x / f) * 2^12 + (x mod f) + c`; decode `slot = x mod 2^12`, find the
 *   symbol whose slots hold `slot`, then `x = f * floor(x / 2^12) + slot - c`.
 *   Before encoding, if `x >= 2^19 * f` the encoder emits the low 16 bits of `x` and
 *   shifts them out; after decoding, if `x < 2^15` the decoder shifts in 16 bits.
 *   With 12-bit probabilities at most one 16-bit word moves per symbol.
 * - Four states (lanes): each record names its lane (bits 30-31), and the decoder,
 *   which knows from the data format which lane each symbol uses, reads it from
 *   that state. The `ctx` codec puts the `hi6` symbols of even channels on lane 0,
 *   their mantissa tops on lane 1, and those of odd channels on lanes 2 and 3, so
 *   the decoder works on four independent dependency chains.
 * - Stream layout: the final encoder states of lanes 0, 1, 2 and 3 (4 bytes each,
 *   little-endian), then the 16-bit words (little-endian) in the order the decoder
 *   reads them. The encoder starts every lane at 2^15, so a correct decode ends
 *   with all states back at 2^15 and every byte consumed: a cheap end-to-end check.
 *
 * @module
 */

import { KvbitsDataError } from "./errors.ts";

/** Bits of probability precision: frequencies are out of 2^12. */
export const RANS_PROBABILITY_BITS = 12;
/** Sum of the frequencies of a model: 4096. */
export const RANS_TOTAL = 1 << RANS_PROBABILITY_BITS;
/** Lower bound of the state, and the initial state of the encoder: 2^15. */
export const RANS_LOWER_BOUND = 1 << 15;
/** Number of interleaved states. */
export const RANS_LANES = 4;
/** Bytes of the four final states at the start of a stream. */
export const RANS_HEADER_BYTES = 4 * RANS_LANES;

/** Mask of a state's slot (its low 12 bits), which names the next symbol. */
export const RANS_SLOT_MASK = RANS_TOTAL - 1;

/** `x >= RENORM_FACTOR * f` means "emit 16 bits first": `(2^15 >> 12) << 16`. */
const RENORM_FACTOR = (RANS_LOWER_BOUND >>> RANS_PROBABILITY_BITS) << 16;

/** Shift of the lane within a record (bits 30-31). */
export const RANS_LANE_SHIFT = 30;

// Module-local copies that the hot code below reads. V8 loads an exported (or
// imported) binding from its module cell, with a hole check, at every use in a
// function inlined into a loop; a local constant it folds. Measured on kv-real:
// through the exported names here and in the callers' modules, ctx encoded 10%
// and decoded 20% slower.
const PROBABILITY_BITS = RANS_PROBABILITY_BITS;
const TOTAL = RANS_TOTAL;
const SLOT_MASK = RANS_SLOT_MASK;
const LANE_SHIFT = RANS_LANE_SHIFT;

/**
 * Slightly more than `1 / f` for each frequency `f` (index 0 unused): the
 * encoder divides by multiplying, which is several times faster than a
 * division here. `floor(x * RECIPROCALS[f])` is `floor(x / f)` exactly for
 * `x < 2^31`: the entry is `(1 + 2^-45) / f` within 2^-53, so the product is
 * `x / f` times a factor between 1 and `1 + 2^-44`, never below the quotient's
 * floor, and above `x / f` by less than `x * 2^-44 / f < 1 / f`, while a
 * quotient that is not an integer lies at least `1 / f` below the next one.
 * (Measured: 7% faster than adding a nudge to a product with `1 / f`.)
 */
const RECIPROCALS = Float64Array.from(
  { length: TOTAL + 1 },
  (_, f) => (1 + 2 ** -45) / f,
);

/**
 * Packs a symbol's interval and lane into one record for {@link ransEncode}:
 * `lane << 30 | start << 16 | frequency`.
 *
 * @param start Cumulative frequency of the symbols before it, `0..4095`.
 * @param frequency Its frequency, `1..4096 - start`.
 * @param lane The state that codes it, 0..3.
 * @returns The record.
 * @throws {RangeError} When the interval is not inside `0..4096`.
 *
 * @example
 * ```ts
 * import { ransRecord } from "./rans.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(ransRecord(100, 7), (100 << 16) | 7);
 * assertEquals(ransRecord(100, 7, 2), 0x80000000 + (100 << 16) + 7);
 * ```
 */
export function ransRecord(
  start: number,
  frequency: number,
  lane = 0,
): number {
  if (
    !Number.isInteger(start) || !Number.isInteger(frequency) || start < 0 ||
    frequency < 1 || start + frequency > RANS_TOTAL ||
    !Number.isInteger(lane) || lane < 0 || lane >= RANS_LANES
  ) {
    throw new RangeError(
      `Cannot make a rANS record of start ${start}, frequency ${frequency} and lane ${lane}: the interval must lie in 0..${RANS_TOTAL}, the lane in 0..3`,
    );
  }
  return lane * 2 ** RANS_LANE_SHIFT + (start << 16) + frequency;
}

/**
 * Most bytes {@link ransEncode} can write for `count` symbols.
 *
 * @param count Number of symbols.
 * @returns `16 + 2 * count`.
 *
 * @example
 * ```ts
 * import { ransEncodedBound } from "./rans.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(ransEncodedBound(10), 36);
 * ```
 */
export function ransEncodedBound(count: number): number {
  return RANS_HEADER_BYTES + 2 * count;
}

/**
 * Codes recorded symbol intervals into a four-lane rANS stream, each on the lane its
 * record names (see {@link ransRecord}); records are coded from last to first so
 * that the decoder meets them first to last.
 *
 * @param records Packed intervals and lanes, in decoding order.
 * @param count How many records to code (a prefix of `records`).
 * @returns The stream: the four final states, then the renormalization words.
 * @throws {RangeError} When `count` exceeds the records.
 *
 * @example Two symbols of a three-symbol static model, decoded back
 * ```ts
 * import { ransDecodeStatic, ransEncode, ransRecord } from "./rans.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const frequencies = [2048, 1024, 1024]; // out of 4096
 * const starts = [0, 2048, 3072];
 * const symbols = [2, 0, 0, 1, 2];
 * const records = Uint32Array.from(symbols, (s, k) => ransRecord(starts[s], frequencies[s], k % 4));
 * const stream = ransEncode(records, records.length);
 * assertEquals([...ransDecodeStatic(stream, symbols.length, frequencies)], symbols);
 * ```
 */
export function ransEncode(records: Uint32Array, count: number): Uint8Array {
  if (!Number.isInteger(count) || count < 0 || count > records.length) {
    throw new RangeError(
      `Cannot rANS-encode ${count} records: there are ${records.length}`,
    );
  }
  const out = new Uint8Array(ransEncodedBound(count));
  return out.subarray(ransEncodeInto(records, count, out, out.length));
}

/**
 * {@link ransEncode} into a given buffer: the stream is written backwards so that
 * it ends at `end`, and may overwrite records already coded. The records may
 * therefore lie in `out` itself, at or below `end - 4 * count` (each record,
 * 4 bytes, adds at most 2 bytes to the stream), which saves a buffer.
 *
 * @param records Packed intervals and lanes, in decoding order.
 * @param count How many records to code.
 * @param out Where the stream goes.
 * @param end Where it ends; at least `ransEncodedBound(count)` bytes must lie
 * before it.
 * @returns Where the stream starts.
 *
 * @example Records and stream in one buffer
 * ```ts
 * import { ransEncode, ransEncodeInto, ransRecord } from "./rans.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const out = new Uint8Array(16 + 4 * 3);
 * const records = new Uint32Array(out.buffer, 16, 3);
 * records.set([ransRecord(0, 2048, 0), ransRecord(2048, 1024, 1), ransRecord(0, 2048, 2)]);
 * const copy = records.slice();
 * const start = ransEncodeInto(records, 3, out, out.length);
 * assertEquals(out.subarray(start), ransEncode(copy, 3));
 * ```
 */
export function ransEncodeInto(
  records: Uint32Array,
  count: number,
  out: Uint8Array,
  end: number,
): number {
  let pos = end;
  const states = new Int32Array(RANS_LANES).fill(RANS_LOWER_BOUND);
  // A word in one store (little-endian, as the decoders read it).
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let k = count - 1; k >= 0; k--) {
    const record = records[k];
    const frequency = record & 0xffff;
    const lane = record >>> LANE_SHIFT;
    let x = states[lane];
    // Renormalization without a branch (taken for about a quarter of the
    // symbols, at random): -1 when x emits 16 bits first, else 0. The two
    // bytes are stored either way; unless emitted, later ones overwrite them
    // (every record may add 2 bytes, so they lie where the bound allows).
    const emit = (RENORM_FACTOR * frequency - 1 - x) >> 31;
    view.setUint16(pos - 2, x, true);
    pos += 2 * emit;
    x = x >>> (emit & 16);
    // x' = q * 2^12 + (x - q * f) + c, with one multiplication.
    const q = (x * RECIPROCALS[frequency]) | 0;
    states[lane] = x + q * (TOTAL - frequency) + ((record >>> 16) & 0xfff);
  }
  pos -= RANS_HEADER_BYTES;
  for (let lane = 0; lane < RANS_LANES; lane++) {
    writeUint32(out, pos + 4 * lane, states[lane]);
  }
  return pos;
}

function writeUint32(out: Uint8Array, at: number, value: number): void {
  out[at] = value & 0xff;
  out[at + 1] = (value >>> 8) & 0xff;
  out[at + 2] = (value >>> 16) & 0xff;
  out[at + 3] = (value >>> 24) & 0xff;
}

/**
 * Reads the initial decoder states of a stream, checking that they are valid.
 *
 * @param stream The stream.
 * @param name Stream name for errors.
 * @param lanes Lanes whose states the stream stores, 4 or 2 (a stream whose
 * lanes 2 and 3 coded nothing may leave their states out: they are 2^15).
 * @returns The states of lanes 0..3.
 * @throws {KvbitsDataError} When the stream is shorter than its header (`4 *
 * lanes` bytes) or a state is outside `[2^15, 2^31)`.
 *
 * @example
 * ```ts
 * import { ransEncode, ransReadStates } from "./rans.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(ransReadStates(ransEncode(new Uint32Array(0), 0), "s"), [32768, 32768, 32768, 32768]);
 * assertEquals(ransReadStates(Uint8Array.of(0, 0, 1, 0, 0, 0x80, 0, 0), "s", 2), [65536, 32768, 32768, 32768]);
 * ```
 */
export function ransReadStates(
  stream: Uint8Array,
  name: string,
  lanes: number = RANS_LANES,
): number[] {
  if (stream.length < 4 * lanes) {
    throw new KvbitsDataError(
      `rANS stream of ${stream.length} bytes is shorter than its ${
        4 * lanes
      }-byte header`,
      { stream: name, bitOffset: 0 },
    );
  }
  const states = [
    RANS_LOWER_BOUND,
    RANS_LOWER_BOUND,
    RANS_LOWER_BOUND,
    RANS_LOWER_BOUND,
  ];
  for (let lane = 0; lane < lanes; lane++) {
    const at = 4 * lane;
    const x = (stream[at] | (stream[at + 1] << 8) | (stream[at + 2] << 16) |
      (stream[at + 3] << 24)) >>> 0;
    if (x < RANS_LOWER_BOUND || x >= 2 ** 31) {
      throw new KvbitsDataError(
        `rANS state of lane ${lane} is ${x}, outside 2^15..2^31-1`,
        { stream: name, bitOffset: 8 * at },
      );
    }
    states[lane] = x;
  }
  return states;
}

/**
 * Checks the end of a decode: every state back at 2^15 and every byte used.
 *
 * @param states The four states after the last symbol.
 * @param position Bytes of the stream consumed.
 * @param length Bytes in the stream.
 * @param name Stream name for errors.
 * @throws {KvbitsDataError} When the stream was read past its end, has bytes left,
 * or a state is not the encoder's initial state: the stream is corrupt.
 *
 * @example
 * ```ts
 * import { ransCheckEnd } from "./rans.ts";
 * import { assertThrows } from "@std/assert";
 *
 * ransCheckEnd([32768, 32768, 32768, 32768], 16, 16, "s");
 * assertThrows(() => ransCheckEnd([32768, 40000, 32768, 32768], 16, 16, "s"), Error, "corrupt");
 * ```
 */
export function ransCheckEnd(
  states: ArrayLike<number>,
  position: number,
  length: number,
  name: string,
): void {
  if (position > length) {
    throw new KvbitsDataError(
      `rANS stream ends early: ${position - length} more bytes needed`,
      { stream: name, bitOffset: 8 * length },
    );
  }
  if (position < length) {
    throw new KvbitsDataError(
      `rANS stream has ${length - position} bytes left after the last symbol`,
      { stream: name, bitOffset: 8 * position },
    );
  }
  let changed = false;
  for (let lane = 0; lane < states.length; lane++) {
    if (states[lane] !== RANS_LOWER_BOUND) changed = true;
  }
  if (changed) {
    throw new KvbitsDataError(
      "rANS states do not return to their initial value: the stream is corrupt",
      { stream: name, bitOffset: 8 * position },
    );
  }
}

/**
 * One decoding step before renormalization: the state once the symbol that owns
 * the slot `x & 4095` is taken out, `f * floor(x / 2^12) + slot - c`. Every
 * decoder of this module's streams takes its symbols through it.
 *
 * @param x The state, `2^15..2^31-1`.
 * @param entry The symbol's interval, `start << 16 | frequency` (a table entry
 * of `adaptive_frequencies.ts`; lane bits, if any, are ignored).
 * @returns The new state, `>= 1`; below 2^15 it needs {@link ransShiftIn}.
 *
 * @example
 * ```ts
 * import { ransDecodeStep } from "./rans.ts";
 * import { assertEquals } from "@std/assert";
 *
 * // Slot 100 lies in the interval 0..2047 of a symbol of frequency 2048.
 * assertEquals(ransDecodeStep(5 * 4096 + 100, 2048), 2048 * 5 + 100);
 * ```
 */
export function ransDecodeStep(x: number, entry: number): number {
  return (Math.imul(entry & 0xffff, x >>> PROBABILITY_BITS) + (x & SLOT_MASK) -
    ((entry >>> 16) & SLOT_MASK)) | 0;
}

/**
 * The decoder's renormalization: a state below 2^15 takes in the next 16-bit word
 * of the stream (little-endian at `pos`). Callers test `x < RANS_LOWER_BOUND`,
 * call this, and advance `pos` by 2.
 *
 * @param x A state below 2^15.
 * @param bytes The stream.
 * @param pos Offset of the word.
 * @returns `x * 2^16 + word`, below 2^31.
 *
 * @example
 * ```ts
 * import { ransShiftIn } from "./rans.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(ransShiftIn(3, Uint8Array.of(0x34, 0x12), 0), 0x31234);
 * ```
 */
export function ransShiftIn(x: number, bytes: Uint8Array, pos: number): number {
  return (x << 16) | bytes[pos] | (bytes[pos + 1] << 8);
}

/**
 * Decodes symbols coded with one static frequency table, symbol `k` on lane
 * `k mod 4`: the plain reference decoder, for tests and examples (the `ctx` codec
 * takes the same steps, {@link ransDecodeStep} and {@link ransShiftIn}, with
 * adaptive tables).
 *
 * @param stream A stream from {@link ransEncode}.
 * @param count Number of symbols to decode.
 * @param frequencies Frequency of each symbol, summing to 4096.
 * @returns The symbols.
 * @throws {RangeError} When the frequencies do not sum to 4096.
 * @throws {KvbitsDataError} When the stream is corrupt or of the wrong length.
 *
 * @example
 * ```ts
 * import { ransDecodeStatic, ransEncode, ransRecord } from "./rans.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const records = Uint32Array.from([0, 1, 1], (s, k) => ransRecord(s * 2048, 2048, k % 4));
 * assertEquals([...ransDecodeStatic(ransEncode(records, 3), 3, [2048, 2048])], [0, 1, 1]);
 * ```
 */
export function ransDecodeStatic(
  stream: Uint8Array,
  count: number,
  frequencies: ArrayLike<number>,
): Uint16Array {
  const starts = new Uint32Array(frequencies.length + 1);
  for (let s = 0; s < frequencies.length; s++) {
    starts[s + 1] = starts[s] + frequencies[s];
  }
  if (starts[frequencies.length] !== RANS_TOTAL) {
    throw new RangeError(
      `Cannot decode with frequencies summing to ${
        starts[frequencies.length]
      }: they must sum to ${RANS_TOTAL}`,
    );
  }
  const name = "rans";
  const states = ransReadStates(stream, name);
  let pos = RANS_HEADER_BYTES;
  const out = new Uint16Array(count);
  for (let k = 0; k < count; k++) {
    const lane = k & 3;
    let x = states[lane];
    const slot = x & RANS_SLOT_MASK;
    let s = 0;
    while (starts[s + 1] <= slot) s++;
    x = ransDecodeStep(x, (starts[s] << 16) | frequencies[s]);
    if (x < RANS_LOWER_BOUND) {
      if (pos + 2 > stream.length) {
        ransCheckEnd(states, pos + 2, stream.length, name);
      }
      x = ransShiftIn(x, stream, pos);
      pos += 2;
    }
    states[lane] = x;
    out[k] = s;
  }
  ransCheckEnd(states, pos, stream.length, name);
  return out;
}
