/**
 * Huffman code lengths from symbol counts, optimal under a length limit.
 *
 * Read me first:
 * - Only lengths are computed here; the codes follow from them canonically
 *   (see `canonical_code.ts`), so lengths are all a codebook needs to store.
 * - Unlimited Huffman lengths come from the in-place algorithm of Moffat and
 *   Katajainen ("In-place calculation of minimum-redundancy codes", 1995), O(n)
 *   after sorting. When the longest code fits the limit, that answer is optimal
 *   under the limit too and is returned as it is.
 * - Otherwise package-merge (Larmore and Hirschberg, 1990) finds the optimal
 *   lengths under the limit, in O(n * limit).
 * - A single used symbol gets length 1 (a stream of it costs one bit per symbol,
 *   as in the reference); no used symbol gives all zeros (an empty code).
 *
 * @module
 */

/**
 * The longest code kvbits writes: 15 bits.
 *
 * Why 15: every code then fits 16 bits, so the encoder packs code and length into
 * one table entry and emits any code with one shift; the decoder resolves codes of
 * up to 11 bits with one lookup and the rare longer ones (each rarer than about one
 * symbol in 2^11) in at most four more steps. On ../shared/kv-real the unlimited
 * global codes reach 16 bits and the limit changes the coded size by far less than
 * 0.01%. Reference streams with longer codes (up to 32 bits) are still decoded.
 */
export const HUFFMAN_MAX_CODE_LENGTH = 15;

/** The longest code any reader must accept (FORMAT.md §3). */
export const HUFFMAN_MAX_READ_CODE_LENGTH = 32;

/**
 * Computes Huffman code lengths from symbol counts, optimal among prefix codes whose
 * longest code is at most `maxLength`.
 *
 * @param counts How often each symbol occurs (non-negative integers); the index is
 * the symbol.
 * @param maxLength Longest code allowed, 1..32; {@link HUFFMAN_MAX_CODE_LENGTH} when
 * omitted. `2 ** maxLength` must be at least the number of used symbols.
 * @param scratch Working memory to reuse, when it holds
 * {@link huffmanCodeLengthsScratchBytes} bytes: the result is then a view of
 * it, valid until it is reused.
 * @returns One length per symbol, 0 for symbols that do not occur.
 * @throws {RangeError} When a count is negative or not an integer, or the limit
 * cannot hold the used symbols.
 *
 * @example Skewed counts, with and without a limit
 * ```ts
 * import { huffmanCodeLengths } from "./huffman_code_lengths.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const counts = [1, 1, 2, 4, 8, 16, 0];
 * assertEquals([...huffmanCodeLengths(counts, 32)], [5, 5, 4, 3, 2, 1, 0]);
 * // At most 4 bits: 62 bits become 64, the least any 4-bit-limited code needs.
 * assertEquals([...huffmanCodeLengths(counts, 4)], [4, 4, 4, 4, 2, 1, 0]);
 * ```
 */
export function huffmanCodeLengths(
  counts: ArrayLike<number>,
  maxLength: number = HUFFMAN_MAX_CODE_LENGTH,
  scratch?: ArrayBuffer,
): Uint8Array {
  if (
    !Number.isInteger(maxLength) || maxLength < 1 ||
    maxLength > HUFFMAN_MAX_READ_CODE_LENGTH
  ) {
    throw new RangeError(
      `Cannot build Huffman code lengths: maximum length ${maxLength} is not an integer in 1..32`,
    );
  }
  const alphabetSize = counts.length;
  let usedCount = 0;
  let largest = 0;
  for (let symbol = 0; symbol < alphabetSize; symbol++) {
    const count = counts[symbol];
    if (!Number.isSafeInteger(count) || count < 0) {
      throw new RangeError(
        `Cannot build Huffman code lengths: count ${count} of symbol ${symbol} is not a non-negative integer`,
      );
    }
    if (count > 0) usedCount++;
    if (count > largest) largest = count;
  }
  if (usedCount === 0) {
    return scratch && scratch.byteLength >= alphabetSize
      ? new Uint8Array(scratch, 0, alphabetSize).fill(0)
      : new Uint8Array(alphabetSize);
  }
  if (usedCount > 2 ** maxLength) {
    throw new RangeError(
      `Cannot build Huffman code lengths: ${usedCount} used symbols do not fit codes of at most ${maxLength} bits`,
    );
  }
  // One allocation for the working arrays and the result: allocating a typed
  // array costs about as much as the rest of building a per-dump code.
  const wide = largest >= SYMBOL_SPAN;
  const usedAt = 16 * usedCount + (wide ? 8 : 4) * usedCount;
  const bucketsAt = usedAt + 4 * usedCount;
  const lengthsAt = bucketsAt + 4 * RADIX;
  const memory = scratch && scratch.byteLength >= lengthsAt + alphabetSize
    ? scratch
    : new ArrayBuffer(lengthsAt + alphabetSize);
  const lengths = new Uint8Array(memory, lengthsAt, alphabetSize).fill(0);
  // Ascending by count, then by symbol, so that equal inputs give equal codes.
  const used = usedSymbolsByCount(
    counts,
    usedCount,
    largest,
    wide
      ? new Float64Array(memory, 16 * usedCount, usedCount)
      : new Uint32Array(memory, 16 * usedCount, usedCount),
    new Uint32Array(memory, usedAt, usedCount),
    new Uint32Array(memory, bucketsAt, RADIX),
  );
  if (usedCount === 1) {
    lengths[used[0]] = 1;
    return lengths;
  }
  const weights = new Float64Array(memory, 0, usedCount);
  for (let i = 0; i < usedCount; i++) weights[i] = counts[used[i]];
  let sortedLengths = minimumRedundancyLengths(
    weights,
    new Float64Array(memory, 8 * usedCount, usedCount),
  );
  if (sortedLengths[0] > maxLength) {
    sortedLengths = packageMergeLengths(weights, maxLength);
  }
  for (let i = 0; i < usedCount; i++) lengths[used[i]] = sortedLengths[i];
  return lengths;
}

