/**
 * Every codec kvbits knows, of both kinds: the four-stream layouts of a
 * {@link StreamCodec} (files per stream, JSON meta, optional global codebook) and
 * the one-file-per-dump layouts of a {@link DumpFileCodec}. The jobs recognise a
 * folder's layout and name each dump's outputs through these functions, whatever
 * the kind.
 *
 * @module
 */

import { ctxDumpFileCodec } from "./ctx_dump_file.ts";
import { type DumpFileCodec, isDumpFileCodec } from "./dump_file_codec.ts";
import type { StreamCodec } from "./stream_codec.ts";
import { STREAM_CODECS, streamCodecOfMetaFile } from "./stream_codecs.ts";

/** A codec of either kind. */
export type Codec = StreamCodec<unknown> | DumpFileCodec;

/** Every codec, in the order `--help` lists them. */
export const CODECS: readonly Codec[] = [...STREAM_CODECS, ctxDumpFileCodec];

/**
 * The codec with a `--codec` name, or undefined.
 *
 * @param name E.g. `huffman` or `ctx`.
 * @returns The codec, if there is one by that name.
 *
 * @example
 * ```ts
 * import { codecNamed } from "./codecs.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(codecNamed("ctx")?.layout, "kvbits_ctx");
 * assertEquals(codecNamed("huffman")?.layout, "bitstream_huffman");
 * assertEquals(codecNamed("zip"), undefined);
 * ```
 */
export function codecNamed(name: string): Codec | undefined {
  return CODECS.find((codec) => codec.name === name);
}

/**
 * The codec whose layout marks a complete dump with a file of this name (the
 * per-dump meta of a four-stream layout, the dump file of a one-file layout), or
 * undefined.
 *
 * @param fileName A file name.
 * @returns The codec, if the file is such a marker.
 *
 * @example
 * ```ts
 * import { codecOfMarkerFile } from "./codecs.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(codecOfMarkerFile("bitstream_meta_t0_128.json")?.name, "huffman");
 * assertEquals(codecOfMarkerFile("meta_t0_128.kvc")?.name, "ctx");
 * assertEquals(codecOfMarkerFile("meta_t0_128.json"), undefined);
 * ```
 */
export function codecOfMarkerFile(fileName: string): Codec | undefined {
  return streamCodecOfMetaFile(fileName) ??
    CODECS.find((codec) =>
      isDumpFileCodec(codec) && codec.metaNameOf(fileName) !== undefined
    );
}

/**
 * Name of the file that marks a dump as complete (written last).
 *
 * @param codec The codec.
 * @param metaName The input meta name, e.g. `meta_t0_128`.
 * @returns E.g. `bitstream_meta_t0_128.json` or `meta_t0_128.kvc`.
 *
 * @example
 * ```ts
 * import { codecNamed, markerFileName } from "./codecs.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(markerFileName(codecNamed("huffman")!, "meta_t0_1"), "bitstream_meta_t0_1.json");
 * assertEquals(markerFileName(codecNamed("ctx")!, "meta_t0_1"), "meta_t0_1.kvc");
 * ```
 */
export function markerFileName(codec: Codec, metaName: string): string {
  return isDumpFileCodec(codec)
    ? codec.fileNameOf(metaName)
    : `${codec.metaPrefix}${metaName}.json`;
}

/**
 * The input meta name of a dump's marker file: the inverse of
 * {@link markerFileName}.
 *
 * @param codec The codec of the file's layout.
 * @param fileName The marker file's name.
 * @returns E.g. `meta_t0_128`.
 * @throws {RangeError} When the file is not a marker of that codec.
 *
 * @example
 * ```ts
 * import { codecNamed, metaNameOfMarker } from "./codecs.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(metaNameOfMarker(codecNamed("huffman")!, "bitstream_meta_t0_1.json"), "meta_t0_1");
 * assertEquals(metaNameOfMarker(codecNamed("ctx")!, "meta_t0_1.kvc"), "meta_t0_1");
 * ```
 */
export function metaNameOfMarker(codec: Codec, fileName: string): string {
  const metaName = isDumpFileCodec(codec)
    ? codec.metaNameOf(fileName)
    : fileName.startsWith(codec.metaPrefix + "meta_") &&
        fileName.endsWith(".json")
    ? fileName.slice(codec.metaPrefix.length, -".json".length)
    : undefined;
  if (metaName === undefined) {
    throw new RangeError(
      `Cannot name the dump of ${fileName}: it is not a ${codec.name} dump file`,
    );
  }
  return metaName;
}
