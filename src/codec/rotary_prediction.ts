/**
 * Predicting a K row of a RoPE model from an earlier K row of the same token, with
 * arithmetic that gives the same bits on every JavaScript engine.
 *
 * Read me first:
 * - In a RoPE model the layer-0 K of a token is a rotation of a vector that depends
 *   on the token alone: `K_t = R(t) k`. When the same token sits at positions `s`
 *   and `t` (its V rows are then equal, see `row_repeats.ts`), `K_t = R(t - s) K_s`:
 *   each pair of channels of each head turns by `(t - s) * f_i` with
 *   `f_i = base^(-2i / head_dim)`. Rounding K_s to FP16 leaves the prediction within
 *   an ulp or two of K_t (measured on ../shared/kv-real: 69% exact, 96% within one
 *   ulp), which codes in about 1.4 bits instead of 13.
 * - Pairings: "half" pairs channel `i` with `i + head_dim/2` (Llama and GPT-NeoX as
 *   implemented in Hugging Face transformers); "interleaved" pairs `2i` with `2i+1`
 *   (the original RoPE, GPT-J). Only the distance `t - s` enters, so absolute
 *   positions never need to be known.
 * - Encoder and decoder must compute identical predictions, so nothing here uses
 *   `Math.sin`, `Math.cos`, `Math.exp`, `Math.log` or `Math.pow`, whose results the
 *   language leaves to each engine. Everything is built from `+ - * /`,
 *   `Math.floor`/`Math.round` and exact scaling by powers of two, which IEEE 754 and
 *   ECMAScript fix to the bit (JavaScript never fuses a multiply and an add).
 *   Accuracy only matters for compression: these series are good to about 1e-11,
 *   ten million times finer than an FP16 ulp.
 * - A prediction is rounded to FP16 (round to nearest, ties to even), and the coder
 *   codes the difference of the two words in {@link orderedFp16} order, where
 *   consecutive integers are neighbouring FP16 values.
 *
 * @module
 */

/** How a head's channels form rotation pairs. */
export const ROTARY_PAIRING = {
  /** Channel `i` with `i + head_dim / 2`. */
  half: 1,
  /** Channel `2i` with `2i + 1`. */
  interleaved: 2,
} as const;

/** Code of a rotary pairing in the `ctx` payload: 1 (half) or 2 (interleaved). */
export type RotaryPairing = typeof ROTARY_PAIRING[keyof typeof ROTARY_PAIRING];

/**
 * The RoPE bases the encoder tries: 10,000 (the original RoPE, Llama 1 and 2,
 * GPT-NeoX, Mistral), 500,000 (Llama 3) and 1,000,000 (Code Llama, Qwen 2).
 */
export const ROTARY_BASES: readonly number[] = [10000, 500000, 1000000];

const LN2 = 0.6931471805599453;
const TWO_PI_HIGH = 6.283185307179586;
const TWO_PI_LOW = 2.4492935982947064e-16;

/** `2^k` for integer `k`, by exact doubling or halving. */
function powerOfTwo(k: number): number {
  let value = 1;
  for (; k > 0; k--) value *= 2;
  for (; k < 0; k++) value /= 2;
  return value;
}

/** Natural logarithm of `x > 0`, from `+ - * /` only. */
function naturalLog(x: number): number {
  let k = 0;
  while (x >= 2) {
    x /= 2;
    k++;
  }
  while (x < 1) {
    x *= 2;
    k--;
  }
  // ln(x) = 2 atanh(z), z = (x - 1) / (x + 1) <= 1/3.
  const z = (x - 1) / (x + 1);
  const z2 = z * z;
  let term = z;
  let sum = 0;
  for (let n = 1; n < 60; n += 2) {
    sum += term / n;
    term *= z2;
  }
  return k * LN2 + 2 * sum;
}

/** `e^y`, from `+ - * /` only. */
function exponential(y: number): number {
  const k = Math.round(y / LN2);
  const r = y - k * LN2;
  let term = 1;
  let sum = 1;
  for (let n = 1; n < 24; n++) {
    term *= r / n;
    sum += term;
  }
  return sum * powerOfTwo(k);
}

