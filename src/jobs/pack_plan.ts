/**
 * What goes into a pack and in which order: its blocks, planned as the tree is
 * walked, one run folder at a time, so that memory never depends on the size of
 * the tree.
 *
 * Read me first:
 * - Every regular file and empty folder of the tree is planned exactly once. A
 *   `meta_*.json` that reads as a dump (`packDumpMetaOf`) whose two tensor files
 *   are in its folder and not claimed by another dump of that folder becomes a
 *   dump item (its three files, with the meta's bytes: each meta is read once,
 *   here); every other file is a file item. The coder stores a dump's files as
 *   files when its tensors no longer have the meta's size.
 * - Order: the walk visits folders depth first in name order. At a folder F it
 *   lists F's subfolders (the layer folders when F is a run folder), and plans
 *   their non-dump files and empty folders, then their dumps sorted by
 *   `layer_id`, `seq_start` and path: a run's dumps of one layer follow each
 *   other in sequence order, so the coder carries its models from each to the
 *   next, and the runs of one folder follow each other, so that a block's row
 *   dictionary sees rows that repeat across runs. The root's own files come
 *   first.
 * - A block ends once it holds `blockBytes` of input or more (sizes from `stat`
 *   for files, from the meta's shape for dumps). Blocks are independent (each
 *   decodes alone): they bound what a lost byte costs and are the unit of
 *   parallel work and of seeking. The cut depends on the tree alone, so the pack
 *   does not depend on how many workers code it.
 *
 * @module
 */

import {
  type FolderListing,
  listFolder,
  smallTreeFileReader,
  treeFileSize,
} from "../dump/pack_tree.ts";
import { resolve } from "../dump/path.ts";
import { packDumpMetaOf } from "../format/pack_dump_meta.ts";

/** Largest meta file read as a dump's meta: 1 MiB. */
const MAX_META_BYTES = 1 << 20;
const META_NAME = /^meta_.*\.json$/;

/** One thing of the tree in a pack's plan. */
export type PlannedItem =
  | { readonly kind: "file"; readonly path: string }
  | { readonly kind: "folder"; readonly path: string }
  | {
    readonly kind: "dump";
    /** The meta file's path (its K and V paths are what the meta says). */
    readonly path: string;
    /**
     * The meta file's bytes, as the plan read them (the pack stores these): a
     * view of a buffer other metas share.
     */
    readonly metaBytes: Uint8Array;
  };

/** Entries the walk met that a pack cannot hold. */
export type RefusedEntries = {
  readonly path: string;
  readonly reason: string;
}[];

/**
 * Plans a pack of a tree, block by block.
 *
 * @param root The tree's folder.
 * @param blockBytes Input bytes after which a block ends.
 * @param options `skip`: absolute paths to leave out; `refused`: receives the
 * entries that are not regular files or folders.
 * @returns The blocks, in pack order (none empty), as the walk reaches them.
 * @throws {KvbitsFileError} When a folder or a meta file cannot be read.
 *
 * @example
 * ```ts
 * import { planBlocks } from "./pack_plan.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const blocks = [...planBlocks("fixtures/kv-sample", 1 << 20)];
 * assertEquals(blocks.map((block) => block.length), [51]);
 * assertEquals(blocks[0][19].path, "llama6L-kjv-ruth/layer_0/meta_t384_385.json");
 * const small = [...planBlocks("fixtures/kv-sample", 64 << 10)];
 * assertEquals(small.map((block) => block.length), [17, 1, 1, 32]);
 * ```
 */
export function* planBlocks(
  root: string,
  blockBytes: number,
  options: {
    readonly skip?: readonly string[];
    readonly refused?: RefusedEntries;
  } = {},
): Generator<PlannedItem[]> {
  let block: PlannedItem[] = [];
  let bytes = 0;
  for (const [item, itemBytes] of plannedItems(root, options)) {
    block.push(item);
    bytes += itemBytes;
    if (bytes >= blockBytes) {
      yield block;
      block = [];
      bytes = 0;
    }
  }
  if (block.length > 0) yield block;
}

type Sized = [PlannedItem, number];

/** A dump planned, with what orders it among its run's dumps. */
interface PlannedDump {
  readonly item: PlannedItem;
  readonly bytes: number;
  readonly layer: number;
  readonly seqStart: number;
}

