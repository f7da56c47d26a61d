/**
 * Predicted coding measured two ways, on a dump folder and its predictor folders:
 *
 * - the coder in memory ({@link benchPredicted}): bits per element of K and V,
 *   the payloads' ratio, and encode and decode speed on one thread, each run
 *   coded as one block (its dumps in layer and sequence order, as the pack
 *   orders them), every payload decoded and compared;
 * - the pack job as a user runs it ({@link benchPredictedPack}): `encode --pack`
 *   with `--predictor-dir`, then `decode --pack`, in this process with one job
 *   and no flush, every file read (the predictor's too) and written: the pack's
 *   ratio, every byte counted, and MB/s of the folder's bytes.
 *
 * `deno task bench` runs both for each `--predictor-dir` (by default the
 * `int8/` and `bf16/` of `../shared/kv-real-predictors` when it measures
 * `../shared/kv-real`). Speeds are the best of several runs, by wall clock and
 * by the process's CPU time (which a machine shared with other work disturbs
 * less).
 *
 * @module
 */

import { cpuUsage } from "node:process";
import { join } from "@std/path";
import { decodePack } from "../src/jobs/pack_decode_job.ts";
import { encodePack } from "../src/jobs/pack_encode_job.ts";
import {
  type BenchCorpus,
  type BenchDump,
  loadCorpus,
} from "./bench_corpus.ts";
import { ctxDecode, ctxEncode } from "../src/codec/ctx_codec.ts";
import {
  PredictedTensorDecoder,
  PredictedTensorEncoder,
} from "../src/codec/predicted_tensor_coder.ts";

/** What {@link benchPredicted} measured. */
export interface PredictedFigures {
  /** Dumps coded (those with a predictor of the same shape). */
  readonly dumps: number;
  /** Elements of K (and as many of V). */
  readonly elements: number;
  /** Payload bits per element of K. */
  readonly kBits: number;
  /** Payload bits per element of V. */
  readonly vBits: number;
  /** K and V bytes over payload bytes (no meta, no container). */
  readonly ratio: number;
  /** K and V MB (10^6 bytes) per second, best run, encoding every block. */
  readonly encodeMBps: number;
  /** The same, decoding. */
  readonly decodeMBps: number;
  /** K and V MB per second of the process's CPU time, best run, encoding. */
  readonly encodeCpuMBps: number;
  /** The same, decoding. */
  readonly decodeCpuMBps: number;
  /** The `ctx` codec encoding the same dumps alone, in the same process: the yardstick. */
  readonly ctxEncodeMBps: number;
  /** The same, decoding. */
  readonly ctxDecodeMBps: number;
}

/** Seconds of the best run of `work` by wall clock and by CPU time (after one untimed run). */
function bestOf(
  runs: number,
  work: () => unknown,
): { best: number; bestCpu: number } {
  work();
  let best = Infinity, bestCpu = Infinity;
  for (let i = 0; i < Math.max(1, runs); i++) {
    const wall = performance.now();
    const cpu = cpuMilliseconds();
    work();
    best = Math.min(best, (performance.now() - wall) / 1000);
    bestCpu = Math.min(bestCpu, (cpuMilliseconds() - cpu) / 1000);
  }
  return { best, bestCpu };
}

interface Pair {
  readonly dump: BenchDump;
  readonly predictor: BenchDump;
  readonly group: string;
}

function blocksOf(
  corpus: BenchCorpus,
  predictors: BenchCorpus,
): Pair[][] {
  const byPath = new Map(predictors.dumps.map((d) => [d.relativePath, d]));
  const runs = new Map<string, Pair[]>();
  for (const dump of corpus.dumps) {
    const predictor = byPath.get(dump.relativePath);
    if (
      predictor === undefined || predictor.k.length !== dump.k.length ||
      predictor.v.length !== dump.v.length
    ) continue;
    const { runId, layerId } = dump.meta;
    const pairs = runs.get(runId) ?? [];
    pairs.push({ dump, predictor, group: `${runId}\u0000${layerId}` });
    runs.set(runId, pairs);
  }
  const start = (p: Pair) => Number(p.dump.meta.fields.seq_start ?? 0);
  return [...runs.values()].map((pairs) =>
    pairs.sort((a, b) =>
      a.dump.meta.layerId - b.dump.meta.layerId || start(a) - start(b)
    )
  );
}

