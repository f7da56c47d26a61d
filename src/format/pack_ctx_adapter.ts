/**
 * The pack's dump coder for now: each dump coded alone by the `ctx` codec, behind
 * the classes the pack's own cross-dump coder (`src/codec/pack_coder.ts`) will
 * offer with the same shapes. Nothing carries from one dump to the next yet; the
 * context argument is accepted and unused.
 *
 * @module
 */

import { ctxDecode, ctxEncode } from "../codec/ctx_codec.ts";

/** The shape of a dump's K and V (each `tokens * heads * headDim` FP16 words). */
export interface PackDumpShape {
  /** Token rows (`seq_len`). */
  readonly tokens: number;
  /** KV heads per row. */
  readonly heads: number;
  /** Channels per head. */
  readonly headDim: number;
}

/** Where a dump belongs, for the models a block carries from dump to dump. */
export interface PackDumpContext {
  /** Dumps of one group share carried models: `${run_id}\u0000${layer_id}`. */
  readonly group: string;
  /** `layer_id` when known, else -1. */
  readonly layer: number;
}

/**
 * Codes the dumps of one block in order (one encoder per block).
 *
 * @example
 * ```ts
 * import { PackBlockDecoder, PackBlockEncoder } from "./pack_ctx_adapter.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const shape = { tokens: 2, heads: 1, headDim: 2 };
 * const context = { group: "run\u00000", layer: 0 };
 * const k = Uint16Array.from([0x3c00, 1, 0x3c00, 1]), v = Uint16Array.from([5, 6, 7, 8]);
 * const bytes = new PackBlockEncoder().encodeDump(shape, k, v, context);
 * assertEquals(new PackBlockDecoder().decodeDump(bytes, shape, context), { k, v });
 * ```
 */
export class PackBlockEncoder {
  /**
   * Codes one dump.
   *
   * @param shape The shape of K and V.
   * @param k K's FP16 words.
   * @param v V's FP16 words.
   * @param _context The dump's group and layer.
   * @returns Fresh bytes.
   */
  encodeDump(
    shape: PackDumpShape,
    k: Uint16Array,
    v: Uint16Array,
    _context: PackDumpContext,
  ): Uint8Array {
    return ctxEncode([k, v], shape);
  }
}

/**
 * Decodes the dumps of one block, in the order they were coded.
 *
 * @example A damaged dump is a data error
 * ```ts
 * import { PackBlockDecoder, PackBlockEncoder } from "./pack_ctx_adapter.ts";
 * import { KvbitsDataError } from "../codec/errors.ts";
 * import { assertThrows } from "@std/assert";
 *
 * const shape = { tokens: 1, heads: 1, headDim: 2 };
 * const context = { group: "", layer: -1 };
 * const bytes = new PackBlockEncoder().encodeDump(shape, Uint16Array.of(1, 2), Uint16Array.of(3, 4), context);
 * assertThrows(() => new PackBlockDecoder().decodeDump(bytes.subarray(1), shape, context), KvbitsDataError);
 * ```
 */
export class PackBlockDecoder {
  /**
   * Decodes one dump.
   *
   * @param bytes What {@link PackBlockEncoder.encodeDump} returned.
   * @param shape The dump's shape.
   * @param _context The dump's group and layer.
   * @returns K and V.
   * @throws {KvbitsDataError} When the bytes are corrupt.
   */
  decodeDump(
    bytes: Uint8Array,
    shape: PackDumpShape,
    _context: PackDumpContext,
  ): { k: Uint16Array; v: Uint16Array } {
    const [k, v] = ctxDecode(bytes, 2, shape);
    return { k, v };
  }
}
