/**
 * The model of predicted coding: how an FP16 tensor is coded as residuals against a
 * predictor tensor of the same shape (the KV cache a cheaper model computes on the
 * same tokens), shared by the encoder and the decoder (`predicted_tensor_coder.ts`).
 *
 * Read me first:
 * - Ordinal space. Each FP16 word maps to a monotone integer `0..65535`
 *   (`orderedFp16`: negative words reversed below `0x8000`, positive words above),
 *   so consecutive integers are neighbouring FP16 values, -0 and +0 are neighbours,
 *   and every one of the 65,536 words (NaN payloads, infinities, subnormals, -0)
 *   has exactly one ordinal. The residual of an element is `target - prediction` in
 *   ordinals, `-65535..65535`; nothing about a word is approximated, so any pair of
 *   tensors round-trips bit for bit.
 * - What the residual looks like (measured on ../shared/kv-real against
 *   ../shared/kv-real-predictors): the error of a cheaper model is an absolute
 *   error, about the same size for small and large values of a channel, so in
 *   ordinals it halves with every step of the predictor's exponent (int8 K: median
 *   |residual| 22 at exponent 12, 3 at exponent 15). The scale of a residual is
 *   therefore `spread / ulp(predictor)`, where `spread` is the channel's running
 *   mean of |error| in absolute units and `ulp` the predictor's FP16 step.
 * - Channel state, per (layer, K or V), carried across the dumps of a block: for
 *   each channel (`kv_heads * head_dim` of them), `bias`, the running mean of the
 *   error `target - predictor` (in values, doubles), and `spread`, the running mean
 *   of `|error - bias|`. Both move 1/16 of the way per token
 *   ({@link PREDICTED_BIAS_RATE}, {@link PREDICTED_SPREAD_RATE}). Elements where
 *   either word is NaN or infinite leave them as they were.
 * - Prediction: the predictor's ordinal shifted by the channel's bias in its own
 *   ulps, `round(bias / ulp)`, clamped to `0..65535`. The bias pays on the deeper
 *   layers of the int8 predictor (mean error up to half its spread there).
 * - Context of the residual symbol ({@link predictedContext}): 0 for a channel
 *   without history (the first row of a slot), 1 for a predictor that is NaN or
 *   infinite, else `2 + pseudoLog4(16 * spread / ulp)`: a quarter-octave scale
 *   index from the integer's leading bit and the two bits below it, 80 steps
 *   (the integer capped below 2^21).
 * - Residual symbol ({@link residualSymbol}): magnitude `m` below 4 is its own
 *   bucket; above, the bucket is the octave of `m` and its two bits below the
 *   leading one (4 buckets per octave), and the `octave - 2` lower bits go raw
 *   (`m < 2^16`, so at most 13). Symbol 0 is `m = 0`; bucket `b >= 1` with sign
 *   gives `2b - 1` (positive) or `2b` (negative): {@link PREDICTED_ALPHABET}
 *   symbols. Any residual is codable: the large buckets are the escape, and their
 *   raw bits are what a residual beyond the model costs.
 * - Determinism: the decoder recomputes every context from words it has already
 *   decoded, with `+ - *` on doubles, `Math.round`, `Math.abs` and integer
 *   operations only (exact powers of two for the ulps), so both sides agree on
 *   every platform.
 *
 * @module
 */

/** Residual symbols: `m = 0`, then 59 buckets of magnitude times two signs. */
export const PREDICTED_ALPHABET = 119;
/** Residual magnitudes below this are buckets of their own. */
const SMALL_MAGNITUDES = 4;
/** Context of a channel without history. */
export const PREDICTED_CONTEXT_NO_HISTORY = 0;
/** Context of an element whose predictor is NaN or infinite. */
export const PREDICTED_CONTEXT_SPECIAL = 1;
/** Scale steps: quarter octaves of `16 * spread / ulp` from 0 to 2^21. */
const SCALE_STEPS = 80;
/** Every context: no history, special, and the scale steps. */
export const PREDICTED_CONTEXTS = 2 + SCALE_STEPS;
/** `16 * spread / ulp` is capped below this: spreads of 2^17 ulps and more share a step. */
const SCALE_CAP = 2 ** 21;
/** The weight of a new token in the channel's running mean error. */
export const PREDICTED_BIAS_RATE = 1 / 32;
/** The weight of a new token in the channel's running mean |error - bias|. */
export const PREDICTED_SPREAD_RATE = 1 / 16;

/**
 * `2^(25 - max(e, 1))` for FP16 exponent `e` (one over the word's ulp), and 0 for
 * exponent 31 (NaN and infinities have no ulp).
 *
 * @returns 32 exact powers of two.
 *
 * @example
 * ```ts
 * import { inverseUlps } from "@kvbits/kvbits";
 * import { assertEquals } from "@std/assert";
 *
 * const inverse = inverseUlps();
 * assertEquals([inverse[0], inverse[1], inverse[15], inverse[31]], [2 ** 24, 2 ** 24, 2 ** 10, 0]);
 * ```
 */
export function inverseUlps(): Float64Array {
  const inverse = new Float64Array(32);
  for (let e = 0; e < 31; e++) inverse[e] = 2 ** (25 - Math.max(e, 1));
  return inverse;
}

