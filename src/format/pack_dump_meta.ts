/**
 * A dump's meta file in a pack: its exact bytes in a compact section, and what the
 * pack reads from it (tensor file names, layer, run, stage).
 *
 * Read me first:
 * - The section is `compact_meta.ts`'s, predicted from the meta's file name and
 *   the dump's shape. The encoder decodes every section it makes and falls back to
 *   the verbatim text when that does not give the exact text back, so whatever a
 *   meta file holds returns byte for byte.
 * - A meta file only becomes a dump entry when its bytes are UTF-8 that encodes
 *   back to the same bytes (a BOM included) and its `k_file` and `v_file` are two
 *   plain file names in its own folder; otherwise its files are stored as files.
 *
 * @module
 */

import { KvbitsDataError } from "../codec/errors.ts";
import {
  type CompactMetaRecord,
  compactMetaText,
  decodeCompactMeta,
  encodeCompactMeta,
  readCompactMeta,
  textMetaRecord,
} from "./compact_meta.ts";
import { type DumpMeta, parseDumpMeta } from "./dump_meta.ts";
import type { PackDumpShape } from "../codec/pack_coder.ts";

const TEXT_ENCODER = new TextEncoder();
const TEXT_DECODER = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const MODE_TEXT = 0;

/** What the pack needs from a dump's meta file. */
export interface PackDumpMeta {
  /** The meta file's exact text. */
  readonly text: string;
  /** Its parsed keys. */
  readonly meta: DumpMeta;
  /** K's path in the tree. */
  readonly kPath: string;
  /** V's path in the tree. */
  readonly vPath: string;
  /** Dumps of one group share carried models: `${run_id}\u0000${layer_id}`. */
  readonly group: string;
}

/**
 * Reads a meta file as a dump of the pack, or says why it cannot be one.
 *
 * @param path The meta file's path in the tree (`/`-separated).
 * @param bytes Its bytes.
 * @returns The dump's meta, or a reason (one line) when its files are to be
 * stored as plain files.
 *
 * @example
 * ```ts
 * import { packDumpMetaOf } from "./pack_dump_meta.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const text = '{"layer_id": 2, "seq_len": 1, "kv_heads": 1, "head_dim": 2, "bytes_per_elem": 2, "stage": "decode", "run_id": "r", "k_file": "k_t4_5.bin", "v_file": "v_t4_5.bin"}';
 * const dump = packDumpMetaOf("r/layer_2/meta_t4_5.json", new TextEncoder().encode(text));
 * assertEquals(typeof dump === "string" ? dump : [dump.kPath, dump.group], ["r/layer_2/k_t4_5.bin", "r\u00002"]);
 * assertEquals(packDumpMetaOf("m.json", Uint8Array.of(0xff)), "not UTF-8");
 * ```
 */
export function packDumpMetaOf(
  path: string,
  bytes: Uint8Array,
): PackDumpMeta | string {
  let text: string;
  try {
    text = TEXT_DECODER.decode(bytes);
  } catch {
    return "not UTF-8";
  }
  if (!encodesBack(text, bytes)) {
    return "its text does not encode back to its bytes";
  }
  return packDumpMetaOfText(path, text);
}

/**
 * {@link packDumpMetaOf} for a meta whose text is known to be exactly its
 * file's bytes decoded (a text that encodes to those bytes and back).
 *
 * @param path The meta file's path in the tree (`/`-separated).
 * @param text Its text.
 * @returns The dump's meta, or a reason (one line) when its files are to be
 * stored as plain files.
 *
 * @example
 * ```ts
 * import { packDumpMetaOfText } from "./pack_dump_meta.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const text = '{"layer_id": 2, "seq_len": 1, "kv_heads": 1, "head_dim": 2, "bytes_per_elem": 2, "stage": "decode", "run_id": "r", "k_file": "k", "v_file": "k"}';
 * assertEquals(packDumpMetaOfText("r/m.json", text), "k_file and v_file are the same file");
 * ```
 */
