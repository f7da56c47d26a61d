/**
 * `deno task bench`: codec speed and ratio beside zstd, and whole-folder speed
 * with one and more workers, on ../shared/kv-real when present (else the bundled
 * fixtures). See bench/bench_run.ts for what each figure includes.
 *
 * @module
 */

import { fromFileUrl } from "../src/dump/path.ts";
import { benchCodecs } from "../bench/bench_codecs.ts";
import { runBench } from "../bench/bench_run.ts";
import { CODECS } from "../src/format/codecs.ts";
import { benchTable } from "../bench/bench_table.ts";
import {
  EXIT_CODES,
  printJson,
  runTask,
  type TaskCommand,
  type TaskDefinition,
  UsageError,
} from "./_cli.ts";

const KV_REAL = fromFileUrl(new URL("../../shared/kv-real", import.meta.url));
const KV_REAL_PREDICTORS = ["int8", "bf16"].map((name) =>
  fromFileUrl(
    new URL(`../../shared/kv-real-predictors/${name}`, import.meta.url),
  )
);
const KV_SAMPLE = fromFileUrl(
  new URL("../fixtures/kv-sample", import.meta.url),
);

const BENCH: TaskDefinition = {
  name: "bench",
  summary:
    "measure every codec and the pack beside zstd, xz, brotli and zpaq, and whole folders as processes.",
  flags: {
    "dump-dir": {
      type: "string",
      short: "d",
      path: true,
      value: "DIR",
      help:
        "dump folder to measure (default: ../shared/kv-real when present, else fixtures/kv-sample)",
    },
    codec: {
      type: "string",
      repeatable: true,
      choices: CODECS.map((codec) => codec.name),
      value: "NAME",
      help:
        "measure only this codec (both codebook modes of a stream codec); default: every codec",
    },
    runs: {
      type: "integer",
      default: 7,
      value: "N",
      help:
        "timed runs of each codec figure, after a warm-up (the best counts)",
    },
    "folder-runs": {
      type: "integer",
      default: 3,
      value: "N",
      help: "timed runs of each whole-folder figure, after a warm-up (0: none)",
    },
    jobs: {
      type: "string",
      default: "1,2",
      value: "LIST",
      help: "--jobs values of the whole-folder figures, comma-separated",
    },
    "work-dir": {
      type: "string",
      default: "out/bench",
      path: true,
      value: "DIR",
      help:
        "where the whole-folder runs write (a folder inside it, removed after); its file system sets the encode figures",
    },
    "skip-zstd": {
      type: "boolean",
      help: "do not run zstd",
    },
    "skip-peers": {
      type: "boolean",
      help: "do not run the peer compressors on the folder",
    },
    "skip-slow-peers": {
      type: "boolean",
      help:
        "run only zstd -3 of the peers (xz -9e, brotli -q 11, zpaq -m5 and zstd -22 take minutes)",
    },
    "skip-pack": {
      type: "boolean",
      help: "do not measure the pack",
    },
    copies: {
      type: "integer",
      default: 32,
      value: "N",
      help: "whole-folder pack figures on the folder copied N times (0: none)",
    },
    "skip-scale-check": {
      type: "boolean",
      help: "do not time 4N copies (the linearity check)",
    },
    "tmp-dir": {
      type: "string",
      value: "DIR",
      help:
        "where the copies, packs and peer outputs go (a tmpfs, ideally); default: --work-dir",
    },
    "predictor-dir": {
      type: "string",
      repeatable: true,
      value: "DIR",
      path: true,
      help:
        "a predictor folder of the dump folder: measure predicted coding against it (repeatable; default with the default --dump-dir and without --skip-pack: the int8 and bf16 folders of ../shared/kv-real-predictors when present)",
    },
    "zstd-seconds": {
      type: "integer",
      default: 2,
      value: "N",
      help: "minimum seconds of each zstd -b measurement",
    },
    quiet: {
      type: "boolean",
      short: "q",
      help: "no progress lines on stderr",
    },
    json: {
      type: "boolean",
      help:
        "print the figures as one JSON object on stdout, and nothing else there",
    },
  },
  notes: [
    "Codec figures: one thread, in memory, codec work only (modelling and coding; no\n" +
    "file, checksum or JSON), and bits per element by plane, K and V apart. zstd runs\n" +
    "its own in-memory benchmark (zstd -b -T1) when the zstd CLI is on the PATH.\n" +
    "Whole-folder figures: the encode and verify tasks, each run in its own process,\n" +
    "timed by the job (all I/O included). Timings vary with the machine's load: the\n" +
    "best of several runs is reported.",
  ],
  exitCodes: {
    fatal: "the bench could not run (missing folder, a task failed)",
  },
};

async function isFolder(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
}

/** `kvbits bench`. */
export const command: TaskCommand = {
  definition: BENCH,
  main: async (flags) => {
    const jobs = String(flags.jobs).split(",").map((item) => item.trim());
    if (jobs.some((item) => !/^[1-9]\d*$/.test(item))) {
      throw new UsageError(
        `--jobs must be a comma-separated list of positive integers, got ${
          JSON.stringify(flags.jobs)
        }`,
      );
    }
    const dumpDir = (flags["dump-dir"] as string | undefined) ??
      (await isFolder(KV_REAL) ? KV_REAL : KV_SAMPLE);
    let predictorDirs = flags["predictor-dir"] as string[];
    if (
      predictorDirs.length === 0 && dumpDir === KV_REAL && !flags["skip-pack"]
    ) {
      predictorDirs = [];
      for (const folder of KV_REAL_PREDICTORS) {
        if (await isFolder(folder)) predictorDirs.push(folder);
      }
    }
    const only = flags.codec as string[];
    const names = CODECS.map((codec) => codec.name);
    const unknown = only.find((name) => !names.includes(name));
    if (unknown !== undefined) {
      throw new UsageError(
        `--codec must be one of ${names.join(", ")}, got ${
          JSON.stringify(unknown)
        }`,
      );
    }
    const codecs = benchCodecs().filter((codec) =>
      only.length === 0 || only.includes(codec.codec)
    );
    const started = performance.now();
    const report = await runBench({
      codecs,
      dumpDir,
      runs: Math.max(1, flags.runs as number),
      folderRuns: flags["folder-runs"] as number,
      jobs: jobs.map(Number),
      workDir: flags["work-dir"] as string,
      zstd: !flags["skip-zstd"],
      zstdSeconds: Math.max(1, flags["zstd-seconds"] as number),
      peers: !flags["skip-peers"],
      slowPeers: !flags["skip-slow-peers"],
      pack: !flags["skip-pack"],
      copies: Math.max(0, flags.copies as number),
      scaleCheck: !flags["skip-scale-check"],
      tmpDir: flags["tmp-dir"] as string | undefined,
      predictorDirs,
      onStep: flags.quiet ? undefined : (step) =>
        console.error(
          `bench: ${step} (${
            ((performance.now() - started) / 1000).toFixed(0)
          } s)`,
        ),
    });
    if (flags.json) {
      printJson({ task: BENCH.name, exitCode: EXIT_CODES.ok, ...report });
    } else {
      console.log(benchTable(report).trimEnd());
    }
    return EXIT_CODES.ok;
  },
};

if (import.meta.main) await runTask(command.definition, command.main);