/**
 * Bytes of working memory that {@link huffmanCodeLengths} takes for an
 * alphabet: enough for any counts.
 *
 * @param alphabetSize Symbols of the alphabet.
 * @returns The bytes.
 *
 * @example
 * ```ts
 * import { huffmanCodeLengths, huffmanCodeLengthsScratchBytes } from "./huffman_code_lengths.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const scratch = new ArrayBuffer(huffmanCodeLengthsScratchBytes(4));
 * const lengths = huffmanCodeLengths([1, 1, 2, 0], 15, scratch);
 * assertEquals([...lengths], [2, 2, 1, 0]);
 * assertEquals(lengths.buffer, scratch);
 * ```
 */
export function huffmanCodeLengthsScratchBytes(alphabetSize: number): number {
  return 29 * alphabetSize + 4 * RADIX;
}

/**
 * The symbols of non-zero count, sorted by (count, symbol). Why not
 * `Array.prototype.sort` with a comparator: per-dump codebooks sort four
 * alphabets per dump, and a comparator call per comparison costs more than the
 * rest of building the code. Instead each symbol becomes one number, `count *
 * 2^16 + symbol` (exact while it stays below 2^53), and a `Float64Array` sorts
 * them natively; when every count is below 2^16 (as in any dump of up to
 * 65,535 elements), a radix sort by count of the symbols taken in order is
 * faster still (no sort call, one or two passes); counts too large for keys
 * (beyond 2^37) take the comparator. `keys` (`usedCount` of them, a
 * `Float64Array` when `largest` is 2^16 or more), `used` and `buckets`
 * (256) are the caller's working memory.
 */
function usedSymbolsByCount(
  counts: ArrayLike<number>,
  usedCount: number,
  largest: number,
  keys: Uint32Array | Float64Array,
  used: Uint32Array,
  buckets: Uint32Array,
): Uint32Array | number[] {
  const alphabetSize = counts.length;
  if (largest >= KEY_LIMIT || alphabetSize > SYMBOL_SPAN) {
    const used: number[] = [];
    for (let symbol = 0; symbol < alphabetSize; symbol++) {
      if (counts[symbol] > 0) used.push(symbol);
    }
    return used.sort((a, b) => counts[a] - counts[b] || a - b);
  }
  if (keys instanceof Float64Array) {
    let next = 0;
    for (let symbol = 0; symbol < alphabetSize; symbol++) {
      const count = counts[symbol];
      if (count > 0) keys[next++] = count * SYMBOL_SPAN + symbol;
    }
    keys.sort();
    for (let i = 0; i < usedCount; i++) used[i] = keys[i] % SYMBOL_SPAN;
    return used;
  }
  // Counts below 2^16: the symbols, taken in ascending order, sorted stably by
  // count a byte at a time (one pass or two), the last pass into `used`.
  const passes = largest < RADIX ? 1 : 2;
  let source = passes === 1 ? keys : used;
  let next = 0;
  for (let symbol = 0; symbol < alphabetSize; symbol++) {
    if (counts[symbol] > 0) source[next++] = symbol;
  }
  for (let shift = 0; shift < 8 * passes; shift += 8) {
    const target = source === used ? keys : used;
    buckets.fill(0);
    for (let i = 0; i < usedCount; i++) {
      buckets[(counts[source[i]] >>> shift) & RADIX_MASK]++;
    }
    let start = 0;
    for (let bucket = 0; bucket < RADIX; bucket++) {
      const size = buckets[bucket];
      buckets[bucket] = start;
      start += size;
    }
    for (let i = 0; i < usedCount; i++) {
      const symbol = source[i];
      target[buckets[(counts[symbol] >>> shift) & RADIX_MASK]++] = symbol;
    }
    source = target;
  }
  return used;
}

