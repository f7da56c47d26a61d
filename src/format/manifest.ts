/**
 * The manifest of a bitstream folder, `kvbits_manifest.json`: what encode wrote
 * into it, so that a deleted, renamed, moved or replaced dump is seen.
 *
 * Read me first:
 * - One entry per dump: the path of its marker file (the per-dump meta of a
 *   four-stream layout, the `.kvc` of ctx), relative to the folder with `/`
 *   separators, and the CRC-32 of that file's bytes. The marker of a four-stream
 *   layout holds the CRC-32 of both tensors and of the codebook it needs, so
 *   its own CRC-32 covers the whole dump.
 * - `complete` is false from the moment an encode starts changing the folder
 *   until it has written and flushed every file; then the manifest is written
 *   last, complete. A false one says that a run was interrupted: its dumps are
 *   checked again before being kept.
 * - The text depends only on the entries (sorted by path): a folder encoded in
 *   one run, or killed and resumed, or with any `--jobs`, gets the same bytes.
 *
 * Layout (JSON, one dump a line):
 *
 * ```json
 * {"kvbits_manifest": 1, "codec": "huffman", "complete": true, "dumps": {
 * "l0/bitstream_meta_t0_2.json": "1c291ca3",
 * "l0/bitstream_meta_t2_3.json": "7f00aa01"}}
 * ```
 *
 * @module
 */

import { KvbitsFormatError } from "./format_error.ts";
import { parseJsonObject } from "./json_fields.ts";

/** The manifest's file name, at the root of a bitstream folder. */
export const MANIFEST_FILE_NAME = "kvbits_manifest.json";

/** The version this kvbits writes and reads. */
const MANIFEST_VERSION = 1;

/** What a manifest records. */
export interface Manifest {
  /** The `--codec` of every dump in the folder. */
  readonly codec: string;
  /** False while an encode is changing the folder (or was killed doing so). */
  readonly complete: boolean;
  /** CRC-32 of each dump's marker file, by its path relative to the folder. */
  readonly dumps: ReadonlyMap<string, number>;
}

/**
 * The manifest's text.
 *
 * @param manifest What it records.
 * @returns Its JSON text, entries sorted by path.
 *
 * @example
 * ```ts
 * import { manifestText, parseManifest } from "./manifest.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const manifest = { codec: "ctx", complete: true, dumps: new Map([["l0/meta_t0_2.kvc", 0x1c291ca3]]) };
 * const text = manifestText(manifest);
 * assertEquals(text, '{"kvbits_manifest": 1, "codec": "ctx", "complete": true, "dumps": {\n"l0/meta_t0_2.kvc": "1c291ca3"}}\n');
 * assertEquals(parseManifest(text), manifest);
 * ```
 */
export function manifestText(manifest: Manifest): string {
  const paths = [...manifest.dumps.keys()].sort();
  const entries = paths.map((path) =>
    `${JSON.stringify(path)}: "${
      manifest.dumps.get(path)!.toString(16).padStart(8, "0")
    }"`
  );
  return `{"kvbits_manifest": ${MANIFEST_VERSION}, "codec": ${
    JSON.stringify(manifest.codec)
  }, "complete": ${manifest.complete}, "dumps": {${
    entries.length ? "\n" + entries.join(",\n") : ""
  }}}\n`;
}

/**
 * Parses a manifest's text.
 *
 * @param text The file's text.
 * @returns What it records.
 * @throws {KvbitsFormatError} When it is not a manifest of this version, naming
 * the key at fault.
 *
 * @example
 * ```ts
 * import { parseManifest } from "./manifest.ts";
 * import { assertThrows } from "@std/assert";
 *
 * assertThrows(() => parseManifest('{"kvbits_manifest": 2}'), Error, "version 2");
 * ```
 */
export function parseManifest(text: string): Manifest {
  const fields = parseJsonObject(text, "manifest");
  if (fields.kvbits_manifest !== MANIFEST_VERSION) {
    throw new KvbitsFormatError(
      `manifest version ${
        JSON.stringify(fields.kvbits_manifest)
      }; this kvbits reads version ${MANIFEST_VERSION}`,
      "kvbits_manifest",
    );
  }
  if (typeof fields.codec !== "string") {
    throw new KvbitsFormatError('key "codec" must be a string', "codec");
  }
  if (typeof fields.complete !== "boolean") {
    throw new KvbitsFormatError(
      'key "complete" must be true or false',
      "complete",
    );
  }
  const listed = fields.dumps;
  if (typeof listed !== "object" || listed === null || Array.isArray(listed)) {
    throw new KvbitsFormatError('key "dumps" must be an object', "dumps");
  }
  const dumps = new Map<string, number>();
  for (const [path, crc] of Object.entries(listed)) {
    if (typeof crc !== "string" || !/^[0-9a-f]{8}$/.test(crc)) {
      throw new KvbitsFormatError(
        `the CRC-32 of ${JSON.stringify(path)} must be 8 hex digits`,
        "dumps",
      );
    }
    dumps.set(path, Number.parseInt(crc, 16));
  }
  return { codec: fields.codec, complete: fields.complete, dumps };
}
