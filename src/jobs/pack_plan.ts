/**
 * What goes into a pack and in which order: the plan of its blocks.
 *
 * Read me first:
 * - Every regular file and empty folder of the tree is in the plan exactly once.
 *   A `meta_*.json` that reads as a dump (`packDumpMetaOf`) whose two tensor
 *   files are in the tree and not claimed by an earlier dump becomes a dump item
 *   (its three files); every other file is a file item.
 * - Files and folders come first, in path order. Dumps follow, sorted by run
 *   folder (the folder above the dump's layer folder), layer, `seq_start` and
 *   path: a run's dumps of one layer follow each other in sequence order, so the
 *   coder carries its models from each to the next.
 * - The plan is a list of segments: the files and folders, then one per run
 *   folder. The encoder cuts each segment into blocks of a bounded size; a
 *   block never spans two segments. Blocks are independent (each decodes
 *   alone), so they bound what a lost byte costs and are the unit of parallel
 *   work and of seeking.
 *
 * @module
 */

import { readSmallTreeFile, type TreeListing } from "../dump/pack_tree.ts";
import { type PackDumpMeta, packDumpMetaOf } from "../format/pack_dump_meta.ts";

/** Largest meta file read as a dump's meta: 1 MiB. */
const MAX_META_BYTES = 1 << 20;
const META_NAME = /(^|\/)meta_[^/]*\.json$/;

/** One thing of the tree in a pack's plan. */
export type PlannedItem =
  | { readonly kind: "file"; readonly path: string }
  | { readonly kind: "folder"; readonly path: string }
  | {
    readonly kind: "dump";
    /** The meta file's path. */
    readonly path: string;
    /** The meta file's bytes. */
    readonly metaBytes: Uint8Array;
    /** What the meta says. */
    readonly dump: PackDumpMeta;
  };

/** The segments of a pack, each a list of items in pack order. */
export type PackPlan = PlannedItem[][];

/**
 * Plans a pack of a tree.
 *
 * @param root The tree's folder.
 * @param listing What the tree holds.
 * @returns The segments; none is empty.
 * @throws {KvbitsFileError} When a meta file cannot be read.
 *
 * @example
 * ```ts
 * import { planPack } from "./pack_plan.ts";
 * import { listTree } from "../dump/pack_tree.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const root = "fixtures/kv-sample";
 * const plan = planPack(root, listTree(root));
 * assertEquals(plan.map((block) => block.length), [16, 35]);
 * assertEquals(plan[1][3].path, "llama6L-kjv-ruth/layer_0/meta_t384_385.json");
 * ```
 */
export function planPack(
  root: string,
  listing: TreeListing,
): PackPlan {
  const inTree = new Set(listing.files);
  const claimed = new Set<string>();
  const dumps: (PlannedItem & { kind: "dump" })[] = [];
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
    dumps.push({ kind: "dump", path, metaBytes, dump });
  }
  const keyed = dumps.map((item) => ({
    item,
    run: runFolderOf(item.path),
    layer: item.dump.meta.layerId,
    seqStart: seqStartOf(item.dump.meta.fields),
  }));
  keyed.sort((a, b) =>
    a.run < b.run ? -1 : a.run > b.run ? 1 : a.layer - b.layer ||
      a.seqStart - b.seqStart || (a.item.path < b.item.path ? -1 : 1)
  );
  const segments: PackPlan = [];
  const files: PlannedItem[] = [];
  for (const path of listing.files) {
    if (!claimed.has(path)) files.push({ kind: "file", path });
  }
  for (const path of listing.emptyFolders) files.push({ kind: "folder", path });
  if (files.length > 0) segments.push(files);
  let run: string | undefined;
  for (const { item, run: itemRun } of keyed) {
    if (itemRun !== run) segments.push([]);
    run = itemRun;
    segments[segments.length - 1].push(item);
  }
  return segments;
}

function runFolderOf(path: string): string {
  const parts = path.split("/");
  return parts.slice(0, Math.max(0, parts.length - 2)).join("/");
}

function seqStartOf(fields: Readonly<Record<string, unknown>>): number {
  const value = fields.seq_start;
  return typeof value === "number" && Number.isFinite(value) ? value : 0;
}
