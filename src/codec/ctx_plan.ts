/**
 * The row plan of the `ctx` codec: how each row of each tensor is coded, decided
 * before any symbol. A row that repeats an earlier row of its tensor is a
 * reference; a row the encoder predicts by rotation (RoPE K of a token whose V row
 * repeats) codes its distance from the prediction; every other row is coded
 * element by element (`ctx_codec.ts` has the payload layout).
 *
 * @module
 */

import {
  orderedFp16,
  predictRotatedRow,
  ROTARY_BASES,
  ROTARY_PAIRING,
  rotaryAngles,
  rotaryFrequencies,
  type RotaryPairing,
} from "./rotary_prediction.ts";
import { findRepeatedRows } from "./row_repeats.ts";

/** The shape shared by the tensors of a payload. */
export interface TensorShape {
  /** Token rows (`seq_len`). */
  readonly tokens: number;
  /** KV heads per row (`kv_heads`). */
  readonly heads: number;
  /** Channels per head (`head_dim`). */
  readonly headDim: number;
}

/** Largest tensor the codec handles: 2^30 elements (2 GiB of FP16). */
export const CTX_MAX_ELEMENTS = 2 ** 30;

/**
 * Payload version the encoder writes: 2, chunked. Version 1 (one rANS stream for
 * the whole payload, no chunk byte) is still decoded.
 */
export const CTX_PAYLOAD_VERSION = 2;
/** Elements of a chunk (log2) the encoder uses by default: 2^18. */
export const CTX_CHUNK_BITS = 18;
/** Smallest and largest chunk size (log2) a version 2 payload may give. */
export const CTX_CHUNK_BITS_RANGE: readonly [number, number] = [4, 30];

/**
 * The rows of each chunk of a payload: the rows of all its tensors, taken in
 * coding order (every row of the first tensor, then of the next), are cut into
 * chunks of `max(1, floor(2^bits / rowLength))` rows, each coded with its own
 * rANS stream and raw bytes. At least one chunk, even for no rows.
 *
 * @param rows Rows of all tensors, `tensorCount * tokens`.
 * @param rowLength Elements per row.
 * @param bits log2 of the chunk's elements; `Infinity` for one chunk (version 1).
 * @returns Rows per chunk and the number of chunks.
 *
 * @example Two tensors of 3 rows of 4: chunks of 2^3 elements are 2 rows
 * ```ts
 * import { ctxChunks } from "./ctx_plan.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(ctxChunks(6, 4, 3), { rowsPerChunk: 2, chunks: 3 });
 * assertEquals(ctxChunks(0, 4, 3), { rowsPerChunk: 2, chunks: 1 });
 * assertEquals(ctxChunks(6, 4, Infinity).chunks, 1);
 * ```
 */
export function ctxChunks(
  rows: number,
  rowLength: number,
  bits: number,
): { rowsPerChunk: number; chunks: number } {
  const rowsPerChunk = bits === Infinity
    ? Math.max(1, rows)
    : Math.max(1, Math.floor(2 ** bits / Math.max(1, rowLength)));
  return { rowsPerChunk, chunks: Math.max(1, Math.ceil(rows / rowsPerChunk)) };
}

/** Rows the encoder predicts to choose a rotation (or none). */
const ROTARY_TRIAL_ROWS = 8;

/** How one tensor's rows are coded: what the payload says before the stream. */
export interface TensorPlan {
  /** Per row: the earlier row it repeats, or -1. */
  readonly references: Int32Array;
  /** 0, or the rotation pairing of its predicted rows. */
  readonly pairing: 0 | RotaryPairing;
  /** The tensor whose repeat list names the predicted rows. */
  readonly source: number;
  /** The RoPE base of the rotation. */
  readonly base: number;
}

