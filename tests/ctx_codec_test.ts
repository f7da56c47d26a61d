/**
 * The `ctx` codec layer: rANS, adaptive tables, rotary prediction, and payloads of
 * edge-case and corrupt tensors.
 */

import {
  assert,
  assertEquals,
  assertGreater,
  assertInstanceOf,
  assertThrows,
} from "@std/assert";
import { AdaptiveFrequencies } from "../src/codec/adaptive_frequencies.ts";
import {
  ctxDecode,
  ctxEncode,
  ctxPlaneBits,
  type TensorShape,
} from "../src/codec/ctx_codec.ts";
import {
  decodeCodedRow,
  decodePredictedRow,
  ODD_CHANNEL_LANES,
  recordCodedRow,
  RowDecoder,
  rowOutput,
  TensorModels,
} from "../src/codec/ctx_rows.ts";
import { KvbitsDataError } from "../src/codec/errors.ts";
import { ransDecodeStatic, ransEncode, ransRecord } from "../src/codec/rans.ts";
import {
  fp16Bits,
  fp16Value,
  orderedFp16,
  unorderedFp16,
} from "../src/codec/rotary_prediction.ts";
import { seededRandom } from "./_helpers.ts";

function roundTrip(tensors: Uint16Array[], shape: TensorShape): Uint8Array {
  const payload = ctxEncode(tensors, shape);
  assertEquals(ctxDecode(payload, tensors.length, shape), tensors);
  return payload;
}

Deno.test("rANS: random symbols of a static model round-trip on all four lanes", () => {
  const random = seededRandom(1);
  const frequencies = [1, 2, 3000, 1, 1000, 89, 1, 2];
  const starts = [0];
  for (const f of frequencies) starts.push(starts.at(-1)! + f);
  for (const count of [0, 1, 2, 3, 5, 1000]) {
    const symbols = Array.from(
      { length: count },
      () => Math.floor(random() * random() * frequencies.length),
    );
    const records = Uint32Array.from(
      symbols,
      (s, k) => ransRecord(starts[s], frequencies[s], k % 4),
    );
    const stream = ransEncode(records, count);
    assertEquals([...ransDecodeStatic(stream, count, frequencies)], symbols);
  }
  assertThrows(() => ransRecord(4000, 97), RangeError, "interval");
  assertThrows(() => ransRecord(0, 0), RangeError);
  assertThrows(() => ransRecord(0, 1, 4), RangeError, "lane");
});

Deno.test("rANS: the encoder's division by multiplication is floor(x / f) for every frequency", () => {
  // A reference encoder that divides, on records of every frequency 1..4096
  // (small ones often, so that states land on exact multiples).
  const random = seededRandom(2);
  const count = 200_000;
  const records = new Uint32Array(count);
  for (let k = 0; k < count; k++) {
    const frequency = random() < 0.5
      ? 1 + Math.floor(random() * 8)
      : 1 + Math.floor(random() * 4096);
    const start = Math.floor(random() * (4097 - frequency));
    records[k] = ransRecord(start, frequency, k % 4);
  }
  const states = [32768, 32768, 32768, 32768];
  const words: number[] = [];
  for (let k = count - 1; k >= 0; k--) {
    const frequency = records[k] & 0xffff, lane = records[k] >>> 30;
    let x = states[lane];
    if (x >= 2 ** 19 * frequency) {
      words.push(x & 0xffff);
      x = Math.floor(x / 2 ** 16);
    }
    const q = Math.floor(x / frequency);
    states[lane] = q * 4096 + (x - q * frequency) +
      ((records[k] >>> 16) & 0xfff);
  }
  const stream = ransEncode(records, count);
  const header = new DataView(stream.buffer, stream.byteOffset, 16);
  assertEquals(states, [0, 1, 2, 3].map((l) => header.getUint32(4 * l, true)));
  const body = new DataView(stream.buffer, stream.byteOffset + 16);
  assertEquals(stream.length, 16 + 2 * words.length);
  words.reverse().forEach((word, i) =>
    assertEquals(body.getUint16(2 * i, true), word)
  );
});

Deno.test("adaptive tables always sum to 4096 with every symbol at least 1, and the bucket search agrees with a linear search", () => {
  const random = seededRandom(2);
  for (const alphabet of [2, 4, 64, 256]) {
    const models = new AdaptiveFrequencies(2, alphabet);
    models.reset();
    models.start(1);
    const check = () => {
      let sum = 0;
      const starts: number[] = [];
      for (let s = 0; s < alphabet; s++) {
        starts.push(sum);
        const f = models.frequency(1, s);
        assert(f >= 1, `alphabet ${alphabet}: symbol ${s} has frequency ${f}`);
        assertEquals(models.startOf(1, s), sum);
        sum += f;
      }
      assertEquals(sum, 4096);
      for (let slot = 0; slot < 4096; slot += 7) {
        let s = 0;
        while (s + 1 < alphabet && starts[s + 1] <= slot) s++;
        assertEquals(models.symbolAt(1, slot), s);
      }
    };
    check();
    // Long enough to pass the 2^16 halving for the small alphabets.
    const steps = alphabet <= 4 ? 70000 : 5000;
    for (let i = 0; i < steps; i++) {
      const skewed = Math.floor(alphabet * random() ** 4);
      models.observe(1, skewed);
      if (i % 997 === 0 || i < 20) check();
    }
    check();
  }
});

