/**
 * The adaptive models a pack block carries from dump to dump: one set per layer,
 * tensor kind (K or V) and row shape, so that a decode step's single token is
 * coded with everything the earlier dumps of its layer taught.
 *
 * Read me first:
 * - A set is a `TensorModels` (`ctx_rows.ts`), what a `ctx` tensor is coded
 *   with: the three models (`hi6`, mantissa top, rotation residual; contexts in
 *   `ctx_model.ts`) and one running state per channel. Nothing is reset
 *   between the dumps of a set: channel averages and counts go on (counts halve at 2^16 per context, so the models
 *   keep adapting over long runs).
 * - Sets are keyed by layer, not by run: the dumps of one layer of another run of
 *   the same model have the same channel statistics (measured on kv-real: keying
 *   by run costs 0.1% more output). A dump without a layer (`-1`) keys by its
 *   group.
 * - At most {@link MAX_MODEL_SETS} sets live at once (about 150 KB each); the
 *   least recently used one is dropped and starts afresh when its key returns.
 *   Encoder and decoder see the same keys in the same order, so they drop the
 *   same sets.
 *
 * @module
 */

import { TensorModels } from "./ctx_rows.ts";

/** Model sets kept at once (LRU): 256, about 40 MB. */
export const MAX_MODEL_SETS = 256;

/**
 * The model sets of a block, least recently used dropped beyond
 * {@link MAX_MODEL_SETS}.
 *
 * @example The same key gives the same set
 * ```ts
 * import { PackModelSets } from "./pack_models.ts";
 * import { assertStrictEquals } from "@std/assert";
 *
 * const sets = new PackModelSets();
 * const a = sets.get("L0", 0, 2, 4);
 * assertStrictEquals(sets.get("L0", 0, 2, 4), a);
 * ```
 */
export class PackModelSets {
  readonly #sets = new Map<string, TensorModels>();
  /**
   * Sets no key holds any more (dropped, or of an earlier block), reset and
   * reused for a new key of their row length: a block allocates no models once
   * the blocks before it had as many of each length.
   */
  readonly #spare: TensorModels[] = [];
  readonly #search: boolean;
  /**
   * The keys made in this block, by owner: a key string is made once, and a
   * string made once keeps its hash (a key built for every dump cost about
   * 1 us).
   */
  readonly #keys = new Map<
    string,
    { kind: number; shape: number; key: string }[]
  >();

  /**
   * No sets yet.
   *
   * @param search Whether the sets will decode (an encoder's keep no search
   * tables).
   */
  constructor(search = true) {
    this.#search = search;
  }

  /**
   * Drops every set (the start of a new block), keeping their memory for the
   * sets made next.
   *
   * @example
   * ```ts
   * import { PackModelSets } from "./pack_models.ts";
   * import { assertEquals } from "@std/assert";
   *
   * const sets = new PackModelSets();
   * const a = sets.get("L0", 0, 2, 4);
   * a.channels.state[0] = 9;
   * sets.clear();
   * const b = sets.get("L0", 0, 2, 4);
   * assertEquals(b.channels.state[0], 0);
   * assertEquals(sets.get("L1", 0, 2, 4) === b, false);
   * ```
   */
  clear(): void {
    for (const set of this.#sets.values()) this.#keep(set);
    this.#sets.clear();
    this.#keys.clear();
  }

  #keep(set: TensorModels): void {
    if (this.#spare.length >= MAX_MODEL_SETS) this.#spare.shift();
    this.#spare.push(set);
  }

  /** A spare set of `rowLength` channels, reset, or a new one. */
  #fresh(rowLength: number): TensorModels {
    const spare = this.#spare;
    for (let i = spare.length - 1; i >= 0; i--) {
      const set = spare[i];
      if (set.channels.length !== rowLength) continue;
      spare.splice(i, 1);
      set.reset();
      return set;
    }
    return new TensorModels(rowLength, this.#search);
  }

  #key(owner: string, kind: number, heads: number, headDim: number): string {
    let keys = this.#keys.get(owner);
    if (keys === undefined) this.#keys.set(owner, keys = []);
    // Shapes are few: heads and headDim as one exact number.
    const shape = heads * 2 ** 31 + headDim;
    for (const made of keys) {
      if (made.kind === kind && made.shape === shape) return made.key;
    }
    const key = `${owner}\u0000${kind}\u0000${heads}x${headDim}`;
    keys.push({ kind, shape, key });
    return key;
  }

  /**
   * The set of a key, made fresh when it is new (or was dropped).
   *
   * @param owner Layer or group key.
   * @param kind 0 for K, 1 for V.
   * @param heads KV heads of the row.
   * @param headDim Channels per head.
   * @returns The set, now the most recently used.
   */
  get(
    owner: string,
    kind: number,
    heads: number,
    headDim: number,
  ): TensorModels {
    const key = this.#key(owner, kind, heads, headDim);
    let set = this.#sets.get(key);
    if (set) {
      this.#sets.delete(key);
    } else {
      set = this.#fresh(heads * headDim);
      if (this.#sets.size >= MAX_MODEL_SETS) {
        const oldest = this.#sets.keys().next().value!;
        this.#keep(this.#sets.get(oldest)!);
        this.#sets.delete(oldest);
      }
    }
    this.#sets.set(key, set);
    return set;
  }
}
