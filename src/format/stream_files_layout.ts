/**
 * The per-dump reference layouts as a {@link Layout}: four stream files and a
 * JSON meta per dump (the marker, written last), and with `--codebook global` a
 * codebook file for the folder (FORMAT.md §3 and §4). The coder of the streams is
 * a {@link StreamCodec}; this file is all that turns one into a layout.
 *
 * @module
 */

import { crc32 } from "../codec/crc32.ts";
import type { Fp16Histograms } from "../codec/histogram.ts";
import { parseBitstreamMeta } from "./bitstream_meta.ts";
import {
  decodeDumpStreams,
  dumpModelsFromTables,
  type DumpStreams,
  encodeDumpStreams,
} from "./dump_streams.ts";
import { decodeDump, encodeDump, type GlobalCodebook } from "./encoded_dump.ts";
import { globalCodebookText, parseGlobalCodebook } from "./global_codebook.ts";
import { utf8Text } from "./json_fields.ts";
import type { Layout, PlaneBits, SharedFile } from "./layout.ts";
import {
  type PerStream,
  STREAM_NAMES,
  type StreamCodec,
} from "./stream_codec.ts";

const TEXT_ENCODER = new TextEncoder();

/**
 * A stream coder and its per-dump reference layout in one object: what
 * `huffmanStreamCodec` and `arithStreamCodec` are.
 */
export type StreamFilesCodec<Model> =
  & StreamCodec<Model>
  & Layout<GlobalCodebook<Model>>;

/**
 * The models of a stream codec made from the symbol counts of K and V.
 *
 * @param codec The stream codec.
 * @param k Histograms of K.
 * @param v Histograms of V.
 * @returns One model per stream.
 */
function modelsFromCounts<Model>(
  codec: StreamCodec<Model>,
  k: Fp16Histograms,
  v: Fp16Histograms,
): PerStream<Model> {
  return {
    k_hi6: codec.modelFromCounts(k.hi6, "k_hi6"),
    k_lo10: codec.modelFromCounts(k.lo10, "k_lo10"),
    v_hi6: codec.modelFromCounts(v.hi6, "v_hi6"),
    v_lo10: codec.modelFromCounts(v.lo10, "v_lo10"),
  };
}

/**
 * The layout of a stream codec: `<metaPrefix>meta_X.json` marks a dump, its
 * four `<stream>_meta_X<ext>` files are the companions, and the folder's
 * `globalCodebookFile` is the shared file of a `global` run.
 *
 * @param codec The stream coder and its names.
 * @returns The coder with its layout.
 *
 * @example A dump through the Huffman reference layout, in memory
 * ```ts
 * import { huffmanStreamCodec as layout } from "./huffman_stream_codec.ts";
 * import { parseDumpMeta } from "./dump_meta.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const metaText = '{"layer_id": 0, "seq_len": 1, "kv_heads": 1, "head_dim": 2, "bytes_per_elem": 2, "stage": "decode", "k_file": "k.bin", "v_file": "v.bin"}';
 * const k = Uint16Array.from([0x3c00, 0x3c01]), v = Uint16Array.from([1, 2]);
 * const { files } = layout.encodeDump({ metaName: "meta_t0_1", metaText, meta: parseDumpMeta(metaText), k, v });
 * const marker = files.at(-1)!;
 * assertEquals(marker.name, "bitstream_meta_t0_1.json");
 * const opened = layout.openDump("meta_t0_1", marker.bytes);
 * const byName = new Map(files.map((file) => [file.name, file.bytes]));
 * const back = opened.decode(opened.companions.map((c) => byName.get(c.name)!));
 * assertEquals([back.inputText, back.k, back.v, back.integrityChecked], [metaText, k, v, true]);
 * ```
 */
