/**
 * The arithmetic coder (FORMAT.md §4) against a literal transcription of the
 * format's text: random tables of every usable total, edge cases, misuse, and
 * corrupt streams.
 */

import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertNotEquals,
  assertThrows,
} from "@std/assert";
import { KvbitsDataError } from "../mod.ts";
import { arithmeticDecode } from "../src/codec/arithmetic_decoder.ts";
import { arithmeticEncode } from "../src/codec/arithmetic_encoder.ts";
import {
  ARITHMETIC_MAX_TOTAL,
  type ArithmeticModel,
  arithmeticModel,
} from "../src/codec/arithmetic_model.ts";
import {
  exactScaledFloor,
  exactTargetFloor,
} from "../src/codec/_exact_arithmetic.ts";
import { specDecode, specEncode, type SpecRun } from "./_arithmetic_spec.ts";
import { seededRandom } from "./_helpers.ts";

/** Encodes with kvbits, checks the bytes against the literal coder and the round trip. */
function assertCodesLikeSpec(
  symbols: Uint16Array,
  frequencies: ArrayLike<number>,
  message = "",
): SpecRun {
  const model = arithmeticModel(frequencies);
  const bytes = arithmeticEncode(symbols, model);
  const spec = specEncode(symbols, frequencies);
  assertEquals(bytes, spec.bytes, `bytes differ from FORMAT §4 ${message}`);
  assertEquals(
    arithmeticDecode(bytes, symbols.length, model),
    symbols,
    `round trip ${message}`,
  );
  assertEquals(
    specDecode(bytes, symbols.length, frequencies),
    [...symbols],
    `literal decoder ${message}`,
  );
  return spec;
}

/** A random table of `size` symbols summing to `total`, shaped flat, skewed or with rare symbols. */
function randomTable(
  random: () => number,
  size: number,
  total: number,
  shape: "flat" | "skewed" | "rare",
): number[] {
  const used = Math.max(
    1,
    Math.min(size, total, 1 + Math.floor(random() * size)),
  );
  const symbols = Array.from({ length: size }, (_, s) => s);
  for (let i = size - 1; i > 0; i--) { // shuffle, then take the first `used`
    const j = Math.floor(random() * (i + 1));
    [symbols[i], symbols[j]] = [symbols[j], symbols[i]];
  }
  const weights = symbols.slice(0, used).map((_, i) =>
    shape === "flat" ? 1 + random() : shape === "skewed"
      ? 2 ** (-i * 40 / used) // up to 2^40 between the largest and smallest
      : i === 0
      ? 1
      : 0 // "rare": one symbol takes all but one count from each other
  );
  const sum = weights.reduce((a, b) => a + b, 0);
  const table = new Array(size).fill(0);
  let left = total - used; // every used symbol gets 1, the rest by weight
  for (let i = 0; i < used; i++) {
    const extra = Math.min(left, Math.floor((total - used) * weights[i] / sum));
    table[symbols[i]] = 1 + extra;
    left -= extra;
  }
  table[symbols[0]] += left;
  return table;
}

/** `count` symbols drawn from the table, half by frequency and half uniformly among the used ones. */
function randomSymbols(
  random: () => number,
  table: readonly number[],
  count: number,
): Uint16Array {
  const cum = [0];
  for (const f of table) cum.push(cum[cum.length - 1] + f);
  const used = table.flatMap((f, s) => (f > 0 ? [s] : []));
  return Uint16Array.from({ length: count }, () => {
    if (random() < 0.5) return used[Math.floor(random() * used.length)];
    const target = Math.floor(random() * cum[table.length]);
    let s = 0;
    while (cum[s + 1] <= target) s++;
    return s;
  });
}

Deno.test("the doc example's bytes are those of FORMAT §4 taken literally", () => {
  const symbols = [0, 0, 1, 0, 2];
  assertEquals([...specEncode(symbols, [6, 1, 1, 0]).bytes], [0x78]);
  assertEquals([...specEncode([], [6, 1, 1, 0]).bytes], [0x40]);
});

