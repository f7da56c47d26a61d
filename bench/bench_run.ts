/**
 * `deno task bench` as a job: measures every codec of {@link benchCodecs} on a
 * dump folder, beside zstd, and returns the figures; printing them is the task's.
 *
 * What each figure includes:
 * - codec encode and decode MB/s: FP16 bytes (K and V) per second of codec work
 *   in memory, one thread: modelling (a global codebook's histogram pass and
 *   tables, or each dump's own tables) and coding; decoding rebuilds the models
 *   from their tables. No file, checksum or JSON. Best of `runs` after a warm-up.
 * - ratios: K and V bytes over the coded data (streams, or ctx's payloads), and
 *   over everything a folder encode writes (adding the per-dump meta JSON and
 *   global codebook, or ctx's file headers and compact meta).
 * - bits per element by plane, K and V apart: a stream codec's `hi6` and `lo10`
 *   stream bytes; ctx's code lengths of `hi6`, of the modelled top mantissa
 *   bits and of the raw ones, and of its repeated and predicted rows ("other").
 * - zstd: its own in-memory benchmark (`zstd -b`, one thread) on the
 *   concatenated raw bytes and on their byte split; the split itself is not timed.
 * - whole-folder encode and verify MB/s: FP16 bytes per second of the tasks run
 *   as a user runs them (`deno run tasks/encode.ts ... --jobs N --json`, each in
 *   its own process, so that JIT and workers start cold as they do for users),
 *   timed by the job itself (the `seconds` of its summary: every file read and
 *   written, not Deno's start-up and module loading, which the JSON report keeps
 *   apart). Encode writes into an empty folder; verify decodes in memory and
 *   checks the recorded CRC-32. Best of `folderRuns` after a warm-up, the `--jobs`
 *   values interleaved, with `tar -c | zstd -3` of the same folder timed as a
 *   process in the same loop (when zstd runs) beside the encode's process time.
 * - peers (bench/peers.ts): zstd -3, zstd --ultra -22 --long=27, xz -9e,
 *   brotli -q 11 and zpaq -m5 on a tar of the folder and on its byte-split
 *   streams; ratio = the folder's file bytes over the bytes each wrote.
 * - the pack (bench/pack_bench.ts): its coder in memory, one thread, beside
 *   ctx; the pack file's ratio, every byte counted; whole folders as whole
 *   processes (Deno's start included) beside tar + zstd -3 on `copies` copies
 *   of the folder and on 4 times that, with the peak RSS of its processes.
 * - predicted coding (bench/predicted_bench.ts), for each predictor folder
 *   given: the predicted coder in memory, one thread, beside ctx; the pack job
 *   against the predictor (every file read, the predictor's too, and written)
 *   beside the pack job without one: the pack's ratio, every byte counted, and
 *   MB/s by wall clock and by the process's CPU time; and the job's file
 *   system calls alone (bench/file_calls_bench.ts), with the most a job could
 *   reach with them and the coder's time.
 *
 * @module
 */

import { cpus, loadavg } from "node:os";
import { fromFileUrl, join, resolve } from "@std/path";
import type { DumpWords, PlaneBits } from "../src/format/layout.ts";
import { benchCodecs, type BenchRow } from "./bench_codecs.ts";
import { type BenchCorpus, loadCorpus } from "./bench_corpus.ts";
import { bestOf, type Timing, timingOf } from "./timing.ts";
import {
  copyFolder,
  folderBytesOf,
  type FolderSpeed,
  measureFolderSpeed,
  measurePackCoder,
  packBytesOf,
  type PackCoderFigures,
  packTaskAvailable,
  rssTool,
  runProcess,
} from "./pack_bench.ts";
import { type Peer, type PeerReport, PEERS, runPeers } from "./peers.ts";
import { benchFileCalls, type FileCallFigures } from "./file_calls_bench.ts";
import {
  benchPredicted,
  benchPredictedPack,
  type PredictedFigures,
  type PredictedPackFigures,
} from "./predicted_bench.ts";
import {
  byteSplit,
  concatenatedBytes,
  zstdBench,
  type ZstdResult,
  zstdVersion,
} from "./zstd_baseline.ts";