/**
 * Checks a shape and returns its row length and element count.
 *
 * @param shape The shape.
 * @returns `heads * headDim` and `tokens * heads * headDim`.
 * @throws {RangeError} When a dimension is not a non-negative integer, or the
 * tensor has more than 2^30 elements.
 *
 * @example
 * ```ts
 * import { ctxElements } from "./ctx_plan.ts";
 * import { assertEquals, assertThrows } from "@std/assert";
 *
 * assertEquals(ctxElements({ tokens: 3, heads: 2, headDim: 4 }), { rowLength: 8, count: 24 });
 * assertThrows(() => ctxElements({ tokens: -1, heads: 1, headDim: 1 }), RangeError, "tokens -1");
 * ```
 */
export function ctxElements(
  shape: TensorShape,
): { rowLength: number; count: number } {
  const { tokens, heads, headDim } = shape;
  for (const [name, value] of Object.entries({ tokens, heads, headDim })) {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new RangeError(
        `Cannot code a tensor with ${name} ${value}: a non-negative integer is needed`,
      );
    }
  }
  const rowLength = heads * headDim;
  const count = tokens * rowLength;
  if (count > CTX_MAX_ELEMENTS) {
    throw new RangeError(
      `Cannot code a tensor of ${count} elements: at most 2^30 are supported`,
    );
  }
  return { rowLength, count };
}

/**
 * Checks that every tensor has the shape's element count.
 *
 * @param tensors The tensors.
 * @param count Elements the shape gives.
 * @param what The action, for the message ("ctx-encode").
 * @throws {RangeError} Naming the first tensor of another size.
 *
 * @example
 * ```ts
 * import { checkTensorSizes } from "./ctx_plan.ts";
 * import { assertThrows } from "@std/assert";
 *
 * checkTensorSizes([new Uint16Array(4)], 4, "ctx-encode");
 * assertThrows(() => checkTensorSizes([new Uint16Array(3)], 4, "ctx-encode"), RangeError, "tensor 0 has 3");
 * ```
 */
export function checkTensorSizes(
  tensors: readonly Uint16Array[],
  count: number,
  what: string,
): void {
  tensors.forEach((tensor, index) => {
    if (tensor.length !== count) {
      throw new RangeError(
        `Cannot ${what}: tensor ${index} has ${tensor.length} elements, the shape needs ${count}`,
      );
    }
  });
}

/** The rotation a predicted row uses: frequencies, and scratch for one row. */
export interface Rotation {
  /** Which channels pair up. */
  readonly pairing: RotaryPairing;
  /** The RoPE frequency of each pair. */
  readonly frequencies: Float64Array;
  /** Scratch: cosines of the current row's angles. */
  readonly cos: Float64Array;
  /** Scratch: sines of the current row's angles. */
  readonly sin: Float64Array;
  /** Scratch: the current row's prediction. */
  readonly predicted: Uint16Array;
}

/**
 * The rotation of a tensor's plan, or undefined when it predicts no row.
 *
 * @param plan The tensor's plan.
 * @param shape The shape.
 * @returns The rotation with its scratch.
 *
 * @example
 * ```ts
 * import { rotationOf } from "./ctx_plan.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const shape = { tokens: 1, heads: 2, headDim: 4 };
 * const plan = { references: Int32Array.of(-1), pairing: 1 as const, source: 1, base: 10000 };
 * assertEquals(rotationOf(plan, shape)?.predicted.length, 8);
 * assertEquals(rotationOf({ ...plan, pairing: 0 }, shape), undefined);
 * ```
 */
export function rotationOf(
  plan: TensorPlan,
  shape: TensorShape,
): Rotation | undefined {
  if (plan.pairing === 0) return undefined;
  const half = shape.headDim / 2;
  return {
    pairing: plan.pairing,
    frequencies: rotaryFrequencies(shape.headDim, plan.base),
    cos: new Float64Array(half),
    sin: new Float64Array(half),
    predicted: new Uint16Array(shape.heads * shape.headDim),
  };
}