Deno.test("ctx round-trips edge tensors: empty, one token, constant, every FP16 pattern, signed zeros, subnormals, Inf and NaN payloads, odd shapes", () => {
  const every = Uint16Array.from({ length: 65536 }, (_, i) => i);
  const specials = Uint16Array.from(
    { length: 3 * 5 * 7 },
    (_, i) =>
      [
        0x0000,
        0x8000,
        0x0001,
        0x83ff,
        0x03ff,
        0x7c00,
        0xfc00,
        0x7e00,
        0x7c01,
        0xffff,
        0x7bff,
      ][
        i % 11
      ],
  );
  roundTrip([new Uint16Array(0), new Uint16Array(0)], {
    tokens: 0,
    heads: 2,
    headDim: 64,
  });
  roundTrip([new Uint16Array(128).fill(0x3c00), new Uint16Array(128)], {
    tokens: 1,
    heads: 2,
    headDim: 64,
  });
  for (
    const shape of [
      { tokens: 256, heads: 4, headDim: 64 },
      { tokens: 65536, heads: 1, headDim: 1 },
      { tokens: 1, heads: 1, headDim: 65536 },
      { tokens: 4096, heads: 1, headDim: 16 },
    ]
  ) {
    roundTrip([every, every.slice().reverse()], shape);
  }
  roundTrip([specials, specials.slice().reverse(), specials], {
    tokens: 3,
    heads: 5,
    headDim: 7,
  });
  const random = seededRandom(3);
  const noise = Uint16Array.from(
    { length: 9 * 3 * 3 },
    () => Math.floor(random() * 65536),
  );
  roundTrip([noise], { tokens: 9, heads: 3, headDim: 3 });
});

/** A RoPE layer-0 K and V: each token's vectors rotated by its position. */
function ropeDump(
  pairing: "half" | "interleaved",
  base: number,
  seed: number,
): { k: Uint16Array; v: Uint16Array; shape: TensorShape } {
  const random = seededRandom(seed);
  const shape = { tokens: 96, heads: 2, headDim: 16 };
  const vocabulary = Array.from(
    { length: 12 },
    () => ({
      k: Array.from({ length: 32 }, () => (random() - 0.5) * 8),
      v: Array.from({ length: 32 }, () => (random() - 0.5) * 2),
    }),
  );
  const k = new Float16Array(96 * 32);
  const v = new Float16Array(96 * 32);
  const half = shape.headDim / 2;
  for (let t = 0; t < shape.tokens; t++) {
    const token = vocabulary[Math.floor(random() * vocabulary.length)];
    for (let h = 0; h < shape.heads; h++) {
      for (let i = 0; i < half; i++) {
        const a = pairing === "half" ? i : 2 * i;
        const b = pairing === "half" ? i + half : 2 * i + 1;
        const angle = (t + 1000) * base ** (-2 * i / shape.headDim);
        const x = token.k[h * 16 + a], y = token.k[h * 16 + b];
        k[t * 32 + h * 16 + a] = x * Math.cos(angle) - y * Math.sin(angle);
        k[t * 32 + h * 16 + b] = y * Math.cos(angle) + x * Math.sin(angle);
      }
    }
    for (let j = 0; j < 32; j++) v[t * 32 + j] = token.v[j];
  }
  return {
    k: new Uint16Array(k.buffer),
    v: new Uint16Array(v.buffer),
    shape,
  };
}

Deno.test("ctx stores repeated rows as references and predicts the RoPE K rows of repeated tokens, for both pairings and other bases", () => {
  for (
    const [pairing, base] of [
      ["half", 10000],
      ["interleaved", 10000],
      ["half", 500000],
    ] as const
  ) {
    const { k, v, shape } = ropeDump(pairing, base, 4);
    const payload = roundTrip([k, v], shape);
    const [kBits, vBits] = ctxPlaneBits([k, v], shape);
    assertGreater(vBits.repeatedRows, 40, `${pairing} ${base}`);
    assertEquals(kBits.predictedRows, vBits.repeatedRows, `${pairing} ${base}`);
    // Predicted rows cost about 1.4 bits per element instead of about 13.
    assertGreater(kBits.predictedRows * 32 * 3, kBits.residuals, `${pairing}`);
    assertGreater(k.byteLength + v.byteLength, 4 * payload.length);
  }
});