/** What to measure. */
export interface BenchOptions {
  /** The dump folder. */
  readonly dumpDir: string;
  /** Timed runs of each codec figure (after one warm-up). */
  readonly runs: number;
  /** Timed runs of each whole-folder figure (after one warm-up); 0 leaves them out. */
  readonly folderRuns: number;
  /** The `--jobs` values of the whole-folder figures. */
  readonly jobs: readonly number[];
  /** Where the whole-folder runs write (a folder made and removed for them). */
  readonly workDir: string;
  /** Run zstd when it is on the PATH. */
  readonly zstd: boolean;
  /** Minimum seconds of each `zstd -b` level. */
  readonly zstdSeconds: number;
  /** The codecs; every one of {@link benchCodecs} when omitted. */
  readonly codecs?: readonly BenchRow[];
  /** Told what is being measured, for a progress line. */
  readonly onStep?: (step: string) => void;
  /** Run the peer compressors on the folder (a missing one is skipped). */
  readonly peers?: boolean;
  /** The peers to run; {@link PEERS} when omitted (tests pass fakes). */
  readonly peerList?: readonly Peer[];
  /** Include the slow peers (xz -9e, brotli -q 11, zpaq -m5, zstd -22). */
  readonly slowPeers?: boolean;
  /** Measure the pack (coder in memory; ratio and folders when its tasks exist). */
  readonly pack?: boolean;
  /** Copies of the folder for the whole-process pack figures; 0 leaves them out. */
  readonly copies?: number;
  /** Also time 4 x `copies`, for the linearity check. */
  readonly scaleCheck?: boolean;
  /** Where the copies and packs go (a tmpfs, ideally); `workDir` when omitted. */
  readonly tmpDir?: string;
  /**
   * Predictor folders of the dump folder (`--predictor-dir`): each measured as
   * predicted coding, the coder in memory and the pack job, beside the pack
   * without one. None when omitted.
   */
  readonly predictorDirs?: readonly string[];
}

/** Predicted coding against one predictor folder. */
export interface PredictorFigures {
  /** The predictor folder. */
  readonly predictorDir: string;
  /** The predicted coder in memory, one thread, beside ctx. */
  readonly coder: PredictedFigures;
  /** The pack job with this predictor, in this process, one job. */
  readonly job: PredictedPackFigures;
  /** The job's file system calls alone. */
  readonly files: FileCallFigures;
}

/** Predicted coding's figures, and the pack job without a predictor beside them. */
export interface PredictedBenchFigures {
  /** The pack job without a predictor, measured the same way. */
  readonly unpredicted: PredictedPackFigures;
  /** One entry per predictor folder. */
  readonly predictors: readonly PredictorFigures[];
}

/** The pack's figures. */
export interface PackFigures {
  /** The coder in memory, one thread, the corpus cut into the pack's blocks. */
  readonly coder: PackCoderFigures;
  /** Why the pack file figures are missing, when they are. */
  readonly skipped?: string;
  /** Bytes of the pack of the folder, every byte counted. */
  readonly packBytes?: number;
  /** Bytes of the folder's files. */
  readonly folderBytes?: number;
  /** Where peak RSS came from, or why there is none. */
  readonly rss?: string;
  /** Whole processes on `copies` copies of the folder. */
  readonly folders?: {
    readonly copies: number;
    readonly tmpDir: string;
    readonly atN: FolderSpeed;
    readonly at4N?: FolderSpeed;
  };
}

