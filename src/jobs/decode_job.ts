/**
 * The decode job: a bitstream folder in, the dump folder restored (FORMAT.md §3,
 * §4), optionally compared with the originals as well.
 *
 * Each dump is decoded in memory and checked against the checksums kvbits recorded
 * (reference outputs have none) before anything is written; its two tensors are
 * then written, and its meta file last, each through a temporary file, so that a
 * restored dump whose meta exists is complete. A run killed at any moment can be
 * run again: temporary files left behind are removed, restored dumps are skipped
 * and the others written. With `overwrite`, a restored dump's meta is removed
 * before its tensors are replaced. Each dump is read, decoded, checked and
 * written by a lane (`worker_pool.ts`: this thread, and workers when the job
 * proves long enough for them); the output folder's lock and clean-up and the
 * final flush of its folders stay in this thread.
 *
 * @module
 */

import { dirname, join } from "../dump/path.ts";
import { pathKind } from "../dump/folder_info.ts";
import { syncFolders } from "../dump/write_dump_files.ts";
import { codecNamed } from "../format/codecs.ts";
import { openBitstreamFolder } from "./bitstream_folder.ts";
import { checkAgainstManifest, readFolderManifest } from "./folder_manifest.ts";
import { KvbitsJobError } from "./job_error.ts";
import type { DumpOutcome, ProgressListener } from "./job_report.ts";
import { openOutputFolder } from "./output_folder.ts";
import { defaultJobs, LaneRunner } from "./worker_pool.ts";

