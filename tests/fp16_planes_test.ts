import { assertEquals, assertThrows } from "@std/assert";
import { joinFp16Planes, splitFp16Planes } from "../mod.ts";
import { countFp16Symbols, countSymbols } from "../src/codec/histogram.ts";

Deno.test("every one of the 65,536 FP16 bit patterns survives split and join", () => {
  const every = Uint16Array.from({ length: 65536 }, (_, i) => i);
  const { hi6, lo10 } = splitFp16Planes(every);
  for (let u = 0; u < 65536; u++) {
    if (hi6[u] !== u >>> 10 || lo10[u] !== (u & 0x3ff)) {
      throw new Error(`pattern ${u} split into ${hi6[u]}, ${lo10[u]}`);
    }
  }
  assertEquals(joinFp16Planes(hi6, lo10), every);
});

Deno.test("special values split into the expected sign/exponent and mantissa symbols", () => {
  const cases: [number, number, number][] = [
    [0x0000, 0x00, 0x000], // +0
    [0x8000, 0x20, 0x000], // -0
    [0x0001, 0x00, 0x001], // smallest subnormal
    [0x03ff, 0x00, 0x3ff], // largest subnormal
    [0x7c00, 0x1f, 0x000], // +Inf
    [0xfc00, 0x3f, 0x000], // -Inf
    [0x7e00, 0x1f, 0x200], // quiet NaN
    [0x7c01, 0x1f, 0x001], // signalling NaN payload
    [0xffff, 0x3f, 0x3ff], // NaN with every payload bit
  ];
  for (const [word, hi, lo] of cases) {
    const planes = splitFp16Planes(new Uint16Array([word]));
    assertEquals([planes.hi6[0], planes.lo10[0]], [hi, lo], `word ${word}`);
  }
});

Deno.test("joining planes of different lengths is refused", () => {
  assertThrows(
    () => joinFp16Planes(new Uint8Array(2), new Uint16Array(3)),
    RangeError,
    "hi6 has 2 symbols but lo10 has 3",
  );
});

Deno.test("FP16 histograms equal the histograms of the split planes", () => {
  const words = Uint16Array.from(
    { length: 5000 },
    (_, i) => (i * 7919) & 0xffff,
  );
  const { hi6, lo10 } = splitFp16Planes(words);
  const fused = countFp16Symbols(words);
  assertEquals(fused.hi6, countSymbols(hi6, 64));
  assertEquals(fused.lo10, countSymbols(lo10, 1024));
});

Deno.test("counting adds to given histograms and rejects symbols outside the alphabet", () => {
  const counts = countSymbols(new Uint8Array([1, 1]), 4);
  countSymbols(new Uint8Array([1, 3]), 4, counts);
  assertEquals([...counts], [0, 3, 0, 1]);
  assertThrows(
    () => countSymbols(new Uint8Array([4]), 4),
    RangeError,
    "symbol 4 at index 0 is not below 4",
  );
  assertThrows(
    () => countSymbols(new Uint8Array([0]), 4, new Float64Array(3)),
    RangeError,
    "length 3, expected 4",
  );
});
