/**
 * `deno task decode`: restore a dump folder from a bitstream folder.
 *
 * @module
 */

import { packFormNote, packRequested } from "./_pack_flag.ts";
import { decodeFolder } from "../src/jobs/decode_job.ts";
import { countOutcomes } from "../src/jobs/job_report.ts";
import {
  decodeSummary,
  EXIT_CODES,
  formatBytes,
  NO_FSYNC_FLAG,
  OUTPUT_FLAGS,
  printJson,
  printProblems,
  printTemporaryFilesRemoved,
  runTask,
  type TaskCommand,
  type TaskDefinition,
  terminalProgress,
  UsageError,
} from "./_cli.ts";
import { JOBS_FLAG, jobsOf } from "./_jobs_flag.ts";

const DECODE: TaskDefinition = {
  name: "decode",
  summary:
    "restore every dump of a bitstream folder (meta JSON and k/v files, byte for byte).",
  flags: {
    "bitstream-dir": {
      type: "string",
      required: true,
      short: "b",
      path: true,
      value: "DIR",
      help: "bitstream folder to read (layout recognised from its files)",
    },
    "out-dir": {
      type: "string",
      short: "o",
      path: true,
      value: "DIR",
      help: "folder to restore the dumps into (same relative paths)",
    },
    "orig-dump-dir": {
      type: "string",
      path: true,
      value: "DIR",
      help: "original dump folder, to compare with (needs --verify)",
    },
    verify: {
      type: "boolean",
      help: "compare every decoded dump with --orig-dump-dir, bit for bit",
    },
    overwrite: {
      type: "boolean",
      short: "f",
      help: "replace dumps already restored in --out-dir (otherwise skipped)",
    },
    ...JOBS_FLAG,
    ...OUTPUT_FLAGS,
    ...NO_FSYNC_FLAG,
  },
  notes: [
    packFormNote("decode", "--pack FILE --out-dir R"),
    "Give --out-dir to write, --orig-dump-dir with --verify to compare, or both.\n" +
    "Dumps encoded by kvbits are checked against their recorded CRC-32 before any\n" +
    "file is written; a dump that fails is reported and nothing of it is written.",
  ],
  exitCodes: {
    nothingFound: "no dump found in the bitstream folder",
    dumpsFailed:
      "one or more dumps failed to decode (or, with --verify, differ from the originals)",
    fatal: true,
  },
};

/** `kvbits decode`. */
export const command: TaskCommand = {
  definition: DECODE,
  main: async (flags) => {
    const outDir = flags["out-dir"] as string | undefined;
    const origDumpDir = flags["orig-dump-dir"] as string | undefined;
    if (flags.verify && origDumpDir === undefined) {
      throw new UsageError(
        "--verify needs --orig-dump-dir DIR to compare with",
      );
    }
    if (!flags.verify && origDumpDir !== undefined) {
      throw new UsageError(
        "--orig-dump-dir is used with --verify; add --verify",
      );
    }
    if (outDir === undefined && !flags.verify) {
      throw new UsageError(
        "give --out-dir DIR to restore the dumps, or --verify --orig-dump-dir DIR to compare them",
      );
    }
    const progress = terminalProgress(!flags.quiet);
    let report;
    try {
      report = await decodeFolder({
        jobs: jobsOf(flags),
        bitstreamDir: flags["bitstream-dir"] as string,
        outDir,
        origDumpDir,
        overwrite: flags.overwrite as boolean,
        durable: !flags["no-fsync"],
        onProgress: progress.listener,
      });
    } finally {
      progress.finish();
    }
    const counts = countOutcomes(report.outcomes);
    const code = report.outcomes.length === 0
      ? EXIT_CODES.nothingFound
      : counts.failed > 0
      ? EXIT_CODES.dumpsFailed
      : EXIT_CODES.ok;
    printProblems(report.outcomes, flags.verbose as boolean, origDumpDir);
    printTemporaryFilesRemoved(report.temporaryFilesRemoved);
    if (flags.json) {
      printJson(decodeSummary(DECODE.name, report, code));
    } else {
      console.log(
        `Decoded: ${counts.done}, Skipped: ${counts.skipped}, Failed: ${counts.failed}` +
          (report.layout ? ` (${report.layout})` : ""),
      );
      if (flags.verify) {
        console.log(
          `Checked: ${report.checkedAgainstOriginals}, Failed: ${counts.failed}`,
        );
      }
      if (counts.done > 0) {
        const rate = `${report.seconds.toFixed(2)} s (${
          (report.rawBytes / 1e6 / report.seconds).toFixed(1)
        } MB/s)`;
        console.log(
          (outDir !== undefined
            ? `Restored ${
              formatBytes(report.rawBytes)
            } of tensors to ${outDir} in ${rate}`
            : `Decoded ${
              formatBytes(report.rawBytes)
            } of tensors in memory in ${rate}; nothing written (no --out-dir)`) +
            `; ${report.checkedByChecksum} dumps matched their recorded CRC-32`,
        );
      }
    }
    if (report.outcomes.length === 0) {
      console.error(
        `No dump found: no bitstream meta file below ${flags["bitstream-dir"]}`,
      );
    }
    return code;
  },
};

if (import.meta.main) {
  if (packRequested(Deno.args)) {
    await (await import("./_pack_decode.ts")).runPackDecode();
  } else await runTask(command.definition, command.main);
}