/** Buckets of a radix sort pass: a byte of the count. */
const RADIX = 256;
const RADIX_MASK = RADIX - 1;
/** Symbols per count in a sort key: alphabets up to 2^16 symbols. */
const SYMBOL_SPAN = 65536;
/** Counts below this keep `count * 2^16 + symbol` below 2^53, exact. */
const KEY_LIMIT = 2 ** 37;

/**
 * Unlimited Huffman code lengths of ascending weights, by Moffat and Katajainen's
 * in-place method, in `a` (as long as the weights). Returns `a`, the lengths
 * in the order of the weights (so the first, the rarest, has the longest code).
 */
function minimumRedundancyLengths(
  ascendingWeights: Float64Array,
  a: Float64Array,
): Float64Array {
  const n = ascendingWeights.length;
  a.set(ascendingWeights);
  // Phase 1: build the tree in place; a[i] becomes the parent index of node i.
  a[0] += a[1];
  let root = 0;
  let leaf = 2;
  for (let next = 1; next < n - 1; next++) {
    if (leaf >= n || a[root] < a[leaf]) {
      a[next] = a[root];
      a[root++] = next;
    } else {
      a[next] = a[leaf++];
    }
    if (leaf >= n || (root < next && a[root] < a[leaf])) {
      a[next] += a[root];
      a[root++] = next;
    } else {
      a[next] += a[leaf++];
    }
  }
  // Phase 2: depths of the internal nodes.
  a[n - 2] = 0;
  for (let next = n - 3; next >= 0; next--) a[next] = a[a[next]] + 1;
  // Phase 3: depths of the leaves.
  let available = 1;
  let usedAtDepth = 0;
  let depth = 0;
  root = n - 2;
  let next = n - 1;
  while (available > 0) {
    while (root >= 0 && a[root] === depth) {
      usedAtDepth++;
      root--;
    }
    while (available > usedAtDepth) {
      a[next--] = depth;
      available--;
    }
    available = 2 * usedAtDepth;
    depth++;
    usedAtDepth = 0;
  }
  return a;
}

/**
 * Optimal length-limited code lengths of ascending weights by package-merge.
 *
 * Level 0 holds the leaves alone (depth `maxLength`); each next level merges the
 * leaves with the packages (pairs) of the level before. The first `2n - 2` items of
 * the last level are selected; a symbol's length is the number of levels in which
 * it is part of the selection. Because merging keeps the leaves in order, the
 * selected leaves of a level are always a prefix, so one leaf count per level is
 * enough to recover every length.
 */
function packageMergeLengths(
  ascendingWeights: Float64Array,
  maxLength: number,
): Float64Array {
  const n = ascendingWeights.length;
  const keep = 2 * n - 2;
  const leafFlags: Uint8Array[] = [];
  let previous = ascendingWeights.slice(0, Math.min(n, keep));
  leafFlags.push(new Uint8Array(previous.length).fill(1));
  for (let level = 1; level < maxLength; level++) {
    const packages = previous.length >>> 1;
    const size = Math.min(n + packages, keep);
    const merged = new Float64Array(size);
    const flags = new Uint8Array(size);
    let leaf = 0;
    let pack = 0;
    for (let i = 0; i < size; i++) {
      const packWeight = pack < packages
        ? previous[2 * pack] + previous[2 * pack + 1]
        : Infinity;
      if (leaf < n && ascendingWeights[leaf] <= packWeight) {
        merged[i] = ascendingWeights[leaf++];
        flags[i] = 1;
      } else {
        merged[i] = packWeight;
        pack++;
      }
    }
    leafFlags.push(flags);
    previous = merged;
  }
  const lengths = new Float64Array(n);
  let selected = keep;
  for (let level = maxLength - 1; level >= 0 && selected > 0; level--) {
    const flags = leafFlags[level];
    let leaves = 0;
    for (let i = 0; i < selected; i++) leaves += flags[i];
    for (let i = 0; i < leaves; i++) lengths[i]++;
    selected = 2 * (selected - leaves);
  }
  return lengths;
}
