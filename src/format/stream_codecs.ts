/**
 * The stream codecs kvbits knows, by `--codec` name and by bitstream layout.
 *
 * @module
 */

import { arithStreamCodec } from "./arith_stream_codec.ts";
import { huffmanStreamCodec } from "./huffman_stream_codec.ts";
import type { StreamCodec } from "./stream_codec.ts";

/** Every stream codec, in the order `--help` lists them. */
export const STREAM_CODECS: readonly StreamCodec<unknown>[] = [
  huffmanStreamCodec as StreamCodec<unknown>,
  arithStreamCodec as StreamCodec<unknown>,
];

/**
 * The codec with a `--codec` name, or undefined.
 *
 * @param name E.g. `huffman`.
 * @returns The codec, if there is one by that name.
 *
 * @example
 * ```ts
 * import { streamCodecNamed } from "./stream_codecs.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(streamCodecNamed("huffman")?.layout, "bitstream_huffman");
 * assertEquals(streamCodecNamed("zip"), undefined);
 * ```
 */
export function streamCodecNamed(
  name: string,
): StreamCodec<unknown> | undefined {
  return STREAM_CODECS.find((codec) => codec.name === name);
}

/**
 * The codec whose per-dump meta files have this name, or undefined: the layout of a
 * bitstream folder is recognised from the meta files present.
 *
 * @param fileName A file name, e.g. `bitstream_meta_t0_128.json`.
 * @returns The codec whose layout writes such meta files, if any.
 *
 * @example
 * ```ts
 * import { streamCodecOfMetaFile } from "./stream_codecs.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(streamCodecOfMetaFile("bitstream_meta_t0_128.json")?.name, "huffman");
 * assertEquals(streamCodecOfMetaFile("meta_t0_128.json"), undefined);
 * ```
 */
export function streamCodecOfMetaFile(
  fileName: string,
): StreamCodec<unknown> | undefined {
  return STREAM_CODECS.find((codec) =>
    fileName.startsWith(codec.metaPrefix + "meta_") &&
    fileName.endsWith(".json")
  );
}
