/**
 * `deno task decode --pack FILE --out-dir R` and `deno task verify --pack FILE
 * [--orig-dump-dir D]`: restore or check a pack (`-` reads standard input).
 *
 * @module
 */

import {
  decodePack,
  type PackReadReport,
  verifyPack,
} from "../src/jobs/pack_decode_job.ts";
import {
  EXIT_CODES,
  type FlagDefinition,
  formatBytes,
  NO_FSYNC_FLAG,
  OUTPUT_FLAGS,
  printJson,
  printProblems,
  problemsOf,
  ratioOrNull,
  roundSeconds,
  runTask,
  type TaskDefinition,
  UsageError,
} from "./_cli.ts";
import { JOBS_FLAG, jobsOf } from "./_jobs_flag.ts";
import { PREDICTOR_DIR_FLAG } from "./_pack_flag.ts";

const PACK_FLAG = {
  pack: {
    type: "string",
    required: true,
    path: true,
    value: "FILE",
    help: "pack to read; - reads it from standard input",
  },
  only: {
    type: "string",
    repeatable: true,
    value: "PATTERN",
    help:
      "restore only what matches: a path glob (a folder takes what is below it), stage=decode, layer=0,2-3",
  },
  ...PREDICTOR_DIR_FLAG,
} as const satisfies Record<string, FlagDefinition>;

const NOTES = [
  "Every file is checked against its CRC-32 before it is written; a damaged or\n" +
  "truncated pack is restored as far as it goes, naming what is lost (exit 2).\n" +
  "--only patterns of one kind add up, kinds narrow each other; from a file, only\n" +
  "the blocks holding a selected entry are read (through the index).",
];

const PACK_DECODE: TaskDefinition = {
  exitCodes: { dumpsFailed: true, fatal: true },
  name: "decode",
  summary: "restore the folder tree a pack holds, byte for byte.",
  flags: {
    ...PACK_FLAG,
    "out-dir": {
      type: "string",
      required: true,
      short: "o",
      path: true,
      value: "DIR",
      help: "folder to restore into (made when missing)",
    },
    overwrite: {
      type: "boolean",
      help: "replace files that exist in --out-dir (otherwise they fail)",
    },
    ...JOBS_FLAG,
    ...OUTPUT_FLAGS,
    ...NO_FSYNC_FLAG,
  },
  notes: NOTES,
};

const PACK_VERIFY: TaskDefinition = {
  exitCodes: { dumpsFailed: true, fatal: true },
  name: "verify",
  summary:
    "decode a pack in memory and check every file against its CRC-32 (and the originals).",
  flags: {
    ...PACK_FLAG,
    "orig-dump-dir": {
      type: "string",
      path: true,
      value: "DIR",
      help:
        "the folder the pack was made from: compare byte for byte, and list files missing from the pack",
    },
    ...JOBS_FLAG,
    ...OUTPUT_FLAGS,
  },
  notes: NOTES,
};

function exitCodeOf(report: PackReadReport, selecting: boolean): number {
  const failed = report.failures.length;
  if (
    failed > 0 || report.damage.length > 0 || report.notInPack.length > 0
  ) return EXIT_CODES.dumpsFailed;
  if (selecting && report.entries === 0) return EXIT_CODES.nothingFound;
  return EXIT_CODES.ok;
}

function printReport(
  task: string,
  report: PackReadReport,
  code: number,
  json: boolean,
): void {
  printProblems(report.failures);
  for (const damage of report.damage) {
    console.error(`damaged ${damage.detail}`);
  }
  for (const path of report.notInPack) {
    console.error(`missing ${path}: in the originals, not in the pack`);
  }
  if (json) {
    printJson({
      task,
      exitCode: code,
      layout: "pack",
      entries: {
        done: report.entries,
        failed: report.failures.length,
      },
      dumps: report.dumps,
      files: report.files,
      complete: report.ending?.complete ?? null,
      packCrcMatches: report.ending?.packCrcMatches ?? null,
      bytes: { in: report.packBytes, out: report.outputBytes },
      ratio: ratioOrNull(report.outputBytes, report.packBytes),
      seconds: roundSeconds(report.seconds),
      megabytesPerSecond: ratioOrNull(
        report.outputBytes / 1e6,
        report.seconds,
      ),
      damage: report.damage.map(({ offset, detail }) => ({ offset, detail })),
      notInPack: report.notInPack,
      ...problemsOf(report.failures),
    });
    return;
  }
  const verb = task === "decode" ? "Restored" : "Checked";
  console.log(
    `${verb}: ${report.dumps} dumps, ${report.files} files (${
      formatBytes(report.outputBytes)
    }), Failed: ${report.failures.length}; ${report.seconds.toFixed(2)} s`,
  );
  if (report.ending !== undefined) {
    console.log(
      report.ending.complete
        ? "Pack complete: index, trailer and the CRC-32 of the whole pack match"
        : "Pack NOT complete: see the damage above",
    );
  }
}

/** Runs the pack decode task on the process's command line (and exits). */
export async function runPackDecode(
  args: readonly string[] = Deno.args,
): Promise<void> {
  await runTask(PACK_DECODE, async (flags) => {
    const only = flags.only as string[];
    const report = await decodePack({
      pack: flags.pack as string,
      outDir: flags["out-dir"] as string,
      only,
      overwrite: flags.overwrite as boolean,
      jobs: jobsOf(flags),
      durable: !flags["no-fsync"],
      predictorDir: flags["predictor-dir"] as string | undefined,
    }).catch(rangeToUsage);
    const code = exitCodeOf(report, only.length > 0);
    printReport("decode", report, code, flags.json as boolean);
    return code;
  }, args);
}

/** Runs the pack verify task on the process's command line (and exits). */
export async function runPackVerify(
  args: readonly string[] = Deno.args,
): Promise<void> {
  await runTask(PACK_VERIFY, async (flags) => {
    const only = flags.only as string[];
    const report = await verifyPack({
      pack: flags.pack as string,
      origDumpDir: flags["orig-dump-dir"] as string | undefined,
      jobs: jobsOf(flags),
      only,
      predictorDir: flags["predictor-dir"] as string | undefined,
    }).catch(rangeToUsage);
    const code = exitCodeOf(report, only.length > 0);
    printReport("verify", report, code, flags.json as boolean);
    return code;
  }, args);
}

function rangeToUsage(error: unknown): never {
  // A malformed --only pattern is the one RangeError a pack job throws.
  if (error instanceof RangeError && error.message.startsWith("--only")) {
    throw new UsageError(error.message);
  }
  throw error;
}
