/**
 * rANS (range asymmetric numeral systems) with two interleaved 32-bit states and
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
 * - State `x` stays in `[2^16, 2^32)`. Coding identity: encode
 *   `x' = floor(x / f) * 2^12 + (x mod f) + c`; decode `slot = x mod 2^12`, find the
 *   symbol whose slots hold `slot`, then `x = f * floor(x / 2^12) + slot - c`.
 *   Before encoding, if `x >= 2^20 * f` the encoder emits the low 16 bits of `x` and
 *   shifts them out; after decoding, if `x < 2^16` the decoder shifts in 16 bits.
 *   With 12-bit probabilities at most one 16-bit word moves per symbol.
 * - Two states (lanes): each record names its lane (bit 31), and the decoder, which
 *   knows from the data format which lane each symbol uses, reads it from that
 *   state. The `ctx` codec puts every `hi6` symbol on lane 0 and every
 *   mantissa-top symbol on lane 1, so the decoder works on two independent
 *   dependency chains at once (about 1.4x faster than one state here).
 * - Stream layout: lane 0's final encoder state (4 bytes, little-endian), lane 1's,
 *   then the 16-bit words (little-endian) in the order the decoder reads them. The
 *   encoder starts both lanes at 2^16, so a correct decode ends with both states
 *   back at 2^16 and every byte consumed: a cheap end-to-end check.
 *
 * @module
 */

import { KvbitsDataError } from "./errors.ts";

/** Bits of probability precision: frequencies are out of 2^12. */
export const RANS_PROBABILITY_BITS = 12;
/** Sum of the frequencies of a model: 4096. */
export const RANS_TOTAL = 1 << RANS_PROBABILITY_BITS;
/** Lower bound of the state, and the initial state of the encoder: 2^16. */
export const RANS_LOWER_BOUND = 1 << 16;
/** Bytes of the two final states at the start of a stream. */
export const RANS_HEADER_BYTES = 8;

/** `x >= RENORM_FACTOR * f` means "emit 16 bits first": `(2^16 >> 12) << 16`. */
const RENORM_FACTOR = (RANS_LOWER_BOUND >>> RANS_PROBABILITY_BITS) << 16;

/** Bit 31 of a record: the symbol goes on lane 1. */
export const RANS_LANE_1 = 0x80000000;

/**
 * Packs a symbol's interval and lane into one record for {@link ransEncode}:
 * `lane << 31 | start << 16 | frequency`.
 *
 * @param start Cumulative frequency of the symbols before it, `0..4095`.
 * @param frequency Its frequency, `1..4096 - start`.
 * @param lane The state that codes it, 0 or 1.
 * @returns The record.
 * @throws {RangeError} When the interval is not inside `0..4096`.
 *
 * @example
 * ```ts
 * import { ransRecord } from "@kvbits/kvbits";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(ransRecord(100, 7), (100 << 16) | 7);
 * assertEquals(ransRecord(100, 7, 1), 0x80000000 + (100 << 16) + 7);
 * ```
 */
export function ransRecord(
  start: number,
  frequency: number,
  lane: 0 | 1 = 0,
): number {
  if (
    !Number.isInteger(start) || !Number.isInteger(frequency) || start < 0 ||
    frequency < 1 || start + frequency > RANS_TOTAL
  ) {
    throw new RangeError(
      `Cannot make a rANS record of start ${start} and frequency ${frequency}: the interval must lie in 0..${RANS_TOTAL}`,
    );
  }
  return (lane ? RANS_LANE_1 : 0) + (start << 16) + frequency;
}

/**
 * Most bytes {@link ransEncode} can write for `count` symbols.
 *
 * @param count Number of symbols.
 * @returns `8 + 2 * count`.
 *
 * @example
 * ```ts
 * import { ransEncodedBound } from "@kvbits/kvbits";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(ransEncodedBound(10), 28);
 * ```
 */
export function ransEncodedBound(count: number): number {
  return RANS_HEADER_BYTES + 2 * count;
}

