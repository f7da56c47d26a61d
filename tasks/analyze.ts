/**
 * `deno task analyze`: ratio tables of one or more bitstream folders (reference CSV
 * and summary of each) and, with `--report`, a self-contained HTML page with charts.
 *
 * @module
 */

import { packFormNote, packRequested } from "./_pack_flag.ts";
import { countOutcomes } from "../src/jobs/job_report.ts";
import { analyzeFolders } from "../src/jobs/analyze_folders_job.ts";
import { measureReportSpeeds } from "./_report_speed.ts";
import {
  analyzeSummary,
  EXIT_CODES,
  printJson,
  printProblems,
  runTask,
  type TaskCommand,
  type TaskDefinition,
  terminalProgress,
} from "./_cli.ts";

const ANALYZE: TaskDefinition = {
  name: "analyze",
  summary:
    "measure bitstream folders: per-dump CSV and K, V, KV ratios with and without metadata; optionally an HTML report.",
  flags: {
    "bitstream-dir": {
      type: "string",
      required: true,
      repeatable: true,
      short: "b",
      path: true,
      value: "DIR",
      help:
        "bitstream folder to measure; repeat it to compare codecs on the same dumps",
    },
    "orig-dump-dir": {
      type: "string",
      path: true,
      value: "DIR",
      help:
        "original dump folder, for the raw sizes (else 2 bytes per element) and the report's entropy limits",
    },
    "out-dir": {
      type: "string",
      required: true,
      short: "o",
      path: true,
      value: "DIR",
      help:
        "folder for <codec>_metrics.csv, <codec>_summary.md and report.html",
    },
    "include-meta": {
      type: "boolean",
      help:
        "count each dump's JSON (half to K, half to V) and the global codebook",
    },
    "report": {
      type: "boolean",
      help:
        "also write report.html: one self-contained page with charts (reads every original tensor when --orig-dump-dir is given)",
    },
    "no-speed": {
      type: "boolean",
      help:
        "leave speed out of the report (otherwise each codec is timed in memory on the originals, and zstd and xz on the same bytes when installed)",
    },
    json: {
      type: "boolean",
      help:
        "print the ratios as one JSON object on stdout, and nothing else there",
    },
  },
  notes: [
    packFormNote("analyze", "--pack FILE"),
    "Files are named after the codec (huffman_metrics.csv); when two folders have the same codec, after codec and codebook (huffman-global_metrics.csv, huffman-per-dump_metrics.csv).",
  ],
  exitCodes: {
    nothingFound: "no dump found in the bitstream folders",
    dumpsFailed: "one or more dumps could not be measured",
    fatal: true,
  },
};

/** `kvbits analyze`. */
export const command: TaskCommand = {
  definition: ANALYZE,
  main: async (flags) => {
    const started = performance.now();
    const bitstreamDirs = flags["bitstream-dir"] as string[];
    const progress = terminalProgress();
    const result = await analyzeFolders({
      bitstreamDirs,
      origDumpDir: flags["orig-dump-dir"] as string | undefined,
      outDir: flags["out-dir"] as string,
      includeMeta: flags["include-meta"] as boolean,
      report: flags["report"] as boolean,
      onProgress: progress.listener,
      measureSpeeds: flags["no-speed"] ? undefined : measureReportSpeeds,
    }).finally(progress.finish);
    let failed = 0;
    let found = 0;
    for (const report of result.analyses) {
      printProblems(report.outcomes);
      failed += countOutcomes(report.outcomes).failed;
      found += report.outcomes.length;
    }
    const code = found === 0
      ? EXIT_CODES.nothingFound
      : failed > 0
      ? EXIT_CODES.dumpsFailed
      : EXIT_CODES.ok;
    if (flags.json) {
      const seconds = (performance.now() - started) / 1000;
      const summaries = result.analyses.map((report, index) => ({
        bitstreamDir: bitstreamDirs[index],
        ...analyzeSummary(report, code, seconds),
      }));
      printJson(
        summaries.length === 1
          ? { ...summaries[0], written: result.written }
          : {
            task: ANALYZE.name,
            exitCode: code,
            folders: summaries,
            written: result.written,
          },
      );
    } else {
      for (const [index, report] of result.analyses.entries()) {
        if (report.rows.length > 0) {
          const line = (label: string, t: typeof report.withMeta) =>
            `${label.padEnd(20)} K ${t.kRatio.toFixed(4)}  V ${
              t.vRatio.toFixed(4)
            }  KV ${t.kvRatio.toFixed(4)}`;
          const folder = bitstreamDirs.length > 1
            ? ` ${bitstreamDirs[index]}`
            : "";
          console.log(
            `Dumps: ${report.rows.length} (${report.codec})${folder}`,
          );
          console.log(line("coded streams only", report.withoutMeta));
          console.log(line("with all JSON", report.withMeta));
        } else if (report.outcomes.length === 0 && bitstreamDirs.length > 1) {
          console.error(
            `No dump found: no bitstream meta file below ${
              bitstreamDirs[index]
            }`,
          );
        }
      }
      for (const path of result.written) console.log(`Wrote ${path}`);
    }
    if (found === 0) {
      console.error(
        `No dump found: no bitstream meta file below ${
          bitstreamDirs.join(", ")
        }`,
      );
    }
    return code;
  },
};

if (import.meta.main) {
  if (packRequested(Deno.args)) {
    await (await import("./_pack_analyze.ts")).runPackAnalyze();
  } else await runTask(command.definition, command.main);
}
