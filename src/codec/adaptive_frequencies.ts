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
 *   symbols; rebuilding it costs 64 steps, not 4096. Alphabets of at most
 *   {@link LINEAR_SEARCH_ALPHABET} symbols have no bucket table: a search steps
 *   from the first symbol, and a rebuild skips the 64 entries (the mantissa-top
 *   model's: a third of kv-real's rebuilds). Nor do the models of an encoder,
 *   which never searches (made with `search` false: a third of a rebuild).
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
/** Buckets of the decoding search: 64 (2^6), each covering 64 of the 4096 slots. */
export const BUCKET_BITS = 6;
/** Right shift from a slot to its bucket. */
export const BUCKET_SHIFT = RANS_PROBABILITY_BITS - BUCKET_BITS;
/** Largest alphabet searched without a bucket table. */
export const LINEAR_SEARCH_ALPHABET = 8;

// Module-local copies for the code below, which runs in (or inlined into) the
// coders' hot loops: V8 loads an imported or exported binding from its module
// cell, with a hole check, at every use there, and folds a local constant
// (see rans.ts).
const TOTAL = RANS_TOTAL;
const BUCKET_LOG = BUCKET_BITS;
const SLOT_TO_BUCKET = BUCKET_SHIFT;

/**
 * Where the arrays of an {@link AdaptiveFrequencies} lie in the one buffer they
 * share: word offsets of the 32-bit arrays (`counts` is at 0), byte offsets of
 * the byte arrays. A hot loop that reads several arrays through one view of the
 * buffer ({@link AdaptiveFrequencies.words}) indexes them by these.
 */
export interface AdaptiveLayout {
  /** Word offset of `seen`. */
  readonly seen: number;
  /** Word offset of `untilRebuild`. */
  readonly untilRebuild: number;
  /** Word offset of `interval`. */
  readonly interval: number;
  /** Word offset of `table`. */
  readonly table: number;
  /** Byte offset of `bucket`. */
  readonly bucket: number;
  /** Bytes of `bucket` per context (0 without search tables). */
  readonly bucketBytes: number;
  /** Byte offset of `started`. */
  readonly started: number;
  /** Byte offset of `frozen`. */
  readonly frozen: number;
  /** Bytes of the buffer. */
  readonly bytes: number;
}

/**
 * The layout of the models of `contexts` contexts over `alphabet` symbols (the
 * one their constructor carves).
 *
 * @param contexts Number of contexts.
 * @param alphabet Symbols per context.
 * @param search Whether the models keep search tables.
 * @returns The offsets.
 *
 * @example
 * ```ts
 * import { adaptiveLayout, AdaptiveFrequencies } from "./adaptive_frequencies.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const layout = adaptiveLayout(3, 64, true);
 * const models = new AdaptiveFrequencies(3, 64);
 * assertEquals(models.table.byteOffset, 4 * layout.table);
 * assertEquals(models.started.byteOffset, layout.started);
 * ```
 */