/**
 * Codes recorded symbol intervals into a two-lane rANS stream, each on the lane its
 * record names (see {@link ransRecord}); records are coded from last to first so
 * that the decoder meets them first to last.
 *
 * @param records Packed intervals and lanes, in decoding order.
 * @param count How many records to code (a prefix of `records`).
 * @returns The stream: both final states, then the renormalization words.
 * @throws {RangeError} When `count` exceeds the records.
 *
 * @example Two symbols of a three-symbol static model, decoded back
 * ```ts
 * import { ransDecodeStatic, ransEncode, ransRecord } from "@kvbits/kvbits";
 * import { assertEquals } from "@std/assert";
 *
 * const frequencies = [2048, 1024, 1024]; // out of 4096
 * const starts = [0, 2048, 3072];
 * const symbols = [2, 0, 0, 1, 2];
 * const records = Uint32Array.from(symbols, (s, k) => ransRecord(starts[s], frequencies[s], k % 2 ? 1 : 0));
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
  let pos = out.length;
  let x0 = RANS_LOWER_BOUND;
  let x1 = RANS_LOWER_BOUND;
  for (let k = count - 1; k >= 0; k--) {
    const record = records[k];
    const frequency = record & 0xffff;
    const start = (record >>> 16) & 0x7fff;
    if (record >>> 31) {
      if (x1 >= RENORM_FACTOR * frequency) {
        out[--pos] = (x1 >>> 8) & 0xff;
        out[--pos] = x1 & 0xff;
        x1 = x1 >>> 16;
      }
      const q = Math.floor(x1 / frequency);
      x1 = q * RANS_TOTAL + (x1 - q * frequency) + start;
    } else {
      if (x0 >= RENORM_FACTOR * frequency) {
        out[--pos] = (x0 >>> 8) & 0xff;
        out[--pos] = x0 & 0xff;
        x0 = x0 >>> 16;
      }
      const q = Math.floor(x0 / frequency);
      x0 = q * RANS_TOTAL + (x0 - q * frequency) + start;
    }
  }
  pos -= RANS_HEADER_BYTES;
  writeUint32(out, pos, x0);
  writeUint32(out, pos + 4, x1);
  return out.subarray(pos);
}

function writeUint32(out: Uint8Array, at: number, value: number): void {
  out[at] = value & 0xff;
  out[at + 1] = (value >>> 8) & 0xff;
  out[at + 2] = (value >>> 16) & 0xff;
  out[at + 3] = (value >>> 24) & 0xff;
}

/**
 * Reads the two initial decoder states of a stream, checking that they are valid.
 *
 * @param stream The stream.
 * @param name Stream name for errors.
 * @returns Both states.
 * @throws {KvbitsDataError} When the stream is shorter than 8 bytes or a state is
 * below 2^16.
 *
 * @example
 * ```ts
 * import { ransEncode, ransReadStates } from "@kvbits/kvbits";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(ransReadStates(ransEncode(new Uint32Array(0), 0), "s"), [65536, 65536]);
 * ```
 */
export function ransReadStates(
  stream: Uint8Array,
  name: string,
): [number, number] {
  if (stream.length < RANS_HEADER_BYTES) {
    throw new KvbitsDataError(
      `rANS stream of ${stream.length} bytes is shorter than its 8-byte header`,
      { stream: name, bitOffset: 0 },
    );
  }
  const states: [number, number] = [0, 0];
  for (let lane = 0; lane < 2; lane++) {
    const at = 4 * lane;
    const x = (stream[at] | (stream[at + 1] << 8) | (stream[at + 2] << 16) |
      (stream[at + 3] << 24)) >>> 0;
    if (x < RANS_LOWER_BOUND) {
      throw new KvbitsDataError(
        `rANS state of lane ${lane} is ${x}, below 2^16`,
        { stream: name, bitOffset: 8 * at },
      );
    }
    states[lane] = x;
  }
  return states;
}

/**
 * Checks the end of a decode: both states back at 2^16 and every byte used.
 *
 * @param x0 Lane 0's state after the last symbol.
 * @param x1 Lane 1's state after the last symbol.
 * @param position Bytes of the stream consumed.
 * @param length Bytes in the stream.
 * @param name Stream name for errors.
 * @throws {KvbitsDataError} When the stream was read past its end, has bytes left,
 * or a state is not the encoder's initial state: the stream is corrupt.
 *
 * @example
 * ```ts
 * import { ransCheckEnd } from "@kvbits/kvbits";
 * import { assertThrows } from "@std/assert";
 *
 * ransCheckEnd(65536, 65536, 8, 8, "s");
 * assertThrows(() => ransCheckEnd(65536, 70000, 8, 8, "s"), Error, "corrupt");
 * ```
 */
export function ransCheckEnd(
  x0: number,
  x1: number,
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
  if (x0 !== RANS_LOWER_BOUND || x1 !== RANS_LOWER_BOUND) {
    throw new KvbitsDataError(
      "rANS states do not return to their initial value: the stream is corrupt",
      { stream: name, bitOffset: 8 * position },
    );
  }
}

/**
 * Decodes symbols coded with one static frequency table, symbol `k` on lane
 * `k mod 2`: the plain reference decoder, for tests and examples (the `ctx` codec
 * inlines the same steps with adaptive tables).
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
 * import { ransDecodeStatic, ransEncode, ransRecord } from "@kvbits/kvbits";
 * import { assertEquals } from "@std/assert";
 *
 * const records = Uint32Array.from([0, 1, 1], (s, k) => ransRecord(s * 2048, 2048, k % 2 ? 1 : 0));
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
    const lane = k & 1;
    let x = states[lane];
    const slot = x & (RANS_TOTAL - 1);
    let s = 0;
    while (starts[s + 1] <= slot) s++;
    x = frequencies[s] * (x >>> RANS_PROBABILITY_BITS) + slot - starts[s];
    if (x < RANS_LOWER_BOUND) {
      if (pos + 2 > stream.length) {
        ransCheckEnd(0, 0, pos + 2, stream.length, name);
      }
      x = x * 65536 + (stream[pos] | (stream[pos + 1] << 8));
      pos += 2;
    }
    states[lane] = x;
    out[k] = s;
  }
  ransCheckEnd(states[0], states[1], pos, stream.length, name);
  return out;
}
