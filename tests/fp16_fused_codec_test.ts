/**
 * The fused FP16 coders (both planes of a tensor in one pass) against the
 * plane-at-a-time coders they stand in for: the same bytes for every input, the
 * same words back, and the same streams refused, naming the right stream.
 */

import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertThrows,
} from "@std/assert";
import { KvbitsDataError, splitFp16Planes } from "../mod.ts";
import { arithmeticDecode } from "../src/codec/arithmetic_decoder.ts";
import { arithmeticEncode } from "../src/codec/arithmetic_encoder.ts";
import {
  arithmeticDecodeFp16,
  arithmeticEncodeFp16,
} from "../src/codec/arithmetic_fp16.ts";
import {
  type ArithmeticModel,
  arithmeticModel,
} from "../src/codec/arithmetic_model.ts";
import { canonicalCode } from "../src/codec/canonical_code.ts";
import { arithmeticTableFromCounts } from "../src/codec/frequency_normalization.ts";
import { countFp16Symbols } from "../src/codec/histogram.ts";
import { huffmanCodeLengths } from "../src/codec/huffman_code_lengths.ts";
import {
  huffmanDecode,
  huffmanDecodeTable,
} from "../src/codec/huffman_decoder.ts";
import { huffmanEncode } from "../src/codec/huffman_encoder.ts";
import {
  huffmanDecodeFp16,
  huffmanEncodeFp16,
  huffmanEncodeTable,
} from "../src/codec/huffman_fp16.ts";
import { seededRandom } from "./_helpers.ts";

/** Word arrays of the shapes that matter: real-looking values, every pattern, skew, edge sizes. */
function wordSets(): Uint16Array[] {
  const random = seededRandom(2024);
  const gaussian = () => {
    const u = 1 - random();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
  };
  const fp16 = (values: number[]) =>
    new Uint16Array(Float16Array.from(values).buffer);
  return [
    new Uint16Array(0),
    new Uint16Array([0x3c00]),
    new Uint16Array(1000).fill(0x7e00),
    Uint16Array.from({ length: 65536 }, (_, i) => i),
    fp16(Array.from({ length: 20000 }, () => gaussian() * 0.3)),
    fp16(Array.from({ length: 5000 }, () => gaussian() ** 9)),
    Uint16Array.from(
      { length: 30000 },
      () => Math.floor(65536 * random() ** 6),
    ),
    ...[1, 2, 3, 7, 8, 9, 127, 128, 129].map((length) =>
      Uint16Array.from({ length }, () => Math.floor(65536 * random()))
    ),
  ];
}

function huffmanTables(words: Uint16Array) {
  const counts = countFp16Symbols(words);
  const hi = canonicalCode(huffmanCodeLengths(counts.hi6));
  const lo = canonicalCode(huffmanCodeLengths(counts.lo10));
  return { hi, lo };
}

function arithmeticModels(words: Uint16Array) {
  const counts = countFp16Symbols(words);
  return {
    hi: arithmeticModel(arithmeticTableFromCounts(counts.hi6)),
    lo: arithmeticModel(arithmeticTableFromCounts(counts.lo10)),
  };
}

Deno.test("fused Huffman coding writes the bytes of plane-at-a-time coding and decodes them back", () => {
  let longCodes = 0; // codes past the 11-bit primary table take the long path
  for (const words of wordSets()) {
    const { hi, lo } = huffmanTables(words);
    if (lo.maxLength > 11) longCodes++;
    const planes = splitFp16Planes(words);
    const [hiBytes, loBytes] = huffmanEncodeFp16(
      words,
      huffmanEncodeTable(hi),
      huffmanEncodeTable(lo),
    );
    assertEquals(hiBytes, huffmanEncode(planes.hi6, hi), `${words.length}`);
    assertEquals(loBytes, huffmanEncode(planes.lo10, lo), `${words.length}`);
    const into = new Uint16Array(words.length + 3).fill(0xffff);
    const back = huffmanDecodeFp16(
      hiBytes,
      loBytes,
      words.length,
      huffmanDecodeTable(hi),
      huffmanDecodeTable(lo),
      { into },
    );
    assertEquals(back, into);
    assertEquals(into.subarray(0, words.length), words);
    assertEquals([...into.subarray(words.length)], [0xffff, 0xffff, 0xffff]);
  }
  assert(longCodes > 0);
});

