/**
 * The two error families of the codec layer: corrupt data throws KvbitsDataError
 * (with stream and bit offset), misuse throws the built-in TypeError or RangeError,
 * and the two never overlap.
 */

import { assert, assertEquals, assertThrows } from "@std/assert";
import { KvbitsDataError } from "../mod.ts";
import { canonicalCode } from "../src/codec/canonical_code.ts";
import {
  huffmanDecode,
  huffmanDecodeTable,
} from "../src/codec/huffman_decoder.ts";
import { huffmanEncode } from "../src/codec/huffman_encoder.ts";

const code = canonicalCode(
  Array.from({ length: 1024 }, (_, i) => i < 2 ? 1 : 0),
);
const table = huffmanDecodeTable(code);

Deno.test("a data error is not a RangeError, so that a catch for misuse never swallows corrupt data", () => {
  const error = new KvbitsDataError("x", { stream: "k_hi6", bitOffset: 3 });
  assert(!(error instanceof RangeError) && !(error instanceof TypeError));
});

Deno.test("decoding misuse is a TypeError or RangeError naming the stream", () => {
  assertThrows(
    () =>
      huffmanDecode(
        [0] as unknown as Uint8Array,
        1,
        table,
        undefined,
        "k_lo10",
      ),
    TypeError,
    "Cannot decode k_lo10: the stream must be a Uint8Array",
  );
  assertThrows(
    () =>
      huffmanDecode(
        new Uint8Array(1),
        1,
        table,
        new Float32Array(1) as unknown as Uint8Array,
      ),
    TypeError,
    "the output must be a Uint8Array or a Uint16Array",
  );
  // Symbols up to 1023 would be cut to 8 bits without a word: refused instead.
  const wide = huffmanDecodeTable(
    canonicalCode(Array.from({ length: 1024 }, (_, i) => i === 300 ? 1 : 0)),
  );
  assertThrows(
    () => huffmanDecode(new Uint8Array(1), 1, wide, new Uint8Array(1)),
    RangeError,
    "symbols above 255",
  );
  assertThrows(
    () => huffmanDecode(new Uint8Array(1), 1.5, table),
    RangeError,
    "not a non-negative integer",
  );
});

Deno.test("the same stream, corrupt, is a data error with the stream and the bit offset", () => {
  const bytes = huffmanEncode(new Uint16Array([0, 1, 1, 0]), code, "k_lo10");
  const error = assertThrows(
    () => huffmanDecode(bytes, 20, table, undefined, "k_lo10"),
    KvbitsDataError,
  );
  assertEquals([error.stream, error.bitOffset], ["k_lo10", 8]);
});
