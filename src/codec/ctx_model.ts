/**
 * The context model of the `ctx` codec: which adaptive table codes each symbol of an
 * FP16 tensor `[tokens, kv_heads, head_dim]`.
 *
 * Read me first:
 * - Each FP16 word is three parts: `hi6` (sign and exponent, 6 bits, modelled), the
 *   top 2 mantissa bits (modelled) and the low 8 mantissa bits (stored raw: on
 *   ../shared/kv-real, modelling them gains nothing, and the top 3rd and 4th bits
 *   gain less than their learning costs). The raw part is the word's low byte.
 * - A channel is one `(head, index in head_dim)` pair: `kv_heads * head_dim`
 *   channels per token row. Each channel keeps two running averages over the tokens
 *   coded so far in this tensor, in fixed point:
 *   `meanExponent` (exponent times 256) and `signBias` (+256 for positive, -256 for
 *   negative), both updated as `avg += (new - avg) >> 3` (a window of about 8
 *   tokens). They summarise the channel's scale and sign, which is what a channel
 *   index alone would tell, but shared by all channels of the same scale: a model per
 *   channel index learns too slowly on 128-token dumps (measured: 3.67 bits per hi6
 *   symbol against 3.30 for these contexts on K).
 * - `hi6` context: `1 + 4 * round(meanExponent / 256) + signBucket`, where the sign
 *   bucket splits `signBias` into 4 equal ranges: 129 contexts. Context 0 is "no
 *   history": the first coded row of a tensor, and every row of a single-token dump
 *   (decode dumps carry nothing across dumps, so each decodes on its own).
 * - Mantissa-top context: the exponent's distance from the channel's rounded mean,
 *   `clamp(exponent - round(meanExponent / 256), -3, 3)`, 7 contexts, plus one for
 *   "no history": 8. Within an exponent bin the density of a bell-shaped channel
 *   falls faster the further out in the tail the bin lies, so low mantissas are more
 *   likely above the channel's typical exponent (0.05 bits per element saved on
 *   kv-real; conditioning on the raw `hi6` instead saves less).
 * - Rows predicted by rotation (RoPE K of a repeated token) code, per element, the
 *   distance in FP16 steps between the word and its prediction, in the context of
 *   the predicted exponent / 4 ({@link RESIDUAL_CONTEXTS}); a distance beyond 31
 *   escapes to the usual `hi6` and top coding in the channel's contexts. Predicted
 *   and repeated rows leave the channel averages as they were.
 * - Every constant here was chosen on kv-real by measuring whole-corpus output size
 *   over a small grid (EMA shifts 2..5, 2..7 sign buckets, 1..4 top bits); none is
 *   fitted per dump, and none is far from flat: the neighbours cost < 0.3%.
 *
 * @module
 */

import { orderedFp16, unorderedFp16 } from "./rotary_prediction.ts";

/** Top mantissa bits coded with a model; the low `10 - 2` bits are raw. */
export const TOP_MANTISSA_BITS = 2;
/** Alphabet of the mantissa-top model: 4. */
export const TOP_ALPHABET = 1 << TOP_MANTISSA_BITS;
/** Alphabet of the `hi6` model: 64. */
export const HI6_ALPHABET = 64;
/** Sign buckets of the `hi6` context. */
export const SIGN_BUCKETS = 4;
/** `hi6` contexts: "no history" plus 32 mean exponents times 4 sign buckets. */
export const HI6_CONTEXTS: number = 1 + 32 * SIGN_BUCKETS;
/** Mantissa-top contexts: 7 exponent distances plus "no history". */
export const TOP_CONTEXTS = 8;
/**
 * The mantissa-top context of a channel without history. Its table stays uniform
 * (2 bits a symbol): on the first row of a tensor, and on every single-token decode
 * dump, learning the mild skew of the top bits costs more than it gains (measured
 * on kv-real: +0.05 bits per element on decode dumps when adaptive).
 */
export const TOP_CONTEXT_NO_HISTORY = 7;
/** Right shift of the channel averages: each step moves 1/8 of the way. */
export const CHANNEL_AVERAGE_SHIFT = 3;
/** The mean exponent a channel without history reports (out of any real range). */
export const NO_HISTORY_EXPONENT = 64;
/** Offset of `exponent - meanExponent` into {@link TOP_CONTEXT_OF_DISTANCE}. */
export const DISTANCE_OFFSET = 64;

