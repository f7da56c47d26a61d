/**
 * One block of a pack, built and taken apart in memory: the entries, their bytes
 * in the payload, and the block's framing (`pack_layout.ts`).
 *
 * Read me first:
 * - A block starts a new dump coder: its dumps are coded in order, each with the
 *   models the dumps before it in the block left, so a block decodes alone and
 *   only in order.
 * - Decoding checks each entry's CRC-32 before handing its files out: a file,
 *   or a dump's three files, come out exactly as they went in, or not at all
 *   (with why). After a dump that fails, the block's later dumps are lost too
 *   (the coder's carried state is gone); its files are not.
 *
 * @module
 */

import { crc32 } from "../codec/crc32.ts";
import { MAX_TENSOR_ELEMENTS } from "./dump_meta.ts";
import {
  PackBlockDecoder,
  PackBlockEncoder,
  type PackDumpContext,
  type PackDumpShape,
} from "../codec/pack_coder.ts";
import {
  metaTextOf,
  type PackDumpMeta,
  packDumpMetaOf,
  packDumpMetaOfText,
  PackMetaSections,
} from "./pack_dump_meta.ts";
import { blockHeaderBytes, CRC_BYTES } from "./pack_layout.ts";
import {
  type PackPredictor,
  type PackPredictorLookup,
  predictorMismatchProblem,
  predictorOfEntry,
} from "./predictor_lookup.ts";
import {
  encodePackTable,
  type PackEntry,
  payloadBytesOf,
} from "./pack_table.ts";

const TEXT_ENCODER = new TextEncoder();

function crcBytes(value: number): Uint8Array {
  const bytes = new Uint8Array(CRC_BYTES);
  new DataView(bytes.buffer).setUint32(0, value, true);
  return bytes;
}

/** What the coder learns of a dump's place: group, layer, first token. */
function coderContextOf(dump: PackDumpMeta): PackDumpContext {
  const seqStart = dump.meta.fields.seq_start;
  return {
    group: dump.group,
    layer: dump.meta.layerId,
    ...(Number.isSafeInteger(seqStart) && (seqStart as number) >= 0
      ? { seqStart: seqStart as number }
      : {}),
  };
}

function wordsOf(bytes: Uint8Array): Uint16Array {
  return bytes.byteOffset % 2 === 0
    ? new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.length >> 1)
    : new Uint16Array(bytes.slice().buffer);
}

function bytesOf(words: Uint16Array): Uint8Array {
  return new Uint8Array(words.buffer, words.byteOffset, words.byteLength);
}

/**
 * Collects the entries of one block and codes its dumps.
 *
 * @example
 * ```ts
 * import { PackBlockBuilder } from "./pack_block.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const builder = new PackBlockBuilder();
 * builder.addFile("README.md", new TextEncoder().encode("hello"));
 * builder.addFolder("empty");
 * const parts = builder.finish(0);
 * const bytes = parts.reduce((sum, part) => sum + (part as Uint8Array).length, 0);
 * assertEquals(bytes, 28 + builder.tableBytes + 4 + 5 + 4);
 * ```
 */
export class PackBlockBuilder {
  /** The entries so far. */
  readonly entries: PackEntry[] = [];
  #chunks: BlockPart[] = [];
  #payloadBytes = 0;
  #payloadCrc = 0;
  #inputBytes = 0;
  #tableBytes = 0;
  readonly #encoder: PackBlockEncoder;
  #metaSections = new PackMetaSections();

  /**
   * An empty block.
   *
   * @param encoder The dump coder to code its dumps with, reset here: one a
   * lane reuses from block to block (its memory kept), or a new one.
   */
  constructor(encoder: PackBlockEncoder = new PackBlockEncoder()) {
    encoder.reset();
    this.#encoder = encoder;
  }

  /** Bytes of the files added so far (what the block restores). */
  get inputBytes(): number {
    return this.#inputBytes;
  }

  /** Bytes of the coded payload so far. */
  get payloadBytes(): number {
    return this.#payloadBytes;
  }

  /** Bytes of the entry table, once {@link PackBlockBuilder.finish} ran. */
  get tableBytes(): number {
    return this.#tableBytes;
  }

  /**
   * Adds a file, stored as it is, that is not held in memory: its bytes are
   * read here in pieces (for its CRC-32 and the payload's), and read again
   * when the block is written ({@link StreamedPart}).
   *
   * @param path Its path in the tree.
   * @param pieces Its bytes, in pieces (each used before the next is asked
   * for).
   */
  addStreamedFile(path: string, pieces: Iterable<Uint8Array>): void {
    let size = 0, crc = 0, payloadCrc = this.#payloadCrc;
    for (const piece of pieces) {
      size += piece.length;
      crc = crc32(piece, crc);
      payloadCrc = crc32(piece, payloadCrc);
    }
    this.#inputBytes += size;
    this.entries.push({ kind: "file", path, size, crc });
    if (size === 0) return;
    this.#chunks.push({ path, size, crc });
    this.#payloadBytes += size;
    this.#payloadCrc = payloadCrc;
  }

