/**
 * The encoder of the `ctx` codec. It runs the models forward over the rows of
 * each chunk in decoding order, appending each symbol's rANS record (its
 * interval in the model's current table, and its lane) and each raw low byte;
 * `ransEncodeInto` then codes the chunk's records backwards. Layout and
 * invariants: `ctx_codec.ts`.
 *
 * Memory: beyond the tensors and the output, one chunk's records and raw bytes
 * (13 bytes an element of a chunk of 2^18 elements: 3.4 MB).
 *
 * @module
 */

import { ByteWriter } from "./byte_io.ts";
import { writePlan } from "./ctx_header.ts";
import {
  checkTensorSizes,
  CTX_CHUNK_BITS,
  CTX_CHUNK_BITS_RANGE,
  ctxChunks,
  ctxElements,
  planTensors,
  predictRow,
  type TensorCoding,
  tensorCodings,
  type TensorShape,
} from "./ctx_plan.ts";
import {
  ODD_CHANNEL_LANES,
  recordCodedRow,
  recordPredictedRow,
  type RowOutput,
  rowOutput,
  type TensorModels,
} from "./ctx_rows.ts";
import { type CtxOptions, CtxScratch } from "./ctx_scratch.ts";
import { RANS_HEADER_BYTES, ransEncodeInto } from "./rans.ts";

/** Options of the `ctx` encoder. */
export interface CtxEncodeOptions extends CtxOptions {
  /**
   * log2 of the elements of a chunk (4..30; default 18). Smaller chunks use less
   * memory and cost a few bytes each; tests use them to make many chunks of
   * small tensors. The decoder must be given the same.
   */
  readonly chunkBits?: number;
}

/**
 * Runs the models forward over rows `from` to `to` of one tensor (the models
 * as the earlier rows left them), appending each symbol's rANS record and each
 * raw byte in decoding order.
 *
 * @param words The tensor.
 * @param coding How its rows are coded.
 * @param shape The shape.
 * @param models The models, for the shape's rows.
 * @param out Where to append; room for 3 records and a raw byte an element.
 * @param from First row.
 * @param to Row after the last.
 *
 * @example Two elements of one coded row: four records, two raw bytes
 * ```ts
 * import { recordRows } from "./ctx_encoder.ts";
 * import { ODD_CHANNEL_LANES, rowOutput, TensorModels } from "./ctx_rows.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const coding = { references: Int32Array.of(-1), predictedFrom: undefined, rotation: undefined };
 * const out = rowOutput(new Uint32Array(4), new Uint8Array(2), ODD_CHANNEL_LANES);
 * const shape = { tokens: 1, heads: 1, headDim: 2 };
 * recordRows(Uint16Array.of(0x3c01, 0x3c02), coding, shape, new TensorModels(2), out, 0, 1);
 * assertEquals([out.recordCount, ...out.raw], [4, 1, 2]);
 * ```
 */
