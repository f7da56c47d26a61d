/**
 * What goes into a pack and in which order: the plan of its blocks.
 *
 * Read me first:
 * - Every regular file and empty folder of the tree is in the plan exactly once.
 *   A `meta_*.json` that reads as a dump (`packDumpMetaOf`) whose two tensor
 *   files are in the tree and not claimed by an earlier dump becomes a dump item
 *   (its three files); every other file is a file item. The encoder reads a
 *   dump's meta again and stores its files as files if it no longer is one.
 * - Files and folders come first, in path order. Dumps follow, sorted by run
 *   folder (the folder above the dump's layer folder), layer, `seq_start` and
 *   path: a run's dumps of one layer follow each other in sequence order, so the
 *   coder carries its models from each to the next, and runs of one folder
 *   follow each other, so that a block's row dictionary sees rows that repeat
 *   across runs.
 * - Dumps are cut into blocks here, from their sizes as their metas say: a block
 *   ends once it holds `blockBytes` of input or more. Blocks are independent
 *   (each decodes alone), so they bound what a lost byte costs and are the unit
 *   of parallel work and of seeking; since the cut depends on the tree alone,
 *   the pack does not depend on how many workers code it. Files, stored as they
 *   are, are cut into blocks by the encoder as it reads them.
 *
 * @module
 */

import { readSmallTreeFile, type TreeListing } from "../dump/pack_tree.ts";
import { packDumpMetaOf } from "../format/pack_dump_meta.ts";

/** Largest meta file read as a dump's meta: 1 MiB. */
const MAX_META_BYTES = 1 << 20;
const META_NAME = /(^|\/)meta_[^/]*\.json$/;

/** A file or an empty folder, stored as it is. */
export interface PlannedFile {
  /** `file` or `folder`. */
  readonly kind: "file" | "folder";
  /** Its path in the tree. */
  readonly path: string;
}

/** A dump to code. */
export interface PlannedDump {
  /** The meta file's path. */
  readonly path: string;
  /** K's path. */
  readonly kPath: string;
  /** V's path. */
  readonly vPath: string;
}

/** What goes into a pack, in pack order. */
export interface PackPlan {
  /** Files and empty folders, in path order. */
  readonly files: PlannedFile[];
  /** Blocks of dumps, in order. */
  readonly dumpBlocks: PlannedDump[][];
}

/**
 * Plans a pack of a tree.
 *
 * @param root The tree's folder.
 * @param listing What the tree holds.
 * @param blockBytes Input bytes after which a block of dumps ends.
 * @returns The plan; no block is empty.
 * @throws {KvbitsFileError} When a meta file cannot be read.
 *
 * @example
 * ```ts
 * import { planPack } from "./pack_plan.ts";
 * import { listTree } from "../dump/pack_tree.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const root = "fixtures/kv-sample";
 * const plan = planPack(root, listTree(root), 1 << 20);
 * assertEquals([plan.files, plan.dumpBlocks.map((block) => block.length)], [[], [51]]);
 * assertEquals(plan.dumpBlocks[0][19].path, "llama6L-kjv-ruth/layer_0/meta_t384_385.json");
 * assertEquals(planPack(root, listTree(root), 64 << 10).dumpBlocks.map((block) => block.length), [17, 1, 1, 32]);
 * ```
 */
export function planPack(
  root: string,
  listing: TreeListing,
  blockBytes: number,
): PackPlan {
  const inTree = new Set(listing.files);
  const claimed = new Set<string>();
  const dumps: {
    item: PlannedDump;
    bytes: number;
    run: string;
    layer: number;
    seqStart: number;
  }[] = [];
  for (const path of listing.files) {
    if (!META_NAME.test(path) || claimed.has(path)) continue;
    const metaBytes = readSmallTreeFile(root, path, MAX_META_BYTES);
    if (metaBytes === undefined) continue;
    const dump = packDumpMetaOf(path, metaBytes);
    if (typeof dump === "string") continue;
    const { kPath, vPath } = dump;
    if (
      !inTree.has(kPath) || !inTree.has(vPath) || claimed.has(kPath) ||
      claimed.has(vPath)
    ) continue;
    claimed.add(path).add(kPath).add(vPath);
    // Only what ordering needs is kept: the encoder reads the meta again, so
    // that a plan of a million dumps stays small.
    const { seqLen, kvHeads, headDim } = dump.meta;
    dumps.push({
      item: { path, kPath, vPath },
      bytes: metaBytes.length + 4 * seqLen * kvHeads * headDim,
      run: runFolderOf(path),
      layer: dump.meta.layerId,
      seqStart: seqStartOf(dump.meta.fields),
    });
  }
  const keyed = dumps;
  keyed.sort((a, b) =>
    a.run < b.run ? -1 : a.run > b.run ? 1 : a.layer - b.layer ||
      a.seqStart - b.seqStart || (a.item.path < b.item.path ? -1 : 1)
  );
  const files: PlannedFile[] = [];
  for (const path of listing.files) {
    if (!claimed.has(path)) files.push({ kind: "file", path });
  }
  for (const path of listing.emptyFolders) files.push({ kind: "folder", path });
  const dumpBlocks: PlannedDump[][] = [];
  let bytes = blockBytes;
  for (const { item, bytes: itemBytes } of keyed) {
    if (bytes >= blockBytes) {
      dumpBlocks.push([]);
      bytes = 0;
    }
    dumpBlocks[dumpBlocks.length - 1].push(item);
    bytes += itemBytes;
  }
  return { files, dumpBlocks };
}

function runFolderOf(path: string): string {
  const parts = path.split("/");
  return parts.slice(0, Math.max(0, parts.length - 2)).join("/");
}

function seqStartOf(fields: Readonly<Record<string, unknown>>): number {
  const value = fields.seq_start;
  return typeof value === "number" && Number.isFinite(value) ? value : 0;
}