Deno.test("fused arithmetic coding writes the bytes of plane-at-a-time coding and decodes them back", () => {
  for (const words of wordSets()) {
    const { hi, lo } = arithmeticModels(words);
    const planes = splitFp16Planes(words);
    const [hiBytes, loBytes] = arithmeticEncodeFp16(words, hi, lo);
    assertEquals(hiBytes, arithmeticEncode(planes.hi6, hi), `${words.length}`);
    assertEquals(loBytes, arithmeticEncode(planes.lo10, lo), `${words.length}`);
    assertEquals(
      arithmeticDecodeFp16(hiBytes, loBytes, words.length, hi, lo),
      words,
    );
  }
});

Deno.test("tables the fused loops do not take (codes above 16 bits, raw-count totals) go plane by plane, same bytes", () => {
  const random = seededRandom(5);
  const words = Uint16Array.from(
    { length: 4000 },
    () => (Math.floor(random() * 33) << 10) | Math.floor(random() * 1024),
  );
  // hi6: lengths 1..32, 32 (a complete code with 32-bit codes) over symbols 0..32.
  const hiLengths = new Array(64).fill(0);
  for (let s = 0; s < 33; s++) hiLengths[s] = Math.min(s + 1, 32);
  const hi = canonicalCode(hiLengths);
  const lo = canonicalCode(new Array(1024).fill(10));
  const planes = splitFp16Planes(words);
  const [hiBytes, loBytes] = huffmanEncodeFp16(
    words,
    huffmanEncodeTable(hi),
    huffmanEncodeTable(lo),
  );
  assertEquals(hiBytes, huffmanEncode(planes.hi6, hi));
  assertEquals(loBytes, huffmanEncode(planes.lo10, lo));
  assertEquals(
    huffmanDecodeFp16(
      hiBytes,
      loBytes,
      words.length,
      huffmanDecodeTable(hi),
      huffmanDecodeTable(lo),
    ),
    words,
  );
  // The reference tools' raw counts: a total that is not a power of two.
  const counts = countFp16Symbols(words);
  const hiModel = arithmeticModel(counts.hi6);
  const loModel = arithmeticModel(counts.lo10);
  assert(hiModel.scaledCumulative === undefined);
  const [hiCoded, loCoded] = arithmeticEncodeFp16(words, hiModel, loModel);
  assertEquals(hiCoded, arithmeticEncode(planes.hi6, hiModel));
  assertEquals(loCoded, arithmeticEncode(planes.lo10, loModel));
  assertEquals(
    arithmeticDecodeFp16(hiCoded, loCoded, words.length, hiModel, loModel),
    words,
  );
});

Deno.test("fused arithmetic coding releases long runs of pending bits as plane-at-a-time coding does", () => {
  // hi6 table [1, 2, 1]: symbol 1 keeps the interval centred (one pending bit
  // each), so runs of it build pending runs past what one write holds.
  const hiTable = new Array(64).fill(0);
  hiTable.splice(0, 3, 1, 2, 1);
  const hi = arithmeticModel(hiTable);
  for (const run of [10, 24, 25, 40, 300]) {
    for (let lead = 0; lead < 8; lead++) {
      const hiSymbols = new Array(2 * lead + run + 2).fill(1);
      for (let i = 1; i < 2 * lead; i += 2) hiSymbols[i] = 2;
      hiSymbols[2 * lead + run] = 0;
      const words = Uint16Array.from(
        hiSymbols,
        (s, i) => (s << 10) | ((i * 37) & 0x3ff),
      );
      const lo = arithmeticModels(words).lo;
      const planes = splitFp16Planes(words);
      const [hiBytes, loBytes] = arithmeticEncodeFp16(words, hi, lo);
      assertEquals(hiBytes, arithmeticEncode(planes.hi6, hi), `run ${run}`);
      assertEquals(loBytes, arithmeticEncode(planes.lo10, lo));
      assertEquals(
        arithmeticDecodeFp16(hiBytes, loBytes, words.length, hi, lo),
        words,
      );
    }
  }
});

