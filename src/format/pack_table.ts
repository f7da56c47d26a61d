/**
 * A pack block's entry table: what each entry of the block is (a file, an empty
 * folder, or a dump), its path, and where its bytes are in the block's payload.
 *
 * Read me first:
 * - Entries are listed in payload order: an entry's bytes follow those of the
 *   entry before it (a file's bytes as they are, a dump's as its coder wrote
 *   them; a folder has none).
 * - A dump entry is a meta file and its two tensor files. Its meta is stored here,
 *   compactly (`compact_meta.ts`), so that listing and selecting need no payload;
 *   the tensor files are the meta's `k_file` and `v_file` in the meta's folder.
 * - Its CRC-32 is over the meta file's bytes, then K's, then V's: what decoding
 *   must give back before anything is written.
 * - Small on purpose, since a pack of single-token dumps has one entry per few
 *   hundred bytes of tensors: a path shares its prefix with the path before it, a
 *   dump's path is predicted as the next step of the dump before it
 *   (`meta_t<E>_<E+tokens>.json` after `meta_t<S>_<E>.json`, same folder), a meta
 *   section shares its prefix with the dump before it, and the heads and head
 *   size are those of the dump before unless said otherwise.
 *
 * Layout, per entry (varints unsigned LEB128, words little-endian):
 *
 * | part | content |
 * | --- | --- |
 * | tag | 1 byte: bits 0-1 kind (0 file, 1 folder, 2 dump); bit 2 (dumps) path predicted; bit 3 (dumps) heads and head size of the dump before; bit 4 (dumps, format version 2) coded against a predictor dump (`predicted_dump_coder.ts`); other bits 0 |
 * | tokens | dumps: varint; then, without bit 3, varint heads and varint head size |
 * | path | unless predicted: varint bytes shared with the previous entry's path (UTF-8), varint length and bytes of the rest |
 * | file | varint size, 4-byte CRC-32 |
 * | dump | varint meta bytes shared with the previous dump's meta section, varint length and bytes of the rest; varint coded bytes; 4-byte CRC-32 |
 *
 * @module
 */

import { ByteReader, ByteWriter } from "../codec/byte_io.ts";
import type { PackDumpShape } from "../codec/pack_coder.ts";

/** A file stored as it is. */
export interface PackFileEntry {
  /** `file`. */
  readonly kind: "file";
  /** Its path in the tree, `/`-separated, relative. */
  readonly path: string;
  /** Its bytes. */
  readonly size: number;
  /** CRC-32 of its bytes. */
  readonly crc: number;
}

/** An empty folder. */
export interface PackFolderEntry {
  /** `folder`. */
  readonly kind: "folder";
  /** Its path in the tree. */
  readonly path: string;
}

/** A dump: its meta file, stored here, and its K and V, coded in the payload. */
export interface PackDumpEntry {
  /** `dump`. */
  readonly kind: "dump";
  /** The meta file's path in the tree. */
  readonly path: string;
  /** The shape of K and V. */
  readonly shape: PackDumpShape;
  /** The meta file's text, compactly (`pack_dump_meta.ts`). */
  readonly metaSection: Uint8Array;
  /** Bytes of the coded K and V in the payload. */
  readonly codedBytes: number;
  /** CRC-32 of the meta file's bytes, then K's, then V's. */
  readonly crc: number;
  /** Coded against a predictor dump (`--predictor-dir`): true, or absent. */
  readonly predicted?: true;
}

/** One entry of a block. */
export type PackEntry = PackFileEntry | PackFolderEntry | PackDumpEntry;

const KIND_CODES = { file: 0, folder: 1, dump: 2 } as const;
const KINDS = ["file", "folder", "dump"] as const;
const PATH_PREDICTED = 4;
const SAME_HEADS = 8;
const PREDICTED = 16;
const STREAM = "pack table";
const TEXT_ENCODER = new TextEncoder();
const TEXT_DECODER = new TextDecoder("utf-8", { fatal: true });
const STEP_NAME = /^(.*\/)?meta_t(\d+)_(\d+)\.json$/;

/**
 * Bytes of an entry in its block's payload.
 *
 * @param entry The entry.
 * @returns A file's size, a dump's coded bytes, 0 for a folder.
 *
 * @example
 * ```ts
 * import { payloadBytesOf } from "./pack_table.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(payloadBytesOf({ kind: "file", path: "a", size: 5, crc: 0 }), 5);
 * ```
 */
