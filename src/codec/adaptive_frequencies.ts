/**
 * Adaptive frequency tables for many contexts: the models of the `ctx` codec. They
 * learn while coding, so no table is ever transmitted.
 *
 * Read me first:
 * - Each context counts the symbols coded in it. Its coding table (frequencies out of
 *   2^12 for rANS, see `rans.ts`) is rebuilt from the counts on a schedule, not after
 *   every symbol: after 1, 2, 4, 8, ... symbols (each time the count has doubled),
 *   then every 1024 symbols. Between rebuilds the table is static, which is what
 *   lets the decoder use a lookup table; the schedule is the same on both sides, so
 *   encoder and decoder always hold identical tables. Measured on
 *   ../shared/kv-real: rebuilding at every half of growth makes the output 0.1%
 *   smaller and the codec about 10% slower (single-token dumps 40%), at every 1/8
 *   of growth 0.2% smaller and 35% slower.
 * - A table gives symbol `s` a weight `8 * count[s] + 1` (an estimator that adds
 *   1/8 of an observation to every symbol, the best of 1/2 .. 1/32 on kv-real: the
 *   64-symbol `hi6` alphabet is sparse in each context), scaled down to 4096 with
 *   `f = max(1, floor(weight * 4096 / W))` where `W` is the sum of weights; the
 *   rounding remainder goes to the most frequent symbol (the first one on ties).
 *   Every symbol keeps `f >= 1`, so any symbol can be coded in any context. All of
 *   it is integer arithmetic on exact doubles (`W < 2^20`), identical on every
 *   platform.
 * - When a context has seen 2^16 symbols its counts are halved (rounding up), which
 *   keeps `W` below 2^20 and lets very long tensors adapt.
 * - Decoding looks a slot up in a 64-entry bucket table (the first symbol whose
 *   interval reaches into each run of 64 slots) and steps forward over at most a few
 *   symbols; rebuilding it costs 64 steps, not 4096.
 * - Contexts start lazily: `reset()` only clears a flag per context, and a context's
 *   counts are cleared when it is first used (`start`). Resetting a model for a
 *   one-token tensor therefore costs little.
 *
 * @module
 */

import { RANS_PROBABILITY_BITS, RANS_TOTAL } from "./rans.ts";

/** Weight of one observation (the estimator adds 1 to every symbol's weight). */
const OBSERVATION_WEIGHT = 8;
/** Grow the rebuild interval to all the symbols seen (2^0): rebuild on doubling. */
const REBUILD_GROWTH_SHIFT = 0;
/** Rebuild at least every 1024 symbols. */
const REBUILD_INTERVAL_MAX = 1024;
/** Halve a context's counts when it has seen this many symbols. */
const COUNT_LIMIT = 1 << 16;
/** Buckets of the decoding search: 64, each covering 64 of the 4096 slots. */
const BUCKET_BITS = 6;
/** Right shift from a slot to its bucket. */
export const BUCKET_SHIFT = RANS_PROBABILITY_BITS - BUCKET_BITS;

/**
 * The adaptive models of `contexts` contexts over one alphabet, in flat typed arrays
 * that hot loops read directly.
 *
 * Layout: `table[c * (alphabet + 1) + s]` is `start << 16 | frequency` of symbol `s`
 * in context `c` (a rANS record, see `ransRecord`), and `table[c * (alphabet + 1) +
 * alphabet]` is `4096 << 16`, a sentinel that ends every search. `bucket[c * 64 + u]`
 * is the first symbol whose interval reaches slot `u * 64` or beyond. After coding
 * symbol `s` in context `c`, a coder calls {@link AdaptiveFrequencies.observe} (or
 * inlines it: `counts[c * alphabet + s]++` and, when `--untilRebuild[c] === 0`,
 * `rebuild(c)`).
 *
 * @example Learning a skewed source
 * ```ts
 * import { AdaptiveFrequencies } from "./adaptive_frequencies.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const models = new AdaptiveFrequencies(1, 4);
 * models.reset();
 * models.start(0);
 * assertEquals(models.frequency(0, 2), 1024); // uniform before any symbol
 * for (let i = 0; i < 100; i++) models.observe(0, 2);
 * assertEquals(models.frequency(0, 2) > 3900, true);
 * assertEquals(models.symbolAt(0, models.startOf(0, 2)), 2);
 * ```
 */
export class AdaptiveFrequencies {
  /** Number of contexts. */
  readonly contexts: number;
  /** Symbols per context, 2..256. */
  readonly alphabet: number;
  /** `counts[c * alphabet + s]`: times `s` was seen in `c` (halved at the limit). */
  readonly counts: Uint32Array;
  /** Symbols each context's current table was built from (since any halving). */
  readonly seen: Uint32Array;
  /** Symbols each context codes before its next rebuild (counted down). */
  readonly untilRebuild: Uint32Array;
  /** The interval that `untilRebuild` started from. */
  readonly interval: Uint32Array;
  /** Coding tables (see the class notes). */
  readonly table: Uint32Array;
  /** Decoding search start per 64 slots (see the class notes). */
  readonly bucket: Uint8Array;
  /** 1 for a context in use since the last `reset`. */
  readonly started: Uint8Array;
  /** 1 for a context whose table stays uniform (see {@link freeze}). */
  readonly frozen: Uint8Array;

