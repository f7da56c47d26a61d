/**
 * The decode job: a bitstream folder in, the dump folder restored (FORMAT.md §3,
 * §4), optionally compared with the originals as well.
 *
 * Each dump is decoded in memory and checked against the checksums kvbits recorded
 * (reference outputs have none) before anything is written; its two tensors are
 * then written, and its meta file last, each through a temporary file, so that a
 * restored dump whose meta exists is complete.
 *
 * @module
 */

import { join, resolve } from "@std/path";
import { globalCodebookText } from "../format/global_codebook.ts";
import { openBitstreamFolder } from "./bitstream_folder.ts";
import { KvbitsJobError } from "./job_error.ts";
import type { DumpOutcome, ProgressListener } from "./job_report.ts";
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
 * or the output folder is the original or bitstream folder.
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
  // Every dump is read, decoded, checked and written by a lane (this thread,
  // or a worker once the job proves long enough to need them).
  const runner = new LaneRunner({
    jobs: options.jobs ?? defaultJobs(),
    threadLane: options.threadLane,
  });
  try {
    return await decodeWithLanes(options, runner, started);
  } finally {
    runner.close();
  }
}

async function decodeWithLanes(
  options: DecodeOptions,
  runner: LaneRunner,
  started: number,
): Promise<DecodeReport> {
  const { outDir, origDumpDir, onProgress } = options;
  const folder = await openBitstreamFolder(options.bitstreamDir);
  if (outDir !== undefined) {
    const out = await realOrResolved(outDir);
    for (
      const [flag, dir] of [
        ["--bitstream-dir", options.bitstreamDir],
        ["--orig-dump-dir", origDumpDir],
      ] as const
    ) {
      if (dir !== undefined && out === await realOrResolved(dir)) {
        throw new KvbitsJobError(
          `--out-dir ${outDir} is the ${flag} folder: choose another folder so that nothing there is overwritten`,
        );
      }
    }
  }
  if (origDumpDir !== undefined) {
    const info = await Deno.stat(origDumpDir).catch(() => undefined);
    if (!info?.isDirectory) {
      throw new KvbitsJobError(
        `--orig-dump-dir ${origDumpDir}: folder not found`,
      );
    }
  }
  const outcomes: DumpOutcome[] = new Array(folder.metaFiles.length);
  let checkedByChecksum = 0;
  let checkedAgainstOriginals = 0;
  let unchecked = 0;
  let rawBytes = 0;
  let streamBytes = 0;
  let metaBytes = 0;
  let done = 0;
  if (folder.codec) {
    await runner.setUp({
      kind: "decode-setup",
      bitstreamDir: options.bitstreamDir,
      codec: folder.codec.name,
      codebookText: folder.global &&
        globalCodebookText(folder.codec, folder.global.models),
      codebookCrc32: folder.global?.crc32,
      globalProblem: folder.globalProblem,
      outDir,
      origDumpDir,
      overwrite: options.overwrite,
    });
  }
  await runner.forEach(
    folder.metaFiles,
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
        total: folder.metaFiles.length,
        bytes: rawBytes,
      });
    },
  );
  return {
    layout: folder.codec?.layout,
    outcomes,
    checkedByChecksum,
    checkedAgainstOriginals,
    unchecked,
    rawBytes,
    streamBytes,
    metaBytes,
    codebookBytes: folder.codebookBytes,
    seconds: (performance.now() - started) / 1000,
  };
}

async function realOrResolved(path: string): Promise<string> {
  return await Deno.realPath(path).catch(() => resolve(path));
}
