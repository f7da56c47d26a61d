/**
 * The encode job: a dump folder in, a bitstream folder out (FORMAT.md §1, §3, §4).
 *
 * Steps: find every `meta_*.json` below `--dump-dir`; read and select each (bad
 * meta fails the dump, selection flags and missing tensors skip it, with the
 * reason); for a global codebook count the symbols of all selected dumps and write
 * the codebook file first; then encode each dump, writing its four streams and
 * then its meta (or a one-file layout's only file), each through a temporary
 * file, so that a dump whose meta exists is complete. The counting and the
 * encoding of each dump run on the lanes (`worker_pool.ts`: this thread, and
 * workers when the job proves long enough for them); finding, selecting, the
 * codebook and the folder's lock and clean-up stay in this thread.
 *
 * Crash safety: a run killed at any moment leaves complete dumps (meta present)
 * and files that nothing mistakes for a dump; running the same command again
 * removes the temporary files left behind, skips the complete dumps and writes
 * the rest, giving the folder an uninterrupted run would have written.
 * - A dump whose meta output exists is skipped ("already encoded") when it was
 *   coded as this run would code it (same codebook mode and, for `global`, the
 *   same codebook file); otherwise it fails with the reason, and `overwrite` is
 *   needed to replace it.
 * - With `overwrite`, a dump's old meta is removed before its new streams are
 *   written, and when the global codebook changes, the old metas of all selected
 *   dumps are removed before the new codebook is written: an old meta never
 *   stands beside new streams or a new codebook.
 *
 * @module
 */

import { dirname, join, resolve } from "@std/path";
import { type Fp16Histograms, newFp16Histograms } from "../codec/histogram.ts";
import type { Codec } from "../format/codecs.ts";
import { dumpElementCount, type DumpMeta } from "../format/dump_meta.ts";
import { firstDifference } from "../format/first_difference.ts";
import type { CodebookMode } from "../format/stream_codec.ts";
import { fileErrorOf } from "../dump/file_error.ts";
import { findFiles } from "../dump/find_files.ts";
import { requireFolder } from "../dump/folder_info.ts";
import { readInputMeta, tensorPaths } from "../dump/input_dump.ts";
import { pathExists } from "../dump/path_exists.ts";
import { readWholeFile, reusedFileReader } from "../dump/read_file.ts";
import { syncFolders } from "../dump/write_dump_files.ts";
import {
  removeFileDurably,
  syncFolder,
  writeFileAtomic,
} from "../dump/write_file_atomic.ts";
import { type DumpSelection, selectionSkipReason } from "./dump_selection.ts";
import type {
  DumpResult,
  DumpToCode,
  EncodeSetupTask,
  LostReply,
} from "./dump_tasks.ts";
import { FilePresence } from "./file_presence.ts";
import { KvbitsJobError, mentionOption } from "./job_error.ts";
import type { DumpOutcome, ProgressListener } from "./job_report.ts";
import { openOutputFolder } from "./output_folder.ts";
import { type Batching, defaultJobs, LaneRunner } from "./worker_pool.ts";

/** What to encode, where, and how. */
export interface EncodeOptions extends DumpSelection {
  /** The dump folder (`--dump-dir`). */
  readonly dumpDir: string;
  /** The bitstream folder to write (`--out-dir`). */
  readonly outDir: string;
  /** The codec (`--codec`). */
  readonly codec: Codec;
  /**
   * One codebook for all dumps, or one per dump (`--codebook`); codecs that write
   * one file per dump (`ctx`) learn as they code and ignore it.
   */
  readonly codebook: CodebookMode;
  /** Replace existing outputs (`--overwrite`). */
  readonly overwrite: boolean;
  /** Called after each dump of each phase. */
  readonly onProgress?: ProgressListener;
  /**
   * Flush every file to the disk before the meta that completes its dump, and
   * the folders at the end (default true): outputs then survive a power cut too,
   * not only a killed process (`--no-fsync` sets it false). About 0.3 ms per
   * file on the virtual disk the tests run on.
   */
  readonly durable?: boolean;
  /**
   * Dumps handled at once (`--jobs`): this thread and `jobs - 1` workers;
   * default: one per CPU. The output is the same for any value.
   */
  readonly jobs?: number;
  /**
   * Whether this thread handles dumps too, or only hands them to the workers
   * (default true; see `LaneRunnerOptions.threadLane`).
   */
  readonly threadLane?: boolean;
}

