/**
 * Arithmetic coding of both planes of FP16 words in one pass (FORMAT.md §4):
 * split and encode fused, decode and join fused. The bytes are exactly those of
 * `arithmeticEncode` on the `hi6` and `lo10` planes of `splitFp16Planes`, and the
 * decoder accepts and refuses exactly what `arithmeticDecode` does.
 *
 * Read me first:
 * - Two coders, one per plane, run side by side in one loop over the words. The
 *   `lo10` block of each loop is generated from the `hi6` block (`hi` names
 *   become `lo` names) by `scripts/fp16_twins.ts`; `tests/fp16_twins_test.ts`
 *   fails when it is not current. Each
 *   symbol's step depends on the step before it in the same stream only, and the
 *   longest part of a step is a chain of multiplications (and, decoding, a
 *   division): with two independent chains in flight the CPU overlaps them, which
 *   gains more than any single-stream trick. The arithmetic of each step is that
 *   of arithmetic_encoder.ts and arithmetic_decoder.ts (read those first); only
 *   the fast path of their models is taken here: a power-of-two total up to 2^16
 *   (every table kvbits writes), with `scaledCumulative` and a slot table. Other
 *   tables (the reference tools' raw counts) are coded plane by plane.
 * - Encoding sizes each stream once from a bound, `count` times the most bits one
 *   symbol can emit, `ceil(log2 total) - 29 + clz32(f)` for the rarest symbol's
 *   frequency `f` (see arithmetic_encoder.ts), and returns a view of the bytes
 *   used. A symbol of frequency 0 is found in the coding loop itself (its interval
 *   is empty) and reported, naming the symbol, its index and its stream.
 * - The rare encoder step that writes more than 24 bits at once (a long run of
 *   pending bits), the finish and the decoder's end checks are those of the
 *   plane coders (`_arithmetic_steps.ts`); the rare step runs out of line on a
 *   state array, so that the loop keeps both coders' state in registers.
 * - Bytes go out as one big-endian 32-bit store of the pending bits,
 *   left-aligned (`DataView.setUint32`), and come in as one 32-bit load plus a
 *   byte, where the plane coders use three and five byte accesses.
 *
 * @module
 */

import { fp16DecodeOutput } from "./_fp16_streams.ts";
import {
  checkStreamEnd,
  emitMany,
  encoderState,
  finishStream,
} from "./_arithmetic_steps.ts";
import { arithmeticDecode } from "./arithmetic_decoder.ts";
import { arithmeticEncode } from "./arithmetic_encoder.ts";
import type { ArithmeticModel } from "./arithmetic_model.ts";
import { KvbitsDataError } from "./errors.ts";
import { splitFp16Planes } from "./fp16_planes.ts";
import type { Fp16StreamNames } from "./huffman_fp16.ts";

/** Bytes after the bound: the branch-free writer stores 4 bytes at a time. */
const WRITE_SLACK = 4;
/** Zero bytes after the copy of a stream (as arithmetic_decoder.ts). */
const READ_PADDING = 16;

/** Whether the fused loops can take a model: the fast path of arithmetic_model.ts. */
function fusable(model: ArithmeticModel, alphabet: number): boolean {
  return model.scaledCumulative !== undefined && model.slots !== undefined &&
    model.frequencies.length >= alphabet;
}

/** Most bits one symbol can emit, by model (a table scan, so cached). */
const MAX_SYMBOL_BITS = new WeakMap<ArithmeticModel, number>();

function maxSymbolBits(model: ArithmeticModel): number {
  let bits = MAX_SYMBOL_BITS.get(model);
  if (bits === undefined) {
    let rarest = 0;
    for (const frequency of model.frequencies) {
      if (frequency !== 0 && (rarest === 0 || frequency < rarest)) {
        rarest = frequency;
      }
    }
    const total = model.total;
    const ceilLog2Total = total <= 1 ? 0 : 32 - Math.clz32(total - 1);
    bits = Math.max(0, ceilLog2Total - 29 + Math.clz32(rarest || 1));
    MAX_SYMBOL_BITS.set(model, bits);
  }
  return bits;
}