/** The machine the figures were measured on. */
export interface BenchMachine {
  /** Logical CPUs (`navigator.hardwareConcurrency`). */
  readonly cpus: number;
  /** The CPU model from /proc/cpuinfo, when readable. */
  readonly cpuModel?: string;
  /** The 1-minute load average when the bench started, when readable. */
  readonly loadAverage?: number;
  /** Deno and V8 versions. */
  readonly deno: string;
  /** The V8 version. */
  readonly v8: string;
}

/** The codec figures of one codec and codebook mode. */
export interface CodecFigures {
  /** The `--codec` name. */
  readonly codec: string;
  /** The codebook mode. */
  readonly codebook: string;
  /** Bytes of the coded data (streams, or a one-file layout's payloads). */
  readonly streamBytes: number;
  /** Bytes of meta a folder encode writes (JSON and codebook, or file headers). */
  readonly metaBytes: number;
  /** K and V bytes over stream bytes. */
  readonly ratio: number;
  /** K and V bytes over stream and meta bytes: every byte a folder encode writes. */
  readonly ratioWithMeta: number;
  /** Bits per element by plane, K and V apart. */
  readonly bitsPerElement: {
    readonly k: PlaneFigures;
    readonly v: PlaneFigures;
  };
  /** Encode times. */
  readonly encode: Timing;
  /** Decode times. */
  readonly decode: Timing;
  /** K and V MB (10^6 bytes) per second of the best encode. */
  readonly encodeMegabytesPerSecond: number;
  /** K and V MB per second of the best decode. */
  readonly decodeMegabytesPerSecond: number;
}

/** Bits per element of one tensor kind (K or V), by plane. */
export interface PlaneFigures {
  /** The `hi6` plane (sign and exponent). */
  readonly hi6: number;
  /** The `lo10` plane (mantissa), all of it. */
  readonly lo10: number;
  /** Of `lo10`, the modelled top bits (ctx only). */
  readonly lo10Top?: number;
  /** Of `lo10`, the raw bits (ctx only). */
  readonly lo10Raw?: number;
  /** Anything else (ctx: repeated and predicted rows). */
  readonly other: number;
  /** All of it. */
  readonly total: number;
}

/** The whole-folder figures of one codec, codebook mode and `--jobs`. */
export interface FolderFigures {
  /** The `--codec` name. */
  readonly codec: string;
  /** The codebook mode. */
  readonly codebook: string;
  /** `--jobs`. */
  readonly jobs: number;
  /** Encode job times (the job's own, from its `--json` summary). */
  readonly encode: Timing;
  /** Verify job times (the job's own, from its `--json` summary). */
  readonly verify: Timing;
  /** Encode process times (the job, Deno's start-up and module loading). */
  readonly encodeProcess: Timing;
  /** Verify process times. */
  readonly verifyProcess: Timing;
  /**
   * `tar -c | zstd -3` of the same folder as a process, timed in the same loop
   * as the encodes (absent when zstd was not asked for or cannot run): the
   * yardstick of a folder encode's process time.
   */
  readonly tarZstdProcess?: Timing;
  /** K and V MB per second of the best encode. */
  readonly encodeMegabytesPerSecond: number;
  /** K and V MB per second of the best verify. */
  readonly verifyMegabytesPerSecond: number;
}

/** Everything the bench measured. */
export interface BenchReport {
  /** The corpus. */
  readonly corpus: {
    readonly dumpDir: string;
    readonly dumps: number;
    readonly bytes: number;
    readonly largestDumpBytes: number;
  };
  /** The machine. */
  readonly machine: BenchMachine;
  /** Timed runs per codec figure. */
  readonly runs: number;
  /** Timed runs per whole-folder figure. */
  readonly folderRuns: number;
  /** One entry per codec and codebook mode. */
  readonly codecs: readonly CodecFigures[];
  /** zstd: its version and results, or why there are none. */
  readonly zstd: {
    readonly version?: string;
    readonly skipped?: string;
    readonly results: readonly ZstdResult[];
  };
  /** One entry per codec, codebook mode and `--jobs`. */
  readonly folders: readonly FolderFigures[];
  /** The peer compressors on the folder, every byte counted. */
  readonly peers?: PeerReport;
  /** The pack. */
  readonly pack?: PackFigures;
  /** Predicted coding, when predictor folders were given. */
  readonly predicted?: PredictedBenchFigures;
}