export function payloadBytesOf(entry: PackEntry): number {
  return entry.kind === "file"
    ? entry.size
    : entry.kind === "dump"
    ? entry.codedBytes
    : 0;
}

/** The path a dump after `previous` most likely has, or undefined. */
function predictedPath(
  previous: PackEntry | undefined,
  tokens: number,
): string | undefined {
  if (previous?.kind !== "dump") return undefined;
  const match = STEP_NAME.exec(previous.path);
  if (match === null) return undefined;
  const end = Number(match[3]);
  return `${match[1] ?? ""}meta_t${end}_${end + tokens}.json`;
}

function sharedPrefix(a: Uint8Array, b: Uint8Array): number {
  const length = Math.min(a.length, b.length);
  let i = 0;
  while (i < length && a[i] === b[i]) i++;
  return i;
}

/**
 * Writes a block's entry table.
 *
 * @param entries The entries, in payload order.
 * @returns The table bytes.
 *
 * @example Ten decode steps of one layer, about ten bytes each (four are the CRC)
 * ```ts
 * import { decodePackTable, encodePackTable, type PackEntry } from "./pack_table.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const entries: PackEntry[] = [{ kind: "file", path: "README.md", size: 10, crc: 1 }];
 * for (let t = 40; t < 50; t++) {
 *   entries.push({
 *     kind: "dump", path: `run/layer_0/meta_t${t}_${t + 1}.json`,
 *     shape: { tokens: 1, heads: 2, headDim: 64 },
 *     metaSection: Uint8Array.of(1, 19, 19, 0, 0, 5), codedBytes: 300, crc: t,
 *   });
 * }
 * const table = encodePackTable(entries);
 * assertEquals(decodePackTable(table, entries.length), entries);
 * assertEquals(table.length, 155);
 * ```
 */
export function encodePackTable(entries: readonly PackEntry[]): Uint8Array {
  const writer = new ByteWriter(64 + 32 * entries.length);
  let previous: PackEntry | undefined;
  let previousPath: Uint8Array = new Uint8Array(0);
  let previousDump: PackDumpEntry | undefined;
  for (const entry of entries) {
    let tag: number = KIND_CODES[entry.kind];
    const path = TEXT_ENCODER.encode(entry.path);
    if (entry.kind === "dump") {
      const { tokens, heads, headDim } = entry.shape;
      if (predictedPath(previous, tokens) === entry.path) tag |= PATH_PREDICTED;
      if (
        previousDump?.shape.heads === heads &&
        previousDump.shape.headDim === headDim
      ) tag |= SAME_HEADS;
      if (entry.predicted) tag |= PREDICTED;
      writer.byte(tag);
      writer.varint(tokens);
      if (!(tag & SAME_HEADS)) {
        writer.varint(heads);
        writer.varint(headDim);
      }
    } else {
      writer.byte(tag);
    }
    if (!(tag & PATH_PREDICTED)) writeShared(writer, path, previousPath);
    if (entry.kind === "file") {
      writer.varint(entry.size);
      writer.uint32(entry.crc);
    } else if (entry.kind === "dump") {
      writeShared(
        writer,
        entry.metaSection,
        previousDump?.metaSection ?? new Uint8Array(0),
      );
      writer.varint(entry.codedBytes);
      writer.uint32(entry.crc);
      previousDump = entry;
    }
    previous = entry;
    previousPath = path;
  }
  return writer.finish();
}

function writeShared(
  writer: ByteWriter,
  bytes: Uint8Array,
  previous: Uint8Array,
): void {
  const shared = sharedPrefix(bytes, previous);
  writer.varint(shared);
  writer.varint(bytes.length - shared);
  writer.bytes(bytes.subarray(shared));
}

function readShared(reader: ByteReader, previous: Uint8Array): Uint8Array {
  const at = reader.offset;
  const shared = reader.varint();
  if (shared > previous.length) {
    throw reader.error(
      `shares ${shared} bytes with ${previous.length} bytes before`,
      at,
    );
  }
  const rest = reader.bytes(reader.varintAtMost(reader.remaining, "length"));
  const bytes = new Uint8Array(shared + rest.length);
  bytes.set(previous.subarray(0, shared));
  bytes.set(rest, shared);
  return bytes;
}

