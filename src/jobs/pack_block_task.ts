/**
 * Coding one block: read its files and code its dumps into a block body. The
 * one path of this work, run by the task's thread or by a worker
 * (`pack_worker.ts`); its result is plain data that crosses threads. A file
 * larger than a piece is read here in pieces for its CRC-32, and copied into
 * the pack, in pieces again, as the block is written ({@link copyStreamedPart}).
 *
 * @module
 */

import {
  readTreeFile,
  TREE_FILE_PIECE_BYTES,
  treeFilePieces,
  treeFileSize,
} from "../dump/pack_tree.ts";
import {
  type BlockBody,
  PackBlockBuilder,
  type StreamedPart,
} from "../format/pack_block.ts";
import { crc32 } from "../codec/crc32.ts";
import { KvbitsFileError } from "../dump/file_error.ts";
import { packDumpMetaOf } from "../format/pack_dump_meta.ts";
import type { PredictorDump } from "../dump/predictor_dump.ts";
import type { DumpMeta } from "../format/dump_meta.ts";
import type { PlannedItem } from "./pack_plan.ts";
import { PackLane } from "./pack_lane.ts";

/** A coded block, and what it holds. */
export interface CodedBlock {
  /** The block, but its number. */
  readonly body: BlockBody;
  /** Dumps coded. */
  readonly dumps: number;
  /** Dumps among them coded against a predictor dump. */
  readonly predicted: number;
  /** Files stored as they are (dumps that turned out not to be codable too). */
  readonly files: number;
  /** Empty folders. */
  readonly folders: number;
  /** Bytes of the coded dumps' K and V files. */
  readonly tensorBytes: number;
  /** Bytes of every file in the block. */
  readonly inputBytes: number;
}

/**
 * Reads a block's files and codes its dumps.
 *
 * @param root The tree's folder.
 * @param items The block's items, in order.
 * @param readPredictor Reads a dump's predictor dump (by the meta's path in
 * the tree, `readPredictorDump` of a predictor folder): each dump with one
 * is coded against it.
 * @param lane What the lane reuses from block to block (a new one by default).
 * @param pieceBytes Files larger than this are not read whole: they are read
 * in pieces of this size, here and again when the block is written.
 * @returns The coded block.
 * @throws {KvbitsFileError} When a file cannot be read, or a predictor dump has
 * another shape than its dump.
 * @throws {TypeError} When a dump item's meta bytes are not a dump's meta (the
 * plan makes no such item).
 *
 * @example
 * ```ts
 * import { encodeBlock } from "./pack_block_task.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const root = "fixtures/kv-sample/llama6L-kjv-ruth";
 * const block = encodeBlock(root, [{
 *   kind: "dump", path: "layer_5/meta_t384_385.json",
 *   metaBytes: await Deno.readFile(`${root}/layer_5/meta_t384_385.json`),
 * }, { kind: "folder", path: "empty" }]);
 * assertEquals([block.dumps, block.folders, block.tensorBytes, block.body.entries], [1, 1, 512, 2]);
 * ```
 */
export function encodeBlock(
  root: string,
  items: readonly PlannedItem[],
  readPredictor?: (path: string, meta: DumpMeta) => PredictorDump | undefined,
  lane: PackLane = new PackLane(),
  pieceBytes: number = TREE_FILE_PIECE_BYTES,
): CodedBlock {
  const builder = new PackBlockBuilder(lane.encoder);
  const read = lane.reader(root);
  let coded = 0, predicted = 0, files = 0, folders = 0, tensorBytes = 0;
  for (const item of items) {
    if (item.kind === "folder") {
      builder.addFolder(item.path);
      folders++;
      continue;
    }
    if (item.kind === "file") {
      if (treeFileSize(root, item.path) > pieceBytes) {
        builder.addStreamedFile(
          item.path,
          treeFilePieces(root, item.path, pieceBytes),
        );
      } else builder.addFile(item.path, readTreeFile(root, item.path));
      files++;
      continue;
    }
    const { path, metaBytes } = item;
    const dump = packDumpMetaOf(path, metaBytes);
    if (typeof dump === "string") {
      // The plan read these bytes as a dump's meta: they still are.
      throw new TypeError(`${path} is planned as a dump: ${dump}`);
    }
    const { kPath, vPath } = dump;
    const k = read(kPath, "k");
    const v = read(vPath, "v");
    const predictor = readPredictor?.(path, dump.meta);
    if (builder.addDump(path, metaBytes, dump, k, v, predictor)) {
      coded++;
      if (predictor !== undefined) predicted++;
      tensorBytes += k.length + v.length;
      continue;
    }
    // Tensors of another size than the meta says: kept as they are.
    builder.addFile(kPath, k.slice());
    builder.addFile(vPath, v.slice());
    // A copy: the plan's meta buffers are shared with other dumps.
    builder.addFile(path, metaBytes.slice());
    files += 3;
  }
  return {
    body: builder.body(),
    dumps: coded,
    predicted,
    files,
    folders,
    tensorBytes,
    inputBytes: builder.inputBytes,
  };
}

/**
 * Copies a large file's bytes into the pack as the block that holds it is
 * written, in pieces, checking that they are still what the lane that coded
 * the block read (its size and CRC-32, which the block's table holds).
 *
 * @param root The tree's folder.
 * @param part The file's part of the block.
 * @param pieceBytes Bytes read at a time.
 * @param write Writes bytes to the pack (each piece is reused after it).
 * @throws {KvbitsFileError} When the file cannot be read, or changed since
 * (then the pack being written is not a pack of the tree).
 *
 * @example
 * ```ts
 * import { copyStreamedPart } from "./pack_block_task.ts";
 * import { crc32 } from "../codec/crc32.ts";
 * import { assertEquals, assertRejects } from "@std/assert";
 *
 * const root = await Deno.makeTempDir();
 * await Deno.writeFile(`${root}/x`, Uint8Array.of(1, 2, 3));
 * const part = { path: "x", size: 3, crc: crc32(Uint8Array.of(1, 2, 3)) };
 * const pieces: number[][] = [];
 * await copyStreamedPart(root, part, 2, async (bytes) => { pieces.push([...bytes]); });
 * assertEquals(pieces, [[1, 2], [3]]);
 * await Deno.writeFile(`${root}/x`, Uint8Array.of(1, 2, 4));
 * await assertRejects(() => copyStreamedPart(root, part, 2, async () => {}));
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export async function copyStreamedPart(
  root: string,
  part: StreamedPart,
  pieceBytes: number,
  write: (bytes: Uint8Array) => Promise<void>,
): Promise<void> {
  let size = 0, crc = 0;
  for (const piece of treeFilePieces(root, part.path, pieceBytes)) {
    size += piece.length;
    if (size > part.size) break;
    crc = crc32(piece, crc);
    await write(piece);
  }
  if (size !== part.size || crc !== part.crc) {
    throw new KvbitsFileError(
      `${root}/${part.path}`,
      "changed while it was packed (pack the folder again)",
    );
  }
}