/**
 * Measures the codecs, zstd and the whole-folder jobs on a dump folder.
 *
 * @param options The folder and how much to measure.
 * @returns The figures.
 * @throws {Error} When the folder has no FP16 dump, a codec does not decode
 * what it encoded, or a folder run fails a dump.
 *
 * @example One quick run on the fixtures
 * ```ts
 * import { runBench } from "./bench_run.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const report = await runBench({
 *   dumpDir: new URL("../fixtures/kv-sample", import.meta.url).pathname,
 *   runs: 1, folderRuns: 0, jobs: [], workDir: "out/bench", zstd: false, zstdSeconds: 1,
 * });
 * assertEquals(report.codecs.length >= 4, true);
 * assertEquals(report.zstd.skipped, "not asked for (--skip-zstd)");
 * ```
 */
export async function runBench(options: BenchOptions): Promise<BenchReport> {
  const step = options.onStep ?? (() => {});
  const codecs = options.codecs ?? benchCodecs();
  step(`reading ${options.dumpDir}`);
  const corpus = await loadCorpus(options.dumpDir);
  if (corpus.dumps.length === 0) {
    throw new Error(
      `Cannot benchmark ${options.dumpDir}: it holds no FP16 dump`,
    );
  }
  const machine = machineOf();
  const codecFigures: CodecFigures[] = [];
  for (const codec of codecs) {
    step(`codec ${codec.codec} ${codec.codebook}`);
    codecFigures.push(measureCodec(codec, corpus, options.runs));
  }
  const zstd = await measureZstd(corpus, options, step);
  const folders: FolderFigures[] = [];
  if (options.folderRuns > 0 && options.jobs.length > 0) {
    await Deno.mkdir(options.workDir, { recursive: true });
    const work = await Deno.makeTempDir({
      dir: resolve(options.workDir),
      prefix: "kvbits-bench-",
    });
    const zstdRuns = zstd.version !== undefined;
    try {
      for (const codec of codecs) {
        step(`folders ${codec.codec} ${codec.codebook}`);
        folders.push(
          ...await measureFolders(codec, corpus, options, work, zstdRuns),
        );
      }
    } finally {
      await Deno.remove(work, { recursive: true });
    }
  }
  const peers = options.peers
    ? await withWork(
      options.tmpDir ?? options.workDir,
      (work) =>
        runPeers(options.dumpDir, work, {
          slow: options.slowPeers ?? true,
          peers: options.peerList ?? PEERS,
          onStep: step,
        }),
    )
    : undefined;
  const pack = options.pack
    ? await measurePack(corpus, options, step)
    : undefined;
  const predicted = options.predictorDirs?.length
    ? await measurePredicted(options, options.predictorDirs, step)
    : undefined;
  return {
    peers,
    pack,
    ...(predicted ? { predicted } : {}),
    corpus: {
      dumpDir: corpus.dumpDir,
      dumps: corpus.dumps.length,
      bytes: corpus.bytes,
      largestDumpBytes: corpus.largestDumpBytes,
    },
    machine,
    runs: options.runs,
    folderRuns: options.folderRuns,
    codecs: codecFigures,
    zstd,
    folders,
  };
}

