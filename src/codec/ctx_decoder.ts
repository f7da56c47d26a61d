/**
 * The decoder of the `ctx` codec: reads the plans, then, chunk by chunk, takes
 * each element's symbols from the four rANS lanes with the same models, in the
 * same order, as the encoder recorded them. Layout and invariants:
 * `ctx_codec.ts`; bounds: `ctx_rows.ts`.
 *
 * Memory: beyond the payload and the tensors, one chunk's stream (copied, with
 * room for one row's words).
 *
 * @module
 */

import { ByteReader } from "./byte_io.ts";
import { readPlan } from "./ctx_header.ts";
import {
  CTX_CHUNK_BITS,
  CTX_CHUNK_BITS_RANGE,
  CTX_PAYLOAD_VERSION,
  ctxChunks,
  ctxElements,
  predictRow,
  type TensorCoding,
  tensorCodings,
  type TensorPlan,
  type TensorShape,
} from "./ctx_plan.ts";
import {
  decodeCodedRow,
  decodePredictedRow,
  RowDecoder,
  type TensorModels,
} from "./ctx_rows.ts";
import { type CtxOptions, CtxScratch } from "./ctx_scratch.ts";

const STREAM = "ctx payload";

/** Options of the `ctx` decoder. */
export interface CtxDecodeOptions extends CtxOptions {
  /**
   * The payload's version: 2 (the default, what `ctxEncode` writes) or 1 (one
   * stream for the whole payload, as `.kvc` files of format version 1 hold).
   */
  readonly version?: 1 | 2;
  /** log2 of a chunk's elements in a version 2 payload, as the encoder was given (default 18). */
  readonly chunkBits?: number;
}

/** Decodes rows `from` to `to` of one tensor into `out`. */
function decodeRows(
  out: Uint16Array,
  coding: TensorCoding,
  shape: TensorShape,
  models: TensorModels,
  decoder: RowDecoder,
  name: string,
  from: number,
  to: number,
): void {
  const rowLength = shape.heads * shape.headDim;
  const { references, predictedFrom, rotation } = coding;
  for (let row = from; row < to; row++) {
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
 * @param options Working memory to reuse; the payload's version.
 * @returns The tensors, in encoding order.
 * @throws {KvbitsDataError} When the payload is corrupt, truncated, or does not
 * match the shape (stream `ctx payload`, with the bit offset).
 * @throws {RangeError} When the shape or the chunk size is invalid.
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
  options: CtxDecodeOptions = {},
): Uint16Array[] {
  const { rowLength, count } = ctxElements(shape);
  const version = options.version ?? CTX_PAYLOAD_VERSION;
  const reader = new ByteReader(payload, STREAM);
  const bits = version === 1 ? Infinity : options.chunkBits ?? CTX_CHUNK_BITS;
  const [minBits, maxBits] = CTX_CHUNK_BITS_RANGE;
  if (
    version !== 1 &&
    !(Number.isInteger(bits) && bits >= minBits && bits <= maxBits)
  ) {
    throw new RangeError(
      `Cannot ctx-decode with chunks of 2^${bits} elements: ${minBits}..${maxBits} are supported`,
    );
  }
  // Every row costs a byte or more (a raw byte per element, a list entry, or a
  // residual symbol), so this bounds what the repeat lists below allocate.
  const { tokens } = shape;
  if (tensorCount > 0 && tokens > payload.length) {
    throw reader.error(
      `${tokens} rows cannot fit in ${payload.length} bytes`,
      0,
    );
  }
  const plans: TensorPlan[] = [];
  for (let t = 0; t < tensorCount; t++) {
    plans.push(readPlan(reader, shape, t, tensorCount));
  }
  const codings = tensorCodings(plans, shape);
  const names = plans.map((_, t) => `tensor ${t}`);
  const rows = tensorCount * tokens;
  const { rowsPerChunk, chunks } = ctxChunks(rows, rowLength, bits);
  const tensors = plans.map(() => new Uint16Array(count));
  const scratch = options.scratch ?? new CtxScratch();
  const models = scratch.models(rowLength);
  for (let chunk = 0; chunk < chunks; chunk++) {
    const first = chunk * rowsPerChunk;
    const end = Math.min(rows, first + rowsPerChunk);
    // Raw bytes: one an element of each row that is not a reference, at most.
    let rawBound = 0;
    for (let g = first; g < end; g++) {
      const tensor = Math.floor(g / tokens);
      if (plans[tensor].references[g - tensor * tokens] < 0) {
        rawBound += rowLength;
      }
    }
    const stream = reader.sized("rANS stream");
    const offset = reader.offset - stream.length;
    let rawLength = reader.remaining;
    if (chunk < chunks - 1) {
      rawLength = reader.varintAtMost(rawBound, `raw bytes of chunk ${chunk}`);
    } else if (rawLength > rawBound) {
      throw reader.error(
        `${rawLength} raw bytes follow the rANS stream, the shape allows ${rawBound}`,
      );
    }
    const decoder = new RowDecoder({
      stream,
      offset,
      raw: reader.bytes(rawLength),
      rowLength,
      fourLanes: true,
      name: STREAM,
      buffer: (length) => scratch.bytes(length),
    });
    for (let g = first; g < end;) {
      const tensor = Math.floor(g / tokens);
      const row = g - tensor * tokens;
      const to = Math.min(tokens, row + end - g);
      if (row === 0) models.reset();
      decodeRows(
        tensors[tensor],
        codings[tensor],
        shape,
        models,
        decoder,
        names[tensor],
        row,
        to,
      );
      g += to - row;
    }
    decoder.finish();
  }
  return tensors;
}
