/**
 * The encode job: a dump folder in, a bitstream folder out (FORMAT.md §1, §3, §4).
 *
 * Steps: find every `meta_*.json` below `--dump-dir`; for a global codebook
 * count the symbols of all selected dumps and write the codebook file first;
 * then encode each dump, writing its four streams in place and then its meta
 * (or a one-file layout's only file) through a temporary file, so that a dump
 * whose meta exists is complete; flush everything once; write the folder's
 * manifest last. The reading and selection of each meta (a bad meta fails the
 * dump, selection flags and missing tensors skip it, with the reason), the
 * counting and the encoding run on the lanes (`worker_pool.ts`: this thread,
 * and workers when the job is long enough for them); finding the metas, the
 * codebook, the flush, the manifest and the folder's lock and clean-up stay in
 * this thread.
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

import { basename, dirname, join, resolve } from "../dump/path.ts";
import { type Fp16Histograms, newFp16Histograms } from "../codec/histogram.ts";
import { type Codec, codecOfMarkerFile } from "../format/codecs.ts";
import { firstDifference } from "../format/first_difference.ts";
import type { CodebookMode } from "../format/stream_codec.ts";
import { fileErrorOf } from "../dump/file_error.ts";
import { findFiles } from "../dump/find_files.ts";
import { realOrResolved, requireFolder } from "../dump/folder_info.ts";
import { pathExists } from "../dump/path_exists.ts";
import { readFileSync, readWholeFile } from "../dump/read_file.ts";
import { flushWritten, startBackgroundFlush } from "../dump/flush_files.ts";
import {
  removeFileDurably,
  syncFolder,
  writeFileAtomic,
} from "../dump/write_file_atomic.ts";
import { type DumpSelection, INPUT_META_PATTERN } from "./dump_selection.ts";
import type {
  DumpResult,
  DumpToCode,
  EncodeSetupTask,
  LostReply,
} from "./dump_tasks.ts";
import { KvbitsJobError, mentionOption } from "./job_error.ts";
import type { DumpOutcome, ProgressListener } from "./job_report.ts";
import {
  type EncodeStart,
  markerCrc32,
  markerPathOf,
  startEncodeManifest,
  writeFolderManifest,
} from "./folder_manifest.ts";
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

/**
 * A dump found: its meta's path, and once a lane has read it (the count pass
 * of a global codebook), its text and the K and V bytes.
 */
interface FoundDump {
  readonly relativePath: string;
  readonly metaText?: string;
  readonly bytes?: number;
  /** The lane that counted it, which keeps its tensors for the encode pass. */
  readonly lane?: number;
}

