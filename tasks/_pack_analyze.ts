/**
 * `deno task analyze --pack FILE`: where a pack's bytes go, by layer and stage.
 *
 * @module
 */

import { analyzePack } from "../src/jobs/pack_analyze_job.ts";
import { PREDICTOR_DIR_FLAG } from "./_pack_flag.ts";
import {
  EXIT_CODES,
  formatBytes,
  OUTPUT_FLAGS,
  printJson,
  runTask,
  type TaskDefinition,
} from "./_cli.ts";

const PACK_ANALYZE: TaskDefinition = {
  exitCodes: { dumpsFailed: true, fatal: true },
  name: "analyze",
  summary:
    "say where a pack's bytes go: ratio by layer and stage, and what tables and framing cost.",
  flags: {
    pack: {
      type: "string",
      required: true,
      path: true,
      value: "FILE",
      help: "pack to analyze; - reads it from standard input",
    },
    ...PREDICTOR_DIR_FLAG,
    json: OUTPUT_FLAGS.json,
  },
  notes: [
    "Read from the index and entry tables (a dump's meta is in the table, counted\n" +
    "with the framing and the index as overhead). Ratio = bytes restored / bytes in\n" +
    "the pack; the total counts every byte of the pack.",
  ],
};

/** Runs the pack analyze task on the process's command line (and exits). */
export async function runPackAnalyze(
  args: readonly string[] = Deno.args,
): Promise<void> {
  await runTask(PACK_ANALYZE, async (flags) => {
    const analysis = await analyzePack({
      pack: flags.pack as string,
      predictorDir: flags["predictor-dir"] as string | undefined,
    });
    const damage = analysis.listing.damage;
    const missing = analysis.missingPredictors;
    const code = damage.length > 0 || missing.length > 0
      ? EXIT_CODES.dumpsFailed
      : EXIT_CODES.ok;
    for (const found of damage) console.error(`damaged ${found.detail}`);
    for (const path of missing) {
      console.error(
        `missing ${path}: coded against a predictor dump, not in --predictor-dir`,
      );
    }
    if (flags.json) {
      printJson({
        task: "analyze",
        exitCode: code,
        layout: "pack",
        rows: analysis.rows,
        bytes: {
          restored: analysis.bytes,
          pack: analysis.packBytes,
          overhead: analysis.overheadBytes,
        },
        missingPredictors: missing,
        ratio: analysis.packBytes > 0
          ? analysis.bytes / analysis.packBytes
          : null,
      });
      return code;
    }
    console.log(
      `${"group".padEnd(26)} ${"entries".padStart(8)} ${"tokens".padStart(8)} ${
        "bytes".padStart(12)
      } ${"coded".padStart(12)} ${"ratio".padStart(7)}`,
    );
    for (const row of analysis.rows) {
      console.log(
        `${row.group.padEnd(26)} ${String(row.entries).padStart(8)} ${
          String(row.tokens).padStart(8)
        } ${String(row.bytes).padStart(12)} ${
          String(row.codedBytes).padStart(12)
        } ${(row.ratio === null ? "-" : row.ratio.toFixed(4)).padStart(7)}`,
      );
    }
    console.log(
      `Pack: ${formatBytes(analysis.packBytes)} for ${
        formatBytes(analysis.bytes)
      } restored, ratio ${
        (analysis.bytes / Math.max(1, analysis.packBytes)).toFixed(4)
      } every byte counted; ${
        formatBytes(analysis.overheadBytes)
      } of it tables (metas), framing and index`,
    );
    return code;
  }, args);
}
