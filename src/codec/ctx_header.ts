/**
 * The payload header of the `ctx` codec: each tensor's repeat list and predictor,
 * written before the rANS stream (layout in `ctx_codec.ts`), and read back with
 * every value checked against the shape.
 *
 * @module
 */

import type { ByteReader, ByteWriter } from "./byte_io.ts";
import type { TensorPlan, TensorShape } from "./ctx_plan.ts";
import { ROTARY_PAIRING, type RotaryPairing } from "./rotary_prediction.ts";

/**
 * Writes one tensor's plan: its repeat list (count, then row gap and distance
 * back per repeated row) and its predictor byte (with source and base).
 *
 * @param writer Where to append.
 * @param plan The tensor's plan.
 *
 * @example
 * ```ts
 * import { writePlan } from "./ctx_header.ts";
 * import { ByteWriter } from "./byte_io.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const writer = new ByteWriter();
 * writePlan(writer, { references: Int32Array.of(-1, 0, -1, 1), pairing: 0, source: 0, base: 0 });
 * assertEquals([...writer.finish()], [2, 1, 1, 1, 2, 0]);
 * ```
 */
export function writePlan(writer: ByteWriter, plan: TensorPlan): void {
  const references = plan.references;
  let count = 0;
  for (const ref of references) if (ref >= 0) count++;
  writer.varint(count);
  let previous = -1;
  for (let row = 0; row < references.length; row++) {
    const ref = references[row];
    if (ref < 0) continue;
    writer.varint(row - previous - 1);
    writer.varint(row - ref);
    previous = row;
  }
  writer.byte(plan.pairing);
  if (plan.pairing !== 0) {
    writer.varint(plan.source);
    writer.varint(plan.base);
  }
}

/**
 * Reads one tensor's plan, as {@link writePlan} wrote it.
 *
 * @param reader Where to read.
 * @param shape The payload's shape.
 * @param tensor The tensor's index, for messages.
 * @param tensorCount Tensors in the payload (bounds the predictor source).
 * @returns The plan.
 * @throws {KvbitsDataError} When a repeated row lies outside the tensor or refers
 * forward, or the predictor is unknown or impossible.
 *
 * @example
 * ```ts
 * import { readPlan } from "./ctx_header.ts";
 * import { ByteReader } from "./byte_io.ts";
 * import { assertEquals, assertThrows } from "@std/assert";
 *
 * const shape = { tokens: 4, heads: 1, headDim: 2 };
 * const plan = readPlan(new ByteReader(Uint8Array.of(2, 1, 1, 1, 2, 0), "p"), shape, 0, 2);
 * assertEquals([...plan.references], [-1, 0, -1, 1]);
 * assertThrows(() => readPlan(new ByteReader(Uint8Array.of(1, 0, 1, 0), "p"), shape, 0, 2), Error, "refers 1 rows back");
 * ```
 */
export function readPlan(
  reader: ByteReader,
  shape: TensorShape,
  tensor: number,
  tensorCount: number,
): TensorPlan {
  const tokens = shape.tokens;
  const references = new Int32Array(tokens).fill(-1);
  const count = reader.varintAtMost(
    tokens,
    `repeated rows of tensor ${tensor}`,
  );
  let row = -1;
  for (let n = 0; n < count; n++) {
    const at = reader.offset;
    row += reader.varint() + 1;
    const distance = reader.varint();
    if (row >= tokens) {
      throw reader.error(
        `repeated row ${row} of tensor ${tensor} is past its ${tokens} rows`,
        at,
      );
    }
    if (distance < 1 || distance > row) {
      throw reader.error(
        `repeated row ${row} of tensor ${tensor} refers ${distance} rows back`,
        at,
      );
    }
    references[row] = row - distance;
  }
  const at = reader.offset;
  const pairing = reader.byte();
  if (pairing === 0) return { references, pairing, source: 0, base: 0 };
  if (
    pairing !== ROTARY_PAIRING.half && pairing !== ROTARY_PAIRING.interleaved
  ) {
    throw reader.error(`unknown predictor ${pairing} of tensor ${tensor}`, at);
  }
  const source = reader.varintAtMost(tensorCount - 1, "predictor source");
  const base = reader.varint();
  if (source === tensor || base < 2 || shape.headDim % 2 !== 0) {
    throw reader.error(
      `predictor of tensor ${tensor} (source ${source}, base ${base}, head_dim ${shape.headDim}) is impossible`,
      at,
    );
  }
  return { references, pairing: pairing as RotaryPairing, source, base };
}
