/** CRC-32: the sliced tables agree with the bit-by-bit definition, whole and in parts. */

import { assertEquals } from "@std/assert";
import { crc32, crc32Combine } from "../src/codec/crc32.ts";
import { seededRandom } from "./_helpers.ts";

/** CRC-32/IEEE by its definition, one bit at a time. */
function crc32ByBits(bytes: Uint8Array, previous = 0): number {
  let crc = ~previous;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
    }
  }
  return ~crc >>> 0;
}

Deno.test("crc32: check values, whole and continued", () => {
  const check = new TextEncoder().encode("123456789");
  assertEquals(crc32(check), 0xcbf43926);
  assertEquals(crc32ByBits(check), 0xcbf43926);
  assertEquals(
    crc32(check.subarray(4), crc32(check.subarray(0, 4))),
    0xcbf43926,
  );
  assertEquals(crc32(new Uint8Array(0)), 0);
  assertEquals(crc32(new Uint8Array(0), 0xdeadbeef), 0xdeadbeef);
});

Deno.test("crc32: random arrays of every length up to 300 and some large, at odd offsets, split anywhere, match the bit-by-bit CRC", () => {
  const random = seededRandom(7);
  const data = Uint8Array.from({ length: 70000 }, () => random() * 256);
  const lengths = [
    ...Array.from({ length: 300 }, (_, n) => n),
    1000,
    4099,
    65536,
  ];
  for (const length of lengths) {
    const offset = Math.floor(random() * 7);
    const bytes = data.subarray(offset, offset + length);
    const whole = crc32ByBits(bytes);
    assertEquals(crc32(bytes), whole, `length ${length}`);
    const cut = Math.floor(random() * (length + 1));
    assertEquals(
      crc32(bytes.subarray(cut), crc32(bytes.subarray(0, cut))),
      whole,
      `length ${length} cut at ${cut}`,
    );
  }
});

Deno.test("crc32Combine: the CRC-32 of two parts from theirs equals the whole's, at every split and for empty parts", () => {
  const random = seededRandom(11);
  const data = Uint8Array.from({ length: 70000 }, () => random() * 256);
  for (const length of [0, 1, 2, 3, 17, 300, 4099, 70000]) {
    const bytes = data.subarray(0, length);
    const whole = crc32ByBits(bytes);
    const cuts = [0, length, ...Array.from({ length: 20 }, () => random())]
      .map((cut) => cut < 1 ? Math.floor(cut * (length + 1)) : cut);
    for (const cut of cuts) {
      const [a, b] = [bytes.subarray(0, cut), bytes.subarray(cut)];
      assertEquals(
        crc32Combine(crc32(a), crc32(b), b.length),
        whole,
        `length ${length} cut at ${cut}`,
      );
    }
  }
  // A second part of zero bytes leaves the first's CRC-32 as it is.
  assertEquals(crc32Combine(0xcbf43926, 0, 0), 0xcbf43926);
});
