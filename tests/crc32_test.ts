/** CRC-32: the native path and the JavaScript one agree, whole and in parts. */

import { assertEquals } from "@std/assert";
import { crc32, crc32Portable } from "../src/codec/crc32.ts";
import { seededRandom } from "./_helpers.ts";

Deno.test("crc32: check values, whole and continued, natively and in JavaScript", () => {
  const check = new TextEncoder().encode("123456789");
  for (const f of [crc32, crc32Portable]) {
    assertEquals(f(check), 0xcbf43926);
    assertEquals(f(check.subarray(4), f(check.subarray(0, 4))), 0xcbf43926);
    assertEquals(f(new Uint8Array(0)), 0);
    assertEquals(f(new Uint8Array(0), 0xdeadbeef), 0xdeadbeef);
  }
});

Deno.test("crc32: random arrays of every length up to 300 and some large, at odd offsets, split anywhere, give the same CRC both ways", () => {
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
    const whole = crc32Portable(bytes);
    assertEquals(crc32(bytes), whole, `length ${length}`);
    const cut = Math.floor(random() * (length + 1));
    assertEquals(
      crc32(bytes.subarray(cut), crc32(bytes.subarray(0, cut))),
      whole,
      `length ${length} cut at ${cut}`,
    );
    assertEquals(
      crc32Portable(bytes.subarray(cut), crc32Portable(bytes.subarray(0, cut))),
      whole,
    );
  }
});
