/**
 * `encode --pack`: a whole folder tree into one pack file (or standard output).
 *
 * @module
 */

import { crc32 } from "../codec/crc32.ts";
import { openPackOutput } from "../dump/pack_output.ts";
import { listTree, readTreeFile, treeFileReader } from "../dump/pack_tree.ts";
import { PackBlockBuilder } from "../format/pack_block.ts";
import {
  indexBytes,
  type IndexedBlock,
  PACK_CODERS,
  PACK_TRAILER_BYTES,
  packHeader,
  trailerBytes,
} from "../format/pack_layout.ts";
import type { DumpOutcome, ProgressListener } from "./job_report.ts";
import { type PlannedItem, planPack } from "./pack_plan.ts";

/**
 * Input bytes after which a block ends: 8 MiB. A block is the unit of parallel
 * work, of seeking and of loss; its dumps share the coder's carried models.
 */
export const PACK_BLOCK_BYTES = 8 << 20;

/** What {@link encodePack} needs. */
export interface PackEncodeOptions {
  /** The folder to pack. */
  readonly dumpDir: string;
  /** The pack to write, or `-` for standard output. */
  readonly pack: string;
  /** Flush the pack before it gets its name (default true). */
  readonly durable?: boolean;
  /** Input bytes after which a block ends (default {@link PACK_BLOCK_BYTES}). */
  readonly blockBytes?: number;
  /** Called after each item. */
  readonly onProgress?: ProgressListener;
}

/** What {@link encodePack} did. */
export interface PackEncodeReport {
  /** Dumps coded. */
  readonly dumps: number;
  /** Files stored as they are (not part of a coded dump). */
  readonly files: number;
  /** Empty folders. */
  readonly folders: number;
  /** Blocks written. */
  readonly blocks: number;
  /** Bytes of every file packed. */
  readonly inputBytes: number;
  /** Bytes of the K and V files of the coded dumps. */
  readonly tensorBytes: number;
  /** Bytes of the pack, everything counted. */
  readonly packBytes: number;
  /** Entries left out (not regular files), as skipped outcomes. */
  readonly outcomes: DumpOutcome[];
  /** Wall time of the job. */
  readonly seconds: number;
}

/**
 * Packs a folder tree.
 *
 * @param options The folder, the pack, durability and block size.
 * @returns What was packed.
 * @throws {KvbitsFileError} When the folder or a file cannot be read or the pack
 * cannot be written (nothing is left under the pack's name then).
 *
 * @example
 * ```ts
 * import { encodePack } from "./pack_encode_job.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const out = await Deno.makeTempDir();
 * const report = await encodePack({ dumpDir: "fixtures/kv-sample", pack: `${out}/s.kvp`, durable: false });
 * assertEquals([report.dumps, report.files, report.blocks], [51, 0, 2]);
 * assertEquals(report.packBytes, (await Deno.stat(`${out}/s.kvp`)).size);
 * await Deno.remove(out, { recursive: true });
 * ```
 */
export async function encodePack(
  options: PackEncodeOptions,
): Promise<PackEncodeReport> {
  const started = performance.now();
  const root = options.dumpDir;
  const blockBytes = options.blockBytes ?? PACK_BLOCK_BYTES;
  const listing = listTree(root, options.pack === "-" ? [] : [options.pack]);
  const plan = planPack(root, listing);
  const output = openPackOutput(options.pack, { durable: options.durable });
  const counts = { dumps: 0, files: 0, folders: 0, tensorBytes: 0 };
  const blocks: IndexedBlock[] = [];
  let position = 0;
  let packCrc = 0;
  let inputBytes = 0;
  const write = async (bytes: Uint8Array) => {
    packCrc = crc32(bytes, packCrc);
    position += bytes.length;
    await output.write(bytes);
  };
  const total = plan.reduce((sum, segment) => sum + segment.length, 0);
  let done = 0;
  try {
    await write(packHeader(PACK_CODERS.ctxAlone));
    const read = treeFileReader(root);
    for (const segment of plan) {
      let builder = new PackBlockBuilder();
      const flush = async () => {
        if (builder.entries.length === 0) return;
        blocks.push({ offset: position, entries: builder.entries.length });
        for (const part of builder.finish(blocks.length - 1)) await write(part);
        inputBytes += builder.inputBytes;
        builder = new PackBlockBuilder();
      };
      for (const item of segment) {
        addItem(builder, item, root, read, counts);
        done++;
        options.onProgress?.({
          phase: "packing",
          done,
          total,
          bytes: inputBytes + builder.inputBytes,
        });
        if (builder.inputBytes >= blockBytes) await flush();
      }
      await flush();
    }
    const indexOffset = position;
    await write(indexBytes(blocks));
    await write(trailerBytes({
      indexOffset,
      packBytes: position + PACK_TRAILER_BYTES,
      packCrc,
    }));
    await output.commit();
  } catch (error) {
    await output.abort();
    throw error;
  }
  return {
    ...counts,
    blocks: blocks.length,
    inputBytes,
    packBytes: position,
    outcomes: listing.refused.map(({ path, reason }) => ({
      dump: path,
      status: "skipped",
      reason: `${path}: ${reason}`,
    })),
    seconds: (performance.now() - started) / 1000,
  };
}

function addItem(
  builder: PackBlockBuilder,
  item: PlannedItem,
  root: string,
  read: (path: string, role: string) => Uint8Array,
  counts: {
    dumps: number;
    files: number;
    folders: number;
    tensorBytes: number;
  },
): void {
  if (item.kind === "folder") {
    builder.addFolder(item.path);
    counts.folders++;
    return;
  }
  if (item.kind === "file") {
    builder.addFile(item.path, readTreeFile(root, item.path));
    counts.files++;
    return;
  }
  const { kPath, vPath } = item.dump;
  const k = read(kPath, "k");
  const v = read(vPath, "v");
  if (builder.addDump(item.path, item.metaBytes, item.dump, k, v)) {
    counts.dumps++;
    counts.tensorBytes += k.length + v.length;
    return;
  }
  // Tensors of another size than the meta says: kept as they are.
  for (const [path, bytes] of [[kPath, k], [vPath, v]] as const) {
    builder.addFile(path, bytes.slice());
  }
  builder.addFile(item.path, item.metaBytes);
  counts.files += 3;
}