/**
 * Encodes the `hi6` and `lo10` planes of FP16 words in one pass.
 *
 * @param words The FP16 bit patterns.
 * @param hi The model of the `hi6` plane (64 symbols).
 * @param lo The model of the `lo10` plane (1024 symbols).
 * @param names Stream names for error messages.
 * @returns The `hi6` and the `lo10` stream, each as `arithmeticEncode` writes it.
 * @throws {RangeError} When a symbol has frequency 0 or is outside a model's
 * alphabet; the message names the symbol, its index and the stream.
 *
 * @example The same bytes as plane by plane
 * ```ts
 * import { arithmeticEncode } from "./arithmetic_encoder.ts";
 * import { arithmeticEncodeFp16 } from "./arithmetic_fp16.ts";
 * import { arithmeticModel } from "./arithmetic_model.ts";
 * import { splitFp16Planes } from "./fp16_planes.ts";
 * import { arithmeticTableFromCounts } from "./frequency_normalization.ts";
 * import { countFp16Symbols } from "./histogram.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const words = new Uint16Array([0x3c00, 0x3c01, 0xbc00, 0x3555, 0x3c01]);
 * const counts = countFp16Symbols(words);
 * const hi = arithmeticModel(arithmeticTableFromCounts(counts.hi6));
 * const lo = arithmeticModel(arithmeticTableFromCounts(counts.lo10));
 * const [hiBytes, loBytes] = arithmeticEncodeFp16(words, hi, lo);
 * const planes = splitFp16Planes(words);
 * assertEquals(hiBytes, arithmeticEncode(planes.hi6, hi));
 * assertEquals(loBytes, arithmeticEncode(planes.lo10, lo));
 * ```
 */