/**
 * Predicts row `row` of `words` from row `from` into `rotation.predicted`.
 *
 * @param words The tensor (rows before `row` final).
 * @param row The row to predict.
 * @param from The earlier row it is a rotation of.
 * @param shape The shape.
 * @param rotation The tensor's rotation.
 * @returns `rotation.predicted`.
 *
 * @example A rotation by 0 positions predicts the row itself
 * ```ts
 * import { predictRow, rotationOf } from "./ctx_plan.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const shape = { tokens: 2, heads: 1, headDim: 2 };
 * const rotation = rotationOf({ references: Int32Array.of(-1, -1), pairing: 1, source: 1, base: 10000 }, shape)!;
 * const words = Uint16Array.of(0x3c00, 0x4000, 0, 0);
 * assertEquals([...predictRow(words, 0, 0, shape, rotation)], [0x3c00, 0x4000]);
 * ```
 */
export function predictRow(
  words: Uint16Array,
  row: number,
  from: number,
  shape: TensorShape,
  rotation: Rotation,
): Uint16Array {
  const { cos, sin, predicted } = rotation;
  rotaryAngles(row - from, rotation.frequencies, cos, sin);
  predictRotatedRow(
    words,
    from * shape.heads * shape.headDim,
    shape.heads,
    shape.headDim,
    rotation.pairing,
    cos,
    sin,
    predicted,
  );
  return predicted;
}

/**
 * The rotation (if any) that predicts the rows of `tensor` that `sourceReferences`
 * pairs: the pairing and base, of those kvbits knows, that put the most elements
 * of the first {@link ROTARY_TRIAL_ROWS} such rows within one FP16 step; none
 * unless that is at least half of them.
 */
function chooseRotation(
  tensor: Uint16Array,
  references: Int32Array,
  sourceReferences: Int32Array,
  shape: TensorShape,
): { pairing: RotaryPairing; base: number; hits: number } | undefined {
  if (shape.headDim % 2 !== 0) return undefined;
  const rows: number[] = [];
  for (let row = 0; row < references.length; row++) {
    if (references[row] < 0 && sourceReferences[row] >= 0) rows.push(row);
    if (rows.length === ROTARY_TRIAL_ROWS) break;
  }
  if (rows.length === 0) return undefined;
  const rowLength = shape.heads * shape.headDim;
  let best: { pairing: RotaryPairing; base: number; hits: number } | undefined;
  for (const base of ROTARY_BASES) {
    for (const pairing of [ROTARY_PAIRING.half, ROTARY_PAIRING.interleaved]) {
      const rotation = rotationOf(
        { references, pairing, source: 0, base },
        shape,
      )!;
      let hits = 0;
      for (const row of rows) {
        const predicted = predictRow(
          tensor,
          row,
          sourceReferences[row],
          shape,
          rotation,
        );
        for (let j = 0; j < rowLength; j++) {
          const residual = orderedFp16(tensor[row * rowLength + j]) -
            orderedFp16(predicted[j]);
          if (residual >= -1 && residual <= 1) hits++;
        }
      }
      if (hits > (best?.hits ?? 0)) best = { pairing, base, hits };
    }
  }
  return best && 2 * best.hits >= rows.length * rowLength ? best : undefined;
}

/**
 * Repeat lists and predictors of all tensors, as the encoder chooses them.
 *
 * @param tensors The tensors (sizes checked).
 * @param shape Their shape.
 * @returns One plan per tensor.
 *
 * @example V rows that repeat are references
 * ```ts
 * import { planTensors } from "./ctx_plan.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const v = Uint16Array.from([1, 2, 3, 4, 1, 2, 3, 4]);
 * const [plan] = planTensors([v], { tokens: 2, heads: 1, headDim: 4 });
 * assertEquals([...plan.references], [-1, 0]);
 * assertEquals(plan.pairing, 0);
 * ```
 */
export function planTensors(
  tensors: readonly Uint16Array[],
  shape: TensorShape,
): TensorPlan[] {
  const { rowLength } = ctxElements(shape);
  const references = tensors.map((tensor) =>
    findRepeatedRows(tensor, rowLength, shape.tokens)
  );
  return tensors.map((tensor, index) => {
    let chosen: TensorPlan = {
      references: references[index],
      pairing: 0,
      source: 0,
      base: 0,
    };
    let bestHits = 0;
    references.forEach((sourceReferences, source) => {
      if (source === index) return;
      const rotation = chooseRotation(
        tensor,
        references[index],
        sourceReferences,
        shape,
      );
      if (rotation && rotation.hits > bestHits) {
        bestHits = rotation.hits;
        chosen = { ...chosen, ...rotation, source };
      }
    });
    return chosen;
  });
}