export function streamFilesLayout<Model>(
  codec: StreamCodec<Model>,
): StreamFilesCodec<Model> {
  const sharedFile: SharedFile<GlobalCodebook<Model>> = {
    fileName: codec.globalCodebookFile,
    title: "global codebook",
    fromCounts(k, v) {
      const models = modelsFromCounts(codec, k, v);
      return TEXT_ENCODER.encode(globalCodebookText(codec, models));
    },
    open(bytes) {
      const models = parseGlobalCodebook(
        utf8Text(bytes, "global codebook"),
        codec,
      );
      return { models, crc32: crc32(bytes) };
    },
  };
  const markerPrefix = codec.metaPrefix + "meta_";
  return {
    ...codec,
    codebookModes: ["global", "per-dump"],
    metaKind: "JSON",
    sharedFile,
    withScratch: codec.reusingMemory
      ? () => streamFilesLayout(codec.reusingMemory!())
      : undefined,
    modelsUsed(mode) {
      return { codebook: mode, description: `${mode} codebook` };
    },
    markerFileName(metaName) {
      return `${codec.metaPrefix}${metaName}.json`;
    },
    metaNameOfMarker(fileName) {
      return fileName.startsWith(markerPrefix) && fileName.endsWith(".json")
        ? fileName.slice(codec.metaPrefix.length, -".json".length)
        : undefined;
    },
    encodeDump(dump, shared) {
      const encoded = encodeDump(dump, codec, shared);
      let streamBytes = 0;
      for (const file of encoded.streams) streamBytes += file.bytes.length;
      return {
        files: [...encoded.streams, encoded.meta],
        streamBytes,
        metaBytes: encoded.meta.bytes.length,
      };
    },
    openDump(_metaName, marker) {
      const meta = parseBitstreamMeta(
        utf8Text(marker, "bitstream meta"),
        codec as StreamCodec<unknown>,
      );
      return {
        input: meta.input,
        companions: STREAM_NAMES.map((stream) => ({
          name: meta.streamFiles[stream],
          role: stream,
        })),
        needsShared: meta.codebook === "global",
        decode(companions, shared) {
          const [k_hi6, k_lo10, v_hi6, v_lo10] = companions;
          const decoded = decodeDump(
            meta,
            { k_hi6, k_lo10, v_hi6, v_lo10 },
            codec,
            shared,
          );
          let streamBytes = 0;
          for (const bytes of companions) streamBytes += bytes.length;
          return {
            input: meta.input,
            inputText: meta.inputText,
            ...decoded,
            streamBytes,
            metaBytes: marker.length,
          };
        },
        measure(sizes) {
          const [kHi6, kLo10, vHi6, vLo10] = sizes;
          return {
            input: meta.input,
            numElements: meta.numElements,
            kHi6,
            kLo10,
            vHi6,
            vLo10,
            metaBytes: marker.length,
            codebook: meta.codebook,
          };
        },
      };
    },
    existingDumpDifference(marker, mode, shared) {
      const existing = parseBitstreamMeta(
        utf8Text(marker(), "bitstream meta"),
        codec as StreamCodec<unknown>,
      );
      if (existing.codebook !== mode) {
        return { codebook: existing.codebook };
      }
      if (shared && existing.integrity?.codebookCrc32 !== shared.crc32) {
        return { sharedFile: codec.globalCodebookFile };
      }
      return undefined;
    },
    encodeWords(dump, shared) {
      const coded = encodeDumpStreams(dump, codec, shared?.models);
      let bytes = 0;
      for (const stream of STREAM_NAMES) bytes += coded.streams[stream].length;
      return { bytes, coded };
    },
    decodeWords(coded, into, shared) {
      const { streams, tables } = coded as DumpStreams;
      decodeDumpStreams(
        streams,
        into.k.length,
        codec,
        shared?.models ?? dumpModelsFromTables(codec, tables!),
        into,
      );
    },
    planeBits(dump, shared) {
      const { streams } = encodeDumpStreams(dump, codec, shared?.models);
      const elements = dump.k.length;
      const planes = (hi: Uint8Array, lo: Uint8Array): PlaneBits => ({
        elements,
        hi6: 8 * hi.length,
        lo10: 8 * lo.length,
        other: 0,
      });
      return {
        k: planes(streams.k_hi6, streams.k_lo10),
        v: planes(streams.v_hi6, streams.v_lo10),
      };
    },
  };
}