export function arithmeticEncodeFp16(
  words: Uint16Array,
  hi: ArithmeticModel,
  lo: ArithmeticModel,
  names: Fp16StreamNames = {},
): [Uint8Array, Uint8Array] {
  const hiStream = names.hiStream ?? "hi6";
  const loStream = names.loStream ?? "lo10";
  if (!fusable(hi, 64) || !fusable(lo, 1024)) {
    const planes = splitFp16Planes(words);
    return [
      arithmeticEncode(planes.hi6, hi, hiStream),
      arithmeticEncode(planes.lo10, lo, loStream),
    ];
  }
  const count = words.length;
  // Plus 2 bits of the finish.
  const hiBound = Math.ceil((count * maxSymbolBits(hi) + 2) / 8);
  const loBound = Math.ceil((count * maxSymbolBits(lo) + 2) / 8);
  const hiOut = new Uint8Array(hiBound + WRITE_SLACK);
  const loOut = new Uint8Array(loBound + WRITE_SLACK);
  const hiView = new DataView(hiOut.buffer);
  const loView = new DataView(loOut.buffer);
  const hiScaled = hi.scaledCumulative!;
  const loScaled = lo.scaledCumulative!;
  // Per coder: low and high (int32 bit patterns of the unsigned values), pending
  // bits, the bit accumulator (accBits < 8 between symbols) and the write position.
  let hiLow = 0;
  let hiHigh = -1;
  let hiPending = 0;
  let hiAcc = 0;
  let hiAccBits = 0;
  let hiAt = 0;
  let loLow = 0;
  let loHigh = -1;
  let loPending = 0;
  let loAcc = 0;
  let loAccBits = 0;
  let loAt = 0;
  // Errors are raised after the loop: code that can throw with the stream names
  // inside it keeps them alive there, which slows the loop (see huffman_fp16.ts).
  let missing = -1;
  // The state of the rare out-of-line step, of either coder.
  const state = encoderState();
  for (let i = 0; i < count; i++) {
    const word = words[i];
    const hiSymbol = word >>> 10;
    const loSymbol = word & 0x3ff;
    const hiBelow = hiScaled[hiSymbol];
    const hiAbove = hiScaled[hiSymbol + 1];
    const loBelow = loScaled[loSymbol];
    const loAbove = loScaled[loSymbol + 1];
    if (hiBelow === hiAbove || loBelow === loAbove) {
      missing = i;
      break;
    }
    // hi6: the interval, then emit (step 1) and underflow (step 2).
    {
      const range = ((hiHigh - hiLow) >>> 0) + 1;
      const base = hiLow >>> 0;
      hiHigh = (base + range * hiAbove - 1) | 0;
      hiLow = (base + range * hiBelow) | 0;
      const k = Math.clz32(hiLow ^ hiHigh);
      if (k + hiPending <= 24) {
        const any = (k + 31) >>> 5;
        const n = (k + hiPending) & -any;
        const bits = ((((1 << hiPending) - 1 + (hiLow >>> 31)) << (k - 1)) |
          (((hiLow << 1) >>> 1) >>> (32 - k))) & -any;
        hiAcc = (hiAcc << n) | bits;
        hiAccBits += n;
        hiView.setUint32(hiAt, hiAcc << (32 - hiAccBits));
        hiAt += hiAccBits >>> 3;
        hiAccBits &= 7;
        hiPending &= any - 1;
        hiLow = hiLow << k;
        hiHigh = (hiHigh << k) | (0x7fffffff >>> (31 - k));
      } else {
        state[0] = hiLow;
        state[1] = hiHigh;
        state[2] = hiPending;
        state[3] = hiAcc;
        state[4] = hiAccBits;
        state[5] = hiAt;
        emitMany(hiOut, k, state);
        hiLow = state[0];
        hiHigh = state[1];
        hiPending = state[2];
        hiAcc = state[3];
        hiAccBits = state[4];
        hiAt = state[5];
      }
      const u = Math.clz32(((~hiLow | hiHigh) << 1) | 1);
      hiPending += u;
      hiLow = (hiLow << u) & 0x7fffffff;
      hiHigh = (hiHigh << u) | 0x80000000 | (0x7fffffff >>> (31 - u));
    }
    // lo10: generated from the hi6 block above by scripts/fp16_twins.ts; do not edit.
    {
      const range = ((loHigh - loLow) >>> 0) + 1;
      const base = loLow >>> 0;
      loHigh = (base + range * loAbove - 1) | 0;
      loLow = (base + range * loBelow) | 0;
      const k = Math.clz32(loLow ^ loHigh);
      if (k + loPending <= 24) {
        const any = (k + 31) >>> 5;
        const n = (k + loPending) & -any;
        const bits = ((((1 << loPending) - 1 + (loLow >>> 31)) << (k - 1)) |
          (((loLow << 1) >>> 1) >>> (32 - k))) & -any;
        loAcc = (loAcc << n) | bits;
        loAccBits += n;
        loView.setUint32(loAt, loAcc << (32 - loAccBits));
        loAt += loAccBits >>> 3;
        loAccBits &= 7;
        loPending &= any - 1;
        loLow = loLow << k;
        loHigh = (loHigh << k) | (0x7fffffff >>> (31 - k));
      } else {
        state[0] = loLow;
        state[1] = loHigh;
        state[2] = loPending;
        state[3] = loAcc;
        state[4] = loAccBits;
        state[5] = loAt;
        emitMany(loOut, k, state);
        loLow = state[0];
        loHigh = state[1];
        loPending = state[2];
        loAcc = state[3];
        loAccBits = state[4];
        loAt = state[5];
      }
      const u = Math.clz32(((~loLow | loHigh) << 1) | 1);
      loPending += u;
      loLow = (loLow << u) & 0x7fffffff;
      loHigh = (loHigh << u) | 0x80000000 | (0x7fffffff >>> (31 - u));
    }
  }
  if (missing >= 0) {
    const word = words[missing];
    const [stream, symbol] =
      hiScaled[word >>> 10] === hiScaled[(word >>> 10) + 1]
        ? [hiStream, word >>> 10]
        : [loStream, word & 0x3ff];
    throw new RangeError(
      `Cannot encode ${stream}: symbol ${symbol} at index ${missing} has frequency 0 in the table`,
    );
  }
  const hiEnd = finishStream(
    hiOut,
    Int32Array.of(hiLow, hiHigh, hiPending, hiAcc, hiAccBits, hiAt),
  );
  const loEnd = finishStream(
    loOut,
    Int32Array.of(loLow, loHigh, loPending, loAcc, loAccBits, loAt),
  );
  if (hiEnd > hiBound || loEnd > loBound) {
    throw new Error(
      `Cannot encode ${
        hiEnd > hiBound ? hiStream : loStream
      }: internal error, the stream exceeds its bound`,
    );
  }
  return [hiOut.subarray(0, hiEnd), loOut.subarray(0, loEnd)];
}