/**
 * The rotation frequency of each channel pair: `base^(-2i / head_dim)`, computed
 * the same on every engine.
 *
 * @param headDim Channels per head, even.
 * @param base The RoPE base (theta), above 1.
 * @returns `head_dim / 2` frequencies.
 * @throws {RangeError} On an odd `head_dim` or a base not above 1.
 *
 * @example
 * ```ts
 * import { rotaryFrequencies } from "./rotary_prediction.ts";
 * import { assertAlmostEquals, assertEquals } from "@std/assert";
 *
 * const f = rotaryFrequencies(64, 10000);
 * assertEquals(f[0], 1);
 * assertAlmostEquals(f[16], 0.01, 1e-12);
 * ```
 */
export function rotaryFrequencies(headDim: number, base: number): Float64Array {
  if (!Number.isInteger(headDim) || headDim < 2 || headDim % 2 !== 0) {
    throw new RangeError(
      `Cannot rotate heads of ${headDim} channels: an even number is needed`,
    );
  }
  if (!(base > 1) || !Number.isFinite(base)) {
    throw new RangeError(`Cannot use a RoPE base of ${base}: it must exceed 1`);
  }
  const half = headDim / 2;
  const frequencies = new Float64Array(half);
  const logBase = naturalLog(base);
  for (let i = 0; i < half; i++) {
    frequencies[i] = i === 0 ? 1 : exponential(-(2 * i / headDim) * logBase);
  }
  return frequencies;
}

/**
 * Cosine and sine of `distance * frequency` for every pair, the same on every
 * engine.
 *
 * @param distance Rows between the predicted row and its source, `t - s`.
 * @param frequencies From {@link rotaryFrequencies}.
 * @param cos Receives the cosines (length of `frequencies`).
 * @param sin Receives the sines.
 *
 * @example
 * ```ts
 * import { rotaryAngles } from "./rotary_prediction.ts";
 * import { assertAlmostEquals } from "@std/assert";
 *
 * const cos = new Float64Array(1), sin = new Float64Array(1);
 * rotaryAngles(3, Float64Array.of(0.5), cos, sin);
 * assertAlmostEquals(cos[0], Math.cos(1.5), 1e-12);
 * assertAlmostEquals(sin[0], Math.sin(1.5), 1e-12);
 * ```
 */
export function rotaryAngles(
  distance: number,
  frequencies: Float64Array,
  cos: Float64Array,
  sin: Float64Array,
): void {
  for (let i = 0; i < frequencies.length; i++) {
    const angle = distance * frequencies[i];
    const k = Math.round(angle / TWO_PI_HIGH);
    const r = (angle - k * TWO_PI_HIGH) - k * TWO_PI_LOW;
    const r2 = r * r;
    // Taylor series on [-pi, pi]: 12 terms each, the last below 2e-12.
    let c = 0;
    let s = 0;
    let cosTerm = 1;
    let sinTerm = r;
    for (let n = 0; n < 12; n++) {
      c += cosTerm;
      s += sinTerm;
      cosTerm *= -r2 / ((2 * n + 1) * (2 * n + 2));
      sinTerm *= -r2 / ((2 * n + 2) * (2 * n + 3));
    }
    cos[i] = c;
    sin[i] = s;
  }
}

/**
 * By an FP16 word's top six bits (sign and exponent `e`): `2^(max(e, 1) - 25)`
 * with the word's sign, an infinity for exponent 31. A word's value is this
 * times its 10 mantissa bits plus {@link IMPLICIT_VALUES} ({@link fp16FiniteValue}).
 */
const VALUE_SCALES = Float64Array.from(
  { length: 64 },
  (_, high) =>
    (high & 32 ? -1 : 1) *
    ((high & 31) === 31 ? Infinity : powerOfTwo(Math.max(high & 31, 1) - 25)),
);

/**
 * The implicit bit's value by the same six bits: 1024 times the scale, and a
 * zero of the word's sign for subnormals (so that -0 stays -0).
 */
