/**
 * The encoder of the `ctx` codec. It runs the models forward over each tensor in
 * decoding order, appending each symbol's rANS record (its interval in the model's
 * current table, and its lane) and each raw low byte; `ransEncode` then codes the
 * records backwards. Layout and invariants: `ctx_codec.ts`.
 *
 * @module
 */

import { ByteWriter } from "./byte_io.ts";
import { writePlan } from "./ctx_header.ts";
import {
  ODD_CHANNEL_LANES,
  recordCodedRow,
  recordPredictedRow,
  type RowOutput,
  rowOutput,
  type TensorModels,
} from "./ctx_rows.ts";
import {
  checkTensorSizes,
  ctxElements,
  outputBounds,
  planTensors,
  predictedRows,
  predictRow,
  rotationOf,
  type TensorPlan,
  type TensorShape,
} from "./ctx_plan.ts";
import { type CtxOptions, CtxScratch } from "./ctx_scratch.ts";
import { RANS_HEADER_BYTES, ransEncodeInto } from "./rans.ts";

/**
 * Runs the models forward over one tensor (after resetting them), appending each symbol's rANS record and each raw byte in decoding
 * order.
 *
 * @param words The tensor.
 * @param plan Its plan.
 * @param predictedFrom Its predicted rows (`predictedRows`).
 * @param shape The shape.
 * @param models The models, for the shape's rows.
 * @param out Where to append; sized by `outputBounds`.
 *
 * @example Two elements of one coded row: four records, two raw bytes
 * ```ts
 * import { recordTensor } from "./ctx_encoder.ts";
 * import { ODD_CHANNEL_LANES, rowOutput, TensorModels } from "./ctx_rows.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const plan = { references: Int32Array.of(-1), pairing: 0 as const, source: 0, base: 0 };
 * const out = rowOutput(new Uint32Array(4), new Uint8Array(2), ODD_CHANNEL_LANES);
 * const shape = { tokens: 1, heads: 1, headDim: 2 };
 * recordTensor(Uint16Array.of(0x3c01, 0x3c02), plan, undefined, shape, new TensorModels(2), out);
 * assertEquals([out.recordCount, ...out.raw], [4, 1, 2]);
 * ```
 */
export function recordTensor(
  words: Uint16Array,
  plan: TensorPlan,
  predictedFrom: Int32Array | undefined,
  shape: TensorShape,
  models: TensorModels,
  out: RowOutput,
): void {
  models.reset();
  const rowLength = shape.heads * shape.headDim;
  const rotation = rotationOf(plan, shape);
  const references = plan.references;
  for (let row = 0; row < references.length; row++) {
    if (references[row] >= 0) continue;
    const start = row * rowLength;
    if (rotation && predictedFrom![row] >= 0) {
      const predicted = predictRow(
        words,
        row,
        predictedFrom![row],
        shape,
        rotation,
      );
      recordPredictedRow(words, start, predicted, rowLength, models, out);
    } else {
      recordCodedRow(words, start, rowLength, models, out);
    }
  }
}

/**
 * Encodes tensors of one shape (a dump's K and V) into a `ctx` payload.
 *
 * @param tensors FP16 words, `tokens * heads * headDim` each.
 * @param shape Their shape.
 * @param options Working memory to reuse (the bytes do not depend on it).
 * @returns The payload (layout in `ctx_codec.ts`).
 * @throws {RangeError} When a tensor does not have the shape's element count, or
 * the shape is invalid or larger than 2^30 elements.
 *
 * @example K and V of a 3-token dump, round trip
 * ```ts
 * import { ctxDecode, ctxEncode } from "./ctx_codec.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const shape = { tokens: 3, heads: 1, headDim: 4 };
 * const k = Uint16Array.from([0x3c00, 0xbc01, 0x3555, 0x0001, 0x3c10, 0xbc11, 0x3556, 0x8000, 0x7c00, 0xfe01, 0x0000, 0x3c00]);
 * const v = Uint16Array.from([1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4]); // rows repeat
 * const payload = ctxEncode([k, v], shape);
 * assertEquals(ctxDecode(payload, 2, shape), [k, v]);
 * ```
 */
export function ctxEncode(
  tensors: readonly Uint16Array[],
  shape: TensorShape,
  options: CtxOptions = {},
): Uint8Array {
  const { count, rowLength } = ctxElements(shape);
  checkTensorSizes(tensors, count, "ctx-encode");
  const plans = planTensors(tensors, shape);
  const header = new ByteWriter(16 + 2 * tensors.length);
  for (const plan of plans) writePlan(header, plan);
  // One buffer: room for the header, the records, then the raw bytes. The rANS
  // stream is written backwards over the records it has coded, ending where the
  // raw bytes start, and the header goes just before it: the payload is one
  // run of the buffer. Room: the plans, the stream length's varint, and the
  // stream's 16-byte state header beyond what the records give back.
  const bounds = outputBounds(plans, rowLength);
  const room = (header.length + 8 + RANS_HEADER_BYTES) & ~3;
  const rawStart = room + 4 * bounds.records;
  const size = rawStart + bounds.raw;
  const bytes = options.scratch?.bytes(size) ?? new Uint8Array(size);
  const out = rowOutput(
    new Uint32Array(bytes.buffer, bytes.byteOffset + room, bounds.records),
    bytes.subarray(rawStart, size),
    ODD_CHANNEL_LANES,
  );
  const models = (options.scratch ?? new CtxScratch()).models(rowLength);
  tensors.forEach((tensor, index) => {
    const plan = plans[index];
    recordTensor(
      tensor,
      plan,
      predictedRows(plan, plans),
      shape,
      models,
      out,
    );
  });
  const streamStart = ransEncodeInto(
    out.records,
    out.recordCount,
    bytes,
    rawStart,
  );
  header.varint(rawStart - streamStart);
  const start = streamStart - header.length;
  bytes.set(header.finish(), start);
  const payload = bytes.subarray(start, rawStart + out.rawCount);
  // A caller's scratch is reused: the payload must not be a view of it.
  return options.scratch ? payload.slice() : payload;
}