  /**
   * Allocates the models; call `reset()` before coding.
   *
   * @param contexts Number of contexts.
   * @param alphabet Symbols per context, `2..256`.
   * @throws {RangeError} On an unsupported size.
   */
  constructor(contexts: number, alphabet: number) {
    if (!Number.isInteger(alphabet) || alphabet < 2 || alphabet > 256) {
      throw new RangeError(
        `Cannot make adaptive models of ${alphabet} symbols: 2..256 are supported`,
      );
    }
    if (!Number.isInteger(contexts) || contexts < 1) {
      throw new RangeError(
        `Cannot make adaptive models for ${contexts} contexts`,
      );
    }
    this.contexts = contexts;
    this.alphabet = alphabet;
    this.counts = new Uint32Array(contexts * alphabet);
    this.seen = new Uint32Array(contexts);
    this.untilRebuild = new Uint32Array(contexts);
    this.interval = new Uint32Array(contexts);
    this.table = new Uint32Array(contexts * (alphabet + 1));
    this.bucket = new Uint8Array(contexts << BUCKET_BITS);
    this.started = new Uint8Array(contexts);
    this.frozen = new Uint8Array(contexts);
  }

  /**
   * Keeps a context's table uniform for good: its symbols cost exactly
   * `log2(alphabet)` bits and it is never rebuilt. For contexts where learning
   * costs more than it finds.
   *
   * @param context The context.
   */
  freeze(context: number): void {
    this.frozen[context] = 1;
  }

  /** Forgets everything learned: every context starts afresh when next used. */
  reset(): void {
    this.started.fill(0);
  }

  /**
   * Starts a context: no symbol seen, a uniform table.
   *
   * @param context The context.
   */
  start(context: number): void {
    const a = this.alphabet;
    this.counts.fill(0, context * a, context * a + a);
    this.seen[context] = 0;
    this.interval[context] = 0;
    this.started[context] = 1;
    this.rebuild(context);
    // Counting goes on (harmlessly) but the table is never rebuilt: 2^32 - 1 is
    // more symbols than a tensor can have.
    if (this.frozen[context]) this.untilRebuild[context] = 0xffffffff;
  }

  /**
   * Counts one more `symbol` in `context` and rebuilds its table when due.
   *
   * @param context A started context.
   * @param symbol The symbol coded.
   */
  observe(context: number, symbol: number): void {
    this.counts[context * this.alphabet + symbol]++;
    if (--this.untilRebuild[context] === 0) {
      this.rebuild(context);
    }
  }

  /**
   * Rebuilds the coding and decoding tables of a context from its counts, and
   * schedules the next rebuild.
   *
   * @param context The context.
   */
  rebuild(context: number): void {
    const a = this.alphabet;
    const counts = this.counts;
    const base = context * a;
    let seen = this.seen[context] + this.interval[context];
    this.seen[context] = seen;
    if (seen >= COUNT_LIMIT) {
      seen = 0;
      for (let s = 0; s < a; s++) {
        const halved = (counts[base + s] + 1) >>> 1;
        counts[base + s] = halved;
        seen += halved;
      }
      this.seen[context] = seen;
    }
    const weightSum = OBSERVATION_WEIGHT * seen + a;
    // floor(w * 4096 / W) through a multiplication: exact, because a quotient with
    // a denominator below 2^20 is never within an ulp below an integer.
    const scale = RANS_TOTAL / weightSum;
    const unseen = Math.max(1, Math.floor(scale));
    const table = this.table;
    const row = context * (a + 1);
    let sum = 0;
    let best = 0;
    let bestFrequency = 0;
    for (let s = 0; s < a; s++) {
      const count = counts[base + s];
      let frequency = unseen;
      if (count !== 0) {
        frequency = Math.floor((OBSERVATION_WEIGHT * count + 1) * scale);
        if (frequency < 1) frequency = 1;
        if (frequency > bestFrequency) {
          bestFrequency = frequency;
          best = s;
        }
      }
      table[row + s] = frequency;
      sum += frequency;
    }
    // The most frequent symbol has at least 4096 / alphabet and absorbs at most
    // alphabet - 1 units of rounding up, so it keeps a frequency of at least 1.
    // (With no count at all every symbol has the same frequency, and symbol 0 takes
    // the remainder.)
    table[row + best] += RANS_TOTAL - sum;
    const bucket = this.bucket;
    const bucketBase = context << BUCKET_BITS;
    let start = 0;
    let u = 0;
    for (let s = 0; s < a; s++) {
      const frequency = table[row + s];
      table[row + s] = (start << 16) | frequency;
      start += frequency;
      // Buckets whose first slot lies in this symbol's interval start at it.
      while (u < 1 << BUCKET_BITS && u << BUCKET_SHIFT < start) {
        bucket[bucketBase + u++] = s;
      }
    }
    table[row + a] = RANS_TOTAL << 16;
    const step = Math.min(
      REBUILD_INTERVAL_MAX,
      Math.max(1, seen >>> REBUILD_GROWTH_SHIFT),
    );
    this.interval[context] = step;
    this.untilRebuild[context] = step;
  }

  /**
   * Frequency of a symbol in a context's current table, out of 4096.
   *
   * @param context A started context.
   * @param symbol The symbol.
   * @returns Its frequency.
   */
  frequency(context: number, symbol: number): number {
    return this.table[context * (this.alphabet + 1) + symbol] & 0xffff;
  }

  /**
   * Cumulative start of a symbol's interval in a context's current table.
   *
   * @param context A started context.
   * @param symbol The symbol.
   * @returns Its first slot.
   */
  startOf(context: number, symbol: number): number {
    return this.table[context * (this.alphabet + 1) + symbol] >>> 16;
  }

  /**
   * The symbol whose interval holds `slot` in a context's current table.
   *
   * @param context A started context.
   * @param slot `0..4095`.
   * @returns The symbol.
   */
  symbolAt(context: number, slot: number): number {
    const row = context * (this.alphabet + 1);
    let s = this.bucket[(context << BUCKET_BITS) + (slot >>> BUCKET_SHIFT)];
    while (this.table[row + s + 1] >>> 16 <= slot) s++;
    return s;
  }
}
