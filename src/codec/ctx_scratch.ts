/**
 * Working memory of the `ctx` codec that a caller may keep from one call to the
 * next: the models with their channel states, and the coder's buffer. The codec holds
 * nothing between calls; a caller that codes many dumps (a folder, a pack) passes
 * one {@link CtxScratch} to save the allocations, and gets the same bytes.
 *
 * @module
 */

import { TensorModels } from "./ctx_rows.ts";

/**
 * Reusable working memory for `ctxEncode`, `ctxDecode` and `ctxPlaneBits`. Its
 * buffers grow to the largest dump coded with it and are released with it. Use
 * one per thread: it is not safe to share between calls that run at once.
 *
 * @example Many dumps, one scratch
 * ```ts
 * import { ctxDecode, ctxEncode, CtxScratch } from "./ctx_codec.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const scratch = new CtxScratch();
 * const shape = { tokens: 2, heads: 1, headDim: 2 };
 * for (const words of [[1, 2, 3, 4], [5, 6, 5, 6]]) {
 *   const k = Uint16Array.from(words);
 *   const payload = ctxEncode([k], shape, { scratch });
 *   assertEquals(payload, ctxEncode([k], shape));
 *   assertEquals(ctxDecode(payload, 1, shape, { scratch }), [k]);
 * }
 * ```
 */
export class CtxScratch {
  #bytes?: Uint8Array;
  #models?: TensorModels;

  /**
   * A buffer of at least `length` bytes (contents undefined) on a fresh
   * `ArrayBuffer` (offset 0): where the encoder lays out a payload.
   *
   * @param length Bytes needed.
   * @returns The buffer.
   */
  bytes(length: number): Uint8Array {
    if (!this.#bytes || this.#bytes.length < length) {
      this.#bytes = new Uint8Array(length);
    }
    return this.#bytes;
  }

  /**
   * Models for rows of `rowLength` channels (reset by the coder).
   *
   * @param rowLength Channels per row.
   * @returns The models.
   */
  models(rowLength: number): TensorModels {
    if (this.#models?.channels.length !== rowLength) {
      this.#models = new TensorModels(rowLength);
    }
    return this.#models;
  }
}

/** Options of the `ctx` coding calls. */
export interface CtxOptions {
  /**
   * Working memory to reuse (see {@link CtxScratch}); a fresh one for this call
   * when omitted.
   */
  readonly scratch?: CtxScratch;
}