function shapeOf(dump: BenchDump) {
  const { seqLen, kvHeads, headDim } = dump.meta;
  return { tokens: seqLen, heads: kvHeads, headDim };
}

/**
 * Measures predicted coding of `dumpDir` against `predictorDir`.
 *
 * @param dumpDir The dump folder.
 * @param predictorDir Its predictor folder (same layout and names).
 * @param runs Timed runs of each direction (the best counts).
 * @returns The figures.
 * @throws {Error} When a decoded tensor differs from its original.
 *
 * @example
 * ```ts
 * import { benchPredicted } from "./predicted_bench.ts";
 * import { assertEquals, assertGreater } from "@std/assert";
 *
 * const fixtures = new URL("../fixtures/", import.meta.url).pathname;
 * const figures = await benchPredicted(`${fixtures}kv-sample`, `${fixtures}predictor-sample/int8`, 1);
 * assertEquals(figures.dumps, 51);
 * assertGreater(figures.ratio, 2);
 * ```
 */
export async function benchPredicted(
  dumpDir: string,
  predictorDir: string,
  runs: number,
): Promise<PredictedFigures> {
  const blocks = blocksOf(
    await loadCorpus(dumpDir),
    await loadCorpus(predictorDir),
  );
  let payloads: Uint8Array[] = [];
  const encode = bestOf(runs, () => {
    payloads = [];
    for (const block of blocks) {
      const encoder = new PredictedTensorEncoder();
      for (const { dump, predictor, group } of block) {
        const shape = shapeOf(dump);
        payloads.push(
          encoder.encode(dump.k, predictor.k, shape, { group, tensor: "k" }),
          encoder.encode(dump.v, predictor.v, shape, { group, tensor: "v" }),
        );
      }
    }
  });
  let checked = false;
  const decode = bestOf(runs, () => {
    let n = 0;
    for (const block of blocks) {
      const decoder = new PredictedTensorDecoder();
      for (const { dump, predictor, group } of block) {
        const shape = shapeOf(dump);
        const k = decoder.decode(payloads[n++], predictor.k, shape, {
          group,
          tensor: "k",
        });
        const v = decoder.decode(payloads[n++], predictor.v, shape, {
          group,
          tensor: "v",
        });
        if (!checked && (!sameWords(k, dump.k) || !sameWords(v, dump.v))) {
          throw new Error(`${dump.relativePath} does not decode to itself`);
        }
      }
    }
    checked = true;
  });
  const pairs = blocks.flat();
  let ctxPayloads: Uint8Array[] = [];
  const ctxEncodeTiming = bestOf(runs, () => {
    ctxPayloads = pairs.map(({ dump }) =>
      ctxEncode([dump.k, dump.v], shapeOf(dump))
    );
  });
  const ctxDecodeTiming = bestOf(runs, () => {
    pairs.forEach(({ dump }, n) => ctxDecode(ctxPayloads[n], 2, shapeOf(dump)));
  });
  const elements = pairs.reduce((sum, p) => sum + p.dump.k.length, 0);
  let kBytes = 0;
  let vBytes = 0;
  payloads.forEach((p, n) => n % 2 ? vBytes += p.length : kBytes += p.length);
  const bytes = 4 * elements;
  return {
    dumps: pairs.length,
    elements,
    kBits: 8 * kBytes / elements,
    vBits: 8 * vBytes / elements,
    ratio: bytes / (kBytes + vBytes),
    encodeMBps: bytes / 1e6 / encode.best,
    decodeMBps: bytes / 1e6 / decode.best,
    encodeCpuMBps: bytes / 1e6 / encode.bestCpu,
    decodeCpuMBps: bytes / 1e6 / decode.bestCpu,
    ctxEncodeMBps: bytes / 1e6 / ctxEncodeTiming.best,
    ctxDecodeMBps: bytes / 1e6 / ctxDecodeTiming.best,
  };
}

