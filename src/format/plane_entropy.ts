/**
 * The order-0 entropy of each plane (`k_hi6, k_lo10, v_hi6, v_lo10`) over a set of
 * original dumps: the limit of every coder with one static model per plane, to
 * compare coders with.
 *
 * Two limits, because the model can be shared or not:
 * - `pooled`: one model for all the dumps (a global codebook): the entropy of the
 *   summed histogram.
 * - `perDump`: a model per dump (per-dump codebooks): each dump's own entropy,
 *   weighted by its elements. Never above `pooled`, but each model costs its table.
 *
 * @module
 */

import { orderZeroEntropy } from "../codec/entropy.ts";
import {
  countFp16Symbols,
  type Fp16Histograms,
  newFp16Histograms,
} from "../codec/histogram.ts";
import type { PerStream } from "./stream_codec.ts";

/** Order-0 entropy of each plane over a set of dumps, in bits per element. */
export interface PlaneEntropy {
  /** Dumps measured. */
  readonly dumps: number;
  /** Elements of K over those dumps (equal to those of V). */
  readonly elements: number;
  /** One model for all the dumps: the entropy of the pooled histogram. */
  readonly pooled: PerStream<number>;
  /** A model per dump: the element-weighted mean of each dump's entropy. */
  readonly perDump: PerStream<number>;
  /**
   * How many elements of K and of V have each exponent (the 5 bits under the
   * sign, 0 to 31; 0 holds zeros and subnormals, 31 infinities and NaNs).
   */
  readonly exponents: {
    readonly k: readonly number[];
    readonly v: readonly number[];
  };
}

/**
 * Gathers plane histograms dump by dump and gives both entropies of each plane.
 * Memory stays constant: one pooled histogram per plane, and the per-dump
 * entropies as running sums of bits.
 *
 * @example Two dumps with different values: a model per dump needs no bits
 * ```ts
 * import { PlaneEntropyAccumulator } from "./plane_entropy.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const entropy = new PlaneEntropyAccumulator();
 * entropy.add(new Uint16Array([0x3c00, 0x3c00]), new Uint16Array([0x0001, 0x0001]));
 * entropy.add(new Uint16Array([0xbc00, 0xbc00]), new Uint16Array([0x0001, 0x0001]));
 * const result = entropy.result();
 * assertEquals([result.dumps, result.elements], [2, 4]);
 * assertEquals(result.pooled.k_hi6, 1); // 0x0f or 0x2f, half each
 * assertEquals(result.perDump.k_hi6, 0); // each dump holds one sign/exponent only
 * assertEquals(result.pooled.v_lo10, 0);
 * assertEquals(result.exponents.k[15], 4); // 1.0 and -1.0 have exponent 15
 * ```
 */
export class PlaneEntropyAccumulator {
  #dumps = 0;
  #elements = 0;
  readonly #pooledK = newFp16Histograms();
  readonly #pooledV = newFp16Histograms();
  readonly #dumpK = newFp16Histograms();
  readonly #dumpV = newFp16Histograms();
  readonly #perDumpBits: PerStream<number> = {
    k_hi6: 0,
    k_lo10: 0,
    v_hi6: 0,
    v_lo10: 0,
  };

  /**
   * Adds one dump's tensors.
   *
   * @param k The dump's K words (FP16 bit patterns).
   * @param v The dump's V words, as many as K.
   * @throws {RangeError} When K and V differ in length.
   */
  add(k: Uint16Array, v: Uint16Array): void {
    if (k.length !== v.length) {
      throw new RangeError(
        `Cannot measure a dump's entropy: K has ${k.length} elements, V ${v.length}`,
      );
    }
    const dumpK = countFp16Symbols(k, clear(this.#dumpK));
    const dumpV = countFp16Symbols(v, clear(this.#dumpV));
    const count = k.length;
    const bits = this.#perDumpBits;
    bits.k_hi6 += count * orderZeroEntropy(dumpK.hi6);
    bits.k_lo10 += count * orderZeroEntropy(dumpK.lo10);
    bits.v_hi6 += count * orderZeroEntropy(dumpV.hi6);
    bits.v_lo10 += count * orderZeroEntropy(dumpV.lo10);
    addInto(this.#pooledK, dumpK);
    addInto(this.#pooledV, dumpV);
    this.#dumps++;
    this.#elements += count;
  }

  /**
   * Both entropies of each plane over the dumps added so far.
   *
   * @returns The entropies in bits per element (0 with no element).
   */
  result(): PlaneEntropy {
    const elements = this.#elements;
    const mean = (bits: number) => elements === 0 ? 0 : bits / elements;
    const bits = this.#perDumpBits;
    return {
      dumps: this.#dumps,
      elements,
      pooled: {
        k_hi6: orderZeroEntropy(this.#pooledK.hi6),
        k_lo10: orderZeroEntropy(this.#pooledK.lo10),
        v_hi6: orderZeroEntropy(this.#pooledV.hi6),
        v_lo10: orderZeroEntropy(this.#pooledV.lo10),
      },
      perDump: {
        k_hi6: mean(bits.k_hi6),
        k_lo10: mean(bits.k_lo10),
        v_hi6: mean(bits.v_hi6),
        v_lo10: mean(bits.v_lo10),
      },
      exponents: {
        k: exponentCounts(this.#pooledK.hi6),
        v: exponentCounts(this.#pooledV.hi6),
      },
    };
  }
}

/** Folds the sign out of a hi6 histogram (sign << 5 | exponent). */
function exponentCounts(hi6: ArrayLike<number>): number[] {
  const counts = new Array<number>(32).fill(0);
  for (let symbol = 0; symbol < hi6.length; symbol++) {
    counts[symbol & 31] += hi6[symbol];
  }
  return counts;
}

function clear(histograms: Fp16Histograms): Fp16Histograms {
  histograms.hi6.fill(0);
  histograms.lo10.fill(0);
  return histograms;
}

function addInto(into: Fp16Histograms, from: Fp16Histograms): void {
  for (let i = 0; i < from.hi6.length; i++) into.hi6[i] += from.hi6[i];
  for (let i = 0; i < from.lo10.length; i++) into.lo10[i] += from.lo10[i];
}
