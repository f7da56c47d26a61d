/**
 * The stream coders kvbits knows (each with its per-dump reference layout), by
 * `--codec` name. The registry of every codec (`CODECS`) starts with them.
 *
 * @module
 */

import { arithStreamCodec } from "./arith_stream_codec.ts";
import { huffmanStreamCodec } from "./huffman_stream_codec.ts";
import type { StreamFilesCodec } from "./stream_files_layout.ts";

/** Every stream codec, in the order `--help` lists them. */
export const STREAM_CODECS: readonly StreamFilesCodec<unknown>[] = [
  huffmanStreamCodec as StreamFilesCodec<unknown>,
  arithStreamCodec as StreamFilesCodec<unknown>,
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
): StreamFilesCodec<unknown> | undefined {
  return STREAM_CODECS.find((codec) => codec.name === name);
}