/** What the encode job did. */
export interface EncodeReport {
  /** `meta_*.json` files found below the dump folder. */
  readonly metaFilesFound: number;
  /** Dumps taken by the selection flags (encoded, already encoded, or failed). */
  readonly selected: number;
  /** One outcome per meta file found, in path order. */
  readonly outcomes: readonly DumpOutcome[];
  /** Path of the global codebook file, for `global`. */
  readonly codebookPath?: string;
  /** Bytes of the global codebook file, for `global`. */
  readonly codebookBytes: number;
  /** K and V bytes of the dumps encoded in this run. */
  readonly rawBytes: number;
  /** Bytes of the stream files written. */
  readonly streamBytes: number;
  /** Bytes of the per-dump meta files written. */
  readonly metaBytes: number;
  /** Temporary files of an interrupted earlier run, removed from the output folder. */
  readonly temporaryFilesRemoved: number;
  /** Wall time of the job. */
  readonly seconds: number;
}

/** A selected dump: where it is and its parsed meta. */
interface SelectedDump {
  readonly relativePath: string;
  readonly folder: string;
  readonly metaName: string;
  readonly metaText: string;
  readonly meta: DumpMeta;
}

/** Name of a meta file in a dump folder: `meta_<anything>.json`. */
export const INPUT_META_PATTERN = /^meta_.+\.json$/;

/**
 * Encodes a dump folder into a bitstream folder.
 *
 * @param options Folders, codec, codebook mode, selection and overwrite flag.
 * @returns What was encoded, skipped and failed, with byte counts.
 * @throws {KvbitsJobError} When the dump folder is missing, the output folder is
 * the dump folder or a file, another kvbits run is writing into it, or an
 * existing global codebook differs from the one the dumps give (and `overwrite`
 * is not set).
 * @throws {KvbitsFileError} When a folder below the dump folder cannot be read.
 *
 * @example Encoding the bundled fixtures
 * ```ts
 * import { encodeFolder } from "./encode_job.ts";
 * import { huffmanStreamCodec } from "../format/huffman_stream_codec.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const outDir = await Deno.makeTempDir();
 * const report = await encodeFolder({
 *   dumpDir: new URL("../../fixtures/kv-sample", import.meta.url).pathname, outDir,
 *   codec: huffmanStreamCodec, codebook: "global", overwrite: false,
 *   stage: "both", minSeqLen: 0, maxSeqLen: 0,
 * });
 * assertEquals(report.outcomes.every((outcome) => outcome.status === "done"), true);
 * await Deno.remove(outDir, { recursive: true });
 * ```
 */
