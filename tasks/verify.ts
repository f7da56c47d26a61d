/**
 * `deno task verify`: decode a bitstream folder in memory and check every dump.
 *
 * @module
 */

import { countOutcomes } from "../src/jobs/job_report.ts";
import { verifyFolder } from "../src/jobs/verify_job.ts";
import {
  decodeSummary,
  EXIT_CODES,
  OUTPUT_FLAGS,
  printJson,
  printProblems,
  runTask,
  type TaskDefinition,
  terminalProgress,
} from "./_cli.ts";
import { JOBS_FLAG, jobsOf } from "./_jobs_flag.ts";
import { runPackVerify } from "./_pack_decode.ts";
import { packRequested } from "./_pack_flag.ts";

const VERIFY: TaskDefinition = {
  name: "verify",
  summary:
    "decode every dump of a bitstream folder in memory and check it bit for bit.",
  flags: {
    "bitstream-dir": {
      type: "string",
      required: true,
      value: "DIR",
      help: "bitstream folder to check",
    },
    "orig-dump-dir": {
      type: "string",
      value: "DIR",
      help: "original dump folder: compare meta, K and V byte for byte",
    },
    ...JOBS_FLAG,
    ...OUTPUT_FLAGS,
  },
  notes: [
    "With --orig-dump-dir every dump is compared with its original files. Without it,\n" +
    "dumps encoded by kvbits are checked against the CRC-32 of K and V recorded at\n" +
    "encode time; reference outputs carry no checksums, so they can only be checked\n" +
    "against the originals and are reported as unchecked (exit 2).",
  ],
};

if (import.meta.main && packRequested(Deno.args)) await runPackVerify();
else if (import.meta.main) {
  await runTask(VERIFY, async (flags) => {
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
    printProblems(report.outcomes);
    if (flags.json) {
      printJson(decodeSummary(VERIFY.name, report, code));
    } else {
      const checked = origDumpDir !== undefined
        ? report.checkedAgainstOriginals
        : report.checkedByChecksum;
      console.log(`Checked: ${checked}, Failed: ${counts.failed}`);
      console.log(
        origDumpDir !== undefined
          ? `Compared bit for bit with the originals in ${origDumpDir}` +
            (report.checkedByChecksum
              ? ` (and ${report.checkedByChecksum} with their recorded CRC-32)`
              : "")
          : "Checked against the CRC-32 of K and V recorded at encode time (no originals given)",
      );
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
  });
}