  #append(entry: PackEntry, bytes?: Uint8Array): void {
    this.entries.push(entry);
    if (bytes === undefined || bytes.length === 0) return;
    this.#chunks.push(bytes);
    this.#payloadBytes += bytes.length;
    this.#payloadCrc = crc32(bytes, this.#payloadCrc);
  }

  /**
   * Adds a file, stored as it is.
   *
   * @param path Its path in the tree.
   * @param bytes Its bytes (kept until {@link PackBlockBuilder.finish}: not to be
   * reused by the caller).
   */
  addFile(path: string, bytes: Uint8Array): void {
    this.#inputBytes += bytes.length;
    this.#append(
      { kind: "file", path, size: bytes.length, crc: crc32(bytes) },
      bytes,
    );
  }

  /**
   * Adds an empty folder.
   *
   * @param path Its path in the tree.
   */
  addFolder(path: string): void {
    this.#append({ kind: "folder", path });
  }

  /**
   * Adds a dump, coded, when its tensors have the size its meta says.
   *
   * @param path The meta file's path in the tree.
   * @param metaBytes The meta file's bytes.
   * @param dump What the meta says.
   * @param k K's file bytes (read now, may be reused afterwards).
   * @param v V's file bytes (likewise).
   * @param predictor The predictor dump to code it against (its shape checked
   * by the caller), if any.
   * @returns False, adding nothing, when K or V does not have the meta's size.
   */
  addDump(
    path: string,
    metaBytes: Uint8Array,
    dump: PackDumpMeta,
    k: Uint8Array,
    v: Uint8Array,
    predictor?: PackPredictor,
  ): boolean {
    const { seqLen, kvHeads, headDim } = dump.meta;
    const shape = { tokens: seqLen, heads: kvHeads, headDim };
    const bytes = 2 * seqLen * kvHeads * headDim;
    if (k.length !== bytes || v.length !== bytes) return false;
    const coded = this.#encoder.encodeDump(
      shape,
      wordsOf(k),
      wordsOf(v),
      coderContextOf(dump),
      predictor,
    );
    this.#inputBytes += metaBytes.length + 2 * bytes;
    this.#append({
      kind: "dump",
      path,
      shape,
      metaSection: this.#metaSections.sectionOf(path, dump.text, shape),
      codedBytes: coded.length,
      crc: crc32(v, crc32(k, crc32(metaBytes))),
      ...(predictor !== undefined ? { predicted: true } as const : {}),
    }, coded);
    return true;
  }

  /**
   * The block without its header: the header's fields but the number, and the
   * parts that follow the header (table, its CRC, the payload, its CRC).
   *
   * @returns The fields and parts.
   */
  body(): BlockBody {
    const table = encodePackTable(this.entries);
    this.#tableBytes = table.length;
    return {
      entries: this.entries.length,
      tableBytes: table.length,
      payloadBytes: this.#payloadBytes,
      parts: [
        table,
        crcBytes(crc32(table)),
        ...this.#chunks,
        crcBytes(this.#payloadCrc),
      ],
    };
  }

  /**
   * The block's bytes: header, table, its CRC, the payload, its CRC.
   *
   * @param number The block's number in the pack.
   * @returns The parts, to be written in order.
   */
  finish(number: number): BlockPart[] {
    return withHeader(this.body(), number);
  }
}

/**
 * A file's bytes in a block's payload that the block does not hold: the writer
 * copies them from the file (which must still have this size and CRC-32).
 */
export interface StreamedPart {
  /** The file's path in the tree. */
  readonly path: string;
  /** Its bytes. */
  readonly size: number;
  /** Their CRC-32. */
  readonly crc: number;
}

/** A piece of a block's bytes: in memory, or a file's to copy. */
export type BlockPart = Uint8Array | StreamedPart;

/** A block but its header's number (what a worker hands back). */
export interface BlockBody {
  /** Entries in its table. */
  readonly entries: number;
  /** Bytes of its table. */
  readonly tableBytes: number;
  /** Bytes of its payload. */
  readonly payloadBytes: number;
  /** Table, table CRC, payload parts, payload CRC. */
  readonly parts: BlockPart[];
}