const IMPLICIT_VALUES = VALUE_SCALES.map((scale, high) =>
  (high & 31) === 0 ? (high & 32 ? -0 : 0) : 1024 * scale
);

/**
 * The value of a finite FP16 word as a double, exactly: a multiplication and
 * an addition of exact powers of two. For a word of exponent 31 the result is
 * not finite (an infinity, or NaN for mantissa 0); {@link fp16Value} tells
 * those apart. For loops that only ask whether a difference of values is
 * finite: the predicted coders learn from every element's value, and
 * `fp16Value`'s branch for exponent 31 there cost them, kv-real with int8 in
 * memory, best of 15: encode 37.3 -> 42.3 ms, decode 42.1 -> 46.5.
 *
 * @param word An FP16 word.
 * @returns Its value when finite, else something not finite.
 *
 * @example
 * ```ts
 * import { fp16FiniteValue } from "./rotary_prediction.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals([fp16FiniteValue(0x3c00), fp16FiniteValue(0xc000), fp16FiniteValue(0x0001)], [1, -2, 2 ** -24]);
 * assertEquals(Object.is(fp16FiniteValue(0x8000), -0), true);
 * assertEquals([0x7c00, 0x7c01, 0xfe00].some((word) => Number.isFinite(fp16FiniteValue(word))), false);
 * ```
 */
export function fp16FiniteValue(word: number): number {
  const high = word >>> 10;
  return VALUE_SCALES[high] * (word & 0x3ff) + IMPLICIT_VALUES[high];
}

/**
 * The value of an FP16 bit pattern as a double, exactly
 * ({@link fp16FiniteValue}, and for exponent 31 an infinity or NaN by the
 * mantissa: a branch that finite words never take).
 *
 * @param word An FP16 word.
 * @returns Its value; NaN patterns give NaN.
 *
 * @example
 * ```ts
 * import { fp16Value } from "./rotary_prediction.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals([fp16Value(0x3c00), fp16Value(0xc100), fp16Value(0x0001), fp16Value(0xfc00)], [1, -2.5, 2 ** -24, -Infinity]);
 * assertEquals([Object.is(fp16Value(0x8000), -0), Number.isNaN(fp16Value(0x7e00))], [true, true]);
 * ```
 */
export function fp16Value(word: number): number {
  const value = fp16FiniteValue(word);
  if (value - value === 0) return value;
  return (word & 0x3ff) !== 0 ? NaN : word & 0x8000 ? -Infinity : Infinity;
}

/** `2^(10 - e)` for the normal FP16 exponents `e = -14..15`, at index `e + 14`. */
const MANTISSA_SCALES: Float64Array = Float64Array.from(
  { length: 30 },
  (_, i) => 1024 / powerOfTwo(i - 14),
);

/**
 * `q` rounded to an integer, ties to even, for `0 <= q < 2^51`: adding 2^52
 * leaves no fraction bits, so the addition itself rounds (to nearest, ties to
 * even, as every IEEE 754 double operation), and subtracting 2^52 is exact.
 * (A floor and a comparison of the fraction cost twice as much here.)
 */
function roundHalfEven(q: number): number {
  return q + TWO_52 - TWO_52;
}

/** 2^52: doubles from here on are integers. */
const TWO_52 = 4503599627370496;

/**
 * Rounds a double to the nearest FP16 value, ties to even (as `Math.f16round`), and
 * returns its bit pattern.
 *
 * @param x Any number.
 * @returns The FP16 word: NaN gives `0x7e00`, overflow gives infinity.
 *
 * @example
 * ```ts
 * import { fp16Bits } from "./rotary_prediction.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals([fp16Bits(1), fp16Bits(-2.5), fp16Bits(65520), fp16Bits(2 ** -25)], [0x3c00, 0xc100, 0x7c00, 0]);
 * ```
 */
