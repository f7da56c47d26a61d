/**
 * Encoding of a symbol plane with the 32-bit binary arithmetic coder of FORMAT.md
 * §4, bit for bit as the reference tools write it.
 *
 * Read me first:
 * - State: `low = 0`, `high = 2^32 - 1`, unsigned 32-bit values (held as int32
 *   bit patterns, see Speed). Per symbol `s`, with `range = high - low + 1`:
 *   `high = low + floor(range * cum[s+1] / total) - 1` and
 *   `low = low + floor(range * cum[s] / total)`.
 * - Renormalization is the classic bit-at-a-time loop (emit 0 while `high < 2^31`,
 *   emit 1 while `low >= 2^31`, count a pending bit while `low >= 2^30` and
 *   `high < 3 * 2^30`), done here in two multi-bit steps with the same result:
 *   1. the `k = clz32(low ^ high)` leading bits on which `low` and `high` agree
 *      are emitted at once, and both shift left by `k` (`high` fills with ones);
 *   2. then the top bits differ (`low` 0, `high` 1), no emit case can return, and
 *      the underflow case repeats exactly `u` times, `u` = number of leading
 *      positions after the top bit where `low` has a 1 and `high` a 0:
 *      `u = clz32(((~low | high) << 1) | 1)`. Those `u` bits are removed below
 *      the top bit (the top bit stays), and `u` pending bits are counted.
 *   Emitting bit `b` also emits the pending bits as `1 - b`, right after it.
 * - Finish: one more pending bit, then bit 0 if `low < 2^30`, else 1 (with the
 *   pending bits). Bits are packed most significant first, last byte zero-padded.
 * - Speed: `low` and `high` are int32 bit patterns (doubles above 2^31 are slow
 *   in V8), and the common case of step 1 (at most 24 bits with the pending ones)
 *   is branch-free, k = 0 included: data-dependent branches mispredict often.
 * - Pass 1 checks every symbol (frequency 0 is an error naming the symbol and
 *   the stream, before anything is written) and sums a bound on the bits each
 *   symbol can emit, from its frequency, so the output is allocated once; pass 2
 *   codes.
 *
 * @module
 */

import { exactScaledFloor } from "./_exact_arithmetic.ts";
import type { ArithmeticModel } from "./arithmetic_model.ts";

/** 2^30: the finish emits 0 below it, 1 from it on. */
const QUARTER = 0x40000000;
/** Bytes after the bound: the branch-free writer stores 3 bytes at a time. */
const WRITE_SLACK = 3;

/**
 * Encodes a symbol plane with an arithmetic model.
 *
 * @param symbols The symbols, each with a frequency above zero in the model.
 * @param model The frequency model (see `arithmeticModel`).
 * @param stream Stream name for error messages, e.g. `k_hi6`.
 * @returns The coded bytes; at least one (the finish bits), even for no symbols.
 * @throws {RangeError} When a symbol has frequency 0 or is outside the alphabet;
 * the message names the symbol, its index and the stream.
 *
 * @example Encoding, and the bytes of an empty stream
 * ```ts
 * import { arithmeticEncode } from "./arithmetic_encoder.ts";
 * import { arithmeticModel } from "./arithmetic_model.ts";
 * import { assertEquals, assertThrows } from "@std/assert";
 *
 * const model = arithmeticModel([6, 1, 1, 0]);
 * assertEquals([...arithmeticEncode(new Uint8Array([0, 0, 1, 0, 2]), model)], [0x78]);
 * assertEquals([...arithmeticEncode(new Uint8Array(0), model)], [0x40]); // finish bits 01
 * assertThrows(() => arithmeticEncode(new Uint8Array([3]), model, "k_hi6"), RangeError, "symbol 3");
 * ```
 */