export { INPUT_META_PATTERN } from "./dump_selection.ts";

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
  await refuseOutputHoldingDumps(dumpDir, outDir);
  const start = await startEncodeManifest(outDir, codec, durable);
  const metaFiles = await findFiles(
    dumpDir,
    (name) => INPUT_META_PATTERN.test(name),
    resolve(outDir),
  );
  // The lanes start while this thread lists the rest of the job.
  runner.expectWork(metaFiles.length);
  const outcomes = new Map<string, DumpOutcome>();
  // Each dump's meta is read, and the selection applied, by the lane that
  // counts or encodes it.
  const found: FoundDump[] = metaFiles.map((relativePath) => ({
    relativePath,
  }));
  const selected = new Set<string>();

  let codebookPath: string | undefined;
  let codebookBytes = 0;
  let toEncode = found;
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
    selection: {
      stage: options.stage,
      minSeqLen: options.minSeqLen,
      maxSeqLen: options.maxSeqLen,
    },
    durable,
    checkExisting: start.interrupted,
  };
  await runner.setUp(setUp);
  // A global run writes the layout's shared file (its codebook) first, from
  // the counts of every dump; a layout without one (ctx) has no such pass.
  const shared = options.codebook === "global" ? codec.sharedFile : undefined;
  if (shared) {
    const counted = await countSymbols(
      runner,
      found,
      { outcomes, selected },
      onProgress,
    );
    toEncode = counted.dumps;
    // No codebook without a dump to code with it: nothing is written then.
    if (toEncode.length > 0) {
      const bytes = shared.fromCounts(counted.k, counted.v);
      codebookPath = join(outDir, shared.fileName);
      await writeCodebook(codebookPath, bytes, toEncode, options, start);
      codebookBytes = bytes.length;
      await runner.setUp({ ...setUp, sharedBytes: bytes });
    }
  }
  let done = 0;
  if (toEncode.length > 0) start.beforeFirstWrite();
  // Files written: flushed at the end, before the manifest.
  const written: string[] = [];
  const markerCrcs = new Map<string, number>();
  // On the way, the disk starts writing what is done, a third at a time.
  const flushStep = Math.max(
    BACKGROUND_FLUSH_DUMPS,
    Math.ceil(toEncode.length / 3),
  );
  let flushedAt = 0;
  let flushing: Promise<void> | undefined;
  await runner.forEach(
    toEncode,
    batchesOf("encode"),
    (dump, result) => {
      if (
        durable && !flushing && done - flushedAt >= flushStep &&
        done < toEncode.length - 1
      ) {
        flushedAt = done;
        flushing = startBackgroundFlush(outDir).finally(() => {
          flushing = undefined;
        });
      }
      if (result.kind === "encoded") {
        outcomes.set(dump.relativePath, result.outcome);
        if (result.selected) selected.add(dump.relativePath);
        rawBytes += result.rawBytes;
        streamBytes += result.streamBytes;
        metaBytes += result.metaBytes;
        if (result.markerCrc32 !== undefined) {
          markerCrcs.set(dump.relativePath, result.markerCrc32);
        }
        if (result.written) written.push(...result.written);
      } else {
        outcomes.set(
          dump.relativePath,
          lost(dump.relativePath, join(dumpDir, dump.relativePath), result),
        );
      }
      done++;
      onProgress?.({
        phase: "encoding",
        done,
        total: toEncode.length,
        bytes: rawBytes,
      });
    },
  );
  // Every file first, then one flush of them all, then the manifest, last.
  if (durable) {
    await flushing;
    try {
      await flushWritten(written, outDir);
    } catch (error) {
      throw new KvbitsJobError((error as Error).message);
    }
  }
  const dumps = start.dumps;
  const before = new Map(dumps);
  for (const relativePath of selected) {
    const marker = markerPathOf(
      relativePath,
      codec.markerFileName(metaNameOf(relativePath)),
    );
    const crc = markerCrcs.get(relativePath);
    if (crc !== undefined) dumps.set(marker, crc);
    else if (
      outcomes.get(relativePath)?.status === "skipped" &&
      (start.interrupted || !dumps.has(marker))
    ) {
      // Kept from an earlier run: recorded as it is on the disk.
      try {
        dumps.set(marker, markerCrc32(join(outDir, marker)));
      } catch (error) {
        throw new KvbitsJobError(
          fileErrorOf(join(outDir, marker), error).message,
        );
      }
    }
  }
  if (
    start.changed() || (!start.hadManifest && dumps.size > 0) ||
    dumps.size !== before.size ||
    [...dumps].some(([marker, crc]) => before.get(marker) !== crc)
  ) {
    writeFolderManifest(
      outDir,
      { codec: codec.name, complete: true, dumps },
      durable,
    );
  }

  return {
    metaFilesFound: metaFiles.length,
    selected: selected.size,
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
  toEncode: readonly FoundDump[],
  options: EncodeOptions,
  start: EncodeStart,
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
    // Dumps of the folder coded with the old codebook that this run does not
    // re-encode would no longer decode: refused (an earlier --stage run).
    const stranded = await dumpsNeedingCodebook(
      options.outDir,
      options.codec,
      toEncode.map((dump) =>
        markerPathOf(
          dump.relativePath,
          options.codec.markerFileName(metaNameOf(dump.relativePath)),
        )
      ),
      start,
    );
    if (stranded.length > 0) {
      throw new KvbitsJobError(
        `${path}: would change, and ${stranded.length} dump${
          stranded.length === 1 ? "" : "s"
        } of ${options.outDir} coded with it ${
          stranded.length === 1 ? "is" : "are"
        } not selected by this run (e.g. ${
          stranded[0]
        }): select them too, use --codebook per-dump, or encode into another --out-dir`,
      );
    }
    start.beforeFirstWrite();
    for (const dump of toEncode) {
      const metaOut = metaOutputPath(options.outDir, dump, options.codec);
      await removeFileDurably(metaOut, { durable }).catch((error) => {
        throw new KvbitsJobError(fileErrorOf(metaOut, error).message);
      });
    }
  }
  // On the disk, name included, before any dump that depends on it.
  start.beforeFirstWrite();
  await writeFileAtomic(path, bytes, { durable })
    .then(() => durable ? syncFolder(dirname(path)) : undefined)
    .catch((error) => {
      throw new KvbitsJobError(fileErrorOf(path, error).message);
    });
}

function metaOutputPath(
  outDir: string,
  dump: FoundDump,
  codec: Codec,
): string {
  return join(
    outDir,
    dirname(dump.relativePath),
    codec.markerFileName(metaNameOf(dump.relativePath)),
  );
}

/** The name of a dump's meta file without `.json`. */
function metaNameOf(relativePath: string): string {
  return basename(relativePath).replace(/\.json$/, "");
}

async function checkDumpFolder(dumpDir: string): Promise<void> {
  await requireFolder(dumpDir).catch((error) => {
    throw new KvbitsJobError(fileErrorOf(dumpDir, error).message, "dumpDir");
  });
}