/**
 * Alphabet of the model of prediction residuals (rows predicted by rotation, see
 * `rotary_prediction.ts`): residual `r` in -31..31 is symbol `r + 32`; symbol 0
 * escapes to coding the element as usual.
 */
export const RESIDUAL_ALPHABET = 64;
/** Largest residual magnitude coded directly. */
export const RESIDUAL_LIMIT = 31;
/** The escape symbol of the residual model. */
export const RESIDUAL_ESCAPE = 0;
/**
 * Residual contexts: the predicted exponent divided by 4. Tiny predicted values miss
 * by more ulps (kv-real: 4.3 bits of residual below exponent 9, 1.0 above 14).
 */
export const RESIDUAL_CONTEXTS = 8;

/**
 * The mantissa-top context of an element: its exponent's distance from its
 * channel's rounded mean exponent, through {@link TOP_CONTEXT_OF_DISTANCE}.
 *
 * @param hi6 The element's `hi6` symbol.
 * @param roundedExponent Its channel's `roundedExponent`.
 * @returns `0..7`.
 *
 * @example
 * ```ts
 * import { NO_HISTORY_EXPONENT, TOP_CONTEXT_NO_HISTORY, topContext } from "./ctx_model.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals([topContext(15, 15), topContext(0x20 | 17, 15), topContext(15, NO_HISTORY_EXPONENT)], [3, 5, TOP_CONTEXT_NO_HISTORY]);
 * ```
 */
export function topContext(hi6: number, roundedExponent: number): number {
  return topContextOfDistance[(hi6 & 31) - roundedExponent + OFFSET];
}

/**
 * The residual symbol of a predicted element: its distance in FP16 steps from
 * the prediction plus 32, or {@link RESIDUAL_ESCAPE} beyond
 * {@link RESIDUAL_LIMIT}.
 *
 * @param word The element.
 * @param predicted Its prediction.
 * @returns `0..63`.
 *
 * @example
 * ```ts
 * import { residualSymbol, residualWord } from "./ctx_model.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(residualSymbol(0x3c01, 0x3c00), 33);
 * assertEquals(residualSymbol(0x0001, 0x8001), 35); // across zero: -2^-24, -0, +0, 2^-24
 * assertEquals(residualSymbol(0x4000, 0x3c00), 0); // escapes
 * assertEquals(residualWord(0x8001, 35), 0x0001);
 * ```
 */
export function residualSymbol(word: number, predicted: number): number {
  const residual = orderedFp16(word) - orderedFp16(predicted);
  return residual >= -LIMIT && residual <= LIMIT ? residual + 32 : ESCAPE;
}

/**
 * The word a residual symbol (not the escape) stands for: the inverse of
 * {@link residualSymbol}.
 *
 * @param predicted The prediction.
 * @param symbol `1..63`.
 * @returns The FP16 word.
 */
export function residualWord(predicted: number, symbol: number): number {
  return unorderedFp16((orderedFp16(predicted) + symbol - 32) & 0xffff);
}

/**
 * The residual context of a predicted element: its predicted exponent / 4.
 *
 * @param predicted The predicted FP16 word.
 * @returns `0..7`.
 *
 * @example
 * ```ts
 * import { residualContext } from "./ctx_model.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals([residualContext(0x3c00), residualContext(0xbc00), residualContext(0x0001)], [3, 3, 0]);
 * ```
 */
export function residualContext(predicted: number): number {
  return ((predicted >>> 10) & 31) >>> 2;
}

/**
 * Mantissa-top context by `exponent - roundedMean + 64`: distances -3..3 (clamped)
 * give 0..6, and distances below -32 (only possible against
 * {@link NO_HISTORY_EXPONENT}) give 7.
 */
export const TOP_CONTEXT_OF_DISTANCE: Uint8Array = (() => {
  const table = new Uint8Array(DISTANCE_OFFSET + 32);
  for (let i = 0; i < table.length; i++) {
    const distance = i - DISTANCE_OFFSET;
    table[i] = distance < -32 ? 7 : Math.max(-3, Math.min(3, distance)) + 3;
  }
  return table;
})();

/** Sign bucket by `signBias + 256` (`0..512`): four equal ranges. */
export const SIGN_BUCKET_OF_BIAS: Uint8Array = (() => {
  const table = new Uint8Array(513);
  for (let v = 0; v <= 512; v++) {
    table[v] = Math.min(SIGN_BUCKETS - 1, (v * SIGN_BUCKETS) >> 9);
  }
  return table;
})();

