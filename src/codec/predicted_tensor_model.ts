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
 * - Channel state, per group (a run's layer) and K or V, carried across the
 *   dumps of a block: for each channel (`kv_heads * head_dim` of them), `bias`,
 *   the running mean of the error `target - predictor` (in values, doubles),
 *   moving 1/32 of the way per token ({@link PREDICTED_BIAS_RATE}), and
 *   `spread`, the running mean of `|error - bias|`, moving 1/16
 *   ({@link PREDICTED_SPREAD_RATE}); a group's first row sets `spread` to its
 *   first error. Elements whose error is not finite (a NaN or an infinity in
 *   either word) leave both as they were.
 * - Row by row, the same for encoder and decoder ({@link PredictedChannels}):
 *   every element's context and prediction from its channel's state and the
 *   predictor, then the row is coded, then the state learns from it. A
 *   channel's state serves only its own element of the next row, so the
 *   decoder knows a row's contexts before it decodes the row. The helpers are
 *   small for the compiler to inline, and avoid what cost both coders half
 *   their time in a first version (`Math.round`, and a ternary per element in
 *   the running means).
 * - Prediction: the predictor's ordinal shifted by the channel's bias in its own
 *   ulps, `floor(bias / ulp + 1/2)` (computed as the int32 truncation of
 *   `bias / ulp + 65536.5`, minus 65536; none for NaN and infinite predictors),
 *   clamped to `0..65535`. The bias pays on the deeper layers of the int8
 *   predictor (mean error up to half its spread there).
 * - Context of the residual symbol ({@link predictedContext}): 0 for a channel
 *   without history (the first row of a slot), 1 for a predictor that is NaN or
 *   infinite, else `2 + pseudoLog4(16 * spread / ulp)`: a quarter-octave scale
 *   index from the integer's leading bit and the two bits below it, 80 steps
 *   (the integer capped below 2^21).
 * - Residual symbol ({@link residualTables}): magnitude `m` below 4 is its own
 *   bucket; above, the bucket is the octave of `m` and its two bits below the
 *   leading one (4 buckets per octave), and the `octave - 2` lower bits go raw
 *   (`m < 2^16`, so at most 13). Symbol 0 is `m = 0`; bucket `b >= 1` with sign
 *   gives `2b - 1` (positive) or `2b` (negative): {@link PREDICTED_ALPHABET}
 *   symbols. Any residual is codable: the large buckets are the escape, and their
 *   raw bits are what a residual beyond the model costs.
 * - Determinism: the decoder recomputes every context from words it has already
 *   decoded, with `+ - *` on doubles, truncation to int32 and integer
 *   operations only (exact powers of two for the ulps), so both sides agree on
 *   every platform.
 *
 * @module
 */

import { fp16FiniteValue } from "./rotary_prediction.ts";

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
export const PREDICTED_CONTEXTS: number = 2 + SCALE_STEPS;
/** `16 * spread / ulp` is capped below this: spreads of 2^17 ulps and more share a step. */
const SCALE_CAP = 2 ** 21;
/** The weight of a new token in the channel's running mean error. */
export const PREDICTED_BIAS_RATE = 1 / 32;
/** The weight of a new token in the channel's running mean |error - bias|. */
export const PREDICTED_SPREAD_RATE = 1 / 16;
// What the helpers of the coders' hot loops read: module-private copies, which
// V8 folds, where it loads an exported binding from its cell at every use
// (DEVELOPERS.md, hot loops).
const CONTEXT_SPECIAL = PREDICTED_CONTEXT_SPECIAL;
const BIAS_RATE = PREDICTED_BIAS_RATE;
const SPREAD_RATE = PREDICTED_SPREAD_RATE;

/**
 * `2^(25 - max(e, 1))` for FP16 exponent `e` (one over the word's ulp), and 0 for
 * exponent 31 (NaN and infinities have no ulp).
 *
 * @returns 32 exact powers of two.
 *
 * @example
 * ```ts
 * import { inverseUlps } from "./predicted_tensor_model.ts";
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
 * The context of an element with history: `2 + pseudoLog4(floor(16 * spread / ulp))`.
 *
 * @param scaled `spread * inverseUlp` (`>= 0`).
 * @returns A context in `2 .. PREDICTED_CONTEXTS - 1`.
 *
 * @example
 * ```ts
 * import { predictedContext } from "./predicted_tensor_model.ts";
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

/** The tables that turn residuals into symbols and raw bits, and back. */
export interface ResidualTables {
  /** `symbolOf[residual + 65535]`: the symbol of each residual `-65535..65535`. */
  readonly symbolOf: Uint8Array;
  /** `rawBits[symbol]`: how many raw bits follow it (`octave - 2`, `0..13`). */
  readonly rawBits: Uint8Array;
  /** `base[symbol]`: the magnitude with raw bits 0 (`m` itself below 4). */
  readonly base: Uint16Array;
}

/**
 * Builds the residual tables (see the module notes): symbol 0 is residual 0;
 * bucket `b >= 1` is symbol `2b - 1` when positive, `2b` when negative; magnitude
 * `m >= 4` falls in bucket `4 * octave - 4 + (the two bits below its leading one)`
 * and leaves its `octave - 2` low bits raw.
 *
 * @returns The tables.
 *
 * @example
 * ```ts
 * import { residualTables } from "./predicted_tensor_model.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const { symbolOf, rawBits, base } = residualTables();
 * assertEquals([symbolOf[65535], symbolOf[65535 + 1], symbolOf[65535 - 1], symbolOf[65535 - 3]], [0, 1, 2, 6]);
 * const s = symbolOf[65535 + 22]; // 22 = 0b10110: octave 4, bits 01, raw 10
 * assertEquals([s, rawBits[s], base[s] | 0b10], [25, 2, 22]);
 * assertEquals(symbolOf[0], 118); // -65535
 * ```
 */
export function residualTables(): ResidualTables {
  const symbolOf = new Uint8Array(2 * 65535 + 1);
  const rawBits = new Uint8Array(PREDICTED_ALPHABET);
  const base = new Uint16Array(PREDICTED_ALPHABET);
  for (let symbol = 0; symbol < PREDICTED_ALPHABET; symbol++) {
    const bucket = (symbol + 1) >>> 1;
    const bits = bucket < SMALL_MAGNITUDES ? 0 : (bucket >>> 2) - 1;
    const first = bucket < SMALL_MAGNITUDES
      ? bucket
      : (4 | (bucket & 3)) << bits;
    rawBits[symbol] = bits;
    base[symbol] = first;
    // The residuals of the symbol: one run of the table either side of 0.
    if (symbol & 1) {
      symbolOf.fill(symbol, 65535 + first, 65535 + first + (1 << bits));
    } else {
      symbolOf.fill(symbol, 65536 - first - (1 << bits), 65536 - first);
    }
  }
  return { symbolOf, rawBits, base };
}

/**
 * The context of an element: {@link PREDICTED_CONTEXT_SPECIAL} for a NaN or
 * infinite predictor, else {@link predictedContext} of `spread * inverseUlp`.
 * (The first row of a slot has no history: its elements take
 * {@link PREDICTED_CONTEXT_NO_HISTORY} instead, whatever this says.)
 *
 * @param exponent The predictor word's exponent field, `0..31`.
 * @param scaled The channel's spread times the predictor's inverse ulp.
 * @returns The context.
 *
 * @example
 * ```ts
 * import { elementContext, predictedContext, PREDICTED_CONTEXT_SPECIAL } from "./predicted_tensor_model.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(elementContext(31, 0), PREDICTED_CONTEXT_SPECIAL);
 * assertEquals(elementContext(15, 3.7), predictedContext(3.7));
 * ```
 */
export function elementContext(exponent: number, scaled: number): number {
  // The definition: the coders' loops take spreadContext, a table lookup
  // tested equal to this.
  return exponent === 31 ? CONTEXT_SPECIAL : predictedContext(scaled);
}

/**
 * Index of {@link spreadContext}'s table for a NaN or infinite predictor: one
 * past every index a spread reaches (the top bits of a finite double, at most
 * 8191, plus at most 116).
 */
const SPECIAL_INDEX = 8308;
/**
 * Per predictor exponent `e`: what {@link spreadContext} adds to the top 14
 * bits of the spread (its exponent field and the two mantissa bits below)
 * to index its table. `16 * spread / ulp` is the spread times
 * `2^(29 - max(e, 1))`, which adds `29 - max(e, 1)` to the exponent: four
 * steps each, and 4 more so that a spread of 0 indexes 0 and up.
 */
const SPREAD_SHIFT = Int32Array.from(
  { length: 32 },
  (_, e) => e === 31 ? SPECIAL_INDEX : 4 * (29 - Math.max(e, 1)) + 4,
);
/**
 * {@link elementContext} by index: index `i` is `y = 16 * spread / ulp` of
 * binary exponent `floor(i / 4) - 1024` and top mantissa bits `i & 3`. A
 * scale step is a quarter octave, so from `y >= 4` (exponent 2) the context
 * is the index less 4098 up to the cap (exponent 21); below 4 it is
 * `2 + floor(y)`: 5 for `[3, 4)`, 4 for `[2, 3)`, 3 for `[1, 2)`, 2 below.
 */
const CONTEXT_OF_INDEX = (() => {
  const table = new Uint8Array(SPECIAL_INDEX + 1);
  const one = 4 * 1024; // y = 1
  table.fill(3, one, one + 4);
  table.fill(4, one + 4, one + 6);
  table.fill(5, one + 6, one + 8);
  for (let i = one + 8; i < one + 84; i++) table[i] = i - one - 2;
  table.fill(2 + SCALE_STEPS - 1, one + 84, SPECIAL_INDEX);
  table.fill(2, 0, one);
  table[SPECIAL_INDEX] = CONTEXT_SPECIAL;
  return table;
})();
/** Which 32-bit word of a double holds its sign and exponent: 1 on little-endian. */
export const DOUBLE_HIGH_WORD: number =
  new Uint8Array(Uint16Array.of(1).buffer)[0];

/**
 * {@link elementContext} from the bits of the spread rather than its
 * arithmetic: a table lookup indexed by the spread's exponent and top two
 * mantissa bits shifted by the predictor's exponent. The spread's steps are
 * quarter octaves, so its top bits say which step it is on (kv-real in
 * memory, best of 30: int8 encode 39.5 -> 37.8 ms, decode 43.8 -> 42.8; bf16
 * 38.2 -> 36.9, 42.5 -> 41.4).
 *
 * @param high The spread's high 32-bit word (sign 0, exponent, mantissa top);
 * the spread is finite and not negative.
 * @param exponent The predictor word's exponent field, `0..31`.
 * @returns `elementContext(exponent, spread * inverseUlps()[exponent])`.
 *
 * @example
 * ```ts
 * import { DOUBLE_HIGH_WORD, elementContext, inverseUlps, spreadContext } from "./predicted_tensor_model.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const spread = new Float64Array([2 ** -10 * 3.7]);
 * const high = new Int32Array(spread.buffer)[DOUBLE_HIGH_WORD];
 * assertEquals(spreadContext(high, 15), elementContext(15, spread[0] * inverseUlps()[15]));
 * assertEquals(spreadContext(high, 31), 1);
 * ```
 */
export function spreadContext(high: number, exponent: number): number {
  return CONTEXT_OF_INDEX[
    Math.min((high >>> 18) + SPREAD_SHIFT[exponent], SPECIAL_INDEX)
  ];
}

/**
 * The predicted ordinal of an element: the predictor's ordinal shifted by the
 * channel's bias in the predictor's ulps, `floor(bias / ulp + 1/2)`, clamped to
 * `0..65535` (no shift for NaN and infinite predictors, whose inverse ulp is 0).
 *
 * @param word The predictor's FP16 word.
 * @param scaledBias The channel's bias times the predictor's inverse ulp.
 * @returns The predicted ordinal.
 *
 * @example
 * ```ts
 * import { predictedOrdinal } from "./predicted_tensor_model.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(predictedOrdinal(0x3c00, 0), 0xbc00);
 * assertEquals(predictedOrdinal(0x3c00, -2.6), 0xbc00 - 3);
 * assertEquals(predictedOrdinal(0xffff, 0), 0);
 * assertEquals(predictedOrdinal(0x7bff, 1e9), 0xffff);
 * ```
 */
export function predictedOrdinal(word: number, scaledBias: number): number {
  // floor(x + 1/2) through a truncation of a positive number (twice as fast as
  // Math.round here). Below -65536 (a bias of more than the whole FP16 range)
  // the truncation is not a floor, but it is still a fixed function of the
  // state and the clamp keeps it in range. The ordinal is `word ^ 0x8000` or
  // `word ^ 0xffff` by its sign, without a branch: signs alternate at random,
  // and a branch on them cost both coders a tenth of their time.
  const prediction = (word ^ (0x8000 | (-(word >>> 15) & 0x7fff))) +
    ((scaledBias + 65536.5) | 0) - 65536;
  return prediction < 0 ? 0 : prediction > 0xffff ? 0xffff : prediction;
}

/**
 * Learns from one coded element: moves its channel's bias and spread towards
 * the element's error (a NaN or infinite error is skipped). A slot's first row
 * sets the spread to its first error instead.
 *
 * @param bias The slot's biases ({@link PredictedChannels.bias}).
 * @param spread The slot's spreads.
 * @param j The channel.
 * @param error `value(target) - value(predictor)`.
 * @param first Whether this is the slot's first row.
 *
 * @example
 * ```ts
 * import { learnElement } from "./predicted_tensor_model.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const bias = new Float64Array(1), spread = new Float64Array(1);
 * learnElement(bias, spread, 0, 0.5, true);
 * assertEquals([bias[0], spread[0]], [0.5 / 32, 0.5]);
 * learnElement(bias, spread, 0, NaN, false);
 * assertEquals([bias[0], spread[0]], [0.5 / 32, 0.5]);
 * ```
 */
export function learnElement(
  bias: Float64Array,
  spread: Float64Array,
  j: number,
  error: number,
  first: boolean,
): void {
  if (error - error !== 0) return;
  const b = bias[j];
  const off = error - b;
  const s = spread[j];
  spread[j] = first ? Math.abs(off) : s + (Math.abs(off) - s) * SPREAD_RATE;
  bias[j] = b + off * BIAS_RATE;
}

/**
 * The running state of the channels of one slot (a layer's K or V) across the
 * tensors of a block. A coder takes a tensor row by row: it prepares the row
 * ({@link PredictedChannels.prepareRow}: each element's context and
 * prediction from its channel's state and the predictor), codes its elements,
 * then learns from them ({@link PredictedChannels.learnRow}). A channel's
 * state serves only its own element of the next row, so the row's contexts
 * can all be known before its first element is decoded: in the decoder's
 * loop they were the slowest step of each element's chain, from the state
 * to the symbol (kv-real with int8, in memory, best of 12: decode 57.5 ->
 * 47.5 ms with the row prepared first and learned after).
 *
 * @example One row: prepared, coded, learned
 * ```ts
 * import { inverseUlps, PredictedChannels } from "./predicted_tensor_model.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const inverse = inverseUlps();
 * const channels = new PredictedChannels(1);
 * const row = new Int32Array(1);
 * const predictor = Uint16Array.of(0x3c00, 0x3c00); // 1, twice
 * const target = Uint16Array.of(0x3c01, 0x3c00); // 1 + 2^-10, then 1
 * channels.prepareRow(predictor, 0, inverse, row);
 * assertEquals([row[0] >>> 16, row[0] & 0xffff], [0, 0xbc00]); // no history
 * channels.learnRow(target, predictor, 0);
 * assertEquals(channels.spread[0], 2 ** -10); // one ulp of 1
 * channels.prepareRow(predictor, 1, inverse, row);
 * assertEquals(row[0] >>> 16, 2 + 12);
 * ```
 */
export class PredictedChannels {
  /** Channels per token row. */
  readonly channels: number;
  /** Per channel: running mean of `target - predictor`. */
  readonly bias: Float64Array;
  /** Per channel: running mean of `|target - predictor - bias|`. */
  readonly spread: Float64Array;
  /** The 32-bit words of {@link spread} (see {@link spreadContext}). */
  readonly spreadWords: Int32Array;
  /** True once a row has been learned: the contexts then use the state. */
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
    this.spreadWords = new Int32Array(this.spread.buffer);
  }

  /**
   * The context ({@link elementContext}, or
   * {@link PREDICTED_CONTEXT_NO_HISTORY} before the first row is learned) and
   * the predicted ordinal ({@link predictedOrdinal}) of each element of a
   * row, in one word: `context << 16 | ordinal`. One array rather than two
   * takes a load and an array's base and length off the decoder's loop, which
   * holds more than the processor has registers for (kv-real with int8, in
   * memory, best of 40: decode 46.1 -> 44.2 ms, encode 42.2 -> 40.3, with the
   * coders' other arrays merged likewise).
   *
   * @param predictor The predictor's words.
   * @param start The row's first element in them.
   * @param inverse {@link inverseUlps}.
   * @param row Receives the row's words (`channels` of them).
   */
  prepareRow(
    predictor: Uint16Array,
    start: number,
    inverse: Float64Array,
    row: Int32Array,
  ): void {
    const { bias, spreadWords, channels } = this;
    const first = !this.started;
    for (let j = 0, i = start; j < channels; j++, i++) {
      const p = predictor[i];
      const e = (p >>> 10) & 31;
      const high = spreadWords[2 * j + HIGH];
      row[j] = ((first ? NO_HISTORY : contextOf(high, e)) << 16) |
        ordinalOf(p, bias[j] * inverse[e]);
    }
  }

  /**
   * Learns from a coded row ({@link learnElement} for each element); the
   * state then has history.
   *
   * @param target The coded (or decoded) words.
   * @param predictor The predictor's words.
   * @param start The row's first element in both.
   */
  learnRow(target: Uint16Array, predictor: Uint16Array, start: number): void {
    const { bias, spread, channels } = this;
    const first = !this.started;
    for (let j = 0, i = start; j < channels; j++, i++) {
      learn(bias, spread, j, valueOf(target[i]) - valueOf(predictor[i]), first);
    }
    this.started = true;
  }
}

// What the row loops call: module-private copies (see the constants above).
const NO_HISTORY = PREDICTED_CONTEXT_NO_HISTORY;
const contextOf = spreadContext;
const HIGH = DOUBLE_HIGH_WORD;
const ordinalOf = predictedOrdinal;
const learn = learnElement;
const valueOf = fp16FiniteValue;
