/**
 * Decoding of the 32-bit binary arithmetic coder of FORMAT.md §4, with checks
 * that make it accept exactly the bytes its encoder writes.
 *
 * Read me first:
 * - `value` holds 32 bits of the stream (bits past the end read as 0). Per symbol
 *   the target `floor(((value - low + 1) * total - 1) / range)` lies in
 *   `0 .. total - 1`; the symbol `s` with `cum[s] <= target < cum[s+1]` is the one
 *   whose interval holds `value`. Then `low` and `high` change as in the encoder,
 *   and `value` shifts with them: `k = clz32(low ^ high)` emit steps shift in `k`
 *   new bits; `u` underflow steps remove the `u` bits below the top bit of `value`
 *   (as of `low` and `high`) and shift in `u` new bits. See arithmetic_encoder.ts.
 * - Any bits decode to something: `low <= value <= high` holds whatever the input,
 *   and the intervals of the symbols of non-zero frequency cover `low .. high`. So
 *   the checks are on length and on the finish, which fix every bit:
 *   1. the encoder writes `L = S + 2` bits, `S` being the number of shifts (one
 *      per emitted or pending bit), which the decoder counts too. A valid stream
 *      thus has `S <= 8 * bytes - 2` at every symbol: the first symbol that
 *      shifts past that fails at once as "ends early", which also bounds every
 *      read to the stream plus 16 zero bytes;
 *   2. after the last symbol the file must be exactly `ceil(L / 8)` bytes long;
 *   3. the finish wrote bit `b` (0 if `low < 2^30`, else 1), then `1 - b` (the
 *      last of its pending bits; earlier ones were removed by the underflow
 *      steps), then zero padding and the zeros past the end: so `value` must end
 *      as `0x40000000` or `0x80000000`.
 *   With these, a stream is accepted exactly when it is the encoder's output for
 *   the symbols decoded. A corrupt stream that happens to be the encoding of other
 *   symbols of the same count still decodes "fine": kvbits' per-dump CRC-32
 *   catches that (see `decodeDump`).
 * - The loop is bounded by the symbol count, and each symbol shifts at most 32
 *   times; nothing is allocated per symbol.
 * - Speed: int32 state, the target from a reciprocal with an exact correction
 *   (the division's latency is the longest step of the chain), and
 *   renormalization without data-dependent branches.
 *
 * @module
 */

import { exactScaledFloor, exactTargetFloor } from "./_exact_arithmetic.ts";
import type { ArithmeticModel } from "./arithmetic_model.ts";
import { KvbitsDataError } from "./errors.ts";

/** 2^30: the finish emits 0 below it, 1 from it on. */
const QUARTER = 0x40000000;
/** Zero bytes after the copy of the stream: every 32-bit read (5 bytes) of a valid position stays inside. */
const READ_PADDING = 16;

/**
 * Decodes `count` symbols of an arithmetic-coded stream.
 *
 * @param bytes The coded stream.
 * @param count Number of symbols it holds.
 * @param model The frequency model it was coded with (see `arithmeticModel`).
 * @param into Where to write the symbols (length at least `count`); a new
 * `Uint16Array` when omitted. A `Uint8Array` is enough for alphabets up to 256.
 * @param stream Stream name for error messages, e.g. `k_hi6`.
 * @returns `into`, or the new array, holding the symbols.
 * @throws {KvbitsDataError} When the stream ends early, has bytes after its end,
 * does not end as the encoder ends a stream, or symbols are expected from an
 * empty table; the message names the stream and the bit offset.
 * @throws {RangeError} When `count` is negative or `into` is too short.
 *
 * @example A round trip
 * ```ts
 * import { arithmeticDecode } from "./arithmetic_decoder.ts";
 * import { arithmeticEncode } from "./arithmetic_encoder.ts";
 * import { arithmeticModel } from "./arithmetic_model.ts";
 * import { assertEquals, assertThrows } from "@std/assert";
 *
 * const symbols = new Uint16Array([5, 5, 5, 1, 5, 1000, 5, 1]);
 * const frequencies = new Array(1024).fill(0);
 * for (const s of symbols) frequencies[s]++;
 * const model = arithmeticModel(frequencies);
 * const bytes = arithmeticEncode(symbols, model);
 * assertEquals(arithmeticDecode(bytes, symbols.length, model), symbols);
 * assertThrows(() => arithmeticDecode(bytes.subarray(0, 1), symbols.length, model), Error, "ends early");
 * ```
 */
export function arithmeticDecode<
  T extends Uint8Array | Uint16Array = Uint16Array,
