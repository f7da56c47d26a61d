/**
 * `deno task analyze`: ratio tables of a bitstream folder (reference CSV and
 * summary).
 *
 * @module
 */

import { countOutcomes } from "../src/jobs/job_report.ts";
import { analyzeFolder } from "../src/jobs/analyze_job.ts";
import {
  analyzeSummary,
  EXIT_CODES,
  printJson,
  printProblems,
  runTask,
  type TaskDefinition,
} from "./_cli.ts";

const ANALYZE: TaskDefinition = {
  name: "analyze",
  summary:
    "measure a bitstream folder: per-dump CSV and K, V, KV ratios with and without metadata.",
  flags: {
    "bitstream-dir": {
      type: "string",
      required: true,
      value: "DIR",
      help: "bitstream folder to measure",
    },
    "orig-dump-dir": {
      type: "string",
      value: "DIR",
      help:
        "original dump folder, for the raw sizes (else 2 bytes per element)",
    },
    "out-dir": {
      type: "string",
      required: true,
      value: "DIR",
      help: "folder for <codec>_metrics.csv and <codec>_summary.md",
    },
    "include-meta": {
      type: "boolean",
      help:
        "count each dump's JSON (half to K, half to V) and the global codebook",
    },
    json: {
      type: "boolean",
      help:
        "print the ratios as one JSON object on stdout, and nothing else there",
    },
  },
};

if (import.meta.main) {
  await runTask(ANALYZE, async (flags) => {
    const started = performance.now();
    const report = await analyzeFolder({
      bitstreamDir: flags["bitstream-dir"] as string,
      origDumpDir: flags["orig-dump-dir"] as string | undefined,
      outDir: flags["out-dir"] as string,
      includeMeta: flags["include-meta"] as boolean,
    });
    printProblems(report.outcomes);
    const counts = countOutcomes(report.outcomes);
    const code = report.outcomes.length === 0
      ? EXIT_CODES.nothingFound
      : counts.failed > 0
      ? EXIT_CODES.dumpsFailed
      : EXIT_CODES.ok;
    if (flags.json) {
      const seconds = (performance.now() - started) / 1000;
      printJson(analyzeSummary(report, code, seconds));
    } else {
      if (report.rows.length > 0) {
        const line = (label: string, t: typeof report.withMeta) =>
          `${label.padEnd(20)} K ${t.kRatio.toFixed(4)}  V ${
            t.vRatio.toFixed(4)
          }  KV ${t.kvRatio.toFixed(4)}`;
        console.log(`Dumps: ${report.rows.length} (${report.codec})`);
        console.log(line("coded streams only", report.withoutMeta));
        console.log(line("with all JSON", report.withMeta));
      }
      for (const path of report.written) console.log(`Wrote ${path}`);
    }
    if (report.outcomes.length === 0) {
      console.error(
        `No dump found: no bitstream meta file below ${flags["bitstream-dir"]}`,
      );
    }
    return code;
  });
}