/** What {@link benchPredictedPack} measured. */
export interface PredictedPackFigures {
  /** Dumps coded, and how many against a predictor. */
  readonly dumps: number;
  /** Of them, coded against a predictor dump. */
  readonly predicted: number;
  /** Bytes of the folder's files (what the MB/s divide). */
  readonly folderBytes: number;
  /** Bytes of the folder's files over bytes of the pack, every byte counted. */
  readonly ratio: number;
  /** MB (10^6 bytes) of the folder per second, best run, wall clock. */
  readonly encodeMBps: number;
  /** The same, decoding into a folder. */
  readonly decodeMBps: number;
  /** MB of the folder per second of the process's CPU time, best run. */
  readonly encodeCpuMBps: number;
  /** The same, decoding. */
  readonly decodeCpuMBps: number;
}

function cpuMilliseconds(): number {
  const { user, system } = cpuUsage();
  return (user + system) / 1000;
}

/**
 * Packs a folder against a predictor folder (or none) and decodes it, as the
 * tasks do, in this process: one job, no flush.
 *
 * @param dumpDir The dump folder.
 * @param predictorDir Its predictor folder, or undefined for the pack alone.
 * @param workDir Where the pack and the restored folder go (removed after).
 * @param runs Timed runs of each direction (the best counts).
 * @returns The figures.
 * @throws {Error} When a dump fails to decode.
 *
 * @example
 * ```ts
 * import { benchPredictedPack } from "./predicted_bench.ts";
 * import { assertEquals, assertGreater } from "@std/assert";
 *
 * const fixtures = new URL("../fixtures/", import.meta.url).pathname;
 * const work = await Deno.makeTempDir();
 * const figures = await benchPredictedPack(`${fixtures}kv-sample`, `${fixtures}predictor-sample/bf16`, work, 1);
 * assertEquals([figures.dumps, figures.predicted], [51, 51]);
 * assertGreater(figures.ratio, 3);
 * await Deno.remove(work, { recursive: true });
 * ```
 */
export async function benchPredictedPack(
  dumpDir: string,
  predictorDir: string | undefined,
  workDir: string,
  runs: number,
): Promise<PredictedPackFigures> {
  const pack = join(workDir, "predicted-bench.kvp");
  const out = join(workDir, "predicted-bench-out");
  let best = {
    encode: Infinity,
    decode: Infinity,
    encodeCpu: Infinity,
    decodeCpu: Infinity,
  };
  let report;
  let folderBytes = 0;
  for (let run = 0; run < runs; run++) {
    let wall = performance.now();
    let cpu = cpuMilliseconds();
    report = await encodePack({ dumpDir, pack, predictorDir, durable: false });
    const encode = performance.now() - wall;
    const encodeCpu = cpuMilliseconds() - cpu;
    await Deno.remove(out, { recursive: true }).catch(() => {});
    wall = performance.now();
    cpu = cpuMilliseconds();
    const decoded = await decodePack({
      pack,
      outDir: out,
      predictorDir,
      durable: false,
    });
    const decode = performance.now() - wall;
    const decodeCpu = cpuMilliseconds() - cpu;
    if (decoded.failures.length > 0) {
      throw new Error(decoded.failures[0].reason);
    }
    folderBytes = report.inputBytes;
    best = {
      encode: Math.min(best.encode, encode),
      decode: Math.min(best.decode, decode),
      encodeCpu: Math.min(best.encodeCpu, encodeCpu),
      decodeCpu: Math.min(best.decodeCpu, decodeCpu),
    };
  }
  await Deno.remove(out, { recursive: true }).catch(() => {});
  await Deno.remove(pack).catch(() => {});
  const rate = (milliseconds: number) => folderBytes / 1e3 / milliseconds;
  return {
    dumps: report!.dumps,
    predicted: report!.predicted,
    folderBytes,
    ratio: folderBytes / report!.packBytes,
    encodeMBps: rate(best.encode),
    decodeMBps: rate(best.decode),
    encodeCpuMBps: rate(best.encodeCpu),
    decodeCpuMBps: rate(best.decodeCpu),
  };
}

function sameWords(a: Uint16Array, b: Uint16Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