export function arithmeticEncode(
  symbols: Uint8Array | Uint16Array,
  model: ArithmeticModel,
  stream = "stream",
): Uint8Array {
  const { frequencies, cumulative, total, exact, scaledCumulative } = model;
  const count = symbols.length;
  const alphabetSize = frequencies.length;
  // Pass 1: every symbol checked, and the output bound. Before a symbol the range
  // R exceeds 2^30; its interval keeps r >= floor(R * f / T) values (as
  // floor(x + y) >= floor(x) + floor(y)), and floor(R * f / T) >= 2^(30 +
  // floor(log2 f) - ceil(log2 T)) values, and renormalization shifts only while
  // the range is at most 2^31, so at most 32 - floor(log2 r) <= 2 + ceil(log2 T) -
  // floor(log2 f) = ceil(log2 T) - 29 + clz32(f) times, one bit each.
  let clzSum = 0;
  for (let i = 0; i < count; i++) {
    const symbol = symbols[i];
    const frequency = symbol < alphabetSize ? frequencies[symbol] : 0;
    if (frequency === 0) {
      throw new RangeError(
        `Cannot encode ${stream}: symbol ${symbol} at index ${i} has frequency 0 in the table`,
      );
    }
    clzSum += Math.clz32(frequency);
  }
  const ceilLog2Total = total <= 1 ? 0 : 32 - Math.clz32(total - 1);
  // Plus 2 bits of the finish (its pending bits were counted with their symbols).
  const boundBits = count * (ceilLog2Total - 29) + clzSum + 2;
  const boundBytes = Math.ceil(boundBits / 8);
  const out = new Uint8Array(boundBytes + WRITE_SLACK);
  let o = 0; // next byte of `out`
  let acc = 0; // the low `accBits` bits are not yet written; accBits < 8 between symbols
  let accBits = 0;
  // low and high are the coder's unsigned 32-bit values held as int32 bit patterns.
  let low = 0;
  let high = -1;
  let pending = 0;
  for (let i = 0; i < count; i++) {
    const symbol = symbols[i];
    const range = ((high - low) >>> 0) + 1; // 2^30 + 2 .. 2^32
    const base = low >>> 0;
    // new high = base + floor(range * cum[s+1] / total) - 1, new low = base +
    // floor(range * cum[s] / total); `| 0` takes the floor of a non-negative sum
    // and reduces it mod 2^32.
    if (scaledCumulative !== undefined) {
      // Exact: cum / total has at most 16 fraction bits, the sum < 2^33.
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
    // Step 1: the k leading bits on which low and high agree go out, after the
    // first of them the pending bits as its complement.
    const k = Math.clz32(low ^ high);
    if (k + pending <= 24) {
      // Branch-free, k = 0 included (then nothing is written and pending stays).
      // "b, then p times 1 - b" is the (p+1)-bit number 2^p - 1 + b.
      const any = (k + 31) >>> 5; // 1 when k >= 1, else 0
      const n = (k + pending) & -any;
      const word = ((((1 << pending) - 1 + (low >>> 31)) << (k - 1)) |
        (((low << 1) >>> 1) >>> (32 - k))) & -any;
      acc = (acc << n) | word; // < 7 + 24 bits
      accBits += n;
      // Three stores, of which accBits >>> 3 are complete bytes; the others are
      // rewritten later.
      out[o] = acc >>> (accBits - 8);
      out[o + 1] = acc >>> (accBits - 16);
      out[o + 2] = acc >>> (accBits - 24);
      o += accBits >>> 3;
      accBits &= 7;
      pending &= any - 1;
      low = low << k;
      high = (high << k) | (0x7fffffff >>> (31 - k));
    } else {
      // Rare: many pending bits, or k = 32 (low == high).
      if (k !== 0) {
        // Each write adds at most 16 bits to at most 8: three stores suffice.
        const first = low >>> 31;
        acc = (acc << 1) | first;
        accBits += 1;
        const fill = first === 1 ? 0 : 0xffff;
        while (pending > 0) {
          const n = pending < 16 ? pending : 16;
          acc = (acc << n) | (fill >>> (16 - n));
          accBits += n;
          out[o] = acc >>> (accBits - 8);
          out[o + 1] = acc >>> (accBits - 16);
          out[o + 2] = acc >>> (accBits - 24);
          o += accBits >>> 3;
          accBits &= 7;
          pending -= n;
        }
        let rest = low << 1; // the k - 1 bits after the first, at the top
        for (let left = k - 1; left > 0;) {
          const n = left < 16 ? left : 16;
          acc = (acc << n) | (rest >>> (32 - n));
          accBits += n;
          out[o] = acc >>> (accBits - 8);
          out[o + 1] = acc >>> (accBits - 16);
          out[o + 2] = acc >>> (accBits - 24);
          o += accBits >>> 3;
          accBits &= 7;
          rest <<= n;
          left -= n;
        }
        if (k === 32) {
          low = 0;
          high = -1;
        } else {
          low = low << k;
          high = (high << k) | (0x7fffffff >>> (31 - k));
        }
      }
    }
    // Step 2: underflow. The top bits now differ (low 0, high 1); remove the u
    // bits below them where low has 1 and high 0 (u = 0 changes nothing).
    const u = Math.clz32(((~low | high) << 1) | 1);
    pending += u;
    low = (low << u) & 0x7fffffff;
    high = (high << u) | 0x80000000 | (0x7fffffff >>> (31 - u));
  }
  // Finish: one more pending bit, then 0 if low < 2^30 else 1, with the pending
  // bits. low is below 2^31 here, so its int32 pattern compares as unsigned.
  pending += 1;
  const last = low < QUARTER ? 0 : 1;
  acc = (acc << 1) | last;
  accBits += 1;
  const fill = last === 1 ? 0 : 0xffff;
  while (pending > 0) {
    const n = pending < 16 ? pending : 16;
    acc = (acc << n) | (fill >>> (16 - n));
    accBits += n;
    out[o] = acc >>> (accBits - 8);
    out[o + 1] = acc >>> (accBits - 16);
    out[o + 2] = acc >>> (accBits - 24);
    o += accBits >>> 3;
    accBits &= 7;
    pending -= n;
  }
  if (accBits > 0) out[o++] = acc << (8 - accBits);
  if (o > boundBytes) {
    throw new Error(
      `Cannot encode ${stream}: internal error, ${o} bytes exceed the bound of ${boundBytes}`,
    );
  }
  return out.slice(0, o);
}