export async function encodeFolder(
  options: EncodeOptions,
): Promise<EncodeReport> {
  const started = performance.now();
  await checkDumpFolder(options.dumpDir);
  await using output = await openOutputFolder(options.outDir, {
    dumpDir: options.dumpDir,
  });
  // Every dump is counted and encoded by a lane (this thread, or a worker once
  // the job proves long enough to need them).
  const runner = new LaneRunner({
    jobs: options.jobs ?? defaultJobs(),
    threadLane: options.threadLane,
  });
  try {
    const report = await encodeWithLanes(options, runner);
    return {
      ...report,
      temporaryFilesRemoved: output.temporaryFilesRemoved.length,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    runner.close();
  }
}

async function encodeWithLanes(
  options: EncodeOptions,
  runner: LaneRunner,
): Promise<Omit<EncodeReport, "temporaryFilesRemoved" | "seconds">> {
  const { codec, dumpDir, outDir, onProgress } = options;
  const durable = options.durable ?? true;
  const metaFiles = await findFiles(
    dumpDir,
    (name) => INPUT_META_PATTERN.test(name),
    resolve(outDir),
  );
  const outcomes = new Map<string, DumpOutcome>();
  const selected: SelectedDump[] = [];
  const readMeta = reusedFileReader();
  const presence = new FilePresence();
  for (const relativePath of metaFiles) {
    const metaPath = join(dumpDir, relativePath);
    try {
      const { text, meta } = await readInputMeta(metaPath, readMeta);
      const folder = dirname(metaPath);
      const skip = selectionSkipReason(meta, options) ??
        missingTensorReason(folder, meta, presence);
      if (skip) {
        outcomes.set(relativePath, {
          dump: relativePath,
          status: "skipped",
          reason: skip,
        });
        continue;
      }
      const metaName = relativePath.slice(relativePath.lastIndexOf("/") + 1)
        .replace(/\.json$/, "");
      selected.push({ relativePath, folder, metaName, metaText: text, meta });
    } catch (error) {
      outcomes.set(relativePath, failed(relativePath, metaPath, error));
    }
  }

  let codebookPath: string | undefined;
  let codebookBytes = 0;
  let toEncode = selected;
  let rawBytes = 0;
  let streamBytes = 0;
  let metaBytes = 0;
  const setUp: EncodeSetupTask = {
    kind: "encode-setup",
    codec: codec.name,
    dumpDir,
    outDir,
    overwrite: options.overwrite,
    codebook: options.codebook,
    durable,
  };
  await runner.setUp(setUp);
  // A global run writes the layout's shared file (its codebook) first, from
  // the counts of every dump; a layout without one (ctx) has no such pass.
  const shared = options.codebook === "global" ? codec.sharedFile : undefined;
  if (shared) {
    const counted = await countSymbols(
      runner,
      selected,
      outcomes,
      onProgress,
    );
    toEncode = counted.dumps;
    // No codebook without a dump to code with it: nothing is written then.
    if (toEncode.length > 0) {
      const bytes = shared.fromCounts(counted.k, counted.v);
      codebookPath = join(outDir, shared.fileName);
      await writeCodebook(codebookPath, bytes, toEncode, options);
      codebookBytes = bytes.length;
      await runner.setUp({ ...setUp, sharedBytes: bytes });
    }
  }
  let done = 0;
  // Folders that received a dump's marker: flushed at the end, so that the
  // last markers are on the disk too.
  const touched = new Set<string>();
  await runner.forEach(
    toEncode,
    batchesOf("encode"),
    (dump, result) => {
      if (result.kind === "encoded") {
        outcomes.set(dump.relativePath, result.outcome);
        rawBytes += result.rawBytes;
        streamBytes += result.streamBytes;
        metaBytes += result.metaBytes;
        if (result.outcome.status === "done") {
          touched.add(join(outDir, dirname(dump.relativePath)));
        }
      } else {
        outcomes.set(
          dump.relativePath,
          lost(dump.relativePath, join(dumpDir, dump.relativePath), result),
        );
      }
      onProgress?.({
        phase: "encoding",
        done: ++done,
        total: toEncode.length,
        bytes: rawBytes,
      });
    },
  );
  if (durable) {
    await syncFolders(touched).catch((error) => {
      throw new KvbitsJobError(error.message);
    });
  }

  return {
    metaFilesFound: metaFiles.length,
    selected: selected.length,
    outcomes: metaFiles.map((path) => outcomes.get(path)!),
    codebookPath,
    codebookBytes,
    rawBytes,
    streamBytes,
    metaBytes,
  };
}

/**
 * Writes the global codebook before any dump that depends on it, or keeps an
 * identical one. A different one is refused without `overwrite`; with it, the
 * metas of the dumps to encode are removed first, so that none coded with the
 * old codebook is ever beside the new one (all are re-encoded).
 */
async function writeCodebook(
  path: string,
  bytes: Uint8Array,
  toEncode: readonly SelectedDump[],
  options: EncodeOptions,
): Promise<void> {
  const durable = options.durable ?? true;
  const existing = await readExistingCodebook(path);
  if (existing !== undefined && firstDifference(existing, bytes) === -1) return;
  if (existing !== undefined) {
    if (!options.overwrite) {
      throw new KvbitsJobError(
        `${path}: exists and differs from the codebook of the selected dumps; use ${
          mentionOption("overwrite")
        } to replace it and re-encode every dump`,
      );
    }
    for (const dump of toEncode) {
      const metaOut = metaOutputPath(options.outDir, dump, options.codec);
      await removeFileDurably(metaOut, { durable }).catch((error) => {
        throw new KvbitsJobError(fileErrorOf(metaOut, error).message);
      });
    }
  }
  // On the disk, name included, before any dump that depends on it.
  await writeFileAtomic(path, bytes, { durable })
    .then(() => durable ? syncFolder(dirname(path)) : undefined)
    .catch((error) => {
      throw new KvbitsJobError(fileErrorOf(path, error).message);
    });
}

function metaOutputPath(
  outDir: string,
  dump: SelectedDump,
  codec: Codec,
): string {
  return join(
    outDir,
    dirname(dump.relativePath),
    codec.markerFileName(dump.metaName),
  );
}

async function checkDumpFolder(dumpDir: string): Promise<void> {
  await requireFolder(dumpDir).catch((error) => {
    throw new KvbitsJobError(fileErrorOf(dumpDir, error).message, "dumpDir");
  });
}

function missingTensorReason(
  folder: string,
  meta: DumpMeta,
  presence: FilePresence,
): string | undefined {
  const paths = tensorPaths(folder, meta);
  if (!presence.exists(paths.k)) return `k file ${paths.k} is missing`;
  if (!presence.exists(paths.v)) return `v file ${paths.v} is missing`;
  return undefined;
}

/** What a lane needs of a selected dump. */
function dumpToCode(dump: SelectedDump): DumpToCode {
  return { relativePath: dump.relativePath, metaText: dump.metaText };
}

/**
 * Dumps per task: up to 16, or 256 KiB of K and V. Why: a task costs a message
 * each way (tens of microseconds, and a thread to wake), while a decode-step
 * dump of 128 elements codes in a few; a prefill dump is worth a task alone.
 */
const BATCH = { dumps: 16, bytes: 256 * 1024 } as const;

function batchesOf(kind: "count" | "encode"): Batching<SelectedDump> {
  return {
    taskOf: (batch) => ({ kind, dumps: batch.map(dumpToCode) }),
    maxItems: BATCH.dumps,
    weightOf: (dump) => 4 * dumpElementCount(dump.meta),
    maxWeight: BATCH.bytes,
  };
}

/**
 * Pass 1 of a global codebook: histograms of all selected dumps that can be
 * read, counted by the lanes and summed here (integer sums: the same in any
 * order, so the codebook does not depend on the number of jobs).
 */
async function countSymbols(
  runner: LaneRunner,
  selected: readonly SelectedDump[],
  outcomes: Map<string, DumpOutcome>,
  onProgress: ProgressListener | undefined,
) {
  const k = newFp16Histograms();
  const v = newFp16Histograms();
  const readable = new Array<boolean>(selected.length).fill(false);
  let bytes = 0;
  let done = 0;
  await runner.forEach(
    selected,
    {
      ...batchesOf("count"),
      onDone: (reply) => {
        if (reply.counts) {
          addHistograms(k, reply.counts.k);
          addHistograms(v, reply.counts.v);
        }
      },
    },
    (dump, result, index) => {
      if (result.kind === "counted" && result.failure === undefined) {
        bytes += result.bytes;
        readable[index] = true;
      } else {
        outcomes.set(dump.relativePath, {
          dump: dump.relativePath,
          status: "failed",
          reason: result.kind === "counted" && result.failure !== undefined
            ? result.failure
            : lost(dump.relativePath, dump.relativePath, result).reason,
        });
      }
      onProgress?.({
        phase: "counting symbols",
        done: ++done,
        total: selected.length,
        bytes,
      });
    },
  );
  return { k, v, dumps: selected.filter((_, index) => readable[index]) };
}

function addHistograms(into: Fp16Histograms, add: Fp16Histograms): void {
  for (let s = 0; s < into.hi6.length; s++) into.hi6[s] += add.hi6[s];
  for (let s = 0; s < into.lo10.length; s++) into.lo10[s] += add.lo10[s];
}

/** The outcome of a dump whose lane died while handling it. */
function lost(
  dump: string,
  path: string,
  result: DumpResult | LostReply,
): DumpOutcome {
  return {
    dump,
    status: "failed",
    reason: `${path}: ${
      result.kind === "lost"
        ? result.reason
        : `unexpected result ${result.kind}`
    }`,
  };
}

/** The bytes of the global codebook file on disk, or undefined when there is none. */
async function readExistingCodebook(
  path: string,
): Promise<Uint8Array | undefined> {
  if (!await pathExists(path)) return undefined;
  return await readWholeFile(path).catch((error) => {
    throw new KvbitsJobError(fileErrorOf(path, error).message);
  });
}

function failed(dump: string, path: string, error: unknown): DumpOutcome {
  return {
    dump,
    status: "failed",
    reason: fileErrorOf(path, error).message,
  };
}
