/**
 * `deno task verify`: decode a bitstream folder in memory and check every dump.
 *
 * @module
 */

import { packFormNote, packRequested } from "./_pack_flag.ts";
import { countOutcomes } from "../src/jobs/job_report.ts";
import { verifyFolder } from "../src/jobs/verify_job.ts";
import {
  decodeSummary,
  EXIT_CODES,
  isMissingOriginal,
  OUTPUT_FLAGS,
  printJson,
  printProblems,
  runTask,
  type TaskCommand,
  type TaskDefinition,
  terminalProgress,
} from "./_cli.ts";
import { JOBS_FLAG, jobsOf } from "./_jobs_flag.ts";

const VERIFY: TaskDefinition = {
  name: "verify",
  summary:
    "decode every dump of a bitstream folder in memory and check it bit for bit.",
  flags: {
    "bitstream-dir": {
      type: "string",
      required: true,
      short: "b",
      path: true,
      value: "DIR",
      help: "bitstream folder to check",
    },
    "orig-dump-dir": {
      type: "string",
      path: true,
      value: "DIR",
      help: "original dump folder: compare meta, K and V byte for byte",
    },
    ...JOBS_FLAG,
    ...OUTPUT_FLAGS,
  },
  notes: [
    packFormNote("verify", "--pack FILE [--orig-dump-dir D]"),
    "With --orig-dump-dir every dump is compared with its original files. Without it,\n" +
    "dumps encoded by kvbits are checked against the CRC-32 of K and V recorded at\n" +
    "encode time; reference outputs carry no checksums, so they can only be checked\n" +
    "against the originals and are reported as unchecked (exit 2).",
  ],
  exitCodes: {
    nothingFound: "no dump found in the bitstream folder",
    dumpsFailed:
      "a dump differs, failed to decode, has no original in --orig-dump-dir, or could not be checked",
    fatal: true,
  },
};

/** `kvbits verify`. */
export const command: TaskCommand = {
  definition: VERIFY,
  main: async (flags) => {
    const origDumpDir = flags["orig-dump-dir"] as string | undefined;
    const progress = terminalProgress(!flags.quiet);
    let report;
    try {
      report = await verifyFolder({
        jobs: jobsOf(flags),
        bitstreamDir: flags["bitstream-dir"] as string,
        origDumpDir,
        onProgress: progress.listener,
      });
    } finally {
      progress.finish();
    }
    const counts = countOutcomes(report.outcomes);
    const code = report.outcomes.length === 0
      ? EXIT_CODES.nothingFound
      : counts.failed > 0 || report.unchecked > 0
      ? EXIT_CODES.dumpsFailed
      : EXIT_CODES.ok;
    printProblems(report.outcomes, flags.verbose as boolean, origDumpDir);
    if (flags.json) {
      printJson(decodeSummary(VERIFY.name, report, code));
    } else {
      if (origDumpDir === undefined) {
        console.log(
          `Checked: ${report.checkedByChecksum}, Failed: ${counts.failed}`,
        );
        console.log(
          "Checked against the CRC-32 of K and V recorded at encode time (no originals given)",
        );
      } else {
        const compared = report.checkedAgainstOriginals;
        console.log(`Checked: ${compared}, Failed: ${counts.failed}`);
        const missing = report.outcomes.filter((outcome) =>
          outcome.status === "failed" &&
          isMissingOriginal(outcome.reason ?? "", origDumpDir)
        ).length;
        console.log(
          compared > 0
            ? `Compared bit for bit with the originals in ${origDumpDir}: ${compared} of ${report.outcomes.length} dumps`
            : missing === report.outcomes.length && missing > 0
            ? `Compared with no original: ${origDumpDir} holds none of these dumps (is it the folder they were encoded from?)`
            : `Compared with no original in ${origDumpDir}`,
        );
        if (report.checkedByChecksum > 0) {
          console.log(
            `Decoded dumps that matched their recorded CRC-32: ${report.checkedByChecksum}`,
          );
        }
      }
    }
    if (report.unchecked > 0) {
      console.error(
        `Unchecked: ${report.unchecked} dumps decoded but carry no checksums (reference output); ` +
          "verify them against the originals with --orig-dump-dir DIR",
      );
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
    await (await import("./_pack_decode.ts")).runPackVerify();
  } else await runTask(command.definition, command.main);
}
