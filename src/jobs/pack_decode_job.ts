/**
 * `decode --pack` and `verify --pack`: restore a pack's tree into a folder, or
 * check it in memory (against its checksums, and the originals when given).
 *
 * Read me first:
 * - Nothing is written that did not pass its CRC-32: a file, or a dump's three
 *   files, are written after the entry's CRC-32 holds, a dump's meta last.
 * - Into an output folder that holds nothing yet, the tree is restored into a
 *   hidden staging folder inside it and moved in when the job ends (killed
 *   before, the job leaves only the staging folder, which the next restore
 *   removes); into one that holds files, each file is written under a
 *   temporary name and linked to its own.
 * - Flushed (unless `durable` is off) before any file has its name: into a
 *   staging folder, at its end, with one `sync -f` where it may run (each file
 *   and folder when not); into a folder that holds files, each file before
 *   its link.
 * - A damaged or truncated pack is decoded as far as it goes: every intact
 *   entry is restored, every lost one is named (or, where the pack no longer
 *   says what was there, where the damage is), and the job reports failure.
 * - With a selection from a file, blocks are found through the index and those
 *   without a selected entry are not read; otherwise the pack is read front to
 *   back and its whole-pack CRC-32 checked.
 * - A file larger than a piece (`pieceBytes`) is never held whole: this thread
 *   writes it (under a temporary name, named once all its bytes are there and
 *   their CRC-32 holds) or checks it as the pack is read, and the lanes get the
 *   block's other entries. Memory does not depend on the size of any file.
 *
 * @module
 */

import { maySyncFileSystems, syncFileSystemsOf } from "../dump/flush_files.ts";
import { openPackInput, type PackInput } from "../dump/pack_input.ts";
import {
  finishStagingFolder,
  flushTree,
  listTree,
  makeTreeFolder,
  openStagingFolder,
  TREE_FILE_PIECE_BYTES,
} from "../dump/pack_tree.ts";
import { dumpMetaOfEntry } from "../format/pack_block.ts";
import { packSelection } from "../format/pack_selection.ts";
import type { DumpOutcome, ProgressListener } from "./job_report.ts";
import {
  type PackDamage,
  type PackEnding,
  type PackVisitor,
  readPackByIndex,
  readPackIndex,
  readPackInOrder,
} from "./pack_reader.ts";
import {
  type RestoredBlock,
  type RestoreTarget,
  type StreamedFileRestore,
  streamedFileRestore,
} from "./pack_restore_task.ts";
import type { PackEntry } from "../format/pack_table.ts";
import type { PackReply } from "./pack_worker.ts";
import { packWorkerPool } from "./pack_worker_pool.ts";
import { loadPredictorFolders } from "./pack_lane.ts";
import { openOutputFolder } from "./output_folder.ts";

/** What {@link decodePack} and {@link verifyPack} share. */
export interface PackReadOptions {
  /** The pack, or `-` for standard input. */
  readonly pack: string;
  /** `--only` patterns (`pack_selection.ts`); none restores everything. */
  readonly only?: readonly string[];
  /** Blocks restored at once, by as many workers (default 1: this thread). */
  readonly jobs?: number;
  /** Called after each block. */
  readonly onProgress?: ProgressListener;
  /** The predictor folder the pack was made with (`encodePack`'s). */
  readonly predictorDir?: string;
  /**
   * Files larger than this are restored as they are read, in pieces of this
   * size, never held whole (default `TREE_FILE_PIECE_BYTES`).
   */
  readonly pieceBytes?: number;
}

/** What {@link decodePack} needs. */
export interface PackDecodeOptions extends PackReadOptions {
  /** The folder to restore into (made when missing). */
  readonly outDir: string;
  /** Replace files that exist already (otherwise such entries fail). */
  readonly overwrite?: boolean;
  /** Flush what is written (default true). */
  readonly durable?: boolean;
}

/** What {@link verifyPack} needs. */
export interface PackVerifyOptions extends PackReadOptions {
  /** The folder the pack was made from, to compare with byte for byte. */
  readonly origDumpDir?: string;
}

