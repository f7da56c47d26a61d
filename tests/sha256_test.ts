/** SHA-256: the standard's examples, and agreement with Web Crypto on random inputs. */

import { assertEquals, assertThrows } from "@std/assert";
import { Sha256, sha256 } from "../src/codec/sha256.ts";
import { seededRandom } from "./_helpers.ts";

const hex = (bytes: Uint8Array) =>
  [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
const text = (s: string) => new TextEncoder().encode(s);

Deno.test("sha256: the examples of FIPS 180-4 and the empty message", () => {
  assertEquals(
    hex(sha256(new Uint8Array(0))),
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  );
  assertEquals(
    hex(sha256(text("abc"))),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
  assertEquals(
    hex(
      sha256(text("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
    ),
    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
  );
  assertEquals(
    hex(sha256(new Uint8Array(1_000_000).fill(0x61))),
    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
  );
});

Deno.test("sha256: equals crypto.subtle on every length up to 300, in one piece and in random pieces", async () => {
  const random = seededRandom(11);
  for (let length = 0; length <= 300; length++) {
    const bytes = Uint8Array.from({ length }, () => (random() * 256) | 0);
    const expected = new Uint8Array(
      await crypto.subtle.digest("SHA-256", bytes),
    );
    assertEquals(sha256(bytes), expected, `length ${length}`);
    const hash = new Sha256();
    for (let at = 0; at < length;) {
      const take = Math.min(length - at, (random() * 90) | 0);
      hash.update(bytes.subarray(at, at + take));
      at += take;
    }
    assertEquals(hash.digest(), expected, `pieces of length ${length}`);
  }
});

Deno.test("sha256: no update or digest after the digest", () => {
  const hash = new Sha256();
  hash.digest();
  assertThrows(
    () => hash.update(new Uint8Array(1)),
    TypeError,
    "after its digest",
  );
  assertThrows(() => hash.digest(), TypeError, "twice");
});