Deno.test("a symbol without a code (or of frequency 0) is named with its index and its stream", () => {
  const words = new Uint16Array([0x3c00, 0x3c00, 0x3c01, 0x4000]);
  const known = new Uint16Array([0x3c00, 0x3c01]);
  const { hi, lo } = huffmanTables(known);
  const names = { hiStream: "v_hi6", loStream: "v_lo10" };
  assertThrows(
    () =>
      huffmanEncodeFp16(
        words,
        huffmanEncodeTable(hi),
        huffmanEncodeTable(lo),
        names,
      ),
    RangeError,
    "Cannot encode v_hi6: symbol 16 at index 3 has no code",
  );
  assertThrows(
    () =>
      huffmanEncodeFp16(
        new Uint16Array([0x3c00, 0x3c02]),
        huffmanEncodeTable(hi),
        huffmanEncodeTable(lo),
        names,
      ),
    RangeError,
    "Cannot encode v_lo10: symbol 2 at index 1 has no code",
  );
  const models = arithmeticModels(known);
  assertThrows(
    () => arithmeticEncodeFp16(words, models.hi, models.lo, names),
    RangeError,
    "Cannot encode v_hi6: symbol 16 at index 3 has frequency 0",
  );
  assertThrows(
    () =>
      arithmeticEncodeFp16(
        new Uint16Array([0x3c02]),
        models.hi,
        models.lo,
        names,
      ),
    RangeError,
    "Cannot encode v_lo10: symbol 2 at index 0 has frequency 0",
  );
});

/** Decodes with both paths: the fused one must refuse exactly what the planes refuse. */
function assertSameVerdict(
  count: number,
  fused: () => Uint16Array,
  hiPlane: () => Uint8Array | Uint16Array,
  loPlane: () => Uint8Array | Uint16Array,
  label: string,
): void {
  const attempt = <T>(run: () => T): T | KvbitsDataError => {
    try {
      return run();
    } catch (error) {
      assertInstanceOf(error, KvbitsDataError, label);
      return error;
    }
  };
  const result = attempt(fused);
  const hiResult = attempt(hiPlane);
  const loResult = attempt(loPlane);
  if (result instanceof KvbitsDataError) {
    const refused = [
      hiResult instanceof KvbitsDataError ? "hi6" : undefined,
      loResult instanceof KvbitsDataError ? "lo10" : undefined,
    ];
    assert(
      refused.includes(result.stream),
      `${label}: fused refused ${result.stream}, the planes ${refused}`,
    );
  } else {
    assert(
      !(hiResult instanceof KvbitsDataError) &&
        !(loResult instanceof KvbitsDataError),
      `${label}: fused accepted what the planes refuse`,
    );
    const joined = Uint16Array.from(
      { length: count },
      (_, i) => (hiResult[i] << 10) | loResult[i],
    );
    assertEquals(result, joined, label);
  }
}