/** What a pack job did. */
export interface PackReadReport {
  /** Entries (files, dumps, folders) restored or checked. */
  readonly entries: number;
  /** Entries that could not be, by path, with why (kept alone, so that memory
   * does not grow with the pack). */
  readonly failures: DumpOutcome[];
  /** Damage found, with what it cost. */
  readonly damage: PackDamage[];
  /** How the reading ended (undefined when the pack was read by its index). */
  readonly ending: PackEnding | undefined;
  /** Dumps restored or checked. */
  readonly dumps: number;
  /** Files restored or checked (a dump's three included). */
  readonly files: number;
  /** Bytes of the files restored or checked. */
  readonly outputBytes: number;
  /** Bytes of the pack. */
  readonly packBytes: number;
  /** Originals with no entry in the pack (verify with originals). */
  readonly notInPack: string[];
  /** Wall time of the job. */
  readonly seconds: number;
}

async function restorePack(
  options: PackReadOptions,
  target: RestoreTarget,
): Promise<
  Omit<PackReadReport, "notInPack" | "seconds"> & { checked: Set<string> }
> {
  const only = options.only !== undefined && options.only.length > 0
    ? options.only
    : undefined;
  const selection = only !== undefined ? packSelection(only) : undefined;
  const failures: DumpOutcome[] = [];
  const damage: PackDamage[] = [];
  const checked = new Set<string>();
  let entries = 0, dumps = 0, files = 0, outputBytes = 0, blocks = 0;
  const add = (result: RestoredBlock) => {
    entries += result.entries;
    dumps += result.dumps;
    files += result.files;
    outputBytes += result.outputBytes;
    failures.push(...result.failures);
    for (const path of result.checked) checked.add(path);
  };
  const take = (result: RestoredBlock) => {
    add(result);
    blocks++;
    options.onProgress?.({
      phase: "restoring",
      done: blocks,
      total: blocks,
      bytes: outputBytes,
    });
  };
  if (options.predictorDir !== undefined) {
    (await loadPredictorFolders()).checkPredictorFolder(options.predictorDir);
  }
  const pieceBytes = options.pieceBytes ?? TREE_FILE_PIECE_BYTES;
  const large = (entry: PackEntry) =>
    entry.kind === "file" && entry.size > pieceBytes;
  const pool = packWorkerPool(options.jobs ?? 1);
  const queue: Promise<PackReply>[] = [];
  const visitor: PackVisitor = {
    damage: (found) => damage.push(found),
    async block(block) {
      if (
        selection !== undefined &&
        !block.entries.some((entry) =>
          entry.kind === "dump"
            ? ((dump) => typeof dump !== "string" && selection(entry, dump))(
              dumpMetaOfEntry(entry),
            )
            : selection(entry)
        )
      ) return;
      // Large files are restored here as they are read; the lanes get the
      // block's other entries, and their bytes.
      const streamed = new Map<PackEntry, StreamedFileRestore | undefined>();
      for (const entry of block.entries) {
        if (!large(entry)) continue;
        streamed.set(
          entry,
          selection === undefined || selection(entry)
            ? streamedFileRestore(entry as PackEntry & { kind: "file" }, target)
            : undefined,
        );
      }
      const { bytes } = await block.payload(
        streamed.size === 0 ? undefined : {
          pieceBytes,
          streams: (entry) => streamed.has(entry),
          take: (entry, piece) => streamed.get(entry)?.take(piece),
        },
      );
      for (const restore of streamed.values()) {
        if (restore !== undefined) add(restore.finish());
      }
      const rest = streamed.size === 0
        ? block.entries
        : block.entries.filter((entry) => !streamed.has(entry));
      if (queue.length > pool.width) {
        take(await queue.shift()! as RestoredBlock);
      }
      queue.push(pool.run({
        kind: "restore",
        entries: rest,
        payload: bytes,
        only,
        target,
        predictorDir: options.predictorDir,
      }));
    },
  };
  using input = openPackInput(options.pack);
  let ending: PackEnding | undefined;
  try {
    const index = only !== undefined && input.size !== undefined
      ? readPackIndex(input)
      : undefined;
    if (index !== undefined && typeof index !== "string") {
      await readPackByIndex(input, index, visitor);
    } else {
      if (typeof index === "string") {
        damage.push({ offset: 0, detail: `index not usable: ${index}` });
      }
      ending = await readPackInOrder(input, visitor);
    }
    while (queue.length > 0) take(await queue.shift()! as RestoredBlock);
  } finally {
    pool.close();
  }
  return {
    entries,
    failures,
    damage,
    ending,
    dumps,
    files,
    outputBytes,
    packBytes: packBytesOf(input, ending),
    checked,
  };
}