// Module-local copies that the helpers here read: they run inlined in the
// coders' hot loops, where V8 loads an exported (or imported) binding from its
// module cell, with a hole check, at every use, and folds a local constant
// (measured: see rans.ts).
const topContextOfDistance = TOP_CONTEXT_OF_DISTANCE;
const signBucketOfBias = SIGN_BUCKET_OF_BIAS;
const OFFSET = DISTANCE_OFFSET;
const AVERAGE_SHIFT = CHANNEL_AVERAGE_SHIFT;
const LIMIT = RESIDUAL_LIMIT;
const ESCAPE = RESIDUAL_ESCAPE;

/**
 * The running state of every channel of a tensor while it is coded, and each
 * channel's current contexts.
 *
 * @example A channel learns its scale and sign
 * ```ts
 * import { ChannelStates, updateChannel } from "./ctx_model.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const channels = new ChannelStates(2);
 * assertEquals(channels.hi6Context[0], 0); // no history yet
 * const { meanExponent, signBias, roundedExponent, hi6Context } = channels;
 * updateChannel(meanExponent, signBias, roundedExponent, hi6Context, 0, 0x2f); // negative, exponent 15
 * assertEquals(channels.roundedExponent[0], 15);
 * assertEquals(channels.hi6Context[0], 1 + 4 * 15 + 0);
 * ```
 */
export class ChannelStates {
  /** `meanExponent` of each channel, exponent times 256. */
  readonly meanExponent: Int32Array;
  /** `signBias` of each channel, -256..256. */
  readonly signBias: Int32Array;
  /** Context of the channel's next `hi6` symbol (0: no history). */
  readonly hi6Context: Int32Array;
  /** `round(meanExponent / 256)`, or {@link NO_HISTORY_EXPONENT}. */
  readonly roundedExponent: Int32Array;

  /**
   * Creates the states of `channels` channels, all without history.
   *
   * @param channels Channels per token row, `kv_heads * head_dim`.
   */
  constructor(channels: number) {
    this.meanExponent = new Int32Array(channels);
    this.signBias = new Int32Array(channels);
    this.hi6Context = new Int32Array(channels);
    this.roundedExponent = new Int32Array(channels).fill(NO_HISTORY_EXPONENT);
  }

  /** Forgets every channel's history (start of a tensor). */
  reset(): void {
    this.hi6Context.fill(0);
    this.roundedExponent.fill(NO_HISTORY_EXPONENT);
  }
}

/**
 * Moves channel `channel`'s averages towards a newly coded `hi6` symbol and sets
 * its next contexts: the one update of {@link ChannelStates}, on its arrays so
 * that hot loops (`ctx_rows.ts`) pass them from locals.
 *
 * @param meanExponent `ChannelStates.meanExponent`.
 * @param signBias `ChannelStates.signBias`.
 * @param roundedExponent `ChannelStates.roundedExponent`.
 * @param hi6Context `ChannelStates.hi6Context`.
 * @param channel The channel.
 * @param hi6 The symbol coded, `0..63`.
 * @param context The channel's `hi6` context before this symbol (hot loops have
 * it in a register; read from `hi6Context` when omitted).
 *
 * @example
 * ```ts
 * import { ChannelStates, updateChannel } from "./ctx_model.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const c = new ChannelStates(1);
 * updateChannel(c.meanExponent, c.signBias, c.roundedExponent, c.hi6Context, 0, 15);
 * assertEquals([c.roundedExponent[0], c.hi6Context[0]], [15, 1 + 4 * 15 + 3]);
 * ```
 */
export function updateChannel(
  meanExponent: Int32Array,
  signBias: Int32Array,
  roundedExponent: Int32Array,
  hi6Context: Int32Array,
  channel: number,
  hi6: number,
  context: number = hi6Context[channel],
): void {
  const exponent = hi6 & 31;
  const sign = 256 - ((hi6 >>> 5) << 9);
  let mean = exponent << 8;
  let bias = sign;
  if (context !== 0) {
    mean = meanExponent[channel];
    mean += ((exponent << 8) - mean) >> AVERAGE_SHIFT;
    bias = signBias[channel];
    bias += (sign - bias) >> AVERAGE_SHIFT;
  }
  meanExponent[channel] = mean;
  signBias[channel] = bias;
  const rounded = (mean + 128) >> 8;
  roundedExponent[channel] = rounded;
  hi6Context[channel] = 1 + (rounded << 2) + signBucketOfBias[bias + 256];
}
