/**
 * How `analyze` counts the payload of a one-file layout in the four stream
 * columns of its metrics: split by what the model spends on each plane.
 *
 * @module
 */

import type { TensorPlaneBits } from "./layout.ts";

/**
 * Splits a payload of `payloadBytes` between K and V and, within each, between
 * `hi6` and the rest (`lo10` and references), in proportion to the bits the model
 * spends on each: whole bytes that add up to the payload exactly.
 *
 * @param payloadBytes Bytes of coded tensors in the file.
 * @param k K's plane bits.
 * @param v V's plane bits.
 * @returns Bytes attributed to each of the four stream columns of the metrics.
 *
 * @example
 * ```ts
 * import { splitPayload } from "./payload_split.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const planes = { elements: 8, hi6: 24, mantissaTop: 16, mantissaRaw: 64, other: 0 };
 * assertEquals(splitPayload(30, planes, planes), { kHi6: 3, kLo10: 12, vHi6: 3, vLo10: 12 });
 * ```
 */
export function splitPayload(
  payloadBytes: number,
  k: TensorPlaneBits,
  v: TensorPlaneBits,
): { kHi6: number; kLo10: number; vHi6: number; vLo10: number } {
  const total = (p: TensorPlaneBits) =>
    p.hi6 + p.mantissaTop + p.mantissaRaw + p.other;
  const kBits = total(k), vBits = total(v);
  const kBytes = kBits + vBits > 0
    ? Math.round(payloadBytes * kBits / (kBits + vBits))
    : Math.round(payloadBytes / 2);
  const vBytes = payloadBytes - kBytes;
  const kHi6 = kBits > 0 ? Math.round(kBytes * k.hi6 / kBits) : 0;
  const vHi6 = vBits > 0 ? Math.round(vBytes * v.hi6 / vBits) : 0;
  return { kHi6, kLo10: kBytes - kHi6, vHi6, vLo10: vBytes - vHi6 };
}