Deno.test("ctx does not predict rows that rotation does not fit, and still round-trips them", () => {
  const { v, shape } = ropeDump("half", 10000, 5);
  const random = seededRandom(6);
  const k = Uint16Array.from(
    { length: v.length },
    () => fp16Bits((random() - 0.5) * 4),
  );
  roundTrip([k, v], shape);
  assertEquals(ctxPlaneBits([k, v], shape)[0].predictedRows, 0);
});

Deno.test("fp16Value reads every FP16 pattern as Float16Array does", () => {
  const all = new Float16Array(
    Uint16Array.from({ length: 65536 }, (_, u) => u).buffer,
  );
  for (let u = 0; u < 65536; u++) {
    assert(Object.is(fp16Value(u), all[u]), `0x${u.toString(16)}`);
  }
});

Deno.test("fp16Bits rounds like Float16Array, and orderedFp16 orders words like their values", () => {
  const random = seededRandom(7);
  const cases = [
    0,
    -0,
    65504,
    65519.99,
    65520,
    2 ** -24,
    2 ** -25,
    3 * 2 ** -26,
    2 ** -14 - 2 ** -25,
    Infinity,
    -Infinity,
    NaN,
  ];
  for (let i = 0; i < 20000; i++) {
    cases.push((random() - 0.5) * 2 ** (random() * 44 - 28));
  }
  const reference = new Float16Array(1);
  const bits = new Uint16Array(reference.buffer);
  for (const x of cases) {
    reference[0] = x;
    const expected = Number.isNaN(x) ? 0x7e00 : bits[0];
    assertEquals(fp16Bits(x), expected, String(x));
  }
  const finite = Array.from({ length: 65536 }, (_, u) => u).filter((u) =>
    (u & 0x7c00) !== 0x7c00
  );
  const values = new Float16Array(Uint16Array.from(finite).buffer);
  const byOrder = [...finite].sort((a, b) => orderedFp16(a) - orderedFp16(b));
  for (let i = 1; i < byOrder.length; i++) {
    const before = values[finite.indexOf(byOrder[i - 1])];
    const after = values[finite.indexOf(byOrder[i])];
    assert(before <= after, `${byOrder[i - 1]} then ${byOrder[i]}`);
  }
  for (let u = 0; u < 65536; u++) {
    assertEquals(unorderedFp16(orderedFp16(u)), u);
  }
});

/** A small payload with every kind of row: coded, repeated and predicted. */
function samplePayload(): { payload: Uint8Array; shape: TensorShape } {
  const { k, v } = ropeDump("half", 10000, 8);
  const shape = { tokens: 12, heads: 2, headDim: 16 };
  const rows = shape.heads * shape.headDim * shape.tokens;
  return {
    payload: ctxEncode([k.slice(0, rows), v.slice(0, rows)], shape),
    shape,
  };
}

Deno.test("every truncation of a ctx payload ends in KvbitsDataError", () => {
  const { payload, shape } = samplePayload();
  for (let length = 0; length < payload.length; length++) {
    assertThrows(
      () => ctxDecode(payload.subarray(0, length), 2, shape),
      KvbitsDataError,
    );
  }
});

Deno.test("corrupt ctx payloads end in a data error or in other words, never in another exception", () => {
  const { payload, shape } = samplePayload();
  const original = ctxDecode(payload, 2, shape);
  const random = seededRandom(9);
  let errors = 0, changed = 0;
  for (let trial = 0; trial < 3000; trial++) {
    const bytes = payload.slice();
    const flips = 1 + Math.floor(random() * 3);
    for (let f = 0; f < flips; f++) {
      bytes[Math.floor(random() * bytes.length)] ^= 1 <<
        Math.floor(random() * 8);
    }
    try {
      const decoded = ctxDecode(bytes, 2, shape);
      if (
        decoded.some((tensor, i) => tensor.some((w, j) => w !== original[i][j]))
      ) {
        changed++;
      }
    } catch (error) {
      assertInstanceOf(error, KvbitsDataError);
      errors++;
    }
  }
  // Most corruption is caught by the codec itself; the rest is for the CRC-32.
  assertGreater(errors, 1500);
  assertEquals(errors + changed <= 3000, true);
});

Deno.test("a payload whose shape asks for more rows than it has bytes is refused before allocating", () => {
  const { payload } = samplePayload();
  assertThrows(
    () => ctxDecode(payload, 2, { tokens: 2 ** 29, heads: 1, headDim: 2 }),
    KvbitsDataError,
    "rows cannot fit",
  );
  assertThrows(
    () => ctxEncode([new Uint16Array(3)], { tokens: 2, heads: 1, headDim: 2 }),
    RangeError,
    "tensor 0 has 3 elements",
  );
});

