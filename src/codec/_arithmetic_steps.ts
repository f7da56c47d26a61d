/**
 * The steps the arithmetic coders share (internal: not exported from `mod.ts`):
 * the interval edge of a symbol under each kind of model, the encoder's rare
 * long emit and its finish, and the decoder's end checks. The plane coders
 * (`arithmetic_encoder.ts`, `arithmetic_decoder.ts`) and the fused FP16 coders
 * (`arithmetic_fp16.ts`) call these; the arithmetic is explained in the plane
 * coders' notes.
 *
 * @module
 */

import { exactScaledFloor } from "./_exact_arithmetic.ts";
import type { ArithmeticModel } from "./arithmetic_model.ts";
import { KvbitsDataError } from "./errors.ts";

/** 2^30: the finish emits 0 below it, 1 from it on. */
export const QUARTER = 0x40000000;

/** Indices of an encoder's state in a {@link EncoderState} array. */
const LOW = 0, HIGH = 1, PENDING = 2, ACC = 3, ACC_BITS = 4, AT = 5;

/**
 * One encoder's state while a rare step runs out of line: `low`, `high` (int32
 * bit patterns), pending bits, the bit accumulator, its bit count (below 8
 * between symbols) and the write position.
 */
export type EncoderState = Int32Array;

/**
 * A fresh {@link EncoderState}: `low` 0, `high` 2^32 - 1, nothing written.
 *
 * @returns The state.
 *
 * @example
 * ```ts
 * import { encoderState } from "./_arithmetic_steps.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals([...encoderState()], [0, -1, 0, 0, 0, 0]);
 * ```
 */
export function encoderState(): EncoderState {
  return Int32Array.of(0, -1, 0, 0, 0, 0);
}

/**
 * `base + floor(range * cum[index] / total)`: an edge of a symbol's interval
 * (`index` = symbol gives the new `low`, symbol + 1 the new `high` + 1), for
 * every kind of model: scaled cumulative counts (exact, the fast path), a
 * quotient below 2^53 (a float division is exact), or the exact long division.
 *
 * @param model The model.
 * @param base The current `low`, unsigned.
 * @param range The current range, `2^30 + 2 .. 2^32`.
 * @param index Index into the cumulative counts, `0..alphabet`.
 * @returns The edge (reduce with `| 0` for the int32 pattern).
 *
 * @example
 * ```ts
 * import { intervalEdge } from "./_arithmetic_steps.ts";
 * import { arithmeticModel } from "./arithmetic_model.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const model = arithmeticModel([2, 1, 1]);
 * assertEquals(intervalEdge(model, 0, 2 ** 32, 1), 2 ** 31);
 * ```
 */
export function intervalEdge(
  model: ArithmeticModel,
  base: number,
  range: number,
  index: number,
): number {
  const scaled = model.scaledCumulative;
  if (scaled !== undefined) return base + range * scaled[index];
  if (!model.exact) {
    return base + Math.floor(range * model.cumulative[index] / model.total);
  }
  return base + exactScaledFloor(range, model.cumulative[index], model.total);
}

/** Appends `n <= 16` bits, storing the complete bytes (three stores). */
function pushBits(
  out: Uint8Array,
  state: EncoderState,
  bits: number,
  n: number,
) {
  const acc = (state[ACC] << n) | bits;
  const accBits = state[ACC_BITS] + n;
  const at = state[AT];
  // Three stores, of which accBits >>> 3 are complete bytes; the others are
  // rewritten later.
  out[at] = acc >>> (accBits - 8);
  out[at + 1] = acc >>> (accBits - 16);
  out[at + 2] = acc >>> (accBits - 24);
  state[ACC] = acc;
  state[AT] = at + (accBits >>> 3);
  state[ACC_BITS] = accBits & 7;
}

/** Appends bit `first`, then the pending bits as its complement. */
function pushWithPending(out: Uint8Array, state: EncoderState, first: number) {
  state[ACC] = (state[ACC] << 1) | first;
  state[ACC_BITS] += 1;
  const fill = first === 1 ? 0 : 0xffff;
  let pending = state[PENDING];
  while (pending > 0) {
    const n = pending < 16 ? pending : 16;
    pushBits(out, state, fill >>> (16 - n), n);
    pending -= n;
  }
  state[PENDING] = 0;
}

