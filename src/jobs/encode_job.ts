/**
 * The encode job: a dump folder in, a bitstream folder out (FORMAT.md §1, §3, §4).
 *
 * Steps: find every `meta_*.json` below `--dump-dir`; read and select each (bad
 * meta fails the dump, selection flags and missing tensors skip it, with the
 * reason); for a global codebook count the symbols of all selected dumps and write
 * the codebook file first; then encode each dump, writing its four streams and
 * then its meta, each through a temporary file, so that a dump whose meta exists is
 * complete. A dump whose meta output exists is skipped unless `overwrite` is set.
 *
 * @module
 */

import { dirname, join, resolve } from "@std/path";
import { crc32 } from "../codec/crc32.ts";
import { type Fp16Histograms, newFp16Histograms } from "../codec/histogram.ts";
import { dumpElementCount, type DumpMeta } from "../format/dump_meta.ts";
import { firstDifference } from "../format/first_difference.ts";
import { globalCodebookText } from "../format/global_codebook.ts";
import type {
  CodebookMode,
  PerStream,
  StreamCodec,
} from "../format/stream_codec.ts";
import { fileErrorOf } from "../dump/file_error.ts";
import { findFiles } from "../dump/find_files.ts";
import { readInputMeta, tensorPaths } from "../dump/input_dump.ts";
import { pathExists } from "../dump/path_exists.ts";
import { readWholeFile } from "../dump/read_file.ts";
import { reusedFileReader } from "../dump/sync_files.ts";
import { writeFileAtomic } from "../dump/write_file_atomic.ts";
import { type DumpSelection, selectionSkipReason } from "./dump_selection.ts";
import type { DumpResult, DumpToCode, LostReply } from "./dump_tasks.ts";
import { FilePresence } from "./file_presence.ts";
import { KvbitsJobError } from "./job_error.ts";
import type { DumpOutcome, ProgressListener } from "./job_report.ts";
import { type Batching, defaultJobs, LaneRunner } from "./worker_pool.ts";

/** What to encode, where, and how. */
export interface EncodeOptions extends DumpSelection {
  /** The dump folder (`--dump-dir`). */
  readonly dumpDir: string;
  /** The bitstream folder to write (`--out-dir`). */
  readonly outDir: string;
  /** The stream codec (`--codec`). */
  readonly codec: StreamCodec<unknown>;
  /** One codebook for all dumps, or one per dump (`--codebook`). */
  readonly codebook: CodebookMode;
  /** Replace existing outputs (`--overwrite`). */
  readonly overwrite: boolean;
  /** Called after each dump of each phase. */
  readonly onProgress?: ProgressListener;
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
 * the dump folder, or an existing global codebook differs from the one the dumps
 * give (and `overwrite` is not set).
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
  await checkFolders(options.dumpDir, options.outDir);
  // Every dump is counted and encoded by a lane (this thread, or a worker once
  // the job proves long enough to need them).
  const runner = new LaneRunner({
    jobs: options.jobs ?? defaultJobs(),
    threadLane: options.threadLane,
  });
  try {
    return await encodeWithLanes(options, runner, started);
  } finally {
    runner.close();
  }
}

async function encodeWithLanes(
  options: EncodeOptions,
  runner: LaneRunner,
  started: number,
): Promise<EncodeReport> {
  const { codec, dumpDir, outDir, onProgress } = options;
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
  const setUp = {
    kind: "encode-setup",
    codec: codec.name,
    dumpDir,
    outDir,
    overwrite: options.overwrite,
  } as const;
  await runner.setUp(setUp);
  if (options.codebook === "global") {
    const counted = await countSymbols(
      runner,
      selected,
      outcomes,
      onProgress,
    );
    toEncode = counted.dumps;
    const models = {} as PerStream<unknown>;
    const { k, v } = counted;
    models.k_hi6 = codec.modelFromCounts(k.hi6, "k_hi6");
    models.k_lo10 = codec.modelFromCounts(k.lo10, "k_lo10");
    models.v_hi6 = codec.modelFromCounts(v.hi6, "v_hi6");
    models.v_lo10 = codec.modelFromCounts(v.lo10, "v_lo10");
    const text = globalCodebookText(codec, models);
    const bytes = new TextEncoder().encode(text);
    codebookPath = join(outDir, codec.globalCodebookFile);
    await writeCodebook(codebookPath, bytes, options.overwrite);
    codebookBytes = bytes.length;
    await runner.setUp({
      ...setUp,
      codebookText: text,
      codebookCrc32: crc32(bytes),
    });
  }
  let done = 0;
  await runner.forEach(
    toEncode,
    batchesOf("encode"),
    (dump, result) => {
      if (result.kind === "encoded") {
        outcomes.set(dump.relativePath, result.outcome);
        rawBytes += result.rawBytes;
        streamBytes += result.streamBytes;
        metaBytes += result.metaBytes;
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

  return {
    metaFilesFound: metaFiles.length,
    selected: selected.length,
    outcomes: metaFiles.map((path) => outcomes.get(path)!),
    codebookPath,
    codebookBytes,
    rawBytes,
    streamBytes,
    metaBytes,
    seconds: (performance.now() - started) / 1000,
  };
}

async function checkFolders(dumpDir: string, outDir: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(dumpDir);
  } catch (error) {
    throw new KvbitsJobError(
      `--dump-dir ${fileErrorOf(dumpDir, error).message}`,
    );
  }
  if (!info.isDirectory) {
    throw new KvbitsJobError(`--dump-dir ${dumpDir}: not a folder`);
  }
  const realDump = await Deno.realPath(dumpDir);
  const realOut = await Deno.realPath(outDir).catch(() => resolve(outDir));
  if (realDump === realOut) {
    throw new KvbitsJobError(
      `--out-dir ${outDir} is the dump folder itself: choose another folder so that inputs and outputs stay apart`,
    );
  }
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
    batchesOf("count"),
    (dump, result, index) => {
      if (result.kind === "counted" && result.k && result.v) {
        addHistograms(k, result.k);
        addHistograms(v, result.v);
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

/** Writes the global codebook, or keeps an identical one; refuses to replace a different one. */
async function writeCodebook(
  path: string,
  bytes: Uint8Array,
  overwrite: boolean,
): Promise<void> {
  if (!overwrite && await pathExists(path)) {
    const existing = await readWholeFile(path).catch((error) => {
      throw new KvbitsJobError(fileErrorOf(path, error).message);
    });
    if (firstDifference(existing, bytes) === -1) return;
    throw new KvbitsJobError(
      `${path}: exists and differs from the codebook of the selected dumps; use --overwrite to replace it and re-encode every dump`,
    );
  }
  await writeFileAtomic(path, bytes).catch((error) => {
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