Deno.test("ctx chunks: every chunk size round-trips, models go on across chunks, predicted rows find sources in earlier chunks", () => {
  const { k, v, shape } = ropeDump("half", 10000, 10);
  const whole = roundTrip([k, v], shape);
  const rowLength = shape.heads * shape.headDim;
  for (let chunkBits = 4; chunkBits <= 14; chunkBits++) {
    const options = { chunkBits };
    const payload = ctxEncode([k, v], shape, options);
    assertEquals(ctxDecode(payload, 2, shape, options), [k, v], `${chunkBits}`);
    // A chunk of fewer elements than a row holds one row.
    const rowsPerChunk = Math.max(1, Math.floor(2 ** chunkBits / rowLength));
    const chunks = Math.ceil(2 * shape.tokens / rowsPerChunk);
    // Each chunk costs its stream's states, its lengths and the end of its
    // last words, not what the models learned.
    assert(
      payload.length <= whole.length + 24 * (chunks - 1),
      `${chunkBits}: ${payload.length} bytes, ${whole.length} in one chunk`,
    );
  }
  // The default chunk (2^18 elements) holds this dump whole: the same bytes.
  assertEquals(ctxEncode([k, v], shape, { chunkBits: 18 }), whole);
  assertEquals(
    ctxEncode([k, v], shape, { chunkBits: 12 }).length > whole.length,
    true,
  );
});

Deno.test("ctx chunks: a chunk size outside 2^4..2^30 is a RangeError both ways", () => {
  const shape = { tokens: 2, heads: 1, headDim: 2 };
  const words = Uint16Array.of(1, 2, 3, 4);
  const payload = ctxEncode([words], shape);
  for (const chunkBits of [3, 31, 4.5, NaN]) {
    assertThrows(
      () => ctxEncode([words], shape, { chunkBits }),
      RangeError,
      "chunks of 2^",
    );
    assertThrows(
      () => ctxDecode(payload, 1, shape, { chunkBits }),
      RangeError,
      "chunks of 2^",
    );
  }
});

Deno.test("ctx chunks: every truncation of a payload of many chunks is a data error, and corruption never another exception", () => {
  const { k, v } = ropeDump("interleaved", 10000, 11);
  const shape = { tokens: 24, heads: 2, headDim: 16 };
  const rows = shape.tokens * shape.heads * shape.headDim;
  const tensors = [k.slice(0, rows), v.slice(0, rows)];
  const options = { chunkBits: 7 }; // 4 rows a chunk: 12 chunks
  const payload = ctxEncode(tensors, shape, options);
  assertEquals(ctxDecode(payload, 2, shape, options), tensors);
  for (let length = 0; length < payload.length; length++) {
    assertThrows(
      () => ctxDecode(payload.subarray(0, length), 2, shape, options),
      KvbitsDataError,
      undefined,
      `length ${length}`,
    );
  }
  const random = seededRandom(12);
  let errors = 0;
  for (let trial = 0; trial < 1000; trial++) {
    const bytes = payload.slice();
    bytes[Math.floor(random() * bytes.length)] ^= 1 << Math.floor(random() * 8);
    try {
      ctxDecode(bytes, 2, shape, options);
    } catch (error) {
      assertInstanceOf(error, KvbitsDataError);
      errors++;
    }
  }
  assertGreater(errors, 500);
});

Deno.test("ctx rows: decoding refuses models made without search tables (an encoder's), whose layout its loops do not read", () => {
  const words = Uint16Array.of(0x3c01, 0xbc02, 0x0003);
  const out = rowOutput(
    new Uint32Array(6),
    new Uint8Array(3),
    ODD_CHANNEL_LANES,
  );
  recordCodedRow(words, 0, 3, new TensorModels(3, false), out);
  const decoder = () =>
    new RowDecoder({
      stream: ransEncode(out.records, out.recordCount),
      offset: 0,
      raw: out.raw,
      rowLength: 3,
      fourLanes: true,
      name: "test",
      buffer: (n) => new Uint8Array(n),
    });
  const decoded = new Uint16Array(3);
  assertThrows(
    () =>
      decodeCodedRow(
        decoded,
        0,
        3,
        new TensorModels(3, false),
        decoder(),
        "K",
        0,
      ),
    RangeError,
    "without search tables",
  );
  assertThrows(
    () =>
      decodePredictedRow(
        decoded,
        0,
        words,
        3,
        new TensorModels(3, false),
        decoder(),
        "K",
        0,
      ),
    RangeError,
    "without search tables",
  );
  // The same stream decodes with a decoder's models: the encoder's layout is
  // the same where the recording loop reads it.
  const d = decoder();
  decodeCodedRow(decoded, 0, 3, new TensorModels(3), d, "K", 0);
  d.finish();
  assertEquals(decoded, words);
});
