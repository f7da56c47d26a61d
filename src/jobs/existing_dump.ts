/**
 * What encode does with a dump whose output is already there (without
 * `--overwrite`): skip it when it was coded as this run would code it, else
 * fail it with the reason.
 *
 * @module
 */

import { parseBitstreamMeta } from "../format/bitstream_meta.ts";
import type { Codec } from "../format/codecs.ts";
import { isDumpFileCodec } from "../format/dump_file_codec.ts";
import type { GlobalCodebook } from "../format/encoded_dump.ts";
import { utf8Text } from "../format/json_fields.ts";
import type { CodebookMode } from "../format/stream_codec.ts";
import { fileErrorOf } from "../dump/file_error.ts";
import { readFileSync } from "../dump/read_file.ts";

/**
 * Why an existing meta output is not the dump this run would write ("" when it
 * is, and the dump can be skipped as already encoded): it must have the same
 * codebook mode and, for a global codebook, the CRC-32 of the same codebook
 * file. A dump-file codec's file is written whole and renamed into place, so
 * one that exists is complete: always "".
 *
 * @param metaOut The existing meta output (the dump's marker file).
 * @param codec The codec of this run.
 * @param codebook The codebook mode of this run.
 * @param global The global codebook of this run, for `global`.
 * @param read How to read the meta, synchronously (role `existing meta`); into
 * a new buffer by default.
 * @returns The problem, or "".
 *
 * @example
 * ```ts
 * import { existingDumpProblem } from "./existing_dump.ts";
 * import { huffmanStreamCodec } from "../format/huffman_stream_codec.ts";
 * import { assertStringIncludes } from "@std/assert";
 *
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "{");
 * assertStringIncludes(existingDumpProblem(path, huffmanStreamCodec, "per-dump", undefined), "exists but cannot be read");
 * await Deno.remove(path);
 * ```
 */
export function existingDumpProblem(
  metaOut: string,
  codec: Codec,
  codebook: CodebookMode,
  global: GlobalCodebook<unknown> | undefined,
  read: (path: string, role: string) => Uint8Array = (path) =>
    readFileSync(path),
): string {
  if (isDumpFileCodec(codec)) return "";
  let existing;
  try {
    const bytes = read(metaOut, "existing meta");
    existing = parseBitstreamMeta(utf8Text(bytes, "bitstream meta"), codec);
  } catch (error) {
    return `exists but cannot be read (${fileErrorOf(metaOut, error).detail})`;
  }
  if (existing.codebook !== codebook) {
    return `exists but was encoded with --codebook ${existing.codebook}`;
  }
  if (global && existing.integrity?.codebookCrc32 !== global.crc32) {
    return `exists but was encoded with another ${codec.globalCodebookFile}`;
  }
  return "";
}
