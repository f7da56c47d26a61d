/**
 * kvbits: lossless coding of FP16 KV-cache tensors.
 *
 * Every FP16 word is split into a `hi6` plane (sign and exponent) and a `lo10`
 * plane (mantissa), and each plane is entropy coded. This module exports the codecs
 * as pure functions on typed arrays: no permissions, no file access, no bare
 * imports, so it can be imported by URL. The command-line tasks that read and write
 * dump folders live in `tasks/` of the repository.
 *
 * @example Huffman round trip of an FP16 tensor
 * ```ts
 * import {
 *   canonicalCode,
 *   countSymbols,
 *   huffmanCodeLengths,
 *   huffmanDecode,
 *   huffmanDecodeTable,
 *   huffmanEncode,
 *   joinFp16Planes,
 *   splitFp16Planes,
 * } from "@kvbits/kvbits";
 * import { assertEquals } from "@std/assert";
 *
 * const words = Uint16Array.from([0x3c00, 0x3c01, 0xbc00, 0x0001, 0x7e00, 0x3c00]);
 * const { hi6, lo10 } = splitFp16Planes(words);
 * const hiCode = canonicalCode(huffmanCodeLengths(countSymbols(hi6, 64)));
 * const loCode = canonicalCode(huffmanCodeLengths(countSymbols(lo10, 1024)));
 * const hiBytes = huffmanEncode(hi6, hiCode);
 * const loBytes = huffmanEncode(lo10, loCode);
 *
 * const hiBack = huffmanDecode(hiBytes, words.length, huffmanDecodeTable(hiCode), new Uint8Array(words.length));
 * const loBack = huffmanDecode(loBytes, words.length, huffmanDecodeTable(loCode));
 * assertEquals(joinFp16Planes(hiBack, loBack), words);
 * ```
 *
 * @module
 */

export * from "./src/codec/errors.ts";
export * from "./src/codec/fp16_planes.ts";
export * from "./src/codec/histogram.ts";
export * from "./src/codec/entropy.ts";
export * from "./src/codec/huffman_code_lengths.ts";
export * from "./src/codec/canonical_code.ts";
export * from "./src/codec/huffman_encoder.ts";
export * from "./src/codec/huffman_decoder.ts";
export * from "./src/codec/huffman_fp16.ts";
export * from "./src/codec/crc32.ts";
export * from "./src/codec/arithmetic_model.ts";
export * from "./src/codec/frequency_normalization.ts";
export * from "./src/codec/arithmetic_encoder.ts";
export * from "./src/codec/arithmetic_decoder.ts";
export * from "./src/codec/arithmetic_fp16.ts";
export * from "./src/codec/byte_io.ts";
export * from "./src/codec/rans.ts";
export * from "./src/codec/adaptive_frequencies.ts";
export * from "./src/codec/row_repeats.ts";
export * from "./src/codec/ctx_model.ts";
export * from "./src/codec/ctx_codec.ts";
export * from "./src/codec/rotary_prediction.ts";
export * from "./src/codec/pack_row_dictionary.ts";
export * from "./src/codec/pack_models.ts";
export * from "./src/codec/pack_coder.ts";
export * from "./src/codec/predicted_tensor_model.ts";
export * from "./src/codec/predicted_tensor_coder.ts";
export * from "./src/codec/sha256.ts";
export * from "./src/codec/predicted_dump_coder.ts";
