/**
 * Analyzing one or more bitstream folders of the same dumps together: the
 * reference CSV and summary of each, the order-0 entropy of the originals, and the
 * report page that sets them side by side.
 *
 * Data flow: each folder is measured by {@link analyzeFolder} (file sizes only);
 * with `origDumpDir`, the originals of each distinct set of dumps are read once and
 * their plane histograms give a {@link PlaneEntropy}; the list of analyses and
 * entropies is rendered by {@link reportHtml} (pure) and written as `report.html`.
 *
 * @module
 */

import { join } from "../dump/path.ts";
import { analysisFileStems } from "../format/analysis_file_stems.ts";
import { fp16WordsOfBytes } from "../format/fp16_tensor.ts";
import {
  type PlaneEntropy,
  PlaneEntropyAccumulator,
} from "../format/plane_entropy.ts";
import {
  type CodecSpeed,
  reportHtml,
  type ReportSpeeds,
} from "../format/report_html.ts";
import {
  ChannelEntropyAccumulator,
  type RunChannelEntropy,
} from "../format/channel_entropy.ts";
import { fileErrorOf, KvbitsFileError } from "../dump/file_error.ts";
import { readWholeFile } from "../dump/read_file.ts";
import { writeFileAtomic } from "../dump/write_file_atomic.ts";
import { layoutOfManifest } from "./folder_manifest.ts";
import { checkOutputApart } from "./output_folder.ts";
import { analyzeFolder, type AnalyzeReport } from "./analyze_job.ts";
import type { OriginalTensors } from "./measure_dump.ts";
import { openBitstreamFolder } from "./bitstream_folder.ts";
import type { ProgressListener } from "./job_report.ts";

/** The report page's file name in the output folder. */
export const REPORT_FILE_NAME = "report.html";

/** What to analyze, and what to write. */
export interface AnalyzeFoldersOptions {
  /** The bitstream folders (`--bitstream-dir`, repeatable), at least one. */
  readonly bitstreamDirs: readonly string[];
  /**
   * The original dump folder (`--orig-dump-dir`): raw sizes, and for the report
   * the order-0 entropy of the originals.
   */
  readonly origDumpDir?: string;
  /** Where to write the CSVs, summaries and report (`--out-dir`). */
  readonly outDir: string;
  /** Count metadata in the CSV and the summary's headline (`--include-meta`). */
  readonly includeMeta: boolean;
  /** Also write `report.html` (`--report`). */
  readonly report: boolean;
  /** Called after each dump read for the entropy. */
  readonly onProgress?: ProgressListener;
  /**
   * Measures the speed of each folder's codec and of the peers on the originals,
   * for the report (only called with `report` and `origDumpDir`). The job does
   * no timing itself: the caller decides how (the analyze task uses the bench).
   */
  readonly measureSpeeds?: (
    codecs: readonly { readonly codec: string; readonly codebook?: string }[],
    origDumpDir: string,
  ) => Promise<{
    readonly codecs: readonly (CodecSpeed | undefined)[];
    readonly speeds: ReportSpeeds;
  }>;
}

/** What the job found and wrote. */
export interface AnalyzeFoldersReport {
  /** One analysis per folder, in the order given. */
  readonly analyses: readonly AnalyzeReport[];
  /**
   * The order-0 entropy of each analysis' originals (parallel to `analyses`);
   * undefined without `origDumpDir` or `report`, or for a folder without dumps.
   */
  readonly entropies: readonly (PlaneEntropy | undefined)[];
  /** Column entropy of the originals, run by run (with the entropies). */
  readonly channels: readonly RunChannelEntropy[];
  /** Path of `report.html`, when written. */
  readonly reportPath?: string;
  /** Every file written, in order. */
  readonly written: readonly string[];
}

/**
 * Analyzes bitstream folders: `<stem>_metrics.csv` and `<stem>_summary.md` for each
 * (the stem is the codec name, or `<codec>-<codebook>` when two folders share a
 * codec), and with `report` the page `report.html` with all of them.
 *
 * @param options Folders and flags.
 * @returns The analyses, the entropies measured and the files written.
 * @throws {KvbitsJobError} When a bitstream folder is missing or mixes layouts.
 * @throws {KvbitsFileError} When an original tensor cannot be read for the entropy.
 * @throws {RangeError} When no bitstream folder is given.
 *
 * @example Two reference folders of the same dumps, with the report
 * ```ts
 * import { analyzeFolders } from "./analyze_folders_job.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const fixtures = new URL("../../fixtures/", import.meta.url).pathname;
 * const outDir = await Deno.makeTempDir();
 * const result = await analyzeFolders({
 *   bitstreamDirs: [`${fixtures}reference/huffman-global`, `${fixtures}reference/huffman-per-dump`],
 *   origDumpDir: `${fixtures}kv-sample`, outDir, includeMeta: false, report: true,
 * });
 * assertEquals(result.written.map((path) => path.slice(outDir.length + 1)), [
 *   "huffman-global_metrics.csv", "huffman-global_summary.md",
 *   "huffman-per-dump_metrics.csv", "huffman-per-dump_summary.md", "report.html",
 * ]);
 * // The two folders hold different dumps of layer 0: each gets its own entropy.
 * assertEquals(result.entropies.map((entropy) => entropy?.dumps), [19, 4]);
 * await Deno.remove(outDir, { recursive: true });
 * ```
 */
