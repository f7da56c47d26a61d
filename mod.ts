/**
 * kvbits: lossless coding of FP16 KV-cache dumps.
 *
 * Every FP16 word is split into a `hi6` plane (sign and exponent) and a `lo10`
 * plane (mantissa), and each plane is entropy coded: with canonical Huffman
 * codes (`huffman`) or arithmetic coding (`arith`) in the reference tools'
 * layouts, or with kvbits' context-model coder (`ctx`, the smallest), one
 * self-contained `.kvc` file per dump.
 *
 * This module is pure: no permissions, no file access, no import map; import it
 * by URL. It offers three levels:
 *
 * - one tensor: {@link huffmanEncodeTensor}/{@link huffmanDecodeTensor},
 *   {@link arithEncodeTensor}/{@link arithDecodeTensor},
 *   {@link ctxEncodeTensor}/{@link ctxDecodeTensor};
 * - one dump (meta text, K and V) as the files the CLI writes, and any such
 *   files read back: {@link encodeDump}, {@link decodeDump}, and
 *   {@link encodeDumps} for a folder's worth with a global codebook;
 * - the errors it throws: {@link KvbitsDataError} (corrupt data),
 *   {@link KvbitsFormatError} (a file that breaks its format); misuse throws
 *   `TypeError` or `RangeError`.
 *
 * The command-line tasks that read and write dump folders live in `tasks/` of
 * the repository (`deno task encode`, `decode`, `verify`, `analyze`).
 *
 * @example A tensor round trip with each codec
 * ```ts
 * import {
 *   arithDecodeTensor, arithEncodeTensor, ctxDecodeTensor, ctxEncodeTensor,
 *   huffmanDecodeTensor, huffmanEncodeTensor,
 * } from "@kvbits/kvbits";
 * import { assertEquals } from "@std/assert";
 *
 * const words = Uint16Array.from({ length: 256 }, (_, i) => 0x3c00 + (i % 7));
 * assertEquals(huffmanDecodeTensor(huffmanEncodeTensor(words)), words);
 * assertEquals(arithDecodeTensor(arithEncodeTensor(words)), words);
 * const shape = { tokens: 4, heads: 2, headDim: 32 };
 * assertEquals(ctxDecodeTensor(ctxEncodeTensor(words, shape), shape), words);
 * ```
 *
 * @module
 */

// One tensor, per codec.
export {
  arithDecodeTensor,
  arithEncodeTensor,
  type CodedTensor,
  ctxDecodeTensor,
  ctxEncodeTensor,
  huffmanDecodeTensor,
  huffmanEncodeTensor,
  type TensorShape,
} from "./src/format/tensor_coding.ts";

// One dump, as the files kvbits writes, and any such files read back.
export {
  CODEC_NAMES,
  type CodecName,
  decodeDump,
  type Dump,
  type DumpInput,
  type EncodedDumps,
  encodeDump,
  type EncodeDumpOptions,
  encodeDumps,
} from "./src/format/dump_coding.ts";
export type { DumpOutputs, NamedFile } from "./src/format/layout.ts";
export type { DumpMeta } from "./src/format/dump_meta.ts";
export type { CodebookMode } from "./src/format/stream_codec.ts";
// A pack (a whole dump folder in one file) held in memory, read back.
export {
  type DecodedPack,
  decodePack,
  type DecodePackOptions,
  type PackedFile,
} from "./src/format/pack_bytes.ts";
export type {
  PackDumpFiles,
  PackPredictor,
  PackPredictorLookup,
} from "./src/format/predictor_lookup.ts";

// Size bounds.
export { MAX_TENSOR_ELEMENTS } from "./src/format/dump_meta.ts";

// The FP16 planes every codec codes.
export {
  type Fp16Planes,
  joinFp16Planes,
  splitFp16Planes,
} from "./src/codec/fp16_planes.ts";

// Errors.
export { type DataErrorLocation, KvbitsDataError } from "./src/codec/errors.ts";
export { KvbitsFormatError } from "./src/format/format_error.ts";
