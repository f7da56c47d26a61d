/**
 * The adaptive models a pack block carries from dump to dump: one set per layer,
 * tensor kind (K or V) and row shape, so that a decode step's single token is
 * coded with everything the earlier dumps of its layer taught.
 *
 * Read me first:
 * - A set is the `ctx` codec's three models (`hi6`, mantissa top, rotation
 *   residual; contexts in `ctx_model.ts`) and one running state per channel
 *   (`ChannelStates`). Nothing is reset between the dumps of a set: channel
 *   averages and counts go on (counts halve at 2^16 per context, so the models
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

import { AdaptiveFrequencies } from "./adaptive_frequencies.ts";
import {
  ChannelStates,
  HI6_ALPHABET,
  HI6_CONTEXTS,
  RESIDUAL_ALPHABET,
  RESIDUAL_CONTEXTS,
  TOP_ALPHABET,
  TOP_CONTEXT_NO_HISTORY,
  TOP_CONTEXTS,
} from "./ctx_model.ts";

/** Model sets kept at once (LRU): 256, about 40 MB. */
export const MAX_MODEL_SETS = 256;

/**
 * The models and channel states of one (layer, kind, shape), carried across dumps.
 *
 * @example
 * ```ts
 * import { PackTensorModels } from "./pack_models.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const models = new PackTensorModels(4);
 * assertEquals(models.channels.hi6Context.length, 4);
 * assertEquals(models.hi6.alphabet, 64);
 * ```
 */
export class PackTensorModels {
  /** Sign and exponent, by channel context. */
  readonly hi6: AdaptiveFrequencies;
  /** Top mantissa bits, by exponent distance. */
  readonly top: AdaptiveFrequencies;
  /** Residuals of rows predicted by rotation. */
  readonly residual: AdaptiveFrequencies;
  /** Running state of each channel. */
  readonly channels: ChannelStates;

  /**
   * Fresh models for rows of `rowLength` channels.
   *
   * @param rowLength `kv_heads * head_dim`.
   */
  constructor(rowLength: number) {
    this.hi6 = new AdaptiveFrequencies(HI6_CONTEXTS, HI6_ALPHABET);
    this.top = new AdaptiveFrequencies(TOP_CONTEXTS, TOP_ALPHABET);
    this.top.freeze(TOP_CONTEXT_NO_HISTORY);
    this.residual = new AdaptiveFrequencies(
      RESIDUAL_CONTEXTS,
      RESIDUAL_ALPHABET,
    );
    this.hi6.reset();
    this.top.reset();
    this.residual.reset();
    this.channels = new ChannelStates(rowLength);
  }
}

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
  readonly #sets = new Map<string, PackTensorModels>();

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
  ): PackTensorModels {
    const key = `${owner}\u0000${kind}\u0000${heads}x${headDim}`;
    let set = this.#sets.get(key);
    if (set) {
      this.#sets.delete(key);
    } else {
      set = new PackTensorModels(heads * headDim);
      if (this.#sets.size >= MAX_MODEL_SETS) {
        this.#sets.delete(this.#sets.keys().next().value!);
      }
    }
    this.#sets.set(key, set);
    return set;
  }
}
