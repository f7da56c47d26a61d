/**
 * The row steps of the predicted model (`predicted_tensor_model.ts`):
 * `prepareRow` and `learnRow` give exactly what the element helpers give, row
 * after row, on words of every kind (NaN, infinities, subnormals, -0).
 */

import { assertEquals } from "@std/assert";
import {
  DOUBLE_HIGH_WORD,
  elementContext,
  inverseUlps,
  learnElement,
  PREDICTED_CONTEXT_NO_HISTORY,
  PredictedChannels,
  predictedContext,
  predictedOrdinal,
  spreadContext,
} from "../src/codec/predicted_tensor_model.ts";

/** A small deterministic generator of 16-bit words. */
function words(count: number, seed: number): Uint16Array {
  const out = new Uint16Array(count);
  let x = seed;
  for (let i = 0; i < count; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = x >>> 16;
  }
  return out;
}

Deno.test("predicted channels: prepareRow and learnRow match the element helpers, row after row", () => {
  const channels = 37, rows = 9;
  const inverse = inverseUlps();
  // Every word's value from the engine's own conversion (NaN for NaN words).
  const all = new Uint16Array(65536).map((_, w) => w);
  const values = new Float32Array(new Float16Array(all.buffer));
  const predictor = words(channels * rows, 7);
  // Targets near their predictors (the usual case), and some anywhere.
  const target = predictor.map((p, i) =>
    i % 11 === 0 ? words(1, i)[0] : (p + (i % 7) - 3) & 0xffff
  );
  target[3] = 0x7e00; // NaN
  target[40] = 0xfc00; // -Infinity
  target[41] = 0x8000; // -0
  target[42] = 0x0001; // the smallest subnormal
  const state = new PredictedChannels(channels);
  const bias = new Float64Array(channels), spread = new Float64Array(channels);
  const prepared = new Int32Array(channels);
  for (let row = 0; row < rows; row++) {
    const start = row * channels;
    state.prepareRow(predictor, start, inverse, prepared);
    for (let j = 0; j < channels; j++) {
      const p = predictor[start + j];
      const e = (p >>> 10) & 31;
      assertEquals(
        prepared[j] >>> 16,
        row === 0
          ? PREDICTED_CONTEXT_NO_HISTORY
          : elementContext(e, spread[j] * inverse[e]),
      );
      assertEquals(
        prepared[j] & 0xffff,
        predictedOrdinal(p, bias[j] * inverse[e]),
      );
    }
    state.learnRow(target, predictor, start);
    for (let j = 0; j < channels; j++) {
      const i = start + j;
      learnElement(
        bias,
        spread,
        j,
        values[target[i]] - values[predictor[i]],
        row === 0,
      );
    }
    assertEquals(state.bias, bias);
    assertEquals(state.spread, spread);
    assertEquals(state.started, true);
  }
});

Deno.test("predicted context: the coders' form equals the model's at every scale step and around the cap", () => {
  const scales: number[] = [0, 1e-300, 1e300, Infinity];
  for (let n = 0; n < 2 ** 22; n += n < 4096 ? 1 : (n >>> 9) + 1) {
    scales.push(n / 16, (n + 0.5) / 16, (n + 1) / 16 - 2 ** -40);
  }
  for (const n of [2 ** 21 - 1, 2 ** 21, 2 ** 21 + 1, 2 ** 31, 2 ** 32]) {
    scales.push(n / 16, (n - 0.5) / 16);
  }
  for (const scaled of scales) {
    assertEquals(
      elementContext(15, scaled),
      predictedContext(scaled),
      `${scaled}`,
    );
  }
});

Deno.test("spreadContext: the context from the spread's bits equals elementContext for every exponent, at and around every step", () => {
  const inverse = inverseUlps();
  const spreads: number[] = [
    0,
    2 ** -1074,
    2 ** -1022,
    1e-300,
    1e300,
    2 ** 1023,
  ];
  // Every quarter octave from 2^-60 to 2^40, its edges and its middle.
  for (let k = -60; k <= 40; k++) {
    for (let q = 0; q < 4; q++) {
      const step = 2 ** k * (1 + q / 4);
      spreads.push(step, step * (1 - 2 ** -53), step * (1 + 2 ** -52));
      spreads.push(step * (1 + 1 / 8), step * (1 + 1 / 4 - 2 ** -50));
    }
  }
  const one = new Float64Array(1);
  const words = new Int32Array(one.buffer);
  for (const spread of spreads) {
    one[0] = spread;
    for (let e = 0; e < 32; e++) {
      const expected = elementContext(e, spread * inverse[e]);
      const got = spreadContext(words[DOUBLE_HIGH_WORD], e);
      if (got !== expected) {
        assertEquals([spread, e, got], [spread, e, expected]);
      }
    }
  }
});
