/**
 * The decoder of the `ctx` codec: reads the plans, then takes each element's
 * symbols from the four rANS lanes with the same models, in the same order, as
 * the encoder recorded them. Layout and invariants: `ctx_codec.ts`.
 *
 * Bounds: see `ctx_rows.ts`.
 *
 * @module
 */

import { ByteReader } from "./byte_io.ts";
import { readPlan } from "./ctx_header.ts";
import {
  decodeCodedRow,
  decodePredictedRow,
  RowDecoder,
  type TensorModels,
} from "./ctx_rows.ts";
import {
  ctxElements,
  outputBounds,
  predictedRows,
  predictRow,
  rotationOf,
  type TensorPlan,
  type TensorShape,
} from "./ctx_plan.ts";
import { type CtxOptions, CtxScratch } from "./ctx_scratch.ts";

const STREAM = "ctx payload";

/** Decodes one tensor's rows. */
function decodeTensor(
  out: Uint16Array,
  plan: TensorPlan,
  predictedFrom: Int32Array | undefined,
  shape: TensorShape,
  models: TensorModels,
  decoder: RowDecoder,
  tensor: number,
): void {
  models.reset();
  const rowLength = shape.heads * shape.headDim;
  const rotation = rotationOf(plan, shape);
  const references = plan.references;
  const name = `tensor ${tensor}`;
  for (let row = 0; row < references.length; row++) {
    const reference = references[row];
    const start = row * rowLength;
    if (reference >= 0) {
      out.copyWithin(start, reference * rowLength, start + rowLength);
    } else if (rotation && predictedFrom![row] >= 0) {
      const predicted = predictRow(
        out,
        row,
        predictedFrom![row],
        shape,
        rotation,
      );
      decodePredictedRow(
        out,
        start,
        predicted,
        rowLength,
        models,
        decoder,
        name,
        row,
      );
    } else {
      decodeCodedRow(out, start, rowLength, models, decoder, name, row);
    }
  }
}

/**
 * Decodes a `ctx` payload into its tensors.
 *
 * @param payload Bytes from `ctxEncode`.
 * @param tensorCount Number of tensors it holds (2 for K and V).
 * @param shape Their shape.
 * @param options Working memory to reuse.
 * @returns The tensors, in encoding order.
 * @throws {KvbitsDataError} When the payload is corrupt, truncated, or does not
 * match the shape (stream `ctx payload`, with the bit offset).
 * @throws {RangeError} When the shape is invalid.
 *
 * @example A truncated payload is a data error
 * ```ts
 * import { ctxDecode, ctxEncode } from "./ctx_codec.ts";
 * import { KvbitsDataError } from "./errors.ts";
 * import { assertThrows } from "@std/assert";
 *
 * const shape = { tokens: 2, heads: 1, headDim: 2 };
 * const payload = ctxEncode([Uint16Array.from([1, 2, 3, 4])], shape);
 * assertThrows(() => ctxDecode(payload.subarray(0, payload.length - 1), 1, shape), KvbitsDataError);
 * ```
 */
export function ctxDecode(
  payload: Uint8Array,
  tensorCount: number,
  shape: TensorShape,
  options: CtxOptions = {},
): Uint16Array[] {
  const { rowLength, count } = ctxElements(shape);
  const reader = new ByteReader(payload, STREAM);
  // Every row costs a byte or more (a raw byte per element, a list entry, or a
  // residual symbol), so this bounds what the repeat lists below allocate.
  if (tensorCount > 0 && shape.tokens > payload.length) {
    throw reader.error(
      `${shape.tokens} rows cannot fit in ${payload.length} bytes`,
      0,
    );
  }
  const plans: TensorPlan[] = [];
  for (let t = 0; t < tensorCount; t++) {
    plans.push(readPlan(reader, shape, t, tensorCount));
  }
  const stream = reader.sized("rANS stream");
  const streamOffset = reader.offset - stream.length;
  const { raw: rawBound } = outputBounds(plans, rowLength);
  if (reader.remaining > rawBound) {
    throw reader.error(
      `${reader.remaining} raw bytes follow the rANS stream, the shape allows ${rawBound}`,
    );
  }
  const raw = reader.bytes(reader.remaining);
  const tensors = plans.map(() => new Uint16Array(count));
  const scratch = options.scratch ?? new CtxScratch();
  const decoder = new RowDecoder({
    stream,
    offset: streamOffset,
    raw,
    rowLength,
    fourLanes: true,
    name: STREAM,
    buffer: (length) => scratch.bytes(length),
  });
  const models = scratch.models(rowLength);
  plans.forEach((plan, index) => {
    decodeTensor(
      tensors[index],
      plan,
      predictedRows(plan, plans),
      shape,
      models,
      decoder,
      index,
    );
  });
  decoder.finish();
  return tensors;
}
