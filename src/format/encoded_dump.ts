/**
 * One dump through a four-stream bitstream layout, as data: tensors in, named
 * files out, and back. Nothing here touches the file system; the jobs read and
 * write what these functions take and return.
 *
 * @module
 */

import { crc32 } from "../codec/crc32.ts";
import { KvbitsDataError } from "../codec/errors.ts";
import {
  type BitstreamMeta,
  buildBitstreamMeta,
  streamFileName,
} from "./bitstream_meta.ts";
import type { DumpToEncode, NamedFile } from "./layout.ts";
import { fp16BytesOfWords } from "./fp16_tensor.ts";
import {
  decodeDumpStreams,
  dumpModelsFromTables,
  encodeDumpStreams,
} from "./dump_streams.ts";
import {
  type PerStream,
  STREAM_NAMES,
  type StreamCodec,
} from "./stream_codec.ts";

/** A folder's global codebook: its models and the CRC-32 of its file. */
export interface GlobalCodebook<Model> {
  /** One model per stream. */
  readonly models: PerStream<Model>;
  /** CRC-32 of the codebook file's bytes, recorded in every dump coded with it. */
  readonly crc32: number;
}

/** The files of one encoded dump. */
export interface EncodedDump {
  /** The four stream files, in `STREAM_NAMES` order. */
  readonly streams: readonly NamedFile[];
  /** The bitstream meta; written last, so that its presence marks a complete dump. */
  readonly meta: NamedFile;
}

/**
 * Encodes one dump with a stream codec, with the folder's global codebook or, when
 * `global` is omitted, with per-dump models written into its meta.
 *
 * @param dump The dump's meta and tensors.
 * @param codec The stream codec.
 * @param global The folder's codebook, for `--codebook global`.
 * @returns The four stream files and the meta file.
 * @throws {RangeError} When K and V differ in length from the meta shape, or a
 * symbol has no code in the global codebook.
 *
 * @example The files of a dump
 * ```ts
 * import { encodeDump } from "./encoded_dump.ts";
 * import { parseDumpMeta } from "./dump_meta.ts";
 * import { huffmanStreamCodec } from "./huffman_stream_codec.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const metaText = '{"layer_id": 0, "seq_len": 1, "kv_heads": 1, "head_dim": 2, "bytes_per_elem": 2, "stage": "decode", "k_file": "k.bin", "v_file": "v.bin"}';
 * const words = new Uint16Array([0x3c00, 0x3c01]);
 * const encoded = encodeDump(
 *   { metaName: "meta_t0_1", metaText, meta: parseDumpMeta(metaText), k: words, v: words },
 *   huffmanStreamCodec,
 * );
 * assertEquals(encoded.streams.map((file) => file.name), [
 *   "k_hi6_meta_t0_1.huff", "k_lo10_meta_t0_1.huff", "v_hi6_meta_t0_1.huff", "v_lo10_meta_t0_1.huff",
 * ]);
 * assertEquals(encoded.meta.name, "bitstream_meta_t0_1.json");
 * ```
 */
export function encodeDump<Model>(
  dump: DumpToEncode,
  codec: StreamCodec<Model>,
  global?: GlobalCodebook<Model>,
): EncodedDump {
  const { meta, k, v } = dump;
  const numElements = meta.seqLen * meta.kvHeads * meta.headDim;
  if (k.length !== numElements || v.length !== numElements) {
    throw new RangeError(
      `Cannot encode ${dump.metaName}: K has ${k.length} and V ${v.length} elements, the shape needs ${numElements}`,
    );
  }
  const { streams: coded, tables } = encodeDumpStreams(
    { k, v },
    codec,
    global?.models,
  );
  const streams = STREAM_NAMES.map((stream) => ({
    name: streamFileName(stream, dump.metaName, codec as StreamCodec<unknown>),
    bytes: coded[stream],
  }));
  const metaText = buildBitstreamMeta(codec as StreamCodec<unknown>, {
    input: meta,
    inputText: dump.metaText,
    metaName: dump.metaName,
    numElements,
    codebook: global ? "global" : "per-dump",
    tables,
    integrity: {
      kCrc32: crc32(fp16BytesOfWords(k)),
      vCrc32: crc32(fp16BytesOfWords(v)),
      metaCrc32: crc32(new TextEncoder().encode(dump.metaText)),
      codebookCrc32: global?.crc32,
    },
  });
  return {
    streams,
    meta: {
      name: `${codec.metaPrefix}${dump.metaName}.json`,
      bytes: new TextEncoder().encode(metaText),
    },
  };
}

