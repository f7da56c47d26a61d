/**
 * Predicted coding on a dump folder and its predictor folder, in memory: bits per
 * element of K and V, the payloads' ratio, and encode and decode speed on one
 * thread, with each run coded as one block (its dumps in layer and sequence
 * order, as the pack orders them). Every payload is decoded and compared.
 *
 * Run it as `deno run -A bench/predicted_bench.ts DUMP_DIR PREDICTOR_DIR`, e.g.
 * on `../shared/kv-real` and `../shared/kv-real-predictors/int8`.
 *
 * @module
 */

import {
  type BenchCorpus,
  type BenchDump,
  loadCorpus,
} from "./bench_corpus.ts";
import { bestOf } from "./timing.ts";
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
  /** The `ctx` codec encoding the same dumps alone, in the same process: the yardstick. */
  readonly ctxEncodeMBps: number;
  /** The same, decoding. */
  readonly ctxDecodeMBps: number;
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
    ctxEncodeMBps: bytes / 1e6 / ctxEncodeTiming.best,
    ctxDecodeMBps: bytes / 1e6 / ctxDecodeTiming.best,
  };
}

function sameWords(a: Uint16Array, b: Uint16Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

if (import.meta.main) {
  const [dumpDir, predictorDir] = Deno.args;
  const f = await benchPredicted(dumpDir, predictorDir, 10);
  console.log(
    `${f.dumps} dumps: K ${f.kBits.toFixed(3)} V ${
      f.vBits.toFixed(3)
    } bits/element, ratio ${f.ratio.toFixed(3)} (payloads), encode ${
      f.encodeMBps.toFixed(1)
    } MB/s, decode ${f.decodeMBps.toFixed(1)} MB/s (ctx in the same run: ${
      f.ctxEncodeMBps.toFixed(1)
    } and ${f.ctxDecodeMBps.toFixed(1)})`,
  );
}
