import { assertEquals, assertInstanceOf, assertThrows } from "@std/assert";
import { KvbitsDataError } from "../mod.ts";
import { canonicalCode } from "../src/codec/canonical_code.ts";
import { countSymbols } from "../src/codec/histogram.ts";
import { huffmanCodeLengths } from "../src/codec/huffman_code_lengths.ts";
import {
  huffmanDecode,
  huffmanDecodeTable,
} from "../src/codec/huffman_decoder.ts";
import { huffmanEncode } from "../src/codec/huffman_encoder.ts";
import { parseDumpMeta } from "../src/format/dump_meta.ts";
import { huffmanStreamCodec } from "../src/format/huffman_stream_codec.ts";
import { seededRandom } from "./_helpers.ts";

function roundTrip(
  symbols: Uint16Array,
  lengths: ArrayLike<number>,
): Uint8Array {
  const code = canonicalCode(lengths);
  const bytes = huffmanEncode(symbols, code);
  assertEquals(
    huffmanDecode(bytes, symbols.length, huffmanDecodeTable(code)),
    symbols,
  );
  return bytes;
}

Deno.test("canonical codes follow FORMAT.md §3: sorted by (length, symbol), (prev + 1) << (len - prev_len)", () => {
  const code = canonicalCode([3, 3, 3, 3, 3, 2, 4, 4]);
  // DEFLATE's example (RFC 1951 §3.2.2): F=00, A=010 .. E=110, G=1110, H=1111.
  assertEquals([...code.codes], [
    0b010,
    0b011,
    0b100,
    0b101,
    0b110,
    0b00,
    0b1110,
    0b1111,
  ]);
});

Deno.test("code lengths that break the Kraft inequality or are out of range are corrupt data", () => {
  const error = assertThrows(
    () => canonicalCode([1, 1, 1], "k_hi6"),
    KvbitsDataError,
    "Kraft",
  );
  assertEquals(error.stream, "k_hi6");
  assertThrows(
    () => canonicalCode([33, 1]),
    KvbitsDataError,
    "not an integer in 0..32",
  );
  assertThrows(
    () => canonicalCode([-1]),
    KvbitsDataError,
    "not an integer in 0..32",
  );
  assertThrows(
    () => canonicalCode([1.5]),
    KvbitsDataError,
    "not an integer in 0..32",
  );
});

Deno.test("random planes round-trip with kvbits' codes, for skewed and flat counts", () => {
  const random = seededRandom(42);
  for (const alphabet of [64, 1024]) {
    for (const skew of [0.5, 2, 6]) {
      const symbols = Uint16Array.from(
        { length: 20000 },
        () => Math.min(alphabet - 1, Math.floor(alphabet * random() ** skew)),
      );
      const lengths = huffmanCodeLengths(countSymbols(symbols, alphabet));
      roundTrip(symbols, lengths);
    }
  }
});

Deno.test("codes of every length up to 32 bits (reference codebooks are not limited) decode", () => {
  // Lengths 1, 2, ..., 31, 32, 32: a complete code with a 32-bit longest code.
  const lengths = [...Array.from({ length: 32 }, (_, i) => i + 1), 32];
  const symbols = Uint16Array.from({ length: 33 * 5 }, (_, i) => (i * 13) % 33);
  const bytes = roundTrip(symbols, lengths);
  assertEquals(bytes.length, Math.ceil(5 * (528 + 32) / 8));
});

Deno.test("an empty plane codes to zero bytes, a one-symbol plane to one bit per symbol", () => {
  assertEquals(roundTrip(new Uint16Array(0), new Array(64).fill(0)).length, 0);
  const lengths = huffmanCodeLengths(
    countSymbols(new Uint16Array(9).fill(5), 64),
  );
  assertEquals(
    roundTrip(new Uint16Array(9).fill(5), lengths),
    new Uint8Array([0, 0]),
  );
});

Deno.test("encoding a symbol without a code names it, its index and the stream", () => {
  const code = canonicalCode([1, 1, 0]);
  assertThrows(
    () => huffmanEncode(new Uint8Array([0, 2]), code, "v_hi6"),
    RangeError,
    "Cannot encode v_hi6: symbol 2 at index 1 has no code in the codebook",
  );
});