export function recordRows(
  words: Uint16Array,
  coding: TensorCoding,
  shape: TensorShape,
  models: TensorModels,
  out: RowOutput,
  from: number,
  to: number,
): void {
  const rowLength = shape.heads * shape.headDim;
  const { references, predictedFrom, rotation } = coding;
  for (let row = from; row < to; row++) {
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
 * Most bytes a payload of `tensorCount` tensors of a shape can take: room to
 * encode into without growing (pages never written cost no memory).
 *
 * @param tensorCount Tensors in the payload.
 * @param shape Their shape.
 * @param chunkBits The chunk size's log2.
 * @returns The bound.
 *
 * @example
 * ```ts
 * import { ctxEncode, ctxEncodedBound } from "./ctx_encoder.ts";
 * import { assert } from "@std/assert";
 *
 * const shape = { tokens: 2, heads: 1, headDim: 2 };
 * assert(ctxEncode([Uint16Array.of(1, 2, 3, 4)], shape).length <= ctxEncodedBound(1, shape));
 * ```
 */
export function ctxEncodedBound(
  tensorCount: number,
  shape: TensorShape,
  chunkBits: number = CTX_CHUNK_BITS,
): number {
  const { rowLength } = ctxElements(shape);
  const rows = tensorCount * shape.tokens;
  const { chunks } = ctxChunks(rows, rowLength, chunkBits);
  // Per tensor: its list's count and its predictor; per row: a list entry (two
  // varints) or 3 records of 2 bytes and a raw byte an element; per chunk: two
  // lengths and the stream's states.
  return 32 * tensorCount + rows * (10 + 7 * rowLength) +
    chunks * (10 + RANS_HEADER_BYTES);
}

/**
 * Encodes tensors of one shape (a dump's K and V) into a `ctx` payload, appended
 * to `writer`.
 *
 * @param writer Where the payload goes.
 * @param tensors FP16 words, `tokens * heads * headDim` each.
 * @param shape Their shape.
 * @param options Working memory to reuse (the bytes do not depend on it), chunk size.
 * @throws {RangeError} When a tensor does not have the shape's element count, the
 * shape is invalid or larger than 2^30 elements, or the chunk size is not one.
 *
 * @example Appended after a header of the caller's
 * ```ts
 * import { ByteWriter } from "./byte_io.ts";
 * import { ctxDecode, ctxEncodeInto } from "./ctx_codec.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const shape = { tokens: 2, heads: 1, headDim: 2 };
 * const k = Uint16Array.of(1, 2, 3, 4);
 * const writer = new ByteWriter();
 * writer.byte(0xaa);
 * ctxEncodeInto(writer, [k], shape);
 * assertEquals(ctxDecode(writer.finish().subarray(1), 1, shape), [k]);
 * ```
 */
export function ctxEncodeInto(
  writer: ByteWriter,
  tensors: readonly Uint16Array[],
  shape: TensorShape,
  options: CtxEncodeOptions = {},
): void {
  const { count, rowLength } = ctxElements(shape);
  checkTensorSizes(tensors, count, "ctx-encode");
  const bits = options.chunkBits ?? CTX_CHUNK_BITS;
  const [minBits, maxBits] = CTX_CHUNK_BITS_RANGE;
  if (!Number.isInteger(bits) || bits < minBits || bits > maxBits) {
    throw new RangeError(
      `Cannot ctx-encode with chunks of 2^${bits} elements: ${minBits}..${maxBits} are supported`,
    );
  }
  const plans = planTensors(tensors, shape);
  for (const plan of plans) writePlan(writer, plan);
  const codings = tensorCodings(plans, shape);
  const { tokens } = shape;
  const rows = tensors.length * tokens;
  const { rowsPerChunk, chunks } = ctxChunks(rows, rowLength, bits);
  // One buffer: room for the stream's header, a chunk's records (3 at most an
  // element), then its raw bytes. The rANS stream is written backwards over the
  // records it has coded, ending where the raw bytes start.
  const elements = Math.min(rows, rowsPerChunk) * rowLength;
  const rawStart = RANS_HEADER_BYTES + 12 * elements;
  const scratch = options.scratch ?? new CtxScratch();
  const bytes = scratch.bytes(rawStart + elements);
  const records = new Uint32Array(
    bytes.buffer,
    RANS_HEADER_BYTES,
    3 * elements,
  );
  const out = rowOutput(
    records,
    bytes.subarray(rawStart, rawStart + elements),
    ODD_CHANNEL_LANES,
  );
  const models = scratch.models(rowLength);
  for (let chunk = 0; chunk < chunks; chunk++) {
    out.recordCount = 0;
    out.rawCount = 0;
    const end = Math.min(rows, (chunk + 1) * rowsPerChunk);
    for (let g = chunk * rowsPerChunk; g < end;) {
      const tensor = Math.floor(g / tokens);
      const row = g - tensor * tokens;
      const to = Math.min(tokens, row + end - g);
      if (row === 0) models.reset();
      recordRows(tensors[tensor], codings[tensor], shape, models, out, row, to);
      g += to - row;
    }
    const streamStart = ransEncodeInto(
      out.records,
      out.recordCount,
      bytes,
      rawStart,
    );
    writer.varint(rawStart - streamStart);
    writer.bytes(bytes.subarray(streamStart, rawStart));
    // The last chunk's raw bytes run to the end of the payload.
    if (chunk < chunks - 1) writer.varint(out.rawCount);
    writer.bytes(out.raw.subarray(0, out.rawCount));
  }
}

/**
 * Encodes tensors of one shape (a dump's K and V) into a `ctx` payload.
 *
 * @param tensors FP16 words, `tokens * heads * headDim` each.
 * @param shape Their shape.
 * @param options Working memory to reuse (the bytes do not depend on it), chunk size.
 * @returns The payload (layout in `ctx_codec.ts`), a fresh array.
 * @throws {RangeError} When a tensor does not have the shape's element count, the
 * shape is invalid or larger than 2^30 elements, or the chunk size is not one.
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
 * const chunked = ctxEncode([k, v], shape, { chunkBits: 4 }); // a row a chunk
 * assertEquals(ctxDecode(chunked, 2, shape, { chunkBits: 4 }), [k, v]);
 * ```
 */
export function ctxEncode(
  tensors: readonly Uint16Array[],
  shape: TensorShape,
  options: CtxEncodeOptions = {},
): Uint8Array {
  const { count } = ctxElements(shape);
  // Room for the tensors' own size: enough unless they do not compress.
  const writer = new ByteWriter(64 + 2 * count * tensors.length);
  ctxEncodeInto(writer, tensors, shape, options);
  return writer.finish().slice();
}
