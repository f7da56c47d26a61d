/**
 * Where the bits of the originals are, head by head and channel by channel: the
 * order-0 entropy of each channel's `hi6` and `lo10` planes, K and V apart, over
 * the dumps of one run. The analyze report draws it as a heatmap.
 *
 * A tensor's logical layout is `[seq_len, kv_heads, head_dim]` (FORMAT.md §1), so
 * element `i` belongs to column `i % (kv_heads * head_dim)`: head
 * `floor(column / head_dim)`, channel `column % head_dim`. Each column gets its own
 * histograms; its entropy `H(hi6) + H(lo10)` is what a coder with one static
 * model per column and plane would spend per element, so a column that costs more
 * is one whose values vary more.
 *
 * @module
 */

import { orderZeroEntropy } from "../codec/entropy.ts";

/** The entropy of each column of one run's K and V. */
export interface RunChannelEntropy {
  /** The run (`run_id`). */
  readonly runId: string;
  /** Heads of K and V. */
  readonly kvHeads: number;
  /** Channels of a head. */
  readonly headDim: number;
  /** Dumps measured. */
  readonly dumps: number;
  /** Bits per element of each column of K, `head * headDim + channel`. */
  readonly k: readonly number[];
  /** Bits per element of each column of V. */
  readonly v: readonly number[];
}

/** Histograms of one tensor's columns: 64 `hi6` and 1024 `lo10` counts each. */
interface ColumnHistograms {
  readonly hi6: Uint32Array;
  readonly lo10: Uint32Array;
}

/** One run's histograms. */
interface RunHistograms {
  readonly kvHeads: number;
  readonly headDim: number;
  dumps: number;
  readonly k: ColumnHistograms;
  readonly v: ColumnHistograms;
}

/**
 * Gathers column histograms run by run (a run whose dumps change shape is keyed
 * by shape too) and gives each column's entropy. Memory: 4.25 KiB per column of
 * K and of V, per run.
 *
 * @example Two columns: one constant, one with two values
 * ```ts
 * import { ChannelEntropyAccumulator } from "./channel_entropy.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const entropy = new ChannelEntropyAccumulator();
 * // 2 tokens, 1 head of 2 channels: column 0 holds 1.0 twice, column 1 holds 1.0 and -1.0.
 * const k = new Uint16Array([0x3c00, 0x3c00, 0x3c00, 0xbc00]);
 * entropy.add("run", 1, 2, k, k);
 * const [run] = entropy.result();
 * assertEquals([run.runId, run.kvHeads, run.headDim, run.dumps], ["run", 1, 2, 1]);
 * assertEquals(run.k, [0, 1]);
 * ```
 */
export class ChannelEntropyAccumulator {
  readonly #runs = new Map<string, RunHistograms & { runId: string }>();

  /**
   * Adds one dump's tensors.
   *
   * @param runId The dump's run.
   * @param kvHeads Heads of K and V.
   * @param headDim Channels of a head.
   * @param k K words (FP16 bit patterns), a whole number of rows.
   * @param v V words, as many.
   * @throws {RangeError} When the shape is empty or does not divide the tensors.
   */
  add(
    runId: string,
    kvHeads: number,
    headDim: number,
    k: Uint16Array,
    v: Uint16Array,
  ): void {
    const columns = kvHeads * headDim;
    if (
      !(columns > 0) || k.length !== v.length || k.length % columns !== 0
    ) {
      throw new RangeError(
        `Cannot measure channel entropy: ${k.length} and ${v.length} elements are not rows of ${kvHeads} x ${headDim}`,
      );
    }
    const key = `${runId}\u0000${kvHeads}x${headDim}`;
    let run = this.#runs.get(key);
    if (run === undefined) {
      run = {
        runId,
        kvHeads,
        headDim,
        dumps: 0,
        k: newColumnHistograms(columns),
        v: newColumnHistograms(columns),
      };
      this.#runs.set(key, run);
    }
    countColumns(k, columns, run.k);
    countColumns(v, columns, run.v);
    run.dumps++;
  }

  /**
   * Each run's column entropies, in the order runs were first seen.
   *
   * @returns One entry per run (and shape).
   */
  result(): RunChannelEntropy[] {
    return [...this.#runs.values()].map((run) => ({
      runId: run.runId,
      kvHeads: run.kvHeads,
      headDim: run.headDim,
      dumps: run.dumps,
      k: columnBits(run.k, run.kvHeads * run.headDim),
      v: columnBits(run.v, run.kvHeads * run.headDim),
    }));
  }
}

function newColumnHistograms(columns: number): ColumnHistograms {
  return {
    hi6: new Uint32Array(columns * 64),
    lo10: new Uint32Array(columns * 1024),
  };
}

function countColumns(
  words: Uint16Array,
  columns: number,
  into: ColumnHistograms,
): void {
  const { hi6, lo10 } = into;
  let column = 0;
  for (let i = 0; i < words.length; i++) {
    const word = words[i];
    hi6[column * 64 + (word >>> 10)]++;
    lo10[column * 1024 + (word & 1023)]++;
    column = column + 1 === columns ? 0 : column + 1;
  }
}

function columnBits(histograms: ColumnHistograms, columns: number): number[] {
  const bits: number[] = [];
  for (let column = 0; column < columns; column++) {
    bits.push(
      orderZeroEntropy(
        histograms.hi6.subarray(column * 64, column * 64 + 64),
      ) +
        orderZeroEntropy(
          histograms.lo10.subarray(column * 1024, column * 1024 + 1024),
        ),
    );
  }
  return bits;
}