/**
 * Decodes a `hi6` and a `lo10` stream of `count` symbols each into FP16 words,
 * `(hi6 << 10) | lo10`, both streams in one loop.
 *
 * @param hiBytes The `hi6` stream.
 * @param loBytes The `lo10` stream.
 * @param count Symbols in each stream: words to decode.
 * @param hi The model of the `hi6` stream.
 * @param lo The model of the `lo10` stream.
 * @param options Where to write (at least `count` words; a new array when
 * omitted) and the stream names for errors.
 * @returns The words (`into` when given).
 * @throws {KvbitsDataError} As `arithmeticDecode`: a stream ends early, has bytes
 * after its end or does not end as the encoder ends one; the message names the
 * stream.
 * @throws {RangeError} When `count` is negative or `into` is too short.
 *
 * @example A round trip
 * ```ts
 * import { arithmeticDecodeFp16, arithmeticEncodeFp16 } from "./arithmetic_fp16.ts";
 * import { arithmeticModel } from "./arithmetic_model.ts";
 * import { arithmeticTableFromCounts } from "./frequency_normalization.ts";
 * import { countFp16Symbols } from "./histogram.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const words = new Uint16Array([0x3c00, 0x3c01, 0xbc00, 0x3555, 0x3c01]);
 * const counts = countFp16Symbols(words);
 * const hi = arithmeticModel(arithmeticTableFromCounts(counts.hi6));
 * const lo = arithmeticModel(arithmeticTableFromCounts(counts.lo10));
 * const [hiBytes, loBytes] = arithmeticEncodeFp16(words, hi, lo);
 * assertEquals(arithmeticDecodeFp16(hiBytes, loBytes, words.length, hi, lo), words);
 * ```
 */