/**
 * Reads a block's entry table and checks every path ({@link checkPackPath}).
 *
 * @param table The table bytes.
 * @param count Entries it holds (from the block header).
 * @returns The entries.
 * @throws {KvbitsDataError} When the table is corrupt, holds an unsafe path, or
 * does not hold exactly `count` entries.
 */
export function decodePackTable(
  table: Uint8Array,
  count: number,
): PackEntry[] {
  const reader = new ByteReader(table, STREAM);
  // Every entry takes two bytes or more: this bounds what a corrupt count allocates.
  if (count > table.length) {
    throw reader.error(`${count} entries cannot fit in ${table.length} bytes`);
  }
  const entries: PackEntry[] = [];
  let previous: PackEntry | undefined;
  let previousPath: Uint8Array = new Uint8Array(0);
  let previousDump: PackDumpEntry | undefined;
  for (let n = 0; n < count; n++) {
    const at = reader.offset;
    const tag = reader.byte();
    const kind = KINDS[tag & 3];
    if (
      kind === undefined || (tag & ~31) !== 0 || (kind !== "dump" && tag > 3)
    ) {
      throw reader.error(`entry ${n} has the unknown tag ${tag}`, at);
    }
    let shape: PackDumpShape | undefined;
    if (kind === "dump") {
      const tokens = reader.varint();
      let heads: number, headDim: number;
      if (tag & SAME_HEADS) {
        if (previousDump === undefined) {
          throw reader.error(
            `entry ${n} refers to a dump before the first`,
            at,
          );
        }
        ({ heads, headDim } = previousDump.shape);
      } else {
        heads = reader.varint();
        headDim = reader.varint();
      }
      shape = { tokens, heads, headDim };
    }
    let path: Uint8Array;
    let text: string;
    if (tag & PATH_PREDICTED) {
      const predicted = predictedPath(previous, shape!.tokens);
      if (predicted === undefined) {
        throw reader.error(`entry ${n} has no path to predict`, at);
      }
      text = predicted;
      path = TEXT_ENCODER.encode(text);
    } else {
      path = readShared(reader, previousPath);
      try {
        text = TEXT_DECODER.decode(path);
      } catch {
        throw reader.error(`entry ${n}'s path is not UTF-8`, at);
      }
    }
    const problem = pathProblem(text);
    if (problem !== undefined) {
      throw reader.error(
        `entry ${n}'s path ${JSON.stringify(text)} ${problem}`,
      );
    }
    let entry: PackEntry;
    if (kind === "file") {
      entry = {
        kind,
        path: text,
        size: reader.varint(),
        crc: reader.uint32(),
      };
    } else if (kind === "folder") {
      entry = { kind, path: text };
    } else {
      const metaSection = readShared(
        reader,
        previousDump?.metaSection ?? new Uint8Array(0),
      );
      entry = previousDump = {
        kind,
        path: text,
        shape: shape!,
        metaSection,
        codedBytes: reader.varint(),
        crc: reader.uint32(),
        ...(tag & PREDICTED ? { predicted: true } as const : {}),
      };
    }
    entries.push(entry);
    previous = entry;
    previousPath = path;
  }
  if (reader.remaining !== 0) {
    throw reader.error(`${reader.remaining} bytes follow the last entry`);
  }
  return entries;
}

/**
 * Why a path may not be restored, or undefined when it may: paths are relative,
 * `/`-separated, with no empty, `.` or `..` part and no NUL or backslash, so that
 * nothing is ever written outside the output folder.
 *
 * @param path A path from a pack.
 * @returns The problem, or undefined.
 *
 * @example
 * ```ts
 * import { pathProblem } from "./pack_table.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(pathProblem("run/layer_0/meta_t0_1.json"), undefined);
 * assertEquals(pathProblem("../x"), "has a '..' part");
 * ```
 */
export function pathProblem(path: string): string | undefined {
  if (path === "") return "is empty";
  if (path.startsWith("/")) return "is absolute";
  if (path.includes("\0") || path.includes("\\")) {
    return "holds a NUL or a backslash";
  }
  for (const part of path.split("/")) {
    if (part === "") return "has an empty part";
    if (part === ".") return "has a '.' part";
    if (part === "..") return "has a '..' part";
  }
  return undefined;
}
