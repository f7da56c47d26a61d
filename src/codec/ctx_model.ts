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
 * channel's rounded mean exponent, through {@link TOP_CONTEXT_OF_HI6}.
 *
 * @param hi6 The element's `hi6` symbol.
 * @param context Its channel's `hi6` context ({@link channelContext}).
 * @returns `0..7`.
 *
 * @example
 * ```ts
 * import { TOP_CONTEXT_NO_HISTORY, topContext } from "./ctx_model.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const context = 1 + 4 * 15; // rounded mean exponent 15
 * assertEquals([topContext(15, context), topContext(0x20 | 17, context), topContext(15, 0)], [3, 5, TOP_CONTEXT_NO_HISTORY]);
 * ```
 */
export function topContext(hi6: number, context: number): number {
  return topContextOfHi6[(context << 5) | (hi6 & 31)];
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
 * Mantissa-top context by `hi6` context times 32 plus exponent: the distance
 * `exponent - round(meanExponent / 256)` clamped to -3..3 gives 0..6 (the
 * rounded mean is `(context - 1) >> 2`), and context 0 (no history) gives
 * {@link TOP_CONTEXT_NO_HISTORY}.
 */
export const TOP_CONTEXT_OF_HI6: Uint8Array = (() => {
  const table = new Uint8Array(HI6_CONTEXTS << 5);
  for (let i = 0; i < table.length; i++) {
    const context = i >> 5;
    const distance = (i & 31) - ((context - 1) >> 2);
    table[i] = context === 0
      ? TOP_CONTEXT_NO_HISTORY
      : Math.max(-3, Math.min(3, distance)) + 3;
  }
  return table;
})();

// Module-local copies that the helpers here read: they run inlined in the
// coders' hot loops, where V8 loads an exported (or imported) binding from its
// module cell, with a hole check, at every use, and folds a local constant
// (measured: see rans.ts).
const topContextOfHi6 = TOP_CONTEXT_OF_HI6;
const AVERAGE_SHIFT = CHANNEL_AVERAGE_SHIFT;
const BUCKETS = SIGN_BUCKETS;
const CONTEXT_SHIFT = 23;
const BIAS_SHIFT = 13;
const BIAS_MASK = 0x3ff;
const MEAN_MASK = 0x1fff;
/** The smallest state word with history (context 1). */
const HISTORY = 1 << CONTEXT_SHIFT;
const LIMIT = RESIDUAL_LIMIT;
const ESCAPE = RESIDUAL_ESCAPE;

/**
 * The running state of every channel of a tensor while it is coded: one word
 * per channel, `hi6Context << 23 | (signBias + 256) << 13 | meanExponent`
 * (context 0..128, bias -256..256, mean 0..7936: 31 bits). A coder's hot loop
 * loads and stores one word per element, where four arrays (mean, bias,
 * rounded mean, context) cost 4 loads and 4 stores (measured on kv-real, the
 * row loops alone: 15% faster recording, 12% faster decoding).
 *
 * @example A channel learns its scale and sign
 * ```ts
 * import { ChannelStates, channelContext, nextChannelState } from "./ctx_model.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const channels = new ChannelStates(2);
 * assertEquals(channelContext(channels.state[0]), 0); // no history yet
 * channels.state[0] = nextChannelState(channels.state[0], 0x2f); // negative, exponent 15
 * assertEquals(channelContext(channels.state[0]), 1 + 4 * 15 + 0);
 * ```
 */
export class ChannelStates {
  /** Each channel's state word (see the class notes); 0 is "no history". */
  readonly state: Int32Array;

  /**
   * Creates the states of `channels` channels, all without history.
   *
   * @param channels Channels per token row, `kv_heads * head_dim`.
   */
  constructor(channels: number) {
    this.state = new Int32Array(channels);
  }

  /** Channels per token row. */
  get length(): number {
    return this.state.length;
  }

  /** Forgets every channel's history (start of a tensor). */
  reset(): void {
    this.state.fill(0);
  }
}

/**
 * The `hi6` context of a channel's state word (0: no history).
 *
 * @param state A word of {@link ChannelStates.state}.
 * @returns `0..128`.
 *
 * @example
 * ```ts
 * import { channelContext, nextChannelState } from "./ctx_model.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(channelContext(nextChannelState(0, 15)), 1 + 4 * 15 + 3);
 * ```
 */
export function channelContext(state: number): number {
  return state >>> CONTEXT_SHIFT;
}

/**
 * A channel's state after a newly coded `hi6` symbol: its averages moved
 * towards the symbol (set to it when the channel had no history), and its next
 * context. The one update of {@link ChannelStates}, on a word so that hot loops
 * (`ctx_rows.ts`) keep it in a register.
 *
 * @param state The channel's state word.
 * @param hi6 The symbol coded, `0..63`.
 * @returns The new state word.
 *
 * @example
 * ```ts
 * import { channelContext, nextChannelState } from "./ctx_model.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const once = nextChannelState(0, 15); // positive, exponent 15
 * assertEquals(channelContext(once), 1 + 4 * 15 + 3);
 * assertEquals(channelContext(nextChannelState(once, 0x20 | 15)), 1 + 4 * 15 + 3); // bias 256 - 64
 * ```
 */
export function nextChannelState(state: number, hi6: number): number {
  // The bias is kept plus 256 (0..512), which moves the same way.
  let mean = (hi6 & 31) << 8;
  let bias = 512 - ((hi6 >>> 5) << 9);
  if (state >= HISTORY) {
    const oldMean = state & MEAN_MASK;
    mean = oldMean + ((mean - oldMean) >> AVERAGE_SHIFT);
    const oldBias = (state >>> BIAS_SHIFT) & BIAS_MASK;
    bias = oldBias + ((bias - oldBias) >> AVERAGE_SHIFT);
  }
  const rounded = (mean + 128) >> 8;
  // The sign bucket: bias (plus 256) in equal ranges, 512 in the last.
  const bucket = Math.min(BUCKETS - 1, (bias * BUCKETS) >> 9);
  const context = 1 + rounded * BUCKETS + bucket;
  return (context << CONTEXT_SHIFT) | (bias << BIAS_SHIFT) | mean;
}