Deno.test("random tables of totals 1 .. 2^30, flat, skewed and with count-1 symbols: bytes as FORMAT §4, and round trips", () => {
  const random = seededRandom(8);
  const paths = { scaled: 0, divided: 0, exact: 0, slots: 0, search: 0 };
  const fixedTotals = [
    1,
    2,
    3,
    2 ** 16,
    2 ** 16 + 1,
    2 ** 21,
    2 ** 21 + 1,
    2 ** 30,
  ];
  for (let run = 0; run < 160; run++) {
    const size = [1, 2, 3, 64, 1024][run % 5];
    const total = run < fixedTotals.length * 3
      ? fixedTotals[run % fixedTotals.length]
      : Math.max(1, Math.floor(2 ** (30 * random())));
    const shape = (["flat", "skewed", "rare"] as const)[run % 3];
    const table = randomTable(random, size, total, shape);
    assertEquals(table.reduce((a, b) => a + b, 0), total);
    const count = Math.floor(random() * 600);
    const symbols = randomSymbols(random, table, count);
    assertCodesLikeSpec(symbols, table, `(run ${run}, total ${total})`);
    const model = arithmeticModel(table);
    if (model.scaledCumulative) paths.scaled++;
    else if (model.exact) paths.exact++;
    else paths.divided++;
    if (model.slots) paths.slots++;
    else paths.search++;
  }
  // Every arithmetic path and both symbol searches were taken.
  for (const [path, runs] of Object.entries(paths)) {
    assert(runs >= 10, `${path}: ${runs} runs`);
  }
});

Deno.test("long runs of pending bits (past what one write holds) are released as FORMAT §4 says", () => {
  // The middle symbol of [1, 2, 1] keeps the interval centred: one underflow per
  // symbol, nothing emitted until an outer symbol or the finish. A lead-in of
  // `lead` pairs [1, 2] (3 bits each) starts the run at every bit alignment.
  for (const run of [10, 23, 24, 25, 40, 300]) {
    for (let lead = 0; lead < 8; lead++) {
      const start = 2 * lead;
      const symbols = new Uint16Array(start + run + 2).fill(1);
      for (let i = 1; i < start; i += 2) symbols[i] = 2;
      symbols[start + run] = 0;
      const spec = assertCodesLikeSpec(symbols, [1, 2, 1], `run ${run}`);
      assert(spec.maxPending >= run, `pending ${spec.maxPending}`);
      // Ending on the run: all pending bits go out in the finish.
      assertCodesLikeSpec(symbols.subarray(0, start + run), [1, 2, 1]);
    }
  }
});

Deno.test("a symbol that leaves low == high (all 32 bits out at once) codes as FORMAT §4 says", () => {
  // Total 2^30 with a count-1 symbol at 0: whenever the range is below 2^31 that
  // symbol's interval is a single value; a symbol of a third of the total leaves
  // such ranges often.
  const random = seededRandom(3);
  const third = Math.floor(2 ** 30 / 3);
  const table = [1, 2 ** 30 - 1 - third, third];
  let seen = 0;
  for (let run = 0; run < 30; run++) {
    const symbols = Uint16Array.from(
      { length: 200 },
      () => [0, 1, 1, 2, 2][Math.floor(random() * 5)],
    );
    if (assertCodesLikeSpec(symbols, table).sawEqualBounds) seen++;
  }
  assert(seen > 20, `only ${seen} of 30 runs left low == high`);
});

Deno.test("long planes of kvbits' and of raw-count tables round-trip", () => {
  const random = seededRandom(11);
  for (const total of [2 ** 14, 12345, 1_150_976, 2 ** 30]) {
    const table = randomTable(random, 1024, total, "skewed");
    const symbols = randomSymbols(random, table, 200_000);
    const model = arithmeticModel(table);
    assertEquals(
      arithmeticDecode(arithmeticEncode(symbols, model), symbols.length, model),
      symbols,
    );
  }
});