/**
 * A block's bytes from its body and its number.
 *
 * @param body What {@link PackBlockBuilder.body} returned.
 * @param number The block's number in the pack.
 * @returns The header, then the body's parts.
 *
 * @example
 * ```ts
 * import { PackBlockBuilder, withHeader } from "./pack_block.ts";
 * import { parseBlockHeader } from "./pack_layout.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const builder = new PackBlockBuilder();
 * builder.addFolder("a");
 * const [header] = withHeader(builder.body(), 7);
 * assertEquals(parseBlockHeader(header as Uint8Array, 0).number, 7);
 * ```
 */
export function withHeader(body: BlockBody, number: number): BlockPart[] {
  return [
    blockHeaderBytes({
      number,
      entries: body.entries,
      tableBytes: body.tableBytes,
      payloadBytes: body.payloadBytes,
    }),
    ...body.parts,
  ];
}

/** A restored file: its path in the tree and its bytes. */
export interface RestoredFile {
  /** Its path in the tree. */
  readonly path: string;
  /** Its bytes. */
  readonly bytes: Uint8Array;
}

/** What decoding one entry gave. */
export interface RestoredEntry {
  /** The entry. */
  readonly entry: PackEntry;
  /** Its files (a dump's K, V, then meta), when restored. */
  readonly files: readonly RestoredFile[];
  /** Why it could not be restored, when it could not. */
  readonly problem?: string;
  /** For a restored dump: what its meta says. */
  readonly dump?: PackDumpMeta;
}

/**
 * Decodes the entries of one block, in order, from its payload.
 *
 * @param entries The block's entries.
 * @param payload The payload (possibly cut short: entries past its end are
 * reported lost).
 * @param only Which entries to restore (the others are decoded only as far as
 * later dumps need them); all when undefined.
 * @param predictors Finds the predictor of each dump coded against one.
 * @param decoder The dump decoder, reset here: one a lane reuses from block to
 * block (its memory kept), or a new one. Made with `reuseOutput`, it decodes
 * every dump into the same buffers (less garbage): the caller is then done with
 * each result before it asks for the next.
 * @returns One result per entry that was asked for, as it is decoded (so that a
 * caller can write and drop each before the next).
 *
 * @example
 * ```ts
 * import { decodePackEntries, PackBlockBuilder } from "./pack_block.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const builder = new PackBlockBuilder();
 * builder.addFile("a.txt", Uint8Array.of(1, 2, 3));
 * const parts = builder.finish(0);
 * const payload = parts[3] as Uint8Array;
 * const [restored] = [...decodePackEntries(builder.entries, payload)];
 * assertEquals(restored.files, [{ path: "a.txt", bytes: Uint8Array.of(1, 2, 3) }]);
 * const [lost] = [...decodePackEntries(builder.entries, Uint8Array.of(1, 2, 4))];
 * assertEquals(lost.problem, "CRC-32 mismatch: the pack is damaged here");
 * ```
 */
export function* decodePackEntries(
  entries: readonly PackEntry[],
  payload: Uint8Array,
  only?: (entry: PackEntry, dump?: PackDumpMeta) => boolean,
  predictors?: PackPredictorLookup,
  decoder: PackBlockDecoder = new PackBlockDecoder(),
): Generator<RestoredEntry> {
  decoder.reset();
  let last = entries.length - 1;
  if (only !== undefined) {
    while (last >= 0 && !wanted(entries[last], only)) last--;
  }
  let at = 0;
  // The coder carries state from dump to dump: after a dump that fails, the
  // block's later dumps cannot be decoded.
  let broken: string | undefined;
  // Dumps coded against predictors carry their own models (apart from the
  // others'): after one fails, only the block's later predicted dumps are lost.
  let brokenPredicted: string | undefined;
  for (let n = 0; n <= last; n++) {
    const entry = entries[n];
    const length = payloadBytesOf(entry);
    const bytes = payload.subarray(at, at + length);
    at += length;
    const want = only === undefined || wanted(entry, only);
    if (entry.kind !== "dump" && !want) continue;
    const lost = (problem: string): RestoredEntry => ({
      entry,
      files: [],
      problem,
    });
    if (bytes.length < length) {
      yield lost(
        `its bytes are missing: the pack ends ${
          at - payload.length
        } bytes early`,
      );
      continue;
    }
    if (entry.kind === "folder") {
      yield { entry, files: [] };
      continue;
    }
    if (entry.kind === "file") {
      yield crc32(bytes) !== entry.crc
        ? lost("CRC-32 mismatch: the pack is damaged here")
        : { entry, files: [{ path: entry.path, bytes }] };
      continue;
    }
    const before = broken ?? (entry.predicted ? brokenPredicted : undefined);
    if (before !== undefined) {
      if (want) {
        yield lost(
          `not decoded: ${before}, before it in its block, could not be, and a block's dumps are decoded in sequence`,
        );
      }
      continue;
    }
    const restored = restoreDump(entry, bytes, decoder, predictors);
    if (restored.problem !== undefined) {
      if (restored.predictorProblem) brokenPredicted = entry.path;
      else broken = entry.path;
    }
    if (want) yield restored;
  }
}