/**
 * The encoder's emit step when it writes more than 24 bits at once (many
 * pending bits, or `k = 32`: `low == high`): the `k` leading bits on which `low`
 * and `high` agree, the pending bits after the first of them; then both shift.
 * Out of line, on a state array, so that the coding loops keep their state in
 * registers.
 *
 * @param out The stream (3 bytes of slack after the bound).
 * @param k `clz32(low ^ high)`, with `k + pending > 24` or `k = 32`.
 * @param state The encoder's state, updated.
 *
 * @example 32 equal bits
 * ```ts
 * import { emitMany, encoderState } from "./_arithmetic_steps.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const state = encoderState();
 * state[0] = state[1] = 0x12345678;
 * const out = new Uint8Array(8);
 * emitMany(out, 32, state);
 * assertEquals([...out.subarray(0, 4), state[0], state[1], state[5]], [0x12, 0x34, 0x56, 0x78, 0, -1, 4]);
 * ```
 */
export function emitMany(
  out: Uint8Array,
  k: number,
  state: EncoderState,
): void {
  if (k === 0) return;
  const low = state[LOW];
  pushWithPending(out, state, low >>> 31);
  let rest = low << 1; // the k - 1 bits after the first, at the top
  for (let left = k - 1; left > 0;) {
    const n = left < 16 ? left : 16;
    pushBits(out, state, rest >>> (32 - n), n);
    rest <<= n;
    left -= n;
  }
  if (k === 32) {
    state[LOW] = 0;
    state[HIGH] = -1;
  } else {
    state[LOW] = low << k;
    state[HIGH] = (state[HIGH] << k) | (0x7fffffff >>> (31 - k));
  }
}

/**
 * The encoder's finish: one more pending bit, then bit 0 if `low < 2^30`, else 1,
 * with the pending bits; the last byte zero-padded.
 *
 * @param out The stream.
 * @param state The encoder's state after the last symbol.
 * @returns The stream's length in bytes.
 *
 * @example No symbols: the bits 01
 * ```ts
 * import { encoderState, finishStream } from "./_arithmetic_steps.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const out = new Uint8Array(4);
 * assertEquals(finishStream(out, encoderState()), 1);
 * assertEquals(out[0], 0x40);
 * ```
 */
export function finishStream(out: Uint8Array, state: EncoderState): number {
  state[PENDING] += 1;
  // low is below 2^31 here, so its int32 pattern compares as unsigned.
  pushWithPending(out, state, state[LOW] < QUARTER ? 0 : 1);
  let at = state[AT];
  const accBits = state[ACC_BITS];
  if (accBits > 0) out[at++] = state[ACC] << (8 - accBits);
  return at;
}

/**
 * The decoder's end checks 2 and 3 (see `arithmetic_decoder.ts`): the stream is
 * exactly as long as the bits read, and ends with the encoder's finish bits.
 *
 * @param length Bytes in the stream.
 * @param position Stream bits shifted into the value, plus 32.
 * @param low The decoder's `low` after the last symbol (int32 pattern).
 * @param value The decoder's value (int32 pattern).
 * @param count Symbols decoded, for the message.
 * @param stream Stream name for errors.
 * @throws {KvbitsDataError} When bytes follow the end, or the finish bits differ.
 *
 * @example
 * ```ts
 * import { checkStreamEnd } from "./_arithmetic_steps.ts";
 * import { assertThrows } from "@std/assert";
 *
 * checkStreamEnd(1, 32, 0, 0x40000000, 0, "s");
 * assertThrows(() => checkStreamEnd(2, 32, 0, 0x40000000, 0, "s"), Error, "1 bytes follow");
 * ```
 */
export function checkStreamEnd(
  length: number,
  position: number,
  low: number,
  value: number,
  count: number,
  stream: string | undefined,
): void {
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
  const expectedValue = low < QUARTER ? 0x40000000 : 0x80000000;
  if (value >>> 0 !== expectedValue) {
    throw new KvbitsDataError(
      "the stream does not end as the encoder ends a stream (corrupt, or coded with another table or symbol count)",
      { stream, bitOffset: shifts },
    );
  }
}