/** Truncations, extensions and bit flips of one stream or the other. */
function corruptions(
  hiBytes: Uint8Array,
  loBytes: Uint8Array,
  random: () => number,
): [string, Uint8Array, Uint8Array][] {
  const cases: [string, Uint8Array, Uint8Array][] = [];
  for (const which of ["hi", "lo"] as const) {
    const bytes = which === "hi" ? hiBytes : loBytes;
    const put = (label: string, changed: Uint8Array) =>
      cases.push(
        which === "hi" ? [label, changed, loBytes] : [label, hiBytes, changed],
      );
    for (let cut = 0; cut < bytes.length; cut += 1 + (cut >> 3)) {
      put(`${which} cut to ${cut}`, bytes.slice(0, cut));
    }
    put(`${which} + zero byte`, Uint8Array.from([...bytes, 0]));
    put(`${which} + 0x80`, Uint8Array.from([...bytes, 0x80]));
    for (let flip = 0; flip < 40; flip++) {
      const changed = bytes.slice();
      const bit = Math.floor(random() * changed.length * 8);
      changed[bit >>> 3] ^= 0x80 >>> (bit & 7);
      put(`${which} bit ${bit} flipped`, changed);
    }
  }
  return cases;
}

Deno.test("corrupt streams: the fused decoders refuse what plane-at-a-time decoding refuses, naming a refused stream", () => {
  const random = seededRandom(77);
  const words = new Uint16Array(
    Float16Array.from({ length: 600 }, () => (random() - 0.5) * 3).buffer,
  );
  const names = { hiStream: "hi6", loStream: "lo10" };
  const codes = huffmanTables(words);
  const hiTable = huffmanDecodeTable(codes.hi);
  const loTable = huffmanDecodeTable(codes.lo);
  const [hiHuff, loHuff] = huffmanEncodeFp16(
    words,
    huffmanEncodeTable(codes.hi),
    huffmanEncodeTable(codes.lo),
  );
  for (const [label, hiBytes, loBytes] of corruptions(hiHuff, loHuff, random)) {
    assertSameVerdict(
      words.length,
      () =>
        huffmanDecodeFp16(
          hiBytes,
          loBytes,
          words.length,
          hiTable,
          loTable,
          names,
        ),
      () =>
        huffmanDecode(
          hiBytes,
          words.length,
          hiTable,
          new Uint8Array(words.length),
        ),
      () => huffmanDecode(loBytes, words.length, loTable),
      `huffman ${label}`,
    );
  }
  const models: { hi: ArithmeticModel; lo: ArithmeticModel } = arithmeticModels(
    words,
  );
  const [hiArith, loArith] = arithmeticEncodeFp16(words, models.hi, models.lo);
  for (
    const [label, hiBytes, loBytes] of corruptions(hiArith, loArith, random)
  ) {
    assertSameVerdict(
      words.length,
      () =>
        arithmeticDecodeFp16(
          hiBytes,
          loBytes,
          words.length,
          models.hi,
          models.lo,
          names,
        ),
      () =>
        arithmeticDecode(
          hiBytes,
          words.length,
          models.hi,
          new Uint8Array(words.length),
        ),
      () => arithmeticDecode(loBytes, words.length, models.lo),
      `arith ${label}`,
    );
  }
});

Deno.test("fused decoding into a too short output or with a bad count is misuse", () => {
  const { hi, lo } = huffmanTables(new Uint16Array([1, 2]));
  const hiTable = huffmanDecodeTable(hi);
  const loTable = huffmanDecodeTable(lo);
  const empty = new Uint8Array(0);
  assertThrows(
    () => huffmanDecodeFp16(empty, empty, -1, hiTable, loTable),
    RangeError,
  );
  assertThrows(
    () =>
      huffmanDecodeFp16(empty, empty, 2, hiTable, loTable, {
        into: new Uint16Array(1),
      }),
    RangeError,
    "output holds 1 words, 2 needed",
  );
  const models = arithmeticModels(new Uint16Array([1, 2]));
  assertThrows(
    () =>
      arithmeticDecodeFp16(empty, empty, 2, models.hi, models.lo, {
        into: new Uint16Array(1),
      }),
    RangeError,
    "output holds 1 words, 2 needed",
  );
});
