/**
 * Restoring one block: decode its entries and write them into the output folder,
 * or check them (against their CRC-32 and, when given, the originals). The one
 * path of this work, run by the task's thread or by a worker (`pack_worker.ts`);
 * requests and results are plain data that cross threads.
 *
 * @module
 */

import {
  createTreeFile,
  makeTreeFolder,
  readTreeFile,
  removeTreeFile,
  writeTreeFile,
} from "../dump/pack_tree.ts";
import { syncFolderSync } from "../dump/write_file_atomic.ts";
import { decodePackEntries } from "../format/pack_block.ts";
import { packSelection } from "../format/pack_selection.ts";
import type { PackPredictorLookup } from "../format/predictor_lookup.ts";
import type { PackEntry } from "../format/pack_table.ts";
import type { DumpOutcome } from "./job_report.ts";
import { PackLane } from "./pack_lane.ts";

/** Where restored entries go. */
export type RestoreTarget =
  | {
    /** Into a folder. */
    readonly kind: "write";
    /** The folder. */
    readonly outDir: string;
    /** Replace existing files. */
    readonly overwrite: boolean;
    /** Flush files and folders. */
    readonly durable: boolean;
    /**
     * The folder is a staging folder this job alone writes into
     * (`openStagingFolder`): files are created under their names directly.
     */
    readonly fresh?: boolean;
  }
  | {
    /** Checked in memory. */
    readonly kind: "verify";
    /** The originals to compare with, when given. */
    readonly origDumpDir?: string;
  };

/** What restoring a block did. */
export interface RestoredBlock {
  /** Entries restored or checked. */
  readonly entries: number;
  /** Dumps among them. */
  readonly dumps: number;
  /** Files restored or checked. */
  readonly files: number;
  /** Their bytes. */
  readonly outputBytes: number;
  /** Entries that failed, with why. */
  readonly failures: DumpOutcome[];
  /** Paths compared with originals (verify with originals only). */
  readonly checked: string[];
}

/**
 * Restores one block.
 *
 * @param entries The block's entries.
 * @param payload Its payload (possibly cut short).
 * @param only `--only` patterns, or undefined for everything.
 * @param target Where entries go.
 * @param predictors Finds the predictor of each dump coded against one
 * (`predictorFolderLookup` of the predictor folder).
 * @param lane What the lane reuses from block to block (a new one by default).
 * @returns What was done.
 *
 * @example
 * ```ts
 * import { restoreBlock } from "./pack_restore_task.ts";
 * import { PackBlockBuilder } from "../format/pack_block.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const builder = new PackBlockBuilder();
 * builder.addFile("a.txt", Uint8Array.of(1, 2, 3));
 * const parts = builder.finish(0);
 * const result = restoreBlock(builder.entries, parts[3], undefined, { kind: "verify" });
 * assertEquals([result.entries, result.files, result.failures], [1, 1, []]);
 * ```
 */
export function restoreBlock(
  entries: readonly PackEntry[],
  payload: Uint8Array,
  only: readonly string[] | undefined,
  target: RestoreTarget,
  predictors?: PackPredictorLookup,
  lane: PackLane = new PackLane(),
): RestoredBlock {
  const selection = only !== undefined && only.length > 0
    ? packSelection(only)
    : undefined;
  const result = {
    entries: 0,
    dumps: 0,
    files: 0,
    outputBytes: 0,
    failures: [] as DumpOutcome[],
    checked: [] as string[],
  };
  const folders = new Set<string>();
  // A path twice in a block is refused; across blocks, the second finds the
  // first in the output folder (unless --overwrite).
  const seen = new Set<string>();
  for (
    const restored of decodePackEntries(
      entries,
      payload,
      selection,
      predictors,
      lane.decoder,
    )
  ) {
    const path = restored.entry.path;
    let problem = restored.problem;
    const paths = restored.files.map((file) => file.path);
    if (problem === undefined) {
      const twice = paths.find((path) => seen.has(path));
      if (twice !== undefined) problem = `${twice} is in the pack twice`;
    }
    for (const path of paths) seen.add(path);
    if (problem === undefined) {
      if (target.kind === "write") {
        if (restored.entry.kind === "folder") {
          makeTreeFolder(target.outDir, path);
        } else {
          problem = writeFiles(target, restored.files, folders);
        }
      } else if (target.origDumpDir !== undefined) {
        problem = compareWithOriginals(target.origDumpDir, restored.files);
        result.checked.push(...paths);
        if (restored.entry.kind === "folder") result.checked.push(path);
      }
    }
    if (problem !== undefined) {
      result.failures.push({
        dump: path,
        status: "failed",
        reason: `${path}: ${problem}`,
      });
      continue;
    }
    result.entries++;
    if (restored.entry.kind === "dump") result.dumps++;
    for (const file of restored.files) {
      result.files++;
      result.outputBytes += file.bytes.length;
    }
  }
  if (target.kind === "write" && target.durable) {
    for (const folder of folders) syncFolderSync(folder);
  }
  return result;
}

/**
 * Writes an entry's files in order (a dump's meta last). Without overwrite, none
 * replaces a file: when one is there already (written before this block, or
 * by a block restored at the same time), the entry's files written so far are
 * removed and the problem returned. No listing or check per file is needed:
 * the link that names each file fails when its name is taken.
 */
function writeFiles(
  target: RestoreTarget & { kind: "write" },
  files: readonly { path: string; bytes: Uint8Array }[],
  folders: Set<string>,
): string | undefined {
  const options = { durable: target.durable, folders, fresh: target.fresh };
  if (target.overwrite) {
    for (const file of files) {
      if (
        !target.fresh ||
        !createTreeFile(target.outDir, file.path, file.bytes, options)
      ) writeTreeFile(target.outDir, file.path, file.bytes, options);
    }
    return undefined;
  }
  for (let n = 0; n < files.length; n++) {
    if (createTreeFile(target.outDir, files[n].path, files[n].bytes, options)) {
      continue;
    }
    for (let m = 0; m < n; m++) removeTreeFile(target.outDir, files[m].path);
    return `${
      files[n].path
    } exists in the output folder (--overwrite replaces it)`;
  }
  return undefined;
}

function compareWithOriginals(
  orig: string,
  files: readonly { path: string; bytes: Uint8Array }[],
): string | undefined {
  for (const file of files) {
    let original: Uint8Array;
    try {
      original = readTreeFile(orig, file.path);
    } catch (error) {
      return `the original cannot be read: ${(error as Error).message}`;
    }
    if (
      original.length !== file.bytes.length ||
      original.some((byte, i) => byte !== file.bytes[i])
    ) return `${file.path} differs from the original`;
  }
  return undefined;
}