export function arithmeticDecodeFp16(
  hiBytes: Uint8Array,
  loBytes: Uint8Array,
  count: number,
  hi: ArithmeticModel,
  lo: ArithmeticModel,
  options: Fp16StreamNames & { readonly into?: Uint16Array } = {},
): Uint16Array {
  const hiStream = options.hiStream ?? "hi6";
  const loStream = options.loStream ?? "lo10";
  const out = fp16DecodeOutput(count, options.into, hiStream);
  if (
    !fusable(hi, 64) || !fusable(lo, 1024) || hiBytes.length === 0 ||
    loBytes.length === 0
  ) {
    // Plane by plane: arithmeticDecode names the stream and the problem.
    const hiPlane = arithmeticDecode(
      hiBytes,
      count,
      hi,
      new Uint8Array(count),
      hiStream,
    );
    const loPlane = arithmeticDecode(loBytes, count, lo, undefined, loStream);
    for (let i = 0; i < count; i++) {
      out[i] = ((hiPlane[i] & 0x3f) << 10) | (loPlane[i] & 0x3ff);
    }
    return out;
  }
  const hiBuffer = new Uint8Array(hiBytes.length + READ_PADDING);
  hiBuffer.set(hiBytes);
  const loBuffer = new Uint8Array(loBytes.length + READ_PADDING);
  loBuffer.set(loBytes);
  const hiView = new DataView(hiBuffer.buffer);
  const loView = new DataView(loBuffer.buffer);
  // Check 1 of arithmetic_decoder.ts: position = shifts + 32 <= 8 * length + 30.
  const hiLimit = 8 * hiBytes.length + 30;
  const loLimit = 8 * loBytes.length + 30;
  const hiTotal = hi.total;
  const loTotal = lo.total;
  const hiSlots = hi.slots!;
  const loSlots = lo.slots!;
  const hiScaled = hi.scaledCumulative!;
  const loScaled = lo.scaledCumulative!;
  let hiValue = (hiBuffer[0] << 24) | (hiBuffer[1] << 16) |
    (hiBuffer[2] << 8) | hiBuffer[3];
  let loValue = (loBuffer[0] << 24) | (loBuffer[1] << 16) |
    (loBuffer[2] << 8) | loBuffer[3];
  let hiAt = 32; // next stream bit to shift into the value
  let loAt = 32;
  let hiLow = 0;
  let hiHigh = -1;
  let loLow = 0;
  let loHigh = -1;
  // The symbol after which a stream ran past its end (raised after the loop).
  let endedEarly = -1;
  for (let i = 0; i < count; i++) {
    // The targets: floor((offset * total - 1) / range), from the reciprocal,
    // corrected by its exact remainder (see arithmetic_decoder.ts).
    const hiRange = ((hiHigh - hiLow) >>> 0) + 1;
    const loRange = ((loHigh - loLow) >>> 0) + 1;
    const hiNumerator = (((hiValue - hiLow) >>> 0) + 1) * hiTotal - 1;
    const loNumerator = (((loValue - loLow) >>> 0) + 1) * loTotal - 1;
    let hiTarget = (hiNumerator * (1 / hiRange)) | 0;
    let loTarget = (loNumerator * (1 / loRange)) | 0;
    const hiRemainder = hiNumerator - hiTarget * hiRange;
    const loRemainder = loNumerator - loTarget * loRange;
    if (hiRemainder < 0) hiTarget--;
    else if (hiRemainder >= hiRange) hiTarget++;
    if (loRemainder < 0) loTarget--;
    else if (loRemainder >= loRange) loTarget++;
    const hiSymbol = hiSlots[hiTarget];
    const loSymbol = loSlots[loTarget];
    out[i] = (hiSymbol << 10) | loSymbol;
    // hi6: the new interval, then its shifts.
    {
      const base = hiLow >>> 0;
      hiHigh = (base + hiRange * hiScaled[hiSymbol + 1] - 1) | 0;
      hiLow = (base + hiRange * hiScaled[hiSymbol]) | 0;
      const p = hiAt >>> 3;
      const shift = hiAt & 7;
      const window = (hiView.getUint32(p) << shift) |
        (hiBuffer[p + 4] >>> (8 - shift));
      const k = Math.clz32(hiLow ^ hiHigh);
      if (k === 32) {
        hiValue = window;
        hiLow = 0;
        hiHigh = -1;
        hiAt += 32;
      } else {
        hiValue = (hiValue << k) | ((window >>> 1) >>> (31 - k));
        hiLow = hiLow << k;
        hiHigh = (hiHigh << k) | (0x7fffffff >>> (31 - k));
        const u = Math.clz32(((~hiLow | hiHigh) << 1) | 1);
        hiValue = (hiValue & 0x80000000) | ((hiValue << u) & 0x7fffffff) |
          (((window << k) >>> 1) >>> (31 - u));
        hiLow = (hiLow << u) & 0x7fffffff;
        hiHigh = (hiHigh << u) | 0x80000000 | (0x7fffffff >>> (31 - u));
        hiAt += k + u;
      }
    }
    // lo10: generated from the hi6 block above by scripts/fp16_twins.ts; do not edit.
    {
      const base = loLow >>> 0;
      loHigh = (base + loRange * loScaled[loSymbol + 1] - 1) | 0;
      loLow = (base + loRange * loScaled[loSymbol]) | 0;
      const p = loAt >>> 3;
      const shift = loAt & 7;
      const window = (loView.getUint32(p) << shift) |
        (loBuffer[p + 4] >>> (8 - shift));
      const k = Math.clz32(loLow ^ loHigh);
      if (k === 32) {
        loValue = window;
        loLow = 0;
        loHigh = -1;
        loAt += 32;
      } else {
        loValue = (loValue << k) | ((window >>> 1) >>> (31 - k));
        loLow = loLow << k;
        loHigh = (loHigh << k) | (0x7fffffff >>> (31 - k));
        const u = Math.clz32(((~loLow | loHigh) << 1) | 1);
        loValue = (loValue & 0x80000000) | ((loValue << u) & 0x7fffffff) |
          (((window << k) >>> 1) >>> (31 - u));
        loLow = (loLow << u) & 0x7fffffff;
        loHigh = (loHigh << u) | 0x80000000 | (0x7fffffff >>> (31 - u));
        loAt += k + u;
      }
    }
    if (hiAt > hiLimit || loAt > loLimit) {
      endedEarly = i;
      break;
    }
  }
  if (endedEarly >= 0) {
    const [stream, length, at] = hiAt > hiLimit
      ? [hiStream, hiBytes.length, hiAt]
      : [loStream, loBytes.length, loAt];
    throw new KvbitsDataError(
      `stream ends early: ${length} bytes cannot hold the ${count} symbols expected (stopped after symbol ${endedEarly}; truncated, corrupt, or coded with another table)`,
      { stream, bitOffset: at - 32 },
    );
  }
  checkStreamEnd(hiBytes.length, hiAt, hiLow, hiValue, count, hiStream);
  checkStreamEnd(loBytes.length, loAt, loLow, loValue, count, loStream);
  return out;
}