export async function analyzeFolders(
  options: AnalyzeFoldersOptions,
): Promise<AnalyzeFoldersReport> {
  if (options.bitstreamDirs.length === 0) {
    throw new RangeError("Cannot analyze: no bitstream folder given");
  }
  await checkOutputApart(options.outDir, [
    ...options.bitstreamDirs.map((dir) => ["bitstreamDir", dir] as const),
    ["origDumpDir", options.origDumpDir],
  ]);
  // Open each folder first to name its files: two folders of one codec would
  // otherwise write the same <codec>_metrics.csv.
  const kinds = [];
  for (const dir of options.bitstreamDirs) {
    const folder = await openBitstreamFolder(dir, layoutOfManifest(dir));
    kinds.push({
      codec: folder.codec?.name,
      codebook: folder.global || folder.globalProblem ? "global" : "per-dump",
    });
  }
  const stems = analysisFileStems(kinds);
  const analyses: AnalyzeReport[] = [];
  const written: string[] = [];
  for (const [index, bitstreamDir] of options.bitstreamDirs.entries()) {
    const analysis = await analyzeFolder({
      bitstreamDir,
      origDumpDir: options.origDumpDir,
      outDir: options.outDir,
      includeMeta: options.includeMeta,
      fileStem: stems[index],
    });
    analyses.push(analysis);
    written.push(...analysis.written);
  }

  const entropies: (PlaneEntropy | undefined)[] = analyses.map(() => undefined);
  // Runs seen across folders, each measured once (from the largest set of dumps).
  const channelsByRun = new Map<string, RunChannelEntropy>();
  if (options.report && options.origDumpDir !== undefined) {
    // Folders of the same dumps share one reading of the originals.
    const bySet = new Map<string, PlaneEntropy>();
    for (const [index, analysis] of analyses.entries()) {
      if (analysis.rows.length === 0) continue;
      const key = JSON.stringify(analysis.originalFiles);
      let entropy = bySet.get(key);
      if (!entropy) {
        const measured = await measureEntropy(
          options.origDumpDir,
          analysis.originalFiles,
          options.onProgress,
        );
        entropy = measured.entropy;
        bySet.set(key, entropy);
        for (const run of measured.channels) {
          const seen = channelsByRun.get(run.runId);
          if (!seen || seen.dumps < run.dumps) {
            channelsByRun.set(run.runId, run);
          }
        }
      }
      entropies[index] = entropy;
    }
  }
  const channels = [...channelsByRun.values()].sort((a, b) =>
    a.runId < b.runId ? -1 : a.runId > b.runId ? 1 : 0
  );
  let speeds: ReportSpeeds | undefined;
  let codecSpeeds: readonly (CodecSpeed | undefined)[] = [];
  if (
    options.report && options.origDumpDir !== undefined &&
    options.measureSpeeds !== undefined &&
    analyses.some((analysis) => analysis.codec !== undefined)
  ) {
    const measured = await options.measureSpeeds(
      analyses.map((analysis) => ({
        codec: analysis.codec ?? "",
        codebook: analysis.codebook,
      })),
      options.origDumpDir,
    );
    speeds = measured.speeds;
    codecSpeeds = measured.codecs;
  }

  let reportPath: string | undefined;
  if (options.report) {
    reportPath = join(options.outDir, REPORT_FILE_NAME);
    const html = reportHtml({
      origDumpDir: options.origDumpDir,
      channels,
      speeds,
      analyses: analyses.flatMap((analysis, index) =>
        analysis.codec === undefined ? [] : [{
          label: stems[index] ?? analysis.codec,
          title: analysis.codecTitle ?? analysis.codec,
          codebook: analysis.codebook,
          bitstreamDir: options.bitstreamDirs[index],
          rows: analysis.rows,
          sharedBytes: analysis.codebookBytes,
          entropy: entropies[index],
          speed: codecSpeeds[index],
        }]
      ),
    });
    const path = reportPath;
    await writeFileAtomic(path, new TextEncoder().encode(html)).catch(
      (error) => {
        throw fileErrorOf(path, error);
      },
    );
    written.push(path);
  }
  return { analyses, entropies, channels, reportPath, written };
}

/** Reads the originals of a set of dumps and measures their plane and column entropy. */
async function measureEntropy(
  origDumpDir: string,
  files: readonly OriginalTensors[],
  onProgress: ProgressListener | undefined,
): Promise<{ entropy: PlaneEntropy; channels: RunChannelEntropy[] }> {
  const accumulator = new PlaneEntropyAccumulator();
  const columns = new ChannelEntropyAccumulator();
  let bytes = 0;
  const read = async (relative: string) => {
    const path = join(origDumpDir, relative);
    try {
      const data = await readWholeFile(path);
      bytes += data.length;
      return fp16WordsOfBytes(data, data.length >>> 1);
    } catch (error) {
      throw fileErrorOf(path, error);
    }
  };
  for (const [index, dump] of files.entries()) {
    const k = await read(dump.k);
    const v = await read(dump.v);
    if (k.length !== v.length) {
      throw new KvbitsFileError(
        join(origDumpDir, dump.v),
        `has ${v.length} FP16 elements but its K file ${k.length}`,
      );
    }
    accumulator.add(k, v);
    const width = dump.kvHeads * dump.headDim;
    // A dump whose files do not hold whole rows of its shape was refused by the
    // analysis already; here it only stays out of the heatmap.
    if (width > 0 && k.length % width === 0) {
      columns.add(dump.runId, dump.kvHeads, dump.headDim, k, v);
    }
    onProgress?.({
      phase: "measuring entropy",
      done: index + 1,
      total: files.length,
      bytes,
    });
  }
  return { entropy: accumulator.result(), channels: columns.result() };
}