export function packDumpMetaOfText(
  path: string,
  text: string,
): PackDumpMeta | string {
  let meta: DumpMeta;
  try {
    meta = parseDumpMeta(text);
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
  if (meta.bytesPerElem !== 2) return `bytes_per_elem is ${meta.bytesPerElem}`;
  const folder = path.includes("/")
    ? path.slice(0, path.lastIndexOf("/") + 1)
    : "";
  const name = path.slice(folder.length);
  for (const file of [meta.kFile, meta.vFile]) {
    if (
      file === "" || file === "." || file === ".." || /[/\\\0]/.test(file) ||
      file === name
    ) {
      return `its tensor file name ${
        JSON.stringify(file)
      } is not a plain name in its folder`;
    }
  }
  if (meta.kFile === meta.vFile) return "k_file and v_file are the same file";
  return {
    text,
    meta,
    kPath: folder + meta.kFile,
    vPath: folder + meta.vFile,
    group: `${meta.runId}\u0000${meta.layerId}`,
  };
}

/** Whether `text` encodes to `bytes` (always so when they are ASCII). */
function encodesBack(text: string, bytes: Uint8Array): boolean {
  let ascii = 0;
  for (let i = 0; i < bytes.length; i++) ascii |= bytes[i];
  if (ascii < 0x80) return true;
  const back = TEXT_ENCODER.encode(text);
  if (back.length !== bytes.length) return false;
  for (let i = 0; i < back.length; i++) {
    if (back[i] !== bytes[i]) return false;
  }
  return true;
}

function metaNameOf(path: string): string {
  const name = path.slice(path.lastIndexOf("/") + 1);
  return name.endsWith(".json") ? name.slice(0, -5) : name;
}

/**
 * The meta section of a dump entry: compact when that restores the text exactly,
 * otherwise the text itself.
 *
 * @param path The meta file's path in the tree.
 * @param text Its text.
 * @param shape The dump's shape.
 * @returns The section.
 *
 * @example
 * ```ts
 * import { metaSectionOf, metaTextOf } from "./pack_dump_meta.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const text = '{"layer_id": 1}';
 * const shape = { tokens: 1, heads: 1, headDim: 2 };
 * assertEquals(metaTextOf(metaSectionOf("a/meta_t0_1.json", text, shape), "a/meta_t0_1.json", shape), text);
 * ```
 */
export function metaSectionOf(
  path: string,
  text: string,
  shape: PackDumpShape,
): Uint8Array {
  // The compact encoder decodes its record and keeps it only when that gives
  // the text back; otherwise it returns the text verbatim (mode 0).
  return encodeCompactMeta(text, { metaName: metaNameOf(path), ...shape });
}

/**
 * The meta text of a dump entry.
 *
 * @param section The entry's meta section.
 * @param path The meta file's path in the tree.
 * @param shape The dump's shape.
 * @returns The exact text of the meta file.
 * @throws {KvbitsDataError} When the section is corrupt.
 */
export function metaTextOf(
  section: Uint8Array,
  path: string,
  shape: PackDumpShape,
): string {
  if (section.length > 0 && section[0] === MODE_TEXT) {
    try {
      return TEXT_DECODER.decode(section.subarray(1));
    } catch {
      throw new KvbitsDataError("meta text is not UTF-8", {
        stream: "pack meta",
        bitOffset: 8,
      });
    }
  }
  return decodeCompactMeta(section, { metaName: metaNameOf(path), ...shape });
}

/**
 * The meta sections of a block's dumps, in order: each dump gets the previous
 * dump's section when that restores its meta's text exactly (a run's metas
 * differ in what the section predicts from the file name and shape, so their
 * sections are often the same bytes), else a new one. The previous section is
 * read once, not once per dump.
 *
 * @example Two decode steps of a layer share a section
 * ```ts
 * import { PackMetaSections } from "./pack_dump_meta.ts";
 * import { assertStrictEquals } from "@std/assert";
 *
 * const text = (s: number) => `{"layer_id": 1, "seq_start": ${s}, "seq_len": 1}`;
 * const shape = { tokens: 1, heads: 1, headDim: 2 };
 * const sections = new PackMetaSections();
 * const first = sections.sectionOf("l/meta_t4_5.json", text(4), shape);
 * assertStrictEquals(sections.sectionOf("l/meta_t5_6.json", text(5), shape), first);
 * ```
 */
export class PackMetaSections {
  #last:
    | { section: Uint8Array; record: CompactMetaRecord | undefined }
    | undefined;

  /**
   * The meta section of a dump, the previous one's when it restores `text`.
   *
   * @param path The meta file's path in the tree.
   * @param text Its text.
   * @param shape The dump's shape.
   * @returns The section (the same array as before when it is the same).
   */
  sectionOf(path: string, text: string, shape: PackDumpShape): Uint8Array {
    const last = this.#last;
    if (last?.record !== undefined) {
      try {
        const restored = compactMetaText(last.record, {
          metaName: metaNameOf(path),
          ...shape,
        });
        if (restored === text) return last.section;
      } catch {
        // Not this meta's: a new section below.
      }
    }
    const section = metaSectionOf(path, text, shape);
    this.#last = { section, record: recordOf(section) };
    return section;
  }
}

/** A section read for {@link metaTextOf}'s text; undefined when it cannot be. */
function recordOf(section: Uint8Array): CompactMetaRecord | undefined {
  try {
    if (section.length > 0 && section[0] === MODE_TEXT) {
      // Decoded as metaTextOf decodes it, which restores the file.
      return textMetaRecord(TEXT_DECODER.decode(section.subarray(1)));
    }
    return readCompactMeta(section);
  } catch {
    return undefined;
  }
}