Deno.test("a table whose total exceeds 2^30 is refused, naming the table; 2^30 itself works", () => {
  const table = new Array(64).fill(0);
  table[0] = 2 ** 29;
  table[63] = 2 ** 29 + 1;
  const error = assertThrows(
    () => arithmeticModel(table, "k_hi6_freq"),
    KvbitsDataError,
  );
  assertEquals(
    error.message,
    "Cannot decode k_hi6_freq: its frequencies sum to 1073741825, above 2^30 = 1073741824, the largest total the 32-bit arithmetic coder can use",
  );
  table[63] = 2 ** 29;
  assertEquals(arithmeticModel(table).total, ARITHMETIC_MAX_TOTAL);
  // Entries that are not counts are misuse.
  assertThrows(() => arithmeticModel([1, -1]), TypeError, "entry 1");
  assertThrows(() => arithmeticModel([1.5]), TypeError, "entry 0");
  assertThrows(() => arithmeticModel([]), TypeError, "0 symbols");
});

Deno.test("an empty stream is one byte, the finish; a one-symbol table needs no bits per symbol", () => {
  const model = arithmeticModel([0, 7, 0]);
  assertEquals([...arithmeticEncode(new Uint8Array(0), model)], [0x40]);
  assertEquals(arithmeticDecode(new Uint8Array([0x40]), 0, model).length, 0);
  const ones = new Uint8Array(100_000).fill(1);
  const bytes = arithmeticEncode(ones, model);
  assertEquals([...bytes], [0x40]);
  assertEquals(
    arithmeticDecode(bytes, ones.length, model, new Uint8Array(ones.length)),
    ones,
  );
  // An empty table codes nothing but the empty stream.
  const empty = arithmeticModel([0, 0]);
  assertEquals([...arithmeticEncode(new Uint8Array(0), empty)], [0x40]);
  assertThrows(
    () => arithmeticDecode(new Uint8Array([0x40]), 1, empty),
    KvbitsDataError,
    "table is empty",
  );
});

Deno.test("a symbol of frequency 0 is an error naming the symbol, its index and the stream", () => {
  const model = arithmeticModel([5, 0, 3]);
  assertThrows(
    () => arithmeticEncode(new Uint8Array([0, 2, 1]), model, "v_lo10"),
    RangeError,
    "Cannot encode v_lo10: symbol 1 at index 2 has frequency 0 in the table",
  );
  assertThrows(
    () => arithmeticEncode(new Uint16Array([3]), model, "v_lo10"),
    RangeError,
    "symbol 3 at index 0",
  );
});

Deno.test("exact two-step products agree with BigInt at the extremes and at random", () => {
  const random = seededRandom(5);
  const cases: [number, number, number][] = [
    [2 ** 32, 2 ** 30, 2 ** 30],
    [2 ** 32, 2 ** 30 - 1, 2 ** 30],
    [2 ** 32 - 1, 1, 2 ** 30],
    [2 ** 30 + 2, 1, 2 ** 30],
    [1, 0, 1],
  ];
  for (let i = 0; i < 20000; i++) {
    const c = 1 + Math.floor(random() * 2 ** (1 + Math.floor(random() * 30)));
    const b = Math.floor(random() * (c + 1));
    const a = 1 + Math.floor(random() * 2 ** 32);
    cases.push([a, b, c]);
  }
  for (const [a, b, c] of cases) {
    assertEquals(
      exactScaledFloor(a, b, c),
      Number(BigInt(a) * BigInt(b) / BigInt(c)),
      `${a} * ${b} / ${c}`,
    );
  }
  for (let i = 0; i < 20000; i++) {
    const range = 2 ** 30 + 2 + Math.floor(random() * (2 ** 32 - 2 ** 30 - 1));
    const d = 1 + Math.floor(random() * range);
    const total = 1 + Math.floor(random() * 2 ** 30);
    const expected = (BigInt(d) * BigInt(total) - 1n) / BigInt(range);
    assertEquals(exactTargetFloor(d, total, range), Number(expected));
  }
  assertEquals(exactTargetFloor(2 ** 32, 2 ** 30, 2 ** 32), 2 ** 30 - 1);
});

/** Decoding any bytes either fails with a data error or gives symbols whose encoding is exactly those bytes. */
function assertCanonicalOrRejected(
  bytes: Uint8Array,
  count: number,
  model: ArithmeticModel,
): "rejected" | "accepted" {
  let symbols: Uint16Array;
  try {
    symbols = arithmeticDecode(bytes, count, model);
  } catch (error) {
    assertInstanceOf(error, KvbitsDataError);
    return "rejected";
  }
  assertEquals(arithmeticEncode(symbols, model), bytes);
  return "accepted";
}

