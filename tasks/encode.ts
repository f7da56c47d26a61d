/**
 * `deno task encode`: code a dump folder into a bitstream folder.
 *
 * @module
 */

import { packFormNote, packRequested } from "./_pack_flag.ts";
import { codecNamed, CODECS } from "../src/format/codecs.ts";
import type { CodebookMode } from "../src/format/stream_codec.ts";
import type { StageSelection } from "../src/jobs/dump_selection.ts";
import { encodeFolder } from "../src/jobs/encode_job.ts";
import { countOutcomes } from "../src/jobs/job_report.ts";
import {
  EXIT_CODES,
  formatBytes,
  NO_FSYNC_FLAG,
  OUTPUT_FLAGS,
  printJson,
  printProblems,
  printTemporaryFilesRemoved,
  problemsOf,
  ratioOrNull,
  roundSeconds,
  runTask,
  type TaskCommand,
  type TaskDefinition,
  terminalProgress,
} from "./_cli.ts";
import { JOBS_FLAG, jobsOf } from "./_jobs_flag.ts";

const ENCODE: TaskDefinition = {
  name: "encode",
  summary:
    "split every FP16 word of a KV dump folder into hi6/lo10 streams and entropy-code them.",
  flags: {
    "dump-dir": {
      type: "string",
      required: true,
      short: "d",
      path: true,
      value: "DIR",
      help: "dump folder to read (every meta_*.json below it is a dump)",
    },
    "out-dir": {
      type: "string",
      required: true,
      short: "o",
      path: true,
      value: "DIR",
      help: "bitstream folder to write (mirrors the dump folder's tree)",
    },
    codec: {
      type: "string",
      choices: CODECS.map((codec) => codec.name),
      default: "huffman",
      value: "NAME",
      help:
        "entropy coder (ctx: context models, one .kvc file per dump, no codebook)",
    },
    codebook: {
      type: "string",
      choices: ["global", "per-dump"],
      default: "global",
      value: "MODE",
      help:
        "one codebook per stream for the whole folder, or one per dump (not used by ctx)",
    },
    stage: {
      type: "string",
      choices: ["prefill", "decode", "both"],
      default: "both",
      value: "STAGE",
      help: "dumps to take by their meta stage",
    },
    "min-seq-len": {
      type: "integer",
      default: 0,
      value: "N",
      help: "take dumps with seq_len >= N (0: no bound)",
    },
    "max-seq-len": {
      type: "integer",
      default: 0,
      value: "N",
      help: "take dumps with seq_len <= N (0: no bound)",
    },
    overwrite: {
      type: "boolean",
      short: "f",
      help: "replace existing outputs (otherwise encoded dumps are skipped)",
    },
    ...JOBS_FLAG,
    ...OUTPUT_FLAGS,
    ...NO_FSYNC_FLAG,
  },
  notes: [
    packFormNote("encode", "--dump-dir D --pack FILE"),
    "Outputs per dump meta_X: k_hi6_meta_X<ext>, k_lo10_meta_X<ext>, v_hi6_meta_X<ext>,\n" +
    "v_lo10_meta_X<ext> and the dump's meta, written last; with --codebook global also\n" +
    "the folder's codebook file. With --codec ctx: one file meta_X.kvc per dump.\n" +
    "Dumps with bytes_per_elem other than 2, with a missing k/v file or left out by\n" +
    "--stage/--min-seq-len/--max-seq-len are skipped: counted by reason, listed with -v.",
  ],
  exitCodes: {
    nothingFound: true,
    dumpsFailed: true,
    fatal: true,
  },
};

/** `kvbits encode`. */
export const command: TaskCommand = {
  definition: ENCODE,
  main: async (flags) => {
    const codec = codecNamed(flags.codec as string)!;
    const models = codec.modelsUsed(flags.codebook as CodebookMode);
    const metaKind = codec.metaKind;
    const progress = terminalProgress(!flags.quiet);
    let report;
    try {
      report = await encodeFolder({
        jobs: jobsOf(flags),
        dumpDir: flags["dump-dir"] as string,
        outDir: flags["out-dir"] as string,
        codec,
        codebook: flags.codebook as CodebookMode,
        stage: flags.stage as StageSelection,
        minSeqLen: flags["min-seq-len"] as number,
        maxSeqLen: flags["max-seq-len"] as number,
        overwrite: flags.overwrite as boolean,
        durable: !flags["no-fsync"],
        onProgress: progress.listener,
      });
    } finally {
      progress.finish();
    }
    const counts = countOutcomes(report.outcomes);
    const code = report.selected === 0
      ? EXIT_CODES.nothingFound
      : counts.failed > 0
      ? EXIT_CODES.dumpsFailed
      : EXIT_CODES.ok;
    const jsonBytes = report.metaBytes + report.codebookBytes;
    const written = report.streamBytes + jsonBytes;
    printProblems(report.outcomes, flags.verbose as boolean);
    printTemporaryFilesRemoved(report.temporaryFilesRemoved);
    if (flags.json) {
      printJson({
        task: ENCODE.name,
        exitCode: code,
        codec: codec.name,
        layout: codec.layout,
        codebook: models.codebook,
        dumps: {
          found: report.metaFilesFound,
          selected: report.selected,
          ...counts,
        },
        bytes: {
          in: report.rawBytes,
          out: written,
          tensors: report.rawBytes,
          streams: report.streamBytes,
          json: jsonBytes,
        },
        ratio: {
          streams: ratioOrNull(report.rawBytes, report.streamBytes),
          withJson: ratioOrNull(report.rawBytes, written),
        },
        seconds: roundSeconds(report.seconds),
        megabytesPerSecond: ratioOrNull(report.rawBytes / 1e6, report.seconds),
        ...problemsOf(report.outcomes),
      });
    } else {
      console.log(
        `Encoded: ${counts.done}, Skipped: ${counts.skipped}, Failed: ${counts.failed} ` +
          `(${report.metaFilesFound} dumps found, ${report.selected} selected; ${codec.name}, ${models.description})`,
      );
      if (counts.done > 0) {
        console.log(
          `Bytes: ${formatBytes(report.rawBytes)} in, ${
            formatBytes(report.streamBytes)
          } of streams + ${formatBytes(jsonBytes)} of ${metaKind}`,
        );
        console.log(
          `Ratio: ${
            (report.rawBytes / report.streamBytes).toFixed(4)
          } streams only, ` +
            `${(report.rawBytes / written).toFixed(4)} with ${metaKind}; ` +
            `${report.seconds.toFixed(2)} s, ${
              (report.rawBytes / 1e6 / report.seconds).toFixed(1)
            } MB/s`,
        );
      }
    }
    if (report.selected === 0) {
      console.error(
        report.metaFilesFound === 0
          ? `No dump found: no meta_*.json below ${flags["dump-dir"]}`
          : "No dump selected: every dump found was skipped (see above)",
      );
    }
    return code;
  },
};

if (import.meta.main) {
  if (packRequested(Deno.args)) {
    await (await import("./_pack_encode.ts")).runPackEncode();
  } else await runTask(command.definition, command.main);
}