async function measurePredicted(
  options: BenchOptions,
  predictorDirs: readonly string[],
  step: (step: string) => void,
): Promise<PredictedBenchFigures> {
  const jobRuns = Math.max(1, options.folderRuns);
  return await withWork(options.tmpDir ?? options.workDir, async (work) => {
    step("pack job without a predictor");
    const unpredicted = await benchPredictedPack(
      options.dumpDir,
      undefined,
      work,
      jobRuns,
    );
    const predictors: PredictorFigures[] = [];
    for (const predictorDir of predictorDirs) {
      step(`predicted coding against ${predictorDir}`);
      predictors.push({
        predictorDir,
        coder: await benchPredicted(
          options.dumpDir,
          predictorDir,
          options.runs,
        ),
        job: await benchPredictedPack(
          options.dumpDir,
          predictorDir,
          work,
          jobRuns,
        ),
        files: await benchFileCalls(
          options.dumpDir,
          predictorDir,
          work,
          Math.max(3, jobRuns),
        ),
      });
    }
    return { unpredicted, predictors };
  });
}

async function withWork<T>(
  dir: string,
  work: (folder: string) => Promise<T>,
): Promise<T> {
  await Deno.mkdir(dir, { recursive: true });
  const folder = await Deno.makeTempDir({
    dir: resolve(dir),
    prefix: "kvbits-bench-",
  });
  try {
    return await work(folder);
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
}

async function measurePack(
  corpus: BenchCorpus,
  options: BenchOptions,
  step: (step: string) => void,
): Promise<PackFigures> {
  step("pack coder in memory");
  const coder = measurePackCoder(corpus.dumps, corpus.bytes, options.runs);
  if (!await packTaskAvailable()) {
    return {
      coder,
      skipped: "the encode task has no --pack in this checkout",
    };
  }
  const tmpDir = options.tmpDir ?? options.workDir;
  return await withWork(tmpDir, async (work) => {
    step("pack of the folder");
    const packBytes = await packBytesOf(resolve(options.dumpDir), work);
    const folderBytes = await folderBytesOf(options.dumpDir);
    const copies = options.copies ?? 0;
    if (copies <= 0 || options.folderRuns <= 0) {
      return { coder, packBytes, folderBytes };
    }
    const tool = await rssTool();
    const speedAt = async (n: number) => {
      const folder = join(work, `copies-${n}`);
      step(`copying the folder ${n} times`);
      await copyFolder(resolve(options.dumpDir), folder, n);
      step(`whole folders, ${n} copies`);
      const speed = await measureFolderSpeed(
        folder,
        work,
        options.folderRuns,
        tool !== undefined,
      );
      await Deno.remove(folder, { recursive: true });
      return speed;
    };
    const atN = await speedAt(copies);
    const at4N = options.scaleCheck ? await speedAt(4 * copies) : undefined;
    return {
      coder,
      packBytes,
      folderBytes,
      rss: tool ?? "not measured: /usr/bin/time -v is not available",
      folders: { copies, tmpDir, atN, ...(at4N ? { at4N } : {}) },
    };
  });
}

function megabytesPerSecond(bytes: number, seconds: number): number {
  return bytes / 1e6 / seconds;
}

function measureCodec(
  codec: BenchRow,
  corpus: BenchCorpus,
  runs: number,
): CodecFigures {
  const { dumps, bytes } = corpus;
  const encode = bestOf(runs, () => codec.encode(dumps));
  const encoding = codec.encode(dumps);
  const into: DumpWords[] = dumps.map((dump) => ({
    k: new Uint16Array(dump.k.length),
    v: new Uint16Array(dump.v.length),
  }));
  const decode = bestOf(runs, () => codec.decode(encoding, into));
  dumps.forEach((dump, i) => {
    if (!sameWords(dump.k, into[i].k) || !sameWords(dump.v, into[i].v)) {
      throw new Error(
        `Cannot benchmark ${codec.codec} ${codec.codebook}: ${dump.relativePath} does not decode to its original`,
      );
    }
  });
  const sizes = codec.sizes(dumps);
  if (sizes.streamBytes !== encoding.streamBytes) {
    throw new Error(
      `Cannot benchmark ${codec.codec} ${codec.codebook}: its codec work gives ${encoding.streamBytes} stream bytes, a folder encode ${sizes.streamBytes}`,
    );
  }
  const planes = codec.planeBits(dumps);
  return {
    codec: codec.codec,
    codebook: codec.codebook,
    streamBytes: sizes.streamBytes,
    metaBytes: sizes.metaBytes,
    ratio: bytes / sizes.streamBytes,
    ratioWithMeta: bytes / (sizes.streamBytes + sizes.metaBytes),
    bitsPerElement: { k: perElement(planes.k), v: perElement(planes.v) },
    encode,
    decode,
    encodeMegabytesPerSecond: megabytesPerSecond(bytes, encode.best),
    decodeMegabytesPerSecond: megabytesPerSecond(bytes, decode.best),
  };
}

function perElement(bits: PlaneBits): PlaneFigures {
  const per = (value: number) => value / bits.elements;
  return {
    hi6: per(bits.hi6),
    lo10: per(bits.lo10),
    lo10Top: bits.lo10Top === undefined ? undefined : per(bits.lo10Top),
    lo10Raw: bits.lo10Raw === undefined ? undefined : per(bits.lo10Raw),
    other: per(bits.other),
    total: per(bits.hi6 + bits.lo10 + bits.other),
  };
}

function sameWords(a: Uint16Array, b: Uint16Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

async function measureZstd(
  corpus: BenchCorpus,
  options: BenchOptions,
  step: (step: string) => void,
): Promise<BenchReport["zstd"]> {
  if (!options.zstd) {
    return { skipped: "not asked for (--skip-zstd)", results: [] };
  }
  const version = await zstdVersion();
  if (version === undefined) {
    return {
      skipped: "the zstd CLI is not on the PATH (or cannot be run)",
      results: [],
    };
  }
  const tensors = corpus.dumps.flatMap((dump) => [dump.k, dump.v]);
  const work = await Deno.makeTempDir({ prefix: "kvbits-bench-zstd-" });
  try {
    const raw = join(work, "raw.bin");
    const split = join(work, "split.bin");
    await Deno.writeFile(raw, concatenatedBytes(tensors));
    await Deno.writeFile(split, byteSplit(tensors));
    const seconds = options.zstdSeconds;
    const results: ZstdResult[] = [];
    for (
      const [path, level, label] of [
        [raw, 3, "zstd -3 (raw bytes)"],
        [raw, 19, "zstd -19 (raw bytes)"],
        [split, 3, "byte split + zstd -3"],
      ] as const
    ) {
      step(label);
      results.push(await zstdBench(path, level, label, seconds));
    }
    return { version, results };
  } finally {
    await Deno.remove(work, { recursive: true });
  }
}

/** The repository, where the tasks are. */
const ROOT = fromFileUrl(new URL("../", import.meta.url));

/** What a task's `--json` summary says about a run, and how long its process took. */
interface TaskRun {
  readonly seconds: number;
  readonly processSeconds: number;
  readonly failed: number;
  readonly tensors: number;
}

/**
 * Runs `deno task <task> ... --json --quiet` as a user would (its own process,
 * the permissions and V8 flags of its deno.json task) and reads its summary.
 */
async function runTask(
  task: string,
  args: readonly string[],
): Promise<TaskRun> {
  const started = performance.now();
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "task",
      "--quiet",
      "--config",
      join(ROOT, "deno.json"),
      task,
      ...args,
      "--json",
      "--quiet",
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const processSeconds = (performance.now() - started) / 1000;
  const decoder = new TextDecoder();
  let summary;
  try {
    summary = JSON.parse(decoder.decode(output.stdout));
  } catch {
    summary = undefined;
  }
  if (!output.success || summary?.exitCode !== 0) {
    throw new Error(
      `Cannot benchmark: ${task} ${args.join(" ")} failed: ${
        decoder.decode(output.stderr).trim().split("\n").slice(-3).join(" ")
      }`,
    );
  }
  return {
    seconds: summary.seconds,
    processSeconds,
    failed: summary.dumps.failed,
    tensors: summary.bytes.tensors,
  };
}

/**
 * Encodes the corpus into a fresh folder and verifies it, for each `--jobs`
 * value in turn, `folderRuns` times after a warm-up: interleaving the values
 * spreads the machine's changing load over all of them.
 */
async function measureFolders(
  codec: BenchRow,
  corpus: BenchCorpus,
  options: BenchOptions,
  work: string,
  tarZstd: boolean,
): Promise<FolderFigures[]> {
  const runs = new Map<number, TaskRun[][]>(
    options.jobs.map((jobs) => [jobs, [[], []]]),
  );
  const tarZstdSeconds: number[] = [];
  // Outputs stay until the whole bench is done: on a file system that discards
  // freed blocks at once (ext4 -o discard, as here), removing thousands of files
  // slows the file creation of the runs that follow.
  const folder = join(work, `${codec.codec}-${codec.codebook}`);
  const check = (what: string, jobs: number, run: TaskRun) => {
    if (run.failed > 0 || run.tensors !== corpus.bytes) {
      throw new Error(
        `Cannot benchmark ${what} of ${codec.codec} ${codec.codebook} with --jobs ${jobs}: ${run.failed} dumps failed, ${run.tensors} of ${corpus.bytes} bytes done`,
      );
    }
  };
  for (let run = 0; run <= options.folderRuns; run++) {
    if (tarZstd) {
      const archive = join(folder, `run${run}.tar.zst`);
      await Deno.mkdir(folder, { recursive: true });
      const { seconds } = await runProcess("sh", [
        "-c",
        'tar -c -C "$1" . | zstd -3 -q -f -T1 -o "$2"',
        "sh",
        resolve(corpus.dumpDir),
        archive,
      ], false);
      if (run > 0) tarZstdSeconds.push(seconds);
    }
    for (const jobs of options.jobs) {
      const bitstreamDir = join(folder, `jobs${jobs}-run${run}`);
      const encoded = await runTask("encode", [
        "--dump-dir",
        // A task runs in the folder of deno.json: paths go absolute.
        resolve(corpus.dumpDir),
        "--out-dir",
        bitstreamDir,
        "--jobs",
        String(jobs),
        ...codec.encodeFlags,
      ]);
      check("encode", jobs, encoded);
      const verified = await runTask("verify", [
        "--bitstream-dir",
        bitstreamDir,
        "--jobs",
        String(jobs),
      ]);
      check("verify", jobs, verified);
      if (run > 0) {
        runs.get(jobs)![0].push(encoded);
        runs.get(jobs)![1].push(verified);
      }
    }
  }
  return options.jobs.map((jobs) => {
    const [encoded, verified] = runs.get(jobs)!;
    const encode = timingOf(encoded.map((run) => run.seconds));
    const verify = timingOf(verified.map((run) => run.seconds));
    return {
      codec: codec.codec,
      codebook: codec.codebook,
      jobs,
      encode,
      verify,
      encodeProcess: timingOf(encoded.map((run) => run.processSeconds)),
      verifyProcess: timingOf(verified.map((run) => run.processSeconds)),
      ...(tarZstdSeconds.length > 0
        ? { tarZstdProcess: timingOf(tarZstdSeconds) }
        : {}),
      encodeMegabytesPerSecond: megabytesPerSecond(corpus.bytes, encode.best),
      verifyMegabytesPerSecond: megabytesPerSecond(corpus.bytes, verify.best),
    };
  });
}

function machineOf(): BenchMachine {
  // node:os needs --allow-sys=cpus,loadavg; without it the figures are left out.
  let cpuModel: string | undefined;
  let loadAverage: number | undefined;
  try {
    cpuModel = cpus()[0]?.model?.trim() || undefined;
  } catch {
    cpuModel = undefined;
  }
  try {
    loadAverage = loadavg()[0];
  } catch {
    loadAverage = undefined;
  }
  return {
    cpus: navigator.hardwareConcurrency,
    cpuModel,
    loadAverage,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
  };
}