/** What a lane needs of a dump. */
function dumpToCode(dump: FoundDump): DumpToCode {
  return { relativePath: dump.relativePath, metaText: dump.metaText };
}

/**
 * Dumps encoded, at least, between two flushes in the background (see
 * `startBackgroundFlush`): a smaller job flushes once, at its end.
 */
const BACKGROUND_FLUSH_DUMPS = 512;

/**
 * Dumps per task: up to 16, or 256 KiB of K and V. Why: a task costs a message
 * each way (tens of microseconds, and a thread to wake), while a decode-step
 * dump of 128 elements codes in a few; a prefill dump is worth a task alone.
 */
const BATCH = { dumps: 16, bytes: 256 * 1024 } as const;

function batchesOf(kind: "count" | "encode"): Batching<FoundDump> {
  return {
    taskOf: (batch) => ({ kind, dumps: batch.map(dumpToCode) }),
    maxItems: BATCH.dumps,
    // Unknown until a lane has read the meta: batches by count alone then.
    weightOf: (dump) => dump.bytes ?? 0,
    maxWeight: BATCH.bytes,
    laneOf: (dump) => dump.lane,
  };
}

/**
 * Pass 1 of a global codebook: histograms of all selected dumps that can be
 * read, counted by the lanes and summed here (integer sums: the same in any
 * order, so the codebook does not depend on the number of jobs).
 */
async function countSymbols(
  runner: LaneRunner,
  found: readonly FoundDump[],
  { outcomes, selected }: {
    outcomes: Map<string, DumpOutcome>;
    selected: Set<string>;
  },
  onProgress: ProgressListener | undefined,
) {
  const k = newFp16Histograms();
  const v = newFp16Histograms();
  const readable: FoundDump[] = [];
  let bytes = 0;
  let done = 0;
  await runner.forEach(
    found,
    {
      ...batchesOf("count"),
      onDone: (reply) => {
        if (reply.counts) {
          addHistograms(k, reply.counts.k);
          addHistograms(v, reply.counts.v);
        }
      },
    },
    (dump, result, _index, lane) => {
      if (result.kind === "counted" && result.unselected !== undefined) {
        outcomes.set(dump.relativePath, result.unselected);
      } else if (result.kind === "counted" && result.failure === undefined) {
        bytes += result.bytes;
        selected.add(dump.relativePath);
        readable.push({
          relativePath: dump.relativePath,
          metaText: result.metaText,
          bytes: result.bytes,
          lane,
        });
      } else {
        selected.add(dump.relativePath);
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
        total: found.length,
        bytes,
      });
    },
  );
  // In path order, as found: the encode pass writes them in that order.
  const order = new Map(found.map((dump, index) => [dump.relativePath, index]));
  readable.sort((a, b) =>
    order.get(a.relativePath)! - order.get(b.relativePath)!
  );
  return { k, v, dumps: readable };
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

/**
 * Markers of `outDir` coded with its global codebook other than `selected`
 * (those this run re-encodes): what a new codebook would leave undecodable.
 */
async function dumpsNeedingCodebook(
  outDir: string,
  codec: Codec,
  selected: readonly string[],
  start: EncodeStart,
): Promise<string[]> {
  const chosen = new Set(selected);
  const markers = new Set([
    ...start.dumps.keys(),
    ...await findFiles(outDir, (name) => codecOfMarkerFile(name) === codec),
  ]);
  return [...markers].filter((marker) => {
    if (chosen.has(marker)) return false;
    try {
      const name = codec.metaNameOfMarker(basename(marker))!;
      return codec.openDump(name, readFileSync(join(outDir, marker)))
        .needsShared;
    } catch {
      // Gone (the manifest lists it), or unreadable: counted, to be safe.
      return true;
    }
  }).sort();
}

/**
 * Refuses an output folder inside the dump folder that holds input metas: the
 * search for dumps skips the output folder, so they would be left out silently.
 */
async function refuseOutputHoldingDumps(
  dumpDir: string,
  outDir: string,
): Promise<void> {
  const input = await realOrResolved(dumpDir);
  const output = await realOrResolved(outDir);
  if (!output.startsWith(input + "/")) return;
  const inside = await findFiles(
    outDir,
    (name) => INPUT_META_PATTERN.test(name),
  )
    .catch(() => []);
  if (inside.length === 0) return;
  throw new KvbitsJobError(
    `--out-dir ${outDir} is inside --dump-dir ${dumpDir} and holds ${inside.length} dump meta${
      inside.length === 1 ? "" : "s"
    } (e.g. ${
      inside[0]
    }), which the search for dumps would leave out: choose an output folder outside the dump folder, or one without dumps`,
  );
}
