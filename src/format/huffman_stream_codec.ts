/**
 * The canonical Huffman coder as a {@link StreamCodec} with the names of the
 * reference layout `bitstream_huffman` (FORMAT.md §3).
 *
 * @module
 */

import {
  type CanonicalCode,
  canonicalCode,
  canonicalCodeScratchBytes,
} from "../codec/canonical_code.ts";
import {
  huffmanCodeLengths,
  huffmanCodeLengthsScratchBytes,
} from "../codec/huffman_code_lengths.ts";
import {
  huffmanDecode,
  type HuffmanDecodeTable,
  huffmanDecodeTable,
} from "../codec/huffman_decoder.ts";
import { huffmanEncode } from "../codec/huffman_encoder.ts";
import {
  huffmanDecodeFp16,
  huffmanEncodeFp16,
  type HuffmanEncodeTable,
  huffmanEncodeTable,
} from "../codec/huffman_fp16.ts";
import { plainArrayOf, type StreamCodec } from "./stream_codec.ts";
import {
  type StreamFilesCodec,
  streamFilesLayout,
} from "./stream_files_layout.ts";

/** A canonical code, with its decoding tables built on first use. */
export interface HuffmanModel {
  /** The canonical code. */
  readonly code: CanonicalCode;
  /** Decoding tables, built by the first decode with this model. */
  decodeTable?: HuffmanDecodeTable;
  /** The packed code of the fused encoder, built by the first encode with this model. */
  encodeTable?: HuffmanEncodeTable;
}

/**
 * Canonical Huffman coding of the `bitstream_huffman` layout: code lengths in
 * `*_code_lengths` tables, streams in `.huff` files.
 *
 * @example A stream through the codec
 * ```ts
 * import { huffmanStreamCodec } from "./huffman_stream_codec.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const symbols = new Uint8Array([15, 15, 14, 15, 47]);
 * const counts = new Float64Array(64);
 * for (const s of symbols) counts[s]++;
 * const model = huffmanStreamCodec.modelFromCounts(counts, "k_hi6");
 * assertEquals(huffmanStreamCodec.tableOf(model)[15], 1);
 * const bytes = huffmanStreamCodec.encode(symbols, model, "k_hi6");
 * const back = new Uint8Array(symbols.length);
 * huffmanStreamCodec.decode(bytes, symbols.length, model, back, "k_hi6");
 * assertEquals(back, symbols);
 * ```
 */
export const huffmanStreamCodec: StreamFilesCodec<HuffmanModel> =
  streamFilesLayout<HuffmanModel>(huffmanCodec());

/**
 * Working memory reused from one dump to the next by one thread: one buffer
 * per use (a stream's code lengths, code and packed table), grown as needed
 * (the streams coded are not in it: a caller may keep them). Allocating a typed array costs more here than building a
 * small dump's code: per-dump codebooks allocated about fifteen a dump.
 */
class HuffmanMemory {
  readonly #buffers = new Map<string, ArrayBuffer>();

  /** The buffer for `use`, of at least `bytes` bytes. */
  take(use: string, bytes: number): ArrayBuffer {
    let buffer = this.#buffers.get(use);
    if (buffer === undefined || buffer.byteLength < bytes) {
      buffer = new ArrayBuffer(bytes);
      this.#buffers.set(use, buffer);
    }
    return buffer;
  }
}

/**
 * The Huffman stream codec; with `memory`, one whose models from counts are
 * views of that memory, valid until the same stream's next model.
 */
function huffmanCodec(memory?: HuffmanMemory): StreamCodec<HuffmanModel> {
  return {
    name: "huffman",
    title: "Huffman",
    layout: "bitstream_huffman",
    metaPrefix: "bitstream_",
    streamExtension: ".huff",
    globalCodebookFile: "global_codebook.json",
    tableKeySuffix: "_code_lengths",
    modelFromCounts(counts, stream) {
      if (memory === undefined) {
        return { code: canonicalCode(huffmanCodeLengths(counts), stream) };
      }
      const size = counts.length;
      const lengths = huffmanCodeLengths(
        counts,
        undefined,
        memory.take(`${stream} lengths`, huffmanCodeLengthsScratchBytes(size)),
      );
      const code = canonicalCode(
        lengths,
        stream,
        memory.take(`${stream} code`, canonicalCodeScratchBytes(size)),
      );
      const encodeTable = huffmanEncodeTable(
        code,
        memory.take(`${stream} packed`, 4 * size),
      );
      return { code, encodeTable };
    },
    tableOf(model) {
      return plainArrayOf(model.code.lengths);
    },
    modelFromTable(table, stream) {
      return { code: canonicalCode(table, stream) };
    },
    encode(symbols, model, stream) {
      return huffmanEncode(symbols, model.code, stream);
    },
    symbolCapacity(byteLength, model) {
      // Every code is at least as long as the shortest one, which has 1 bit or more.
      const { lengthCounts, maxLength } = model.code;
      let shortest = 1;
      while (shortest <= maxLength && lengthCounts[shortest] === 0) shortest++;
      return shortest > maxLength ? 0 : Math.floor((byteLength * 8) / shortest);
    },
    decode(bytes, count, model, into, stream) {
      model.decodeTable ??= huffmanDecodeTable(model.code);
      huffmanDecode(bytes, count, model.decodeTable, into, stream);
    },
    encodeFp16(words, hiModel, loModel, hiStream, loStream) {
      hiModel.encodeTable ??= huffmanEncodeTable(hiModel.code);
      loModel.encodeTable ??= huffmanEncodeTable(loModel.code);
      return huffmanEncodeFp16(
        words,
        hiModel.encodeTable,
        loModel.encodeTable,
        {
          hiStream,
          loStream,
        },
      );
    },
    decodeFp16(hiBytes, loBytes, count, hiModel, loModel, options) {
      hiModel.decodeTable ??= huffmanDecodeTable(hiModel.code);
      loModel.decodeTable ??= huffmanDecodeTable(loModel.code);
      huffmanDecodeFp16(
        hiBytes,
        loBytes,
        count,
        hiModel.decodeTable,
        loModel.decodeTable,
        options,
      );
    },
    reusingMemory: () => huffmanCodec(new HuffmanMemory()),
  };
}