function packBytesOf(input: PackInput, ending: PackEnding | undefined): number {
  return input.size ?? ending?.packBytes ?? 0;
}

/**
 * Restores a pack's tree (or the selected part of it) into a folder.
 *
 * @param options The pack, the folder, the selection, overwrite, durability.
 * @returns What was restored and what was lost.
 * @throws {KvbitsJobError} When the output folder cannot be used.
 * @throws {KvbitsDataError} When the input is not a pack.
 *
 * @example
 * ```ts
 * import { decodePack } from "./pack_decode_job.ts";
 * import { encodePack } from "./pack_encode_job.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const out = await Deno.makeTempDir();
 * await encodePack({ dumpDir: "fixtures/kv-sample", pack: `${out}/s.kvp`, durable: false });
 * const report = await decodePack({ pack: `${out}/s.kvp`, outDir: `${out}/r`, durable: false, only: ["layer=5"] });
 * assertEquals([report.dumps, report.files, report.damage], [16, 48, []]);
 * await Deno.remove(out, { recursive: true });
 * ```
 */
export async function decodePack(
  options: PackDecodeOptions,
): Promise<PackReadReport> {
  const started = performance.now();
  const outDir = options.outDir;
  const durable = options.durable ?? true;
  const lock = await openOutputFolder(outDir, {});
  let report;
  try {
    // Into an empty folder, the tree is restored in a staging folder and moved
    // in at the end, which saves two calls per file (pack_tree.ts).
    const staging = openStagingFolder(outDir);
    // Into a staging folder, where `sync -f` can run, files are written
    // without a flush each and flushed all at once before they are moved in:
    // one call instead of one a file (and one a folder a block).
    const flushAtEnd = durable && staging !== undefined &&
      maySyncFileSystems();
    const taken: string[] = [];
    try {
      report = await restorePack(options, {
        kind: "write",
        outDir: staging ?? outDir,
        overwrite: options.overwrite ?? false,
        durable: durable && !flushAtEnd,
        fresh: staging !== undefined,
      });
    } finally {
      if (staging !== undefined) {
        if (flushAtEnd && !await syncFileSystemsOf([], staging)) {
          flushTree(staging);
        }
        taken.push(...finishStagingFolder(staging, outDir, durable));
      }
    }
    for (const name of taken) {
      report.failures.push({
        dump: name,
        status: "failed",
        reason:
          `${name}: something took this name in the output folder while it was restored`,
      });
    }
  } finally {
    await lock.release();
  }
  // The folder exists even when the pack holds nothing (as the tree did).
  makeTreeFolder(outDir, ".");
  const { checked: _, ...rest } = report;
  return {
    ...rest,
    notInPack: [],
    seconds: (performance.now() - started) / 1000,
  };
}

/**
 * Checks a pack: decodes every entry in memory against its CRC-32, and against
 * the original files when their folder is given (then also lists originals the
 * pack does not hold).
 *
 * @param options The pack, the originals, the selection.
 * @returns What was checked and what failed.
 * @throws {KvbitsDataError} When the input is not a pack.
 *
 * @example
 * ```ts
 * import { verifyPack } from "./pack_decode_job.ts";
 * import { encodePack } from "./pack_encode_job.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const out = await Deno.makeTempDir();
 * await encodePack({ dumpDir: "fixtures/kv-sample", pack: `${out}/s.kvp`, durable: false });
 * const report = await verifyPack({ pack: `${out}/s.kvp`, origDumpDir: "fixtures/kv-sample" });
 * assertEquals([report.dumps, report.ending?.complete, report.notInPack], [51, true, []]);
 * await Deno.remove(out, { recursive: true });
 * ```
 */
export async function verifyPack(
  options: PackVerifyOptions,
): Promise<PackReadReport> {
  const started = performance.now();
  const orig = options.origDumpDir;
  const { checked, ...report } = await restorePack(options, {
    kind: "verify",
    origDumpDir: orig,
  });
  const notInPack: string[] = [];
  if (orig !== undefined && (options.only ?? []).length === 0) {
    const listing = listTree(orig);
    for (const path of [...listing.files, ...listing.emptyFolders]) {
      if (!checked.has(path)) notInPack.push(path);
    }
  }
  return {
    ...report,
    notInPack,
    seconds: (performance.now() - started) / 1000,
  };
}