/** A decoded dump: both tensors, and whether kvbits' checksums confirmed them. */
export interface DecodedTensors {
  /** K as FP16 words. */
  readonly k: Uint16Array;
  /** V as FP16 words. */
  readonly v: Uint16Array;
  /**
   * True when the meta carried kvbits' integrity record and both tensors and the
   * meta text to restore matched their recorded CRC-32; false for reference
   * outputs, which have none.
   */
  readonly integrityChecked: boolean;
}

/**
 * Decodes one dump from its parsed meta and the bytes of its four stream files.
 *
 * @param meta The parsed bitstream meta.
 * @param streams The content of each stream file.
 * @param codec The stream codec of the folder's layout.
 * @param global The folder's global codebook, required when the dump uses it.
 * @returns Both tensors, checked against the recorded checksums when present.
 * @throws {KvbitsDataError} When a stream is corrupt or too short for the symbol
 * count (checked before anything is allocated), the dump was coded with a
 * different global codebook, or a decoded tensor or the meta text to restore
 * differs from its checksum.
 *
 * @example A dump coded and decoded with per-dump codebooks
 * ```ts
 * import { decodeDump, encodeDump } from "./encoded_dump.ts";
 * import { parseBitstreamMeta } from "./bitstream_meta.ts";
 * import { parseDumpMeta } from "./dump_meta.ts";
 * import { huffmanStreamCodec } from "./huffman_stream_codec.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const metaText = '{"layer_id": 0, "seq_len": 2, "kv_heads": 1, "head_dim": 2, "bytes_per_elem": 2, "stage": "prefill", "k_file": "k.bin", "v_file": "v.bin"}';
 * const k = new Uint16Array([0x3c00, 0x3c01, 0xbc00, 0x0000]);
 * const v = new Uint16Array([0x7e00, 0x7e00, 0x7e00, 0x0001]);
 * const encoded = encodeDump(
 *   { metaName: "meta_t0_2", metaText, meta: parseDumpMeta(metaText), k, v },
 *   huffmanStreamCodec,
 * );
 * const meta = parseBitstreamMeta(new TextDecoder().decode(encoded.meta.bytes), huffmanStreamCodec);
 * const [kHi, kLo, vHi, vLo] = encoded.streams.map((file) => file.bytes);
 * const back = decodeDump(meta, { k_hi6: kHi, k_lo10: kLo, v_hi6: vHi, v_lo10: vLo }, huffmanStreamCodec);
 * assertEquals([back.k, back.v, back.integrityChecked], [k, v, true]);
 * ```
 */
export function decodeDump<Model>(
  meta: BitstreamMeta,
  streams: PerStream<Uint8Array>,
  codec: StreamCodec<Model>,
  global?: GlobalCodebook<Model>,
): DecodedTensors {
  const count = meta.numElements;
  let models: PerStream<Model>;
  if (meta.codebook === "global") {
    if (!global) {
      throw new KvbitsDataError(
        `the dump uses the global codebook but the folder has no ${codec.globalCodebookFile}`,
      );
    }
    const recorded = meta.integrity?.codebookCrc32;
    if (recorded !== undefined && recorded !== global.crc32) {
      throw new KvbitsDataError(
        `the dump was coded with a different ${codec.globalCodebookFile} (CRC-32 ${
          hex(recorded)
        }, the folder's is ${hex(global.crc32)})`,
      );
    }
    models = global.models;
  } else {
    models = dumpModelsFromTables(codec, meta.tables!);
  }
  // A corrupt count is refused before anything is allocated (see
  // decodeDumpStreams).
  const { k, v } = decodeDumpStreams(streams, count, codec, models);
  const integrity = meta.integrity;
  if (integrity) {
    checkTensor("K", fp16BytesOfWords(k), integrity.kCrc32);
    checkTensor("V", fp16BytesOfWords(v), integrity.vCrc32);
    checkTensor(
      "meta",
      new TextEncoder().encode(meta.inputText),
      integrity.metaCrc32,
    );
  }
  return { k, v, integrityChecked: integrity !== undefined };
}

function checkTensor(
  name: string,
  bytes: Uint8Array,
  expectedCrc32: number,
): void {
  const actual = crc32(bytes);
  if (actual !== expectedCrc32) {
    throw new KvbitsDataError(
      `decoded ${name} has CRC-32 ${hex(actual)} but the original had ${
        hex(expectedCrc32)
      }: the coded data is corrupt`,
    );
  }
}

function hex(value: number): string {
  return value.toString(16).padStart(8, "0");
}