export function fp16Bits(x: number): number {
  if (x !== x) return 0x7e00;
  // Without branches on the sign or the size, which fall at random here.
  let sign = x < 0 ? 0x8000 : 0;
  if (x === 0 && 1 / x < 0) sign = 0x8000;
  const a = Math.abs(x);
  if (a >= 65520) return sign | 0x7c00;
  if (a < 6.103515625e-5) {
    // Subnormal (or zero): multiples of 2^-24; 1024 of them is the smallest normal.
    return sign | roundHalfEven(a * 16777216);
  }
  // The FP16 exponent is floor(log2(a)), exactly: the top bit of
  // floor(a * 2^14) (an exact scaling into 1..2^30, which clz32 truncates)
  // less 14.
  const exponent = 17 - Math.clz32(a * 16384);
  // a / 2^exponent * 1024, exactly, by a multiplication.
  const mantissa = roundHalfEven(a * MANTISSA_SCALES[exponent + 14]);
  // A mantissa rounded up to 2048 carries into the exponent by itself.
  return sign | (((exponent + 15) << 10) + (mantissa - 1024));
}

/**
 * Maps an FP16 word to an integer that orders like its value: negative values
 * below positive ones, `-0` just below `+0`, neighbouring values one apart.
 *
 * @param word An FP16 word.
 * @returns `0..65535`.
 *
 * @example
 * ```ts
 * import { orderedFp16, unorderedFp16 } from "./rotary_prediction.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals([orderedFp16(0x8000), orderedFp16(0x0000), orderedFp16(0x0001)], [0x7fff, 0x8000, 0x8001]);
 * assertEquals(unorderedFp16(orderedFp16(0xbc00)), 0xbc00);
 * ```
 */
export function orderedFp16(word: number): number {
  return word & 0x8000 ? 0xffff - word : word + 0x8000;
}

/**
 * The inverse of {@link orderedFp16}.
 *
 * @param ordered `0..65535`.
 * @returns The FP16 word.
 *
 * @example
 * ```ts
 * import { unorderedFp16 } from "./rotary_prediction.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(unorderedFp16(0x7fff), 0x8000);
 * ```
 */
export function unorderedFp16(ordered: number): number {
  return ordered >= 0x8000 ? ordered - 0x8000 : 0xffff - ordered;
}

/**
 * Predicts one token row (`heads * headDim` words) by rotating an earlier row.
 *
 * @param words The tensor holding the source row.
 * @param sourceStart Index of the source row's first word.
 * @param heads Heads per row.
 * @param headDim Channels per head, even.
 * @param pairing How channels pair ({@link ROTARY_PAIRING}).
 * @param cos Cosines from {@link rotaryAngles} for the row distance.
 * @param sin Sines from {@link rotaryAngles}.
 * @param out Receives the predicted FP16 words (`heads * headDim`).
 *
 * @example Rotating by a quarter turn
 * ```ts
 * import { fp16Bits, predictRotatedRow, ROTARY_PAIRING } from "./rotary_prediction.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const row = Uint16Array.from([fp16Bits(1), fp16Bits(0)]);
 * const out = new Uint16Array(2);
 * predictRotatedRow(row, 0, 1, 2, ROTARY_PAIRING.half, Float64Array.of(0), Float64Array.of(1), out);
 * assertEquals([...out], [0, fp16Bits(1)]);
 * ```
 */
export function predictRotatedRow(
  words: Uint16Array,
  sourceStart: number,
  heads: number,
  headDim: number,
  pairing: RotaryPairing,
  cos: Float64Array,
  sin: Float64Array,
  out: Uint16Array,
): void {
  const half = headDim / 2;
  // Channel i pairs with i + half (half) or 2i with 2i + 1 (interleaved).
  const interleaved = pairing === ROTARY_PAIRING.half ? 0 : 1;
  const step = 1 + interleaved, partner = interleaved === 1 ? 1 : half;
  for (let h = 0; h < heads; h++) {
    const base = h * headDim;
    for (let i = 0; i < half; i++) {
      const a = base + step * i;
      const b = a + partner;
      const x = fp16Value(words[sourceStart + a]);
      const y = fp16Value(words[sourceStart + b]);
      out[a] = fp16Bits(x * cos[i] - y * sin[i]);
      out[b] = fp16Bits(y * cos[i] + x * sin[i]);
    }
  }
}