/** What to decode, and where to put or compare the result. */
export interface DecodeOptions {
  /** The bitstream folder (`--bitstream-dir`). */
  readonly bitstreamDir: string;
  /** Where to restore the dump folder (`--out-dir`); nothing is written without. */
  readonly outDir?: string;
  /** The original dump folder to compare with (`--orig-dump-dir`). */
  readonly origDumpDir?: string;
  /** Replace existing restored dumps (`--overwrite`). */
  readonly overwrite: boolean;
  /** Called after each dump. */
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

/** What the decode job did. */
export interface DecodeReport {
  /** The layout recognised, e.g. `bitstream_huffman`; undefined with no dump. */
  readonly layout?: string;
  /** One outcome per dump, in path order. */
  readonly outcomes: readonly DumpOutcome[];
  /** Dumps whose tensors matched kvbits' recorded checksums. */
  readonly checkedByChecksum: number;
  /** Dumps found equal to the originals (with `origDumpDir`). */
  readonly checkedAgainstOriginals: number;
  /** Dumps decoded that neither check could confirm (reference output, no originals). */
  readonly unchecked: number;
  /** K and V bytes decoded. */
  readonly rawBytes: number;
  /** Bytes of the stream files of the dumps decoded. */
  readonly streamBytes: number;
  /** Bytes of the per-dump meta files of the dumps decoded. */
  readonly metaBytes: number;
  /** Bytes of the global codebook file, 0 when there is none. */
  readonly codebookBytes: number;
  /** Temporary files of an interrupted earlier run, removed from the output folder. */
  readonly temporaryFilesRemoved: number;
  /** Wall time of the job. */
  readonly seconds: number;
}

/**
 * Decodes every dump of a bitstream folder, writing the restored dump folder and/or
 * comparing with the originals.
 *
 * @param options Folders and flags.
 * @returns The outcome of each dump and what was checked.
 * @throws {KvbitsJobError} When the bitstream folder is missing or mixes layouts,
 * or the output folder is the original or bitstream folder, or a file, or
 * another kvbits run is writing into it.
 * @throws {KvbitsFileError} When a folder below the bitstream folder cannot be
 * read.
 *
 * @example Restoring the reference Huffman fixtures and comparing them
 * ```ts
 * import { decodeFolder } from "./decode_job.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const fixtures = new URL("../../fixtures/", import.meta.url).pathname;
 * const outDir = await Deno.makeTempDir();
 * const report = await decodeFolder({
 *   bitstreamDir: `${fixtures}reference/huffman-per-dump`, outDir,
 *   origDumpDir: `${fixtures}kv-sample`, overwrite: false,
 * });
 * assertEquals(report.checkedAgainstOriginals, 4);
 * await Deno.remove(outDir, { recursive: true });
 * ```
 */
export async function decodeFolder(
  options: DecodeOptions,
): Promise<DecodeReport> {
  const started = performance.now();
  const { outDir, origDumpDir, onProgress } = options;
  const durable = options.durable ?? true;
  // The folder's manifest (when kvbits wrote it) names its layout and dumps:
  // missing, renamed, moved and stray dumps fail; the others are decoded.
  const record = readFolderManifest(options.bitstreamDir);
  const folder = await openBitstreamFolder(
    options.bitstreamDir,
    record.manifest && codecNamed(record.manifest.codec),
  );
  const check = checkAgainstManifest(
    options.bitstreamDir,
    folder.metaFiles,
    folder.strays ?? [],
    record,
  );
  const metaFiles = check.listed;
  await using output = outDir === undefined
    ? undefined
    : await openOutputFolder(outDir, {
      bitstreamDir: options.bitstreamDir,
      origDumpDir,
    });
  if (origDumpDir !== undefined) {
    const kind = await pathKind(origDumpDir).catch(() => "missing");
    if (kind !== "folder") {
      throw new KvbitsJobError(
        `${origDumpDir}: folder not found`,
        "origDumpDir",
      );
    }
  }
  const outcomes: DumpOutcome[] = new Array(metaFiles.length);
  let checkedByChecksum = 0;
  let checkedAgainstOriginals = 0;
  let unchecked = 0;
  let rawBytes = 0;
  let streamBytes = 0;
  let metaBytes = 0;
  let done = 0;
  // Folders that received a restored dump's meta: flushed at the end.
  const touched = new Set<string>();
  // Every dump is read, decoded, checked and written by a lane (this thread,
  // or a worker once the job proves long enough to need them).
  const runner = new LaneRunner({
    jobs: options.jobs ?? defaultJobs(),
    threadLane: options.threadLane,
  });
  runner.expectWork(metaFiles.length);
  try {
    const codec = folder.codec;
    if (codec) {
      await runner.setUp({
        kind: "decode-setup",
        bitstreamDir: options.bitstreamDir,
        codec: codec.name,
        sharedBytes: folder.globalBytes,
        globalProblem: folder.globalProblem,
        outDir,
        origDumpDir,
        overwrite: options.overwrite,
        durable,
        expectedCrc32: check.expected,
      });
    }
    await runner.forEach(
      metaFiles,
      {
        taskOf: (metaFiles) => ({ kind: "decode", metaFiles }),
        // A task costs a message each way; most dumps decode in less.
        maxItems: 8,
      },
      (metaFile, result, index) => {
        if (result.kind === "decoded") {
          outcomes[index] = result.outcome;
          if (result.byChecksum) checkedByChecksum++;
          if (result.againstOriginals) checkedAgainstOriginals++;
          if (result.unchecked) unchecked++;
          rawBytes += result.rawBytes;
          streamBytes += result.streamBytes;
          metaBytes += result.metaBytes;
          if (outDir !== undefined && result.outcome.status === "done") {
            touched.add(join(outDir, dirname(metaFile)));
          }
        } else {
          outcomes[index] = {
            dump: metaFile,
            status: "failed",
            reason: `${join(options.bitstreamDir, metaFile)}: ${
              result.kind === "lost"
                ? result.reason
                : `unexpected result ${result.kind}`
            }`,
          };
        }
        onProgress?.({
          phase: outDir === undefined ? "verifying" : "decoding",
          done: ++done,
          total: metaFiles.length,
          bytes: rawBytes,
        });
      },
    );
  } finally {
    runner.close();
  }
  if (durable) {
    await syncFolders(touched).catch((error) => {
      throw new KvbitsJobError(error.message);
    });
  }
  return {
    layout: folder.codec?.layout,
    outcomes: [...outcomes, ...check.failures].sort((a, b) =>
      a.dump < b.dump ? -1 : a.dump > b.dump ? 1 : 0
    ),
    checkedByChecksum,
    checkedAgainstOriginals,
    unchecked,
    rawBytes,
    streamBytes,
    metaBytes,
    codebookBytes: folder.codebookBytes,
    temporaryFilesRemoved: output?.temporaryFilesRemoved.length ?? 0,
    seconds: (performance.now() - started) / 1000,
  };
}