/** Layer, then first token, then path. */
function dumpOrder(a: PlannedDump, b: PlannedDump): number {
  return a.layer - b.layer || a.seqStart - b.seqStart ||
    (a.item.path < b.item.path ? -1 : 1);
}

/** Reads a meta file by its path in the tree (undefined when too large). */
type MetaReader = (path: string) => Uint8Array | undefined;

function* plannedItems(
  root: string,
  options: {
    readonly skip?: readonly string[];
    readonly refused?: RefusedEntries;
  },
): Generator<Sized> {
  // Resolved once here, not at every folder listed.
  const skip = (options.skip ?? []).map((path) => resolve(path));
  const list = (folder: string) => {
    const listing = listFolder(root, folder, skip);
    options.refused?.push(...listing.refused);
    return listing;
  };
  const readMeta = smallTreeFileReader(root, MAX_META_BYTES);
  const rootListing = list("");
  yield* folderFiles(root, "", rootListing, readMeta);
  yield* visit(root, "", rootListing.folders, list, readMeta);
}

/**
 * Plans what F's subfolders hold, then walks into them. Each subfolder is
 * listed just before its files are planned, and only its folders' names are
 * kept for the walk (a tree's file names are not all held at once).
 */
function* visit(
  root: string,
  folder: string,
  folders: readonly string[],
  list: (folder: string) => FolderListing,
  readMeta: MetaReader,
): Generator<Sized> {
  const prefix = folder === "" ? "" : `${folder}/`;
  const children: { path: string; folders: readonly string[] }[] = [];
  const dumps: PlannedDump[] = [];
  for (const name of folders) {
    const path = prefix + name;
    const listing = list(path);
    children.push({ path, folders: listing.folders });
    if (
      listing.files.length + listing.folders.length + listing.refused.length ===
        0
    ) {
      yield [{ kind: "folder", path }, 0];
      continue;
    }
    for (const sized of folderFiles(root, path, listing, readMeta, dumps)) {
      yield sized;
    }
  }
  dumps.sort(dumpOrder);
  for (const dump of dumps) yield [dump.item, dump.bytes];
  dumps.length = 0;
  for (const child of children) {
    yield* visit(root, child.path, child.folders, list, readMeta);
  }
}

/**
 * The non-dump files of one folder, in name order; its dumps go to `dumps` (or
 * are yielded in name order when no list is given).
 */
function* folderFiles(
  root: string,
  folder: string,
  listing: FolderListing,
  readMeta: MetaReader,
  dumps?: PlannedDump[],
): Generator<Sized> {
  const prefix = folder === "" ? "" : `${folder}/`;
  const names = new Set(listing.files);
  const claimed = new Set<string>();
  const found: PlannedDump[] = [];
  for (const name of listing.files) {
    if (!META_NAME.test(name) || claimed.has(name)) continue;
    const path = prefix + name;
    const metaBytes = readMeta(path);
    if (metaBytes === undefined) continue;
    const dump = packDumpMetaOf(path, metaBytes);
    if (typeof dump === "string") continue;
    const { kPath, vPath, meta } = dump;
    const kName = kPath.slice(prefix.length),
      vName = vPath.slice(prefix.length);
    if (
      !names.has(kName) || !names.has(vName) || claimed.has(kName) ||
      claimed.has(vName)
    ) continue;
    claimed.add(name).add(kName).add(vName);
    const seqStart = meta.fields.seq_start;
    found.push({
      item: { kind: "dump", path, metaBytes },
      bytes: metaBytes.length + 4 * meta.seqLen * meta.kvHeads * meta.headDim,
      layer: meta.layerId,
      seqStart: typeof seqStart === "number" && Number.isFinite(seqStart)
        ? seqStart
        : 0,
    });
  }
  for (const name of listing.files) {
    if (claimed.has(name)) continue;
    const path = prefix + name;
    yield [{ kind: "file", path }, treeFileSize(root, path)];
  }
  if (dumps !== undefined) dumps.push(...found);
  else {
    found.sort(dumpOrder);
    for (const dump of found) yield [dump.item, dump.bytes];
  }
}