function wanted(
  entry: PackEntry,
  only: (entry: PackEntry, dump?: PackDumpMeta) => boolean,
): boolean {
  if (entry.kind !== "dump") return only(entry);
  const dump = dumpMetaOfEntry(entry);
  return typeof dump !== "string" && only(entry, dump);
}

/**
 * What a dump entry's meta says (decoded from the table alone), or why it cannot
 * be read.
 *
 * @param entry A dump entry.
 * @returns The meta, or the problem.
 *
 * @example
 * ```ts
 * import { dumpMetaOfEntry } from "./pack_block.ts";
 * import { metaSectionOf } from "./pack_dump_meta.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const text = '{"layer_id": 1, "seq_len": 1, "kv_heads": 1, "head_dim": 2, "bytes_per_elem": 2, "stage": "decode", "k_file": "k", "v_file": "v"}';
 * const shape = { tokens: 1, heads: 1, headDim: 2 };
 * const entry = { kind: "dump", path: "l/meta_t0_1.json", shape, metaSection: metaSectionOf("l/meta_t0_1.json", text, shape), codedBytes: 0, crc: 0 } as const;
 * const dump = dumpMetaOfEntry(entry);
 * assertEquals(typeof dump === "string" ? dump : dump.vPath, "l/v");
 * ```
 */
export function dumpMetaOfEntry(
  entry: PackEntry & { kind: "dump" },
): PackDumpMeta | string {
  const found = metaOfEntry(entry);
  return typeof found === "string" ? found : found.dump;
}

/** {@link dumpMetaOfEntry}, with the meta file's bytes. */
function metaOfEntry(
  entry: PackEntry & { kind: "dump" },
): { dump: PackDumpMeta; bytes: Uint8Array } | string {
  const { tokens, heads, headDim } = entry.shape;
  if (
    heads < 1 || headDim < 1 || tokens * heads * headDim > MAX_TENSOR_ELEMENTS
  ) {
    return `impossible shape ${tokens} x ${heads} x ${headDim}`;
  }
  let text: string;
  try {
    text = metaTextOf(entry.metaSection, entry.path, entry.shape);
  } catch (error) {
    return `its meta cannot be read: ${(error as Error).message}`;
  }
  const bytes = TEXT_ENCODER.encode(text);
  // A well-formed text is what its bytes decode to: no decoding back.
  const dump = text.isWellFormed()
    ? packDumpMetaOfText(entry.path, text)
    : packDumpMetaOf(entry.path, bytes);
  if (typeof dump === "string") return `its meta is not a dump's: ${dump}`;
  const { seqLen, kvHeads, headDim: metaHeadDim } = dump.meta;
  if (seqLen !== tokens || kvHeads !== heads || metaHeadDim !== headDim) {
    return "its meta does not have its shape";
  }
  return { dump, bytes };
}

function restoreDump(
  entry: PackEntry & { kind: "dump" },
  bytes: Uint8Array,
  decoder: PackBlockDecoder,
  predictors: PackPredictorLookup | undefined,
): RestoredEntry & { predictorProblem?: true } {
  const found = metaOfEntry(entry);
  if (typeof found === "string") return { entry, files: [], problem: found };
  const { dump, bytes: metaBytes } = found;
  const shape: PackDumpShape = entry.shape;
  let predictor: PackPredictor | undefined;
  if (entry.predicted) {
    const found = predictorOfEntry(entry.path, dump, predictors);
    if (typeof found === "string") {
      return { entry, files: [], problem: found, predictorProblem: true };
    }
    predictor = found;
  }
  let k: Uint16Array, v: Uint16Array;
  try {
    ({ k, v } = decoder.decodeDump(
      bytes,
      shape,
      coderContextOf(dump),
      predictor,
    ));
  } catch (error) {
    const refused = predictor !== undefined
      ? predictorMismatchProblem(error, predictor)
      : undefined;
    return refused !== undefined
      ? { entry, files: [], problem: refused, predictorProblem: true }
      : {
        entry,
        files: [],
        problem: `cannot be decoded: ${(error as Error).message}`,
      };
  }
  const kBytes = bytesOf(k), vBytes = bytesOf(v);
  if (crc32(vBytes, crc32(kBytes, crc32(metaBytes))) !== entry.crc) {
    return {
      entry,
      files: [],
      problem: "CRC-32 mismatch after decoding: the pack is damaged here",
    };
  }
  return {
    entry,
    dump,
    files: [
      { path: dump.kPath, bytes: kBytes },
      { path: dump.vPath, bytes: vBytes },
      { path: entry.path, bytes: metaBytes },
    ],
  };
}