export function adaptiveLayout(
  contexts: number,
  alphabet: number,
  search: boolean,
): AdaptiveLayout {
  const seen = contexts * alphabet;
  const untilRebuild = seen + contexts;
  const interval = untilRebuild + contexts;
  const table = interval + contexts;
  const bucket = 4 * (table + contexts * (alphabet + 1));
  const bucketBytes = search && alphabet > LINEAR_SEARCH_ALPHABET
    ? 1 << BUCKET_BITS
    : 0;
  const started = bucket + contexts * bucketBytes;
  const frozen = started + contexts;
  return {
    seen,
    untilRebuild,
    interval,
    table,
    bucket,
    bucketBytes,
    started,
    frozen,
    bytes: frozen + contexts,
  };
}

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
 * `rebuild(c)` before the context's next symbol).
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
  /**
   * Decoding search start per 64 slots (see the class notes); empty for an
   * alphabet of at most {@link LINEAR_SEARCH_ALPHABET} and for models made
   * without `search`.
   */
  readonly bucket: Uint8Array;
  /** 1 for a context in use since the last `reset`. */
  readonly started: Uint8Array;
  /** 1 for a context whose table stays uniform (see {@link freeze}). */
  readonly frozen: Uint8Array;
  /** Where the arrays lie in the buffer they share. */
  readonly layout: AdaptiveLayout;
  /** Every whole word of that buffer, for loops that index it by {@link layout}. */
  readonly words: Int32Array;
  /** Every byte of that buffer. */
  readonly bytes: Uint8Array;
  /** Working memory of `rebuild`: the last symbol ending before each bucket. */
  readonly #last = new Uint8Array((1 << BUCKET_BITS) + 1);

  /**
   * Allocates the models; call `reset()` before coding.
   *
   * @param contexts Number of contexts.
   * @param alphabet Symbols per context, `2..256`.
   * @param search Whether a decoder will search the tables for slots (else
   * no bucket table is kept; a search still works, stepping from symbol 0).
   * @throws {RangeError} On an unsupported size.
   */
  constructor(contexts: number, alphabet: number, search = true) {
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
    // One allocation carved into the arrays: models are made per call, and
    // nine buffers cost more than their bytes.
    const layout = adaptiveLayout(contexts, alphabet, search);
    const buffer = new ArrayBuffer(layout.bytes);
    this.layout = layout;
    this.words = new Int32Array(buffer, 0, layout.bytes >> 2);
    this.bytes = new Uint8Array(buffer);
    const uint32 = (at: number, length: number) =>
      new Uint32Array(buffer, 4 * at, length);
    this.counts = uint32(0, contexts * alphabet);
    this.seen = uint32(layout.seen, contexts);
    this.untilRebuild = uint32(layout.untilRebuild, contexts);
    this.interval = uint32(layout.interval, contexts);
    this.table = uint32(layout.table, contexts * (alphabet + 1));
    this.bucket = new Uint8Array(
      buffer,
      layout.bucket,
      contexts * layout.bucketBytes,
    );
    this.started = new Uint8Array(buffer, layout.started, contexts);
    this.frozen = new Uint8Array(buffer, layout.frozen, contexts);
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
    // Counting goes on (harmlessly) but the table is never rebuilt: 2^31 - 1
    // is more symbols than a tensor can have (and a 31-bit count keeps the
    // coders' countdowns on integers: 2^32 - 1 made V8 compare doubles).
    if (this.frozen[context]) this.untilRebuild[context] = 0x7fffffff;
  }

  /**
   * Starts every context, as {@link start} of each does: context 0 is started
   * and the others take a copy of its state (a started context's state does
   * not depend on its number; a frozen one's countdown is set as `start`
   * sets it). For coders that start all their contexts with every block: 82
   * starts took 3 ms in a fresh process.
   *
   * @example The same state as a start of each
   * ```ts
   * import { AdaptiveFrequencies } from "./adaptive_frequencies.ts";
   * import { assertEquals } from "@std/assert";
   *
   * const one = new AdaptiveFrequencies(3, 40), all = new AdaptiveFrequencies(3, 40);
   * one.freeze(2);
   * all.freeze(2);
   * for (const c of [0, 1, 2]) one.start(c);
   * all.startAll();
   * assertEquals(all.bytes, one.bytes);
   * ```
   */
  startAll(): void {
    const a = this.alphabet;
    this.counts.fill(0);
    this.start(0);
    const row = a + 1;
    const bucketBytes = this.layout.bucketBytes;
    for (let c = 1; c < this.contexts; c++) {
      this.table.copyWithin(c * row, 0, row);
      this.bucket.copyWithin(c * bucketBytes, 0, bucketBytes);
      this.seen[c] = this.seen[0];
      this.interval[c] = this.interval[0];
      this.untilRebuild[c] = this.frozen[c] ? 0x7fffffff : this.interval[0];
      this.started[c] = 1;
    }
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
    const scale = TOTAL / weightSum;
    const table = this.table;
    const row = context * (a + 1);
    let sum = 0;
    // The remainder goes to the most frequent symbol seen, the first on ties.
    // Branch-free: a seen symbol's frequency is never below an unseen one's
    // (`floor(scale)`), so the key `2 * frequency + seen` ranks seen symbols
    // first and picks symbol 0 when none was seen.
    let best = 0;
    let bestKey = -1;
    for (let s = 0; s < a; s++) {
      const count = counts[base + s];
      // `| 0` is floor here: the product is positive and below 2^13.
      let frequency = ((OBSERVATION_WEIGHT * count + 1) * scale) | 0;
      frequency += (frequency - 1) >>> 31; // at least 1
      const key = 2 * frequency + (-count >>> 31);
      if (key > bestKey) {
        bestKey = key;
        best = s;
      }
      table[row + s] = frequency;
      sum += frequency;
    }
    table[row + best] += TOTAL - sum;
    // Bucket u starts at the first symbol whose interval ends past slot
    // u * 64: one more than the last symbol that ends at or before it.
    // Without a loop in a loop: each symbol marks the first bucket past its
    // end (ceil(end / 64); a later symbol's mark replaces an earlier one's, the
    // last symbol's, 64, is no bucket's), then a running maximum takes the
    // marks and clears them (measured: rebuilds 12% faster than a fill loop
    // per symbol, whose exits the processor cannot predict). An encoder's
    // marks, never read, are left as they fall.
    const last = this.#last;
    let start = 0;
    for (let s = 0; s < a; s++) {
      const frequency = table[row + s];
      table[row + s] = (start << 16) | frequency;
      start += frequency;
      last[(start + (1 << SLOT_TO_BUCKET) - 1) >>> SLOT_TO_BUCKET] = s + 1;
    }
    table[row + a] = TOTAL << 16;
    const bucket = this.bucket;
    if (bucket.length > 0) {
      const bucketBase = context << BUCKET_LOG;
      let first = 0;
      for (let u = 0; u < 1 << BUCKET_LOG; u++) {
        first = Math.max(first, last[u]);
        last[u] = 0;
        bucket[bucketBase + u] = first;
      }
    }
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
    return symbolInTable(
      this.table,
      this.bucket,
      context,
      context * (this.alphabet + 1),
      slot,
    );
  }
}

/**
 * The symbol whose interval holds `slot` in a context's current table: the
 * decoders' one search, on the arrays of {@link AdaptiveFrequencies} so that hot
 * loops pass them from locals. It starts at the slot's bucket and steps over the
 * few symbols whose intervals end before the slot.
 *
 * @param table `AdaptiveFrequencies.table`.
 * @param bucket `AdaptiveFrequencies.bucket`.
 * @param context A started context.
 * @param row The context's first table entry, `context * (alphabet + 1)`.
 * @param slot `0..4095`.
 * @returns The symbol.
 *
 * @example
 * ```ts
 * import { AdaptiveFrequencies, symbolInTable } from "./adaptive_frequencies.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const models = new AdaptiveFrequencies(1, 4);
 * models.reset();
 * models.start(0); // uniform: 1024 slots a symbol
 * assertEquals(symbolInTable(models.table, models.bucket, 0, 0, 2100), 2);
 * ```
 */
export function symbolInTable(
  table: Uint32Array,
  bucket: Uint8Array,
  context: number,
  row: number,
  slot: number,
): number {
  let s = bucket.length === 0
    ? 0
    : bucket[(context << BUCKET_LOG) + (slot >>> SLOT_TO_BUCKET)];
  while (table[row + s + 1] >>> 16 <= slot) s++;
  return s;
}
