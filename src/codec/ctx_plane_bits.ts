/**
 * What a `ctx` payload spends on each plane of each tensor: the model's code
 * length of every symbol the encoder records, summed by kind.
 *
 * @module
 */

import { ByteWriter } from "./byte_io.ts";
import { recordRows } from "./ctx_encoder.ts";
import { ODD_CHANNEL_LANES, rowOutput } from "./ctx_rows.ts";
import { writePlan } from "./ctx_header.ts";
import {
  checkTensorSizes,
  ctxElements,
  outputBounds,
  planTensors,
  predictedRows,
  tensorCodings,
  type TensorShape,
} from "./ctx_plan.ts";
import { type CtxOptions, CtxScratch } from "./ctx_scratch.ts";
import { RANS_PROBABILITY_BITS } from "./rans.ts";

/** Bits a `ctx` payload spends on one tensor, by plane. */
export interface CtxPlaneBits {
  /** Elements of the tensor. */
  readonly elements: number;
  /** Rows stored as references to earlier rows. */
  readonly repeatedRows: number;
  /** Rows predicted by rotation. */
  readonly predictedRows: number;
  /** Bits of the `hi6` symbols (sign and exponent), model cost. */
  readonly hi6: number;
  /** Bits of the top 2 mantissa bits, model cost. */
  readonly mantissaTop: number;
  /** Bits of the raw low mantissa bits: 8 per element coded with `hi6`. */
  readonly mantissaRaw: number;
  /** Bits of the residuals of predicted rows (escapes included), model cost. */
  readonly residuals: number;
  /** Bits of the tensor's repeat list and predictor. */
  readonly plan: number;
}

/**
 * What a `ctx` payload spends on each tensor, plane by plane. The `hi6`, top and
 * residual costs are the model's code lengths, `12 - log2(frequency)` per symbol;
 * the rANS stream itself is within a few bytes of their sum (its 8-byte state
 * header and the final partial word are not in any plane).
 *
 * @param tensors The tensors, as given to {@link ctxEncode}.
 * @param shape Their shape.
 * @param options Working memory to reuse.
 * @returns One entry per tensor.
 * @throws {RangeError} As {@link ctxEncode}.
 *
 * @example
 * ```ts
 * import { ctxPlaneBits } from "./ctx_codec.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const shape = { tokens: 2, heads: 1, headDim: 4 };
 * const [k] = ctxPlaneBits([Uint16Array.from([1, 2, 3, 4, 1, 2, 3, 4])], shape);
 * assertEquals([k.elements, k.repeatedRows, k.mantissaRaw], [8, 1, 32]);
 * ```
 */
export function ctxPlaneBits(
  tensors: readonly Uint16Array[],
  shape: TensorShape,
  options: CtxOptions = {},
): CtxPlaneBits[] {
  const { count, rowLength } = ctxElements(shape);
  checkTensorSizes(tensors, count, "measure ctx planes");
  const scratch = options.scratch ?? new CtxScratch();
  const plans = planTensors(tensors, shape);
  const cost = new Float64Array((1 << RANS_PROBABILITY_BITS) + 1);
  for (let f = 1; f < cost.length; f++) {
    cost[f] = RANS_PROBABILITY_BITS - Math.log2(f);
  }
  const models = scratch.models(rowLength);
  const codings = tensorCodings(plans, shape);
  return tensors.map((tensor, index) => {
    const plan = plans[index];
    const predicted = predictedRows(plan, plans);
    const bounds = outputBounds(plans, rowLength, [index]);
    const out = rowOutput(
      new Uint32Array(bounds.records),
      new Uint8Array(bounds.raw),
      ODD_CHANNEL_LANES,
    );
    models.reset();
    recordRows(tensor, codings[index], shape, models, out, 0, shape.tokens);
    // Walk the records in the order the rows produced them.
    let hi6 = 0, mantissaTop = 0, residuals = 0;
    let repeatedRows = 0, predictedCount = 0;
    let k = 0;
    const bits = (record: number) => cost[record & 0xffff];
    plan.references.forEach((reference, row) => {
      if (reference >= 0) {
        repeatedRows++;
        return;
      }
      const isPredicted = predicted !== undefined && predicted[row] >= 0;
      if (isPredicted) predictedCount++;
      for (let j = 0; j < rowLength; j++) {
        if (isPredicted) {
          const record = out.records[k++];
          residuals += bits(record);
          // Only the escape symbol (0) has its interval start at 0.
          if (((record >>> 16) & 0x7fff) !== 0) continue;
        }
        hi6 += bits(out.records[k++]);
        mantissaTop += bits(out.records[k++]);
      }
    });
    const list = new ByteWriter();
    writePlan(list, plan);
    return {
      elements: tensor.length,
      repeatedRows,
      predictedRows: predictedCount,
      hi6,
      mantissaTop,
      mantissaRaw: 8 * out.rawCount,
      residuals,
      plan: 8 * list.length,
    };
  });
}
