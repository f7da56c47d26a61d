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
  lengthCheckedTreeFileReader,
  makeTreeFolder,
  openTreeFileWriter,
  removeTreeFile,
  treeFilePieces,
  type TreeFileWriter,
  writeTreeFile,
} from "../dump/pack_tree.ts";
import { sameBytes } from "../codec/byte_io.ts";
import { crc32 } from "../codec/crc32.ts";
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
 * const result = restoreBlock(builder.entries, parts[3] as Uint8Array, undefined, { kind: "verify" });
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
  const readOriginal = target.kind === "verify" &&
      target.origDumpDir !== undefined
    ? lengthCheckedTreeFileReader(target.origDumpDir)
    : undefined;
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
      } else if (readOriginal !== undefined) {
        problem = compareWithOriginals(readOriginal, restored.files);
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

/** A large file restored as its bytes are read ({@link streamedFileRestore}). */
export interface StreamedFileRestore {
  /**
   * Takes the next piece of the file's bytes: written (under a temporary
   * name), or compared with the original.
   *
   * @param piece The bytes (used now: the caller may reuse them).
   */
  take(piece: Uint8Array): void;
  /**
   * Once all the bytes the pack holds were taken: names the file when they
   * are all there and their CRC-32 holds (otherwise removes what was written).
   *
   * @returns What was done, as for a block of this one entry.
   */
  finish(): RestoredBlock;
}

/**
 * Restores a file entry piece by piece, as the pack is read, for files too
 * large to hold in memory whole (the task's thread does this, between
 * blocks): nothing gets the file's name before all of its bytes are there and
 * their CRC-32 holds.
 *
 * @param entry A file entry.
 * @param target Where it goes.
 * @returns The restore.
 * @throws {KvbitsFileError} When the file cannot be written.
 *
 * @example
 * ```ts
 * import { streamedFileRestore } from "./pack_restore_task.ts";
 * import { crc32 } from "../codec/crc32.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const outDir = await Deno.makeTempDir();
 * const bytes = Uint8Array.of(1, 2, 3, 4);
 * const entry = { kind: "file", path: "a/x", size: 4, crc: crc32(bytes) } as const;
 * const restore = streamedFileRestore(entry, { kind: "write", outDir, overwrite: false, durable: false });
 * restore.take(bytes.subarray(0, 2));
 * restore.take(bytes.subarray(2));
 * assertEquals(restore.finish().failures, []);
 * assertEquals(await Deno.readFile(`${outDir}/a/x`), bytes);
 * const cut = streamedFileRestore({ ...entry, path: "b" }, { kind: "write", outDir, overwrite: false, durable: false });
 * cut.take(bytes.subarray(0, 2));
 * assertEquals(cut.finish().failures[0].reason, "b: its bytes are missing: the pack ends 2 bytes early");
 * assertEquals([...Deno.readDirSync(outDir)].map((entry) => entry.name), ["a"]);
 * await Deno.remove(outDir, { recursive: true });
 * ```
 */
export function streamedFileRestore(
  entry: PackEntry & { kind: "file" },
  target: RestoreTarget,
): StreamedFileRestore {
  const path = entry.path;
  const folders = new Set<string>();
  let writer: TreeFileWriter | undefined;
  let original: Iterator<Uint8Array> | undefined;
  // Unread bytes of the original's last piece.
  let pending: Uint8Array = new Uint8Array(0);
  let differs = false;
  let size = 0, crc = 0;
  const compare = (piece: Uint8Array) => {
    for (let at = 0; at < piece.length && !differs;) {
      if (pending.length === 0) {
        const next = original!.next();
        if (next.done) {
          differs = true;
          break;
        }
        pending = next.value;
      }
      const length = Math.min(pending.length, piece.length - at);
      for (let i = 0; i < length; i++) {
        if (pending[i] !== piece[at + i]) differs = true;
      }
      pending = pending.subarray(length);
      at += length;
    }
  };
  return {
    take(piece) {
      size += piece.length;
      crc = crc32(piece, crc);
      if (target.kind === "write") {
        writer ??= openTreeFileWriter(target.outDir, path, {
          durable: target.durable,
          folders,
          overwrite: target.overwrite,
        });
        writer.write(piece);
      } else if (target.origDumpDir !== undefined && !differs) {
        try {
          original ??= treeFilePieces(
            target.origDumpDir,
            path,
            Math.max(piece.length, 1),
          );
          compare(piece);
        } catch {
          // Unreadable: said in finish.
          differs = true;
        }
      }
    },
    finish() {
      const result: RestoredBlock = {
        entries: 0,
        dumps: 0,
        files: 0,
        outputBytes: 0,
        failures: [],
        checked: target.kind === "verify" && target.origDumpDir !== undefined
          ? [path]
          : [],
      };
      let problem: string | undefined;
      if (size < entry.size) {
        problem = `its bytes are missing: the pack ends ${
          entry.size - size
        } bytes early`;
      } else if (crc !== entry.crc) {
        problem = "CRC-32 mismatch: the pack is damaged here";
      } else if (writer !== undefined && !writer.commit()) {
        problem =
          `${path} exists in the output folder (--overwrite replaces it)`;
      } else if (
        target.kind === "verify" && target.origDumpDir !== undefined &&
        (differs || pending.length > 0 || !(original?.next().done ?? false))
      ) problem = `${path} differs from the original`;
      writer?.abort();
      original?.return?.(undefined);
      if (target.kind === "write" && target.durable) {
        for (const folder of folders) syncFolderSync(folder);
      }
      if (problem !== undefined) {
        result.failures.push({
          dump: path,
          status: "failed",
          reason: `${path}: ${problem}`,
        });
        return result;
      }
      return { ...result, entries: 1, files: 1, outputBytes: size };
    },
  };
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
  readOriginal: (path: string, length: number) => Uint8Array | undefined,
  files: readonly { path: string; bytes: Uint8Array }[],
): string | undefined {
  for (const file of files) {
    let original: Uint8Array | undefined;
    try {
      original = readOriginal(file.path, file.bytes.length);
    } catch (error) {
      return `the original cannot be read: ${(error as Error).message}`;
    }
    if (original === undefined || !sameBytes(original, file.bytes)) {
      return `${file.path} differs from the original`;
    }
  }
  return undefined;
}
