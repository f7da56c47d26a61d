/**
 * The 32-bit arithmetic coder as a {@link StreamCodec} with the names of the
 * reference layout `bitstream_arith` (FORMAT.md §4).
 *
 * kvbits writes its own tables with `arithmeticTableFromCounts` (a power-of-two
 * total up to 2^14: the raw counts when they already sum to one, else normalized
 * counts), and reads any table the reference tools wrote (raw counts, totals up
 * to 2^30).
 *
 * @module
 */

import { arithmeticDecode } from "../codec/arithmetic_decoder.ts";
import { arithmeticEncode } from "../codec/arithmetic_encoder.ts";
import {
  arithmeticDecodeFp16,
  arithmeticEncodeFp16,
} from "../codec/arithmetic_fp16.ts";
import {
  type ArithmeticModel,
  arithmeticModel,
} from "../codec/arithmetic_model.ts";
import { arithmeticTableFromCounts } from "../codec/frequency_normalization.ts";
import { plainArrayOf } from "./stream_codec.ts";
import {
  type StreamFilesCodec,
  streamFilesLayout,
} from "./stream_files_layout.ts";

/** Suffix of the frequency table keys: `k_hi6_freq`. */
const TABLE_KEY_SUFFIX = "_freq";

/**
 * Arithmetic coding of the `bitstream_arith` layout: frequency tables in `*_freq`
 * keys, streams in `.ac` files.
 *
 * @example A stream through the codec
 * ```ts
 * import { arithStreamCodec } from "./arith_stream_codec.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const symbols = new Uint8Array([15, 15, 14, 15]); // 4 symbols: the counts are the table
 * const counts = new Float64Array(64);
 * for (const s of symbols) counts[s]++;
 * const model = arithStreamCodec.modelFromCounts(counts, "k_hi6");
 * assertEquals(arithStreamCodec.tableOf(model)[15], 3);
 * const bytes = arithStreamCodec.encode(symbols, model, "k_hi6");
 * const back = new Uint8Array(symbols.length);
 * arithStreamCodec.decode(bytes, symbols.length, model, back, "k_hi6");
 * assertEquals(back, symbols);
 * ```
 */
export const arithStreamCodec: StreamFilesCodec<ArithmeticModel> =
  streamFilesLayout<ArithmeticModel>({
    name: "arith",
    title: "arithmetic",
    layout: "bitstream_arith",
    metaPrefix: "arith_",
    streamExtension: ".ac",
    globalCodebookFile: "global_codebook_arith.json",
    tableKeySuffix: TABLE_KEY_SUFFIX,
    modelFromCounts(counts, stream) {
      return arithmeticModel(
        arithmeticTableFromCounts(counts),
        `${stream}${TABLE_KEY_SUFFIX}`,
      );
    },
    tableOf(model) {
      return plainArrayOf(model.frequencies);
    },
    modelFromTable(table, stream) {
      return arithmeticModel(table, `${stream}${TABLE_KEY_SUFFIX}`);
    },
    encode(symbols, model, stream) {
      return arithmeticEncode(symbols, model, stream);
    },
    symbolCapacity(byteLength, model) {
      // Coding symbol s narrows the interval by at least total / freq[s] (the floors
      // only narrow it more), and each halving is one renormalization shift; the
      // decoder refuses a stream shorter than ceil((shifts + 2) / 8) bytes, and the
      // first 32 bits of range are free. So n symbols need n * log2(total / max freq)
      // <= 8 * bytes + 32 bits. A model with one symbol costs no bits: no bound.
      let largest = 0;
      for (const frequency of model.frequencies) {
        if (frequency > largest) largest = frequency;
      }
      if (largest === 0) return 0;
      if (largest === model.total) return Infinity;
      return Math.floor(
        (byteLength * 8 + 32) / Math.log2(model.total / largest),
      );
    },
    decode(bytes, count, model, into, stream) {
      arithmeticDecode(bytes, count, model, into, stream);
    },
    encodeFp16(words, hiModel, loModel, hiStream, loStream) {
      return arithmeticEncodeFp16(words, hiModel, loModel, {
        hiStream,
        loStream,
      });
    },
    decodeFp16(hiBytes, loBytes, count, hiModel, loModel, options) {
      arithmeticDecodeFp16(hiBytes, loBytes, count, hiModel, loModel, options);
    },
  });