Deno.test("a truncated stream ends in a data error at its bit offset, never a hang", () => {
  const code = canonicalCode([1, 2, 2]);
  const symbols = new Uint8Array(100).fill(2);
  const bytes = huffmanEncode(symbols, code);
  const error = assertThrows(
    () =>
      huffmanDecode(
        bytes.subarray(0, 10),
        100,
        huffmanDecodeTable(code),
        undefined,
        "k_lo10",
      ),
    KvbitsDataError,
    "stream ends early",
  );
  assertEquals([error.stream, error.bitOffset], ["k_lo10", 80]);
});

Deno.test("trailing bytes and non-zero padding are data errors", () => {
  const code = canonicalCode([1, 1]);
  const table = huffmanDecodeTable(code);
  const bytes = huffmanEncode(new Uint8Array([1, 0, 1]), code); // 101 + 00000
  assertEquals([...bytes], [0b10100000]);
  assertThrows(
    () => huffmanDecode(new Uint8Array([0b10100000, 0]), 3, table),
    KvbitsDataError,
    "1 bytes follow",
  );
  assertThrows(
    () => huffmanDecode(new Uint8Array([0b10100001]), 3, table),
    KvbitsDataError,
    "padding bits",
  );
});

Deno.test("a bit pattern outside an incomplete code is a data error", () => {
  const code = canonicalCode([1, 0, 0]); // only "0" is a code
  const error = assertThrows(
    () =>
      huffmanDecode(new Uint8Array([0b01000000]), 3, huffmanDecodeTable(code)),
    KvbitsDataError,
    "is not a code of the codebook",
  );
  assertEquals(error.bitOffset, 1);
  assertInstanceOf(error, Error);
});

Deno.test("decoding into a too short output or with a bad count is misuse", () => {
  const table = huffmanDecodeTable(canonicalCode([1, 1]));
  assertThrows(
    () => huffmanDecode(new Uint8Array(1), 4, table, new Uint8Array(3)),
    RangeError,
    "holds 3 symbols",
  );
  assertThrows(
    () => huffmanDecode(new Uint8Array(1), -1, table),
    RangeError,
    "not a non-negative integer",
  );
  assertThrows(
    () =>
      huffmanDecode(
        new Uint8Array(0),
        1,
        huffmanDecodeTable(canonicalCode([0, 0])),
      ),
    KvbitsDataError,
    "no codes but 1 symbols",
  );
});

Deno.test("the Huffman layout's withScratch (a lane's codec, reusing its memory) writes every dump's files byte for byte as the layout does, and what it wrote before stays intact", () => {
  const random = seededRandom(23);
  const reusing = huffmanStreamCodec.withScratch!();
  const kept: { name: string; bytes: Uint8Array; copy: Uint8Array }[] = [];
  for (let round = 0; round < 40; round++) {
    const seqLen = 1 + (round % 7) * 9;
    const metaText = JSON.stringify({
      layer_id: 0,
      seq_len: seqLen,
      kv_heads: 2,
      head_dim: 8,
      bytes_per_elem: 2,
      stage: "prefill",
      k_file: `k_${round}.bin`,
      v_file: `v_${round}.bin`,
    });
    const tensor = () =>
      Uint16Array.from(
        { length: seqLen * 16 },
        () => 0x3c00 + Math.floor(random() ** 4 * (round < 20 ? 40 : 4000)),
      );
    const dump = {
      metaName: `meta_${round}`,
      metaText,
      meta: parseDumpMeta(metaText),
      k: tensor(),
      v: tensor(),
    };
    const expected = huffmanStreamCodec.encodeDump(dump).files;
    const files = reusing.encodeDump(dump).files;
    assertEquals(files.map((file) => file.name), expected.map((f) => f.name));
    files.forEach((file, i) => assertEquals(file.bytes, expected[i].bytes));
    for (const file of files) {
      kept.push({ ...file, copy: file.bytes.slice() });
    }
  }
  for (const file of kept) assertEquals(file.bytes, file.copy, file.name);
});