/**
 * The value of every FP16 word, exact in single precision.
 *
 * @returns `values[word]` for the 65,536 words (NaN for NaN words).
 *
 * @example
 * ```ts
 * import { fp16Values } from "@kvbits/kvbits";
 * import { assertEquals } from "@std/assert";
 *
 * const values = fp16Values();
 * assertEquals([values[0x3c00], values[0xc000], values[0x0001], values[0x7c00]], [1, -2, 2 ** -24, Infinity]);
 * ```
 */
export function fp16Values(): Float32Array {
  const words = new Uint16Array(65536);
  for (let w = 0; w < 65536; w++) words[w] = w;
  return Float32Array.from(new Float16Array(words.buffer));
}

/**
 * The context of an element with history: `2 + pseudoLog4(floor(16 * spread / ulp))`.
 *
 * @param scaled `spread * inverseUlp` (`>= 0`).
 * @returns A context in `2 .. PREDICTED_CONTEXTS - 1`.
 *
 * @example
 * ```ts
 * import { predictedContext } from "@kvbits/kvbits";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(predictedContext(0), 2);
 * assertEquals(predictedContext(1), 2 + 12); // 16 = 2^4: octave 4, bits 00
 * assertEquals(predictedContext(1e9), 2 + 79);
 * ```
 */
export function predictedContext(scaled: number): number {
  const y = scaled * 16;
  const n = y >= SCALE_CAP ? SCALE_CAP - 1 : y | 0;
  if (n < SMALL_MAGNITUDES) return 2 + n;
  const octave = 31 - Math.clz32(n);
  return 2 + (octave << 2) - 4 + ((n >>> (octave - 2)) & 3);
}

/**
 * The symbol and raw bits of a residual (see the module notes).
 *
 * @param residual `-65535..65535`.
 * @returns `symbol`, `rawBits` (how many) and `raw` (their value).
 *
 * @example
 * ```ts
 * import { residualFromSymbol, residualSymbol } from "@kvbits/kvbits";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(residualSymbol(0), { symbol: 0, rawBits: 0, raw: 0 });
 * assertEquals(residualSymbol(-3), { symbol: 6, rawBits: 0, raw: 0 });
 * assertEquals(residualSymbol(22), { symbol: 21, rawBits: 2, raw: 2 });
 * assertEquals(residualFromSymbol(21, 2), 22);
 * ```
 */
export function residualSymbol(
  residual: number,
): { symbol: number; rawBits: number; raw: number } {
  const m = Math.abs(residual);
  if (m === 0) return { symbol: 0, rawBits: 0, raw: 0 };
  let bucket = m;
  let rawBits = 0;
  if (m >= SMALL_MAGNITUDES) {
    const octave = 31 - Math.clz32(m);
    rawBits = octave - 2;
    bucket = (octave << 2) - 4 + ((m >>> rawBits) & 3);
  }
  return {
    symbol: 2 * bucket - (residual > 0 ? 1 : 0),
    rawBits,
    raw: m & ((1 << rawBits) - 1),
  };
}

/**
 * How many raw bits follow a symbol: `octave - 2` for buckets of 4 and more.
 *
 * @param symbol `0 .. PREDICTED_ALPHABET - 1`.
 * @returns `0..13`.
 *
 * @example
 * ```ts
 * import { rawBitsOfSymbol } from "@kvbits/kvbits";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals([rawBitsOfSymbol(0), rawBitsOfSymbol(7), rawBitsOfSymbol(21)], [0, 0, 2]);
 * ```
 */
export function rawBitsOfSymbol(symbol: number): number {
  const bucket = (symbol + 1) >>> 1;
  return bucket < SMALL_MAGNITUDES ? 0 : (bucket >>> 2) - 1;
}

/**
 * The residual a symbol and its raw bits stand for: the inverse of
 * {@link residualSymbol}.
 *
 * @param symbol `0 .. PREDICTED_ALPHABET - 1`.
 * @param raw The raw bits read after it.
 * @returns The residual.
 *
 * @example
 * ```ts
 * import { residualFromSymbol } from "@kvbits/kvbits";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals([residualFromSymbol(0, 0), residualFromSymbol(1, 0), residualFromSymbol(2, 0)], [0, 1, -1]);
 * ```
 */
export function residualFromSymbol(symbol: number, raw: number): number {
  const bucket = (symbol + 1) >>> 1;
  let m = bucket;
  if (bucket >= SMALL_MAGNITUDES) {
    const rawBits = (bucket >>> 2) - 1;
    m = ((4 | (bucket & 3)) << rawBits) | raw;
  }
  return symbol & 1 ? m : -m;
}

/**
 * The running state of the channels of one slot (a layer's K or V) across the dumps
 * of a block.
 *
 * @example
 * ```ts
 * import { PredictedChannels } from "@kvbits/kvbits";
 * import { assertEquals } from "@std/assert";
 *
 * const channels = new PredictedChannels(128);
 * assertEquals([channels.started, channels.bias.length], [false, 128]);
 * ```
 */
export class PredictedChannels {
  /** Channels per token row. */
  readonly channels: number;
  /** Per channel: running mean of `target - predictor`. */
  readonly bias: Float64Array;
  /** Per channel: running mean of `|target - predictor - bias|`. */
  readonly spread: Float64Array;
  /** True once a row has been coded: the contexts then use the state. */
  started = false;

  /**
   * A state with no history.
   *
   * @param channels Channels per token row.
   */
  constructor(channels: number) {
    this.channels = channels;
    this.bias = new Float64Array(channels);
    this.spread = new Float64Array(channels);
  }
}