>(
  bytes: Uint8Array,
  count: number,
  model: ArithmeticModel,
  into?: T,
  stream?: string,
): T {
  const name = stream ?? "stream";
  if (!Number.isSafeInteger(count) || count < 0) {
    throw new RangeError(
      `Cannot decode ${name}: symbol count ${count} is not a non-negative integer`,
    );
  }
  const out = (into ?? new Uint16Array(count)) as T;
  if (out.length < count) {
    throw new RangeError(
      `Cannot decode ${name}: output holds ${out.length} symbols, ${count} needed`,
    );
  }
  const { cumulative, total, exact, slots, scaledCumulative } = model;
  if (count > 0 && total === 0) {
    throw new KvbitsDataError(
      `the frequency table is empty but ${count} symbols are expected`,
      { stream, bitOffset: 0 },
    );
  }
  const length = bytes.length;
  // Check 1: a valid stream never shifts more than this (L = S + 2 <= 8 * length).
  const maxShifts = 8 * length - 2;
  if (maxShifts < 0) {
    throw new KvbitsDataError(
      "the stream is empty; even no symbols are coded as one byte",
      { stream, bitOffset: 0 },
    );
  }
  const positionLimit = maxShifts + 32; // position = shifts + 32
  const buffer = new Uint8Array(length + READ_PADDING);
  buffer.set(bytes);
  const lastSymbol = cumulative.length - 2;
  // value, low and high are unsigned 32-bit values held as int32 bit patterns.
  let value = (buffer[0] << 24) | (buffer[1] << 16) | (buffer[2] << 8) |
    buffer[3];
  let position = 32; // next stream bit to shift into value; shifts = position - 32
  let low = 0;
  let high = -1;
  for (let i = 0; i < count; i++) {
    const range = ((high - low) >>> 0) + 1; // 2^30 + 2 .. 2^32
    const offset = ((value - low) >>> 0) + 1; // 1 .. range
    let target: number;
    if (!exact) {
      // floor((offset * total - 1) / range), numerator < 2^53. A product with the
      // reciprocal has a relative error near 2^-52 on a quotient below 2^21, so
      // it is off by at most one; the remainder (exact, < 2^53) corrects it.
      const numerator = offset * total - 1;
      target = (numerator * (1 / range)) | 0;
      const remainder = numerator - target * range;
      if (remainder < 0) target--;
      else if (remainder >= range) target++;
    } else {
      target = exactTargetFloor(offset, total, range);
    }
    let symbol: number;
    if (slots !== undefined) {
      symbol = slots[target];
    } else {
      // Largest s with cum[s] <= target; then target < cum[s+1].
      let lo = 0;
      let hi = lastSymbol + 1;
      while (hi - lo > 1) {
        const mid = (lo + hi) >>> 1;
        if (cumulative[mid] <= target) lo = mid;
        else hi = mid;
      }
      symbol = lo;
    }
    out[i] = symbol;
    const base = low >>> 0;
    if (scaledCumulative !== undefined) {
      high = (base + range * scaledCumulative[symbol + 1] - 1) | 0;
      low = (base + range * scaledCumulative[symbol]) | 0;
    } else if (!exact) {
      high = (base + Math.floor(range * cumulative[symbol + 1] / total) - 1) |
        0;
      low = (base + Math.floor(range * cumulative[symbol] / total)) | 0;
    } else {
      high =
        (base + exactScaledFloor(range, cumulative[symbol + 1], total) - 1) | 0;
      low = (base + exactScaledFloor(range, cumulative[symbol], total)) | 0;
    }
    // The next 32 stream bits: enough for all shifts of one symbol (k + u <= 32).
    const p = position >>> 3;
    const shift = position & 7;
    const window = (((buffer[p] << 24) | (buffer[p + 1] << 16) |
      (buffer[p + 2] << 8) | buffer[p + 3]) << shift) |
      (buffer[p + 4] >>> (8 - shift));
    const k = Math.clz32(low ^ high);
    if (k === 32) { // low == high: shift all 32 bits; u is then 0
      value = window;
      low = 0;
      high = -1;
      position += 32;
    } else {
      // Branch-free for k = 0 and u = 0: `(x >>> 1) >>> (31 - n)` is the top n
      // bits of x, 0 for n = 0.
      value = (value << k) | ((window >>> 1) >>> (31 - k));
      low = low << k;
      high = (high << k) | (0x7fffffff >>> (31 - k));
      const u = Math.clz32(((~low | high) << 1) | 1);
      value = (value & 0x80000000) | ((value << u) & 0x7fffffff) |
        (((window << k) >>> 1) >>> (31 - u));
      low = (low << u) & 0x7fffffff;
      high = (high << u) | 0x80000000 | (0x7fffffff >>> (31 - u));
      position += k + u;
    }
    if (position > positionLimit) {
      throw new KvbitsDataError(
        `stream ends early: ${length} bytes cannot hold the ${count} symbols expected (stopped after symbol ${i}; truncated, corrupt, or coded with another table)`,
        { stream, bitOffset: position - 32 },
      );
    }
  }
  // Check 2: exactly ceil(L / 8) bytes.
  const shifts = position - 32;
  const expectedLength = Math.ceil((shifts + 2) / 8);
  if (length !== expectedLength) {
    throw new KvbitsDataError(
      `${
        length - expectedLength
      } bytes follow the end of the stream (it holds more than the ${count} symbols expected, is corrupt, or was coded with another table)`,
      { stream, bitOffset: shifts + 2 },
    );
  }
  // Check 3: the finish bits, then zeros.
  const expectedValue = low < QUARTER ? 0x40000000 : 0x80000000;
  if (value >>> 0 !== expectedValue) {
    throw new KvbitsDataError(
      "the stream does not end as the encoder ends a stream (corrupt, or coded with another table or symbol count)",
      { stream, bitOffset: shifts },
    );
  }
  return out;
}