Deno.test("corrupt streams: every truncation, extension and bit flip is rejected or is another message's exact encoding", () => {
  const random = seededRandom(21);
  for (const total of [2 ** 14, 1_150_976]) {
    const table = randomTable(random, 64, total, "skewed");
    const model = arithmeticModel(table);
    const symbols = randomSymbols(random, table, 400);
    const bytes = arithmeticEncode(symbols, model);
    let rejected = 0;
    let tries = 0;
    for (let length = 0; length < bytes.length; length++) {
      tries++;
      if (
        assertCanonicalOrRejected(bytes.subarray(0, length), 400, model) ===
          "rejected"
      ) rejected++;
    }
    for (const extra of [[0], [0x80], [0, 0, 0, 0, 0]]) {
      tries++;
      const longer = Uint8Array.from([...bytes, ...extra]);
      assertEquals(assertCanonicalOrRejected(longer, 400, model), "rejected");
      rejected++;
    }
    for (let bit = 0; bit < bytes.length * 8; bit++) {
      tries++;
      const flipped = bytes.slice();
      flipped[bit >> 3] ^= 0x80 >> (bit & 7);
      const outcome = assertCanonicalOrRejected(flipped, 400, model);
      if (outcome === "rejected") rejected++;
      else assertNotEquals(arithmeticDecode(flipped, 400, model), symbols);
    }
    // The finish and length checks catch most corruptions by themselves; kvbits'
    // CRC-32 per tensor catches the others (see round_trip and arith compat tests).
    assert(rejected > tries * 0.7, `${rejected} of ${tries} rejected`);
  }
});

Deno.test("random garbage and wrong tables never hang: rejected, or the exact encoding of what they decode to", () => {
  const random = seededRandom(34);
  const tables = [
    arithmeticModel(randomTable(random, 1024, 2 ** 14, "flat")),
    arithmeticModel(randomTable(random, 64, 999_999, "rare")),
    arithmeticModel([1, 2 ** 30 - 1 - 357913941, 357913941]),
  ];
  for (let run = 0; run < 600; run++) {
    const model = tables[run % tables.length];
    const garbage = Uint8Array.from(
      { length: Math.floor(random() * 64) },
      () => Math.floor(random() * 256),
    );
    assertCanonicalOrRejected(garbage, Math.floor(random() * 80), model);
  }
  // A stream far too short for its count stops at once with its bit offset.
  const error = assertThrows(
    () =>
      arithmeticDecode(
        new Uint8Array([0x12]),
        1_000_000,
        tables[0],
        undefined,
        "k_lo10",
      ),
    KvbitsDataError,
    "stream ends early",
  );
  assertEquals(error.stream, "k_lo10");
  assert(error.bitOffset! <= 8 + 32, `bit ${error.bitOffset}`);
  // Decoding with a table other than the encoder's is caught by the finish check.
  const symbols = randomSymbols(
    random,
    Array.from(tables[0].frequencies),
    3000,
  );
  const bytes = arithmeticEncode(symbols, tables[0]);
  const other = arithmeticModel(
    Array.from(tables[0].frequencies, (f, s) => (s === 5 ? f + 1 : f)),
  );
  assertCanonicalOrRejected(bytes, symbols.length, other);
  assertThrows(
    () => arithmeticDecode(new Uint8Array(0), 0, tables[0]),
    KvbitsDataError,
    "empty",
  );
});

Deno.test("decoding into a too short output or with a bad count is misuse", () => {
  const model = arithmeticModel([1, 1]);
  assertThrows(
    () => arithmeticDecode(new Uint8Array([0x40]), -1, model),
    RangeError,
    "symbol count -1",
  );
  assertThrows(
    () => arithmeticDecode(new Uint8Array([0x40]), 2.5, model),
    RangeError,
    "symbol count 2.5",
  );
  assertThrows(
    () => arithmeticDecode(new Uint8Array([0x40]), 3, model, new Uint8Array(2)),
    RangeError,
    "output holds 2 symbols, 3 needed",
  );
});
