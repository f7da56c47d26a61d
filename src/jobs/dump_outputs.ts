/**
 * The files one dump becomes, whatever the kind of codec: the four stream files and
 * the JSON meta of a four-stream layout, or the single file of a one-file layout.
 * The last file listed marks the dump complete and must be written last.
 *
 * @module
 */

import type { Codec } from "../format/codecs.ts";
import { isDumpFileCodec } from "../format/dump_file_codec.ts";
import {
  type DumpToEncode,
  encodeDump,
  type GlobalCodebook,
  type NamedFile,
} from "../format/encoded_dump.ts";

/** A dump's files, in writing order, and how their bytes split. */
export interface DumpOutputs {
  /** Files to write into the dump's output folder; the last one marks completion. */
  readonly files: readonly NamedFile[];
  /** Bytes of coded tensor data. */
  readonly streamBytes: number;
  /** Bytes of metadata (JSON meta, or a dump file's header and meta section). */
  readonly metaBytes: number;
}

/**
 * Encodes one dump into the files of its codec's layout.
 *
 * @param dump The dump's meta and tensors.
 * @param codec Either kind of codec.
 * @param global The folder's global codebook, for a stream codec in global mode.
 * @returns The files (marker last) and their byte split.
 * @throws {RangeError} When the tensors do not fit the meta shape.
 *
 * @example
 * ```ts
 * import { encodeDumpOutputs } from "./dump_outputs.ts";
 * import { codecNamed } from "../format/codecs.ts";
 * import { parseDumpMeta } from "../format/dump_meta.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const metaText = '{"layer_id": 0, "seq_len": 1, "kv_heads": 1, "head_dim": 2, "bytes_per_elem": 2, "stage": "decode", "k_file": "k.bin", "v_file": "v.bin"}';
 * const dump = { metaName: "meta_t0_1", metaText, meta: parseDumpMeta(metaText), k: new Uint16Array(2), v: new Uint16Array(2) };
 * assertEquals(encodeDumpOutputs(dump, codecNamed("ctx")!).files.map((f) => f.name), ["meta_t0_1.kvc"]);
 * assertEquals(encodeDumpOutputs(dump, codecNamed("huffman")!).files.at(-1)?.name, "bitstream_meta_t0_1.json");
 * ```
 */
export function encodeDumpOutputs(
  dump: DumpToEncode,
  codec: Codec,
  global?: GlobalCodebook<unknown>,
): DumpOutputs {
  if (isDumpFileCodec(codec)) {
    const file = codec.encode(dump);
    return {
      files: [{ name: codec.fileNameOf(dump.metaName), bytes: file.bytes }],
      streamBytes: file.payloadBytes,
      metaBytes: file.metaBytes,
    };
  }
  const encoded = encodeDump(dump, codec, global);
  let streamBytes = 0;
  for (const file of encoded.streams) streamBytes += file.bytes.length;
  return {
    files: [...encoded.streams, encoded.meta],
    streamBytes,
    metaBytes: encoded.meta.bytes.length,
  };
}
