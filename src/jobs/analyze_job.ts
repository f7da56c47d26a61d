/**
 * The analyze job: sizes and ratios of a bitstream folder, written as the reference
 * metrics CSV and summary (FORMAT.md §5).
 *
 * @module
 */

import { join } from "../dump/path.ts";
import type { CodebookMode } from "../format/stream_codec.ts";
import {
  type DumpSizes,
  metricsCsv,
  type RatioTotals,
  ratioTotals,
  summaryMarkdown,
} from "../format/metrics.ts";
import { fileErrorOf } from "../dump/file_error.ts";
import { pathKind } from "../dump/folder_info.ts";
import { writeFileAtomic } from "../dump/write_file_atomic.ts";
import { openBitstreamFolder } from "./bitstream_folder.ts";
import { layoutOfManifest } from "./folder_manifest.ts";
import { KvbitsJobError } from "./job_error.ts";
import { measureDump, type OriginalTensors } from "./measure_dump.ts";
import type { DumpOutcome } from "./job_report.ts";

/** What to analyze, and where to write the results. */
export interface AnalyzeOptions {
  /** The bitstream folder (`--bitstream-dir`). */
  readonly bitstreamDir: string;
  /**
   * The original dump folder (`--orig-dump-dir`): raw sizes are read from the
   * original files; without it they are `2 * num_elements`.
   */
  readonly origDumpDir?: string;
  /** Where to write the CSV and summary (`--out-dir`). */
  readonly outDir: string;
  /** Count metadata in the CSV and the headline ratios (`--include-meta`). */
  readonly includeMeta: boolean;
  /**
   * Stem of the files written (`<stem>_metrics.csv`, `<stem>_summary.md`); the
   * codec name when omitted, as the reference names them.
   */
  readonly fileStem?: string;
}

/** What the analyze job found and wrote. */
export interface AnalyzeReport {
  /** The codec of the folder's layout, e.g. `huffman`; undefined with no dump. */
  readonly codec?: string;
  /** The codec's name for people, e.g. `Huffman`; undefined with no dump. */
  readonly codecTitle?: string;
  /** The codebook of the dumps analysed: `mixed` when they differ; undefined with none. */
  readonly codebook?: CodebookMode | "mixed";
  /**
   * The original K and V files of each row, relative to the original dump folder
   * (parallel to `rows`).
   */
  readonly originalFiles: readonly OriginalTensors[];
  /** Sizes of each dump analysed, in path order. */
  readonly rows: readonly DumpSizes[];
  /** One outcome per dump. */
  readonly outcomes: readonly DumpOutcome[];
  /** Bytes of the global codebook, 0 when there is none. */
  readonly codebookBytes: number;
  /** Totals counting coded streams only. */
  readonly withoutMeta: RatioTotals;
  /** Totals counting every JSON file too. */
  readonly withMeta: RatioTotals;
  /** Paths of the files written (CSV, summary). */
  readonly written: readonly string[];
}

/**
 * Measures every dump of a bitstream folder and writes `<codec>_metrics.csv` and
 * `<codec>_summary.md` to `outDir`.
 *
 * @param options Folders and flags.
 * @returns Per-dump sizes, totals with and without metadata, and the files written.
 * @throws {KvbitsJobError} When the bitstream folder is missing or mixes layouts,
 * or the output folder is a file.
 *
 * @example
 * ```ts
 * import { analyzeFolder } from "./analyze_job.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const fixtures = new URL("../../fixtures/", import.meta.url).pathname;
 * const outDir = await Deno.makeTempDir();
 * const report = await analyzeFolder({
 *   bitstreamDir: `${fixtures}reference/huffman-per-dump`, origDumpDir: `${fixtures}kv-sample`,
 *   outDir, includeMeta: false,
 * });
 * assertEquals(report.rows.length, 4);
 * assertEquals(report.written.map((path) => path.slice(outDir.length + 1)), ["huffman_metrics.csv", "huffman_summary.md"]);
 * await Deno.remove(outDir, { recursive: true });
 * ```
 */
export async function analyzeFolder(
  options: AnalyzeOptions,
): Promise<AnalyzeReport> {
  const folder = await openBitstreamFolder(
    options.bitstreamDir,
    layoutOfManifest(options.bitstreamDir),
  );
  if (await pathKind(options.outDir).catch(() => "missing") === "other") {
    throw new KvbitsJobError(`${options.outDir}: not a folder`, "outDir");
  }
  const rows: DumpSizes[] = [];
  const originalFiles: OriginalTensors[] = [];
  const codebooks = new Set<CodebookMode>();
  const outcomes: DumpOutcome[] = [];
  const codec = folder.codec;
  for (const metaFile of folder.metaFiles) {
    const metaPath = join(folder.dir, metaFile);
    try {
      const measured = await measureDump(folder, metaFile, options.origDumpDir);
      rows.push(measured.sizes);
      // Every layout's originals, for the report's entropy (a one-file layout's
      // were left out once: its report showed no limit and zero entropy).
      originalFiles.push(measured.originals);
      if (measured.codebook) codebooks.add(measured.codebook);
      outcomes.push({ dump: metaFile, status: "done" });
    } catch (error) {
      outcomes.push({
        dump: metaFile,
        status: "failed",
        reason: fileErrorOf(metaPath, error).message,
      });
    }
  }
  const written: string[] = [];
  if (codec) {
    const stem = options.fileStem ?? codec.name;
    const csvPath = join(options.outDir, `${stem}_metrics.csv`);
    const summaryPath = join(options.outDir, `${stem}_summary.md`);
    const encoder = new TextEncoder();
    for (
      const [path, text] of [
        [csvPath, metricsCsv(rows, options.includeMeta)],
        [
          summaryPath,
          summaryMarkdown({
            title: codec.title,
            bitstreamDir: options.bitstreamDir,
            rows,
            sharedBytes: folder.codebookBytes,
            includeMeta: options.includeMeta,
          }),
        ],
      ]
    ) {
      await writeFileAtomic(path, encoder.encode(text)).catch((error) => {
        throw fileErrorOf(path, error);
      });
      written.push(path);
    }
  }
  return {
    codec: codec?.name,
    codecTitle: codec?.title,
    codebook: codebooks.size > 1 ? "mixed" : [...codebooks][0],
    originalFiles,
    rows,
    outcomes,
    codebookBytes: folder.codebookBytes,
    withoutMeta: ratioTotals(rows, false, folder.codebookBytes),
    withMeta: ratioTotals(rows, true, folder.codebookBytes),
    written,
  };
}
