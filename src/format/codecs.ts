/**
 * The registry: every codec kvbits knows, as the {@link Layout} of what it
 * writes, by `--codec` name and by the file that marks one of its dumps.
 * A new codec is one line here (or, for a coder of the four-stream reference
 * layouts, in `STREAM_CODECS`).
 *
 * @module
 */

import { ctxLayout } from "./ctx_dump_file.ts";
import type { Layout } from "./layout.ts";
import { STREAM_CODECS } from "./stream_codecs.ts";

/** A codec with its layout (the registry's entry). */
export type Codec = Layout<unknown>;

/**
 * Every codec, in the order `--help` lists them: the stream coders of the
 * reference layouts (listed in `STREAM_CODECS`, where a new one goes), then the
 * codecs with layouts of their own (a new one goes here).
 */
export const CODECS: readonly Codec[] = [
  ...STREAM_CODECS as readonly Codec[],
  ctxLayout as Codec,
];

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
  return CODECS.find((codec) => codec.metaNameOfMarker(fileName) !== undefined);
}
