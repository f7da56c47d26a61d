/**
 * `deno task encode --dump-dir D --pack FILE`: a whole folder tree into one pack
 * (`-` writes it to standard output).
 *
 * @module
 */

import { encodePack, PACK_BLOCK_BYTES } from "../src/jobs/pack_encode_job.ts";
import {
  EXIT_CODES,
  formatBytes,
  NO_FSYNC_FLAG,
  OUTPUT_FLAGS,
  printProblems,
  ratioOrNull,
  roundSeconds,
  runTask,
  type TaskDefinition,
  terminalProgress,
  UsageError,
} from "./_cli.ts";
import { JOBS_FLAG, jobsOf } from "./_jobs_flag.ts";
import { PREDICTOR_DIR_FLAG, summaryPrinter } from "./_pack_flag.ts";

const PACK_ENCODE: TaskDefinition = {
  exitCodes: { dumpsFailed: true, fatal: true },
  name: "encode",
  summary:
    "pack a whole dump folder (every dump, every other file) into one file.",
  flags: {
    "dump-dir": {
      type: "string",
      required: true,
      short: "d",
      path: true,
      value: "DIR",
      help: "folder to pack (every file below it; meta_*.json dumps are coded)",
    },
    pack: {
      type: "string",
      required: true,
      path: true,
      value: "FILE",
      help: "pack to write; - writes it to standard output",
    },
    "block-mb": {
      type: "integer",
      default: PACK_BLOCK_BYTES >> 20,
      value: "MB",
      help:
        "input MiB after which a block ends (blocks decode alone and in parallel)",
    },
    ...PREDICTOR_DIR_FLAG,
    ...JOBS_FLAG,
    ...OUTPUT_FLAGS,
    ...NO_FSYNC_FLAG,
  },
  notes: [
    "The pack is written under a temporary name beside FILE, flushed once and\n" +
    "renamed: an interrupted encode leaves nothing under FILE. With --pack - the\n" +
    "summary goes to stderr. Symbolic links and other non-regular files are not\n" +
    "packed: they are listed as skipped (exit 2).",
  ],
};

/** Runs the pack encode task on the process's command line (and exits). */
export async function runPackEncode(
  args: readonly string[] = Deno.args,
): Promise<void> {
  await runTask(PACK_ENCODE, async (flags) => {
    const pack = flags.pack as string;
    const say = summaryPrinter(pack);
    const blockMb = flags["block-mb"] as number;
    if (blockMb < 1) throw new UsageError("--block-mb must be at least 1");
    const progress = terminalProgress(!flags.quiet);
    let report;
    try {
      report = await encodePack({
        dumpDir: flags["dump-dir"] as string,
        pack,
        durable: !flags["no-fsync"],
        blockBytes: blockMb << 20,
        jobs: jobsOf(flags),
        onProgress: progress.listener,
        predictorDir: flags["predictor-dir"] as string | undefined,
      });
    } finally {
      progress.finish();
    }
    const code = report.outcomes.length > 0
      ? EXIT_CODES.dumpsFailed
      : EXIT_CODES.ok;
    printProblems(report.outcomes);
    if (flags.json) {
      say(JSON.stringify(
        {
          task: "encode",
          exitCode: code,
          layout: "pack",
          pack,
          dumps: report.dumps,
          predicted: report.predicted,
          files: report.files,
          folders: report.folders,
          blocks: report.blocks,
          bytes: {
            in: report.inputBytes,
            out: report.packBytes,
            tensors: report.tensorBytes,
          },
          ratio: ratioOrNull(report.inputBytes, report.packBytes),
          seconds: roundSeconds(report.seconds),
          megabytesPerSecond: ratioOrNull(
            report.inputBytes / 1e6,
            report.seconds,
          ),
          skipped: report.outcomes.map(({ dump, reason }) => ({
            dump,
            reason,
          })),
        },
        null,
        2,
      ));
    } else {
      say(
        `Packed: ${report.dumps} dumps${
          flags["predictor-dir"] !== undefined
            ? ` (${report.predicted} against the predictor)`
            : ""
        }, ${report.files} other files, ${report.folders} empty folders in ${report.blocks} block${
          report.blocks === 1 ? "" : "s"
        }`,
      );
      say(
        `Bytes: ${formatBytes(report.inputBytes)} in, ${
          formatBytes(report.packBytes)
        } of pack; ratio ${
          (report.inputBytes / Math.max(1, report.packBytes)).toFixed(4)
        } (every byte counted); ${report.seconds.toFixed(2)} s`,
      );
    }
    return code;
  }, args);
}
