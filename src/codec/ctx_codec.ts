/**
 * The `ctx` codec: FP16 tensors of one shape `[tokens, kv_heads, head_dim]` (a
 * dump's K and V) coded with adaptive context models and rANS, into one payload.
 * This module is its public face; the parts live beside it: the row plan
 * (`ctx_plan.ts`), the payload header (`ctx_header.ts`), the context model and
 * channel states (`ctx_model.ts`), the encoder (`ctx_encoder.ts`), the decoder
 * (`ctx_decoder.ts`), the measurement (`ctx_plane_bits.ts`) and the reusable
 * working memory (`ctx_scratch.ts`).
 *
 * Read me first:
 * - Each tensor's rows (tokens) are of three kinds. A row that repeats an earlier
 *   row of the same tensor exactly is a reference (`row_repeats.ts`), nothing else.
 *   A row the encoder chose to predict by rotation (a RoPE K row of a token whose V
 *   row repeats, `rotary_prediction.ts`) codes each element's distance from its
 *   prediction. Every other row codes each element as `hi6` and its top 2 mantissa
 *   bits, each with an adaptive model picked by the context model (`ctx_model.ts`),
 *   and stores its low byte raw.
 * - The rows of all tensors, in coding order (every row of the first tensor, then
 *   of the next), are cut into chunks of `max(1, floor(2^b / rowLength))` rows,
 *   `2^b` elements (`b` 18 by default, `ctxChunks`). Each chunk has its own rANS
 *   stream (`rans.ts`) and raw bytes, so that encoder and decoder hold one
 *   chunk's working memory, not the whole payload's; models and channel states
 *   go on across chunks (a chunk costs about 20 bytes, nothing in ratio). Four
 *   lanes: an element of an even channel index (within its row) puts its `hi6`
 *   or residual on lane 0 and its mantissa top on lane 1, an element of an odd
 *   one uses lanes 2 and 3.
 * - Models and channel states start afresh for each tensor: nothing is carried from
 *   K to V or from one payload to another, so every dump decodes on its own. Only
 *   the repeat lists are shared: a tensor's predicted rows are the rows another
 *   tensor (its "source") repeats. The codec keeps no state between calls; a
 *   caller may pass a `CtxScratch` to reuse its memory.
 * - Payload layout (version 2), all integers unsigned LEB128 varints:
 *
 *   | part | content |
 *   | --- | --- |
 *   | per tensor: repeat list | count `n`, then `n` pairs: row gap (row minus the previous listed row minus 1; the first is the row itself) and distance back to the referenced row (>= 1) |
 *   | per tensor: predictor | 1 byte: 0 none, 1 rotation pairing `i` with `i + head_dim/2`, 2 pairing `2i` with `2i+1`; when not 0, varint source tensor and varint RoPE base |
 *   | per chunk: rANS stream length | in bytes |
 *   | per chunk: rANS stream | 4 states, then 16-bit words; the chunk's symbols in tensor, row and channel order: `hi6` then top for a coded element; residual (then `hi6` and top when it escapes) for a predicted one |
 *   | per chunk but the last: raw length | in bytes |
 *   | per chunk: raw low bytes | the low byte of each element coded with `hi6`, same order; the last chunk's run to the end |
 *
 *   The chunk size is not in the payload: encoder and decoder are given the
 *   same (the `.kvc` header records it). Version 1 (`.kvc` files of format
 *   version 1) is the same layout in one chunk, however large: `ctxDecode`
 *   reads it given `{ version: 1 }`. A payload of one chunk is the same in
 *   both versions.
 *
 *   A row of a tensor is predicted when the tensor has a predictor, the row is not
 *   in the tensor's own repeat list and is in its source's: it is predicted from the
 *   row its source's list refers to, turned by the distance between the two.
 * - Decoding is bounded by the shape: it reads one or three symbols per element,
 *   checks the raw bytes before each row and each escape, checks after each row
 *   that the stream has not run out (the words a row may take past its end read
 *   as zeros from padding), and ends each chunk with the rANS end check (states
 *   back at 2^15, every byte of its stream and raw bytes used). Corrupt input ends in `KvbitsDataError` or in wrong
 *   words that the caller's CRC-32 catches; it never loops or reads out of bounds.
 *
 * @module
 */

export {
  CTX_CHUNK_BITS,
  CTX_MAX_ELEMENTS,
  CTX_PAYLOAD_VERSION,
  type TensorShape,
} from "./ctx_plan.ts";
export { type CtxOptions, CtxScratch } from "./ctx_scratch.ts";
export {
  ctxEncode,
  ctxEncodedBound,
  ctxEncodeInto,
  type CtxEncodeOptions,
} from "./ctx_encoder.ts";
export { ctxDecode, type CtxDecodeOptions } from "./ctx_decoder.ts";
export { type CtxPlaneBits, ctxPlaneBits } from "./ctx_plane_bits.ts";