/**
 * For each row of a tensor with a predictor, the row it is predicted from, or -1.
 *
 * @param plan The tensor's plan.
 * @param plans The plans of all tensors of the payload.
 * @returns Per row, the source row; undefined when the tensor has no predictor.
 *
 * @example
 * ```ts
 * import { predictedRows } from "./ctx_plan.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const v = { references: Int32Array.of(-1, 0, -1), pairing: 0 as const, source: 0, base: 0 };
 * const k = { references: Int32Array.of(-1, -1, -1), pairing: 1 as const, source: 1, base: 10000 };
 * assertEquals([...predictedRows(k, [k, v])!], [-1, 0, -1]);
 * assertEquals(predictedRows(v, [k, v]), undefined);
 * ```
 */
export function predictedRows(
  plan: TensorPlan,
  plans: readonly TensorPlan[],
): Int32Array | undefined {
  if (plan.pairing === 0) return undefined;
  const source = plans[plan.source].references;
  return source.map((from, row) => plan.references[row] < 0 ? from : -1);
}

/** How one tensor's rows are coded, as the coding loops use it. */
export interface TensorCoding {
  /** Per row: the earlier row it repeats, or -1. */
  readonly references: Int32Array;
  /** Per row: the row it is predicted from by {@link TensorCoding.rotation}, or -1. */
  readonly predictedFrom: Int32Array | undefined;
  /** The rotation of its predicted rows, with its scratch; undefined when none. */
  readonly rotation: Rotation | undefined;
}

/**
 * The coding of every tensor of a payload, from the plans.
 *
 * @param plans The plans of all tensors.
 * @param shape The shape.
 * @returns One coding per tensor.
 *
 * @example
 * ```ts
 * import { tensorCodings } from "./ctx_plan.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const v = { references: Int32Array.of(-1, 0), pairing: 0 as const, source: 0, base: 0 };
 * const k = { references: Int32Array.of(-1, -1), pairing: 1 as const, source: 1, base: 10000 };
 * const [kCoding, vCoding] = tensorCodings([k, v], { tokens: 2, heads: 1, headDim: 2 });
 * assertEquals([...kCoding.predictedFrom!], [-1, 0]);
 * assertEquals(vCoding.rotation, undefined);
 * ```
 */
export function tensorCodings(
  plans: readonly TensorPlan[],
  shape: TensorShape,
): TensorCoding[] {
  return plans.map((plan) => ({
    references: plan.references,
    predictedFrom: predictedRows(plan, plans),
    rotation: rotationOf(plan, shape),
  }));
}

/**
 * Upper bounds of the rANS records and raw bytes of the given tensors of `plans`:
 * 2 records and a raw byte per element of a coded row, 3 records and a raw byte
 * per element of a predicted row (an escape codes `hi6` and top after the
 * residual).
 *
 * @param plans The plans of all tensors.
 * @param rowLength Elements per row.
 * @param tensors Which tensors to count; all by default.
 * @returns The bounds.
 *
 * @example
 * ```ts
 * import { outputBounds } from "./ctx_plan.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const plan = { references: Int32Array.of(-1, 0), pairing: 0 as const, source: 0, base: 0 };
 * assertEquals(outputBounds([plan], 4), { records: 8, raw: 4 });
 * ```
 */
export function outputBounds(
  plans: readonly TensorPlan[],
  rowLength: number,
  tensors: readonly number[] = plans.map((_, index) => index),
): { records: number; raw: number } {
  let records = 0, raw = 0;
  for (const index of tensors) {
    const plan = plans[index];
    const predicted = predictedRows(plan, plans);
    plan.references.forEach((reference, row) => {
      if (reference >= 0) return;
      const isPredicted = predicted !== undefined && predicted[row] >= 0;
      records += (isPredicted ? 3 : 2) * rowLength;
      raw += rowLength;
    });
  }
  return { records, raw };
}
