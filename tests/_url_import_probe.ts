/**
 * A user's program that imports kvbits by URL. `url_import_test.ts` serves the
 * repository over HTTP and runs this file from there (`deno run --no-config
 * --allow-import=127.0.0.1:PORT http://127.0.0.1:PORT/tests/_url_import_probe.ts`),
 * so that `../mod.ts` below is fetched by URL, with every module it imports, with
 * no import map and no permission but the import itself. It round-trips an FP16
 * tensor through each codec and prints what happened as JSON.
 *
 * It imports nothing but `mod.ts`: a bare specifier (`@std/...`) would fail here,
 * which is the point.
 *
 * @module
 */

import * as kvbits from "../mod.ts";

/** A plane's symbols, encoded and decoded by one codec. */
export interface PlaneRoundTrip {
  /** The encoded stream. */
  readonly encoded: Uint8Array;
  /** The symbols decoded from it. */
  readonly decoded: ArrayLike<number>;
}

/** Encodes one plane of symbols below `alphabetSize` and decodes it again. */
export type PlaneCodec = (
  symbols: Uint8Array | Uint16Array,
  alphabetSize: number,
) => PlaneRoundTrip;

/** A Huffman round trip with a code built from the plane's own counts. */
function huffmanRoundTrip(
  symbols: Uint8Array | Uint16Array,
  alphabetSize: number,
): PlaneRoundTrip {
  const counts = kvbits.countSymbols(symbols, alphabetSize);
  const code = kvbits.canonicalCode(kvbits.huffmanCodeLengths(counts));
  const encoded = kvbits.huffmanEncode(symbols, code);
  const table = kvbits.huffmanDecodeTable(code);
  return {
    encoded,
    decoded: kvbits.huffmanDecode(encoded, symbols.length, table),
  };
}

/** An arithmetic-coding round trip with kvbits' table of the plane's own counts. */
function arithmeticRoundTrip(
  symbols: Uint8Array | Uint16Array,
  alphabetSize: number,
): PlaneRoundTrip {
  const counts = kvbits.countSymbols(symbols, alphabetSize);
  const model = kvbits.arithmeticModel(
    kvbits.arithmeticTableFromCounts(counts),
  );
  const encoded = kvbits.arithmeticEncode(symbols, model);
  return {
    encoded,
    decoded: kvbits.arithmeticDecode(encoded, symbols.length, model),
  };
}

/**
 * Every codec `mod.ts` exports, by name: a new codec adds one line here.
 */
export const PLANE_CODECS: Readonly<Record<string, PlaneCodec>> = {
  huffman: huffmanRoundTrip,
  arith: arithmeticRoundTrip,
};

/**
 * FP16 words like a KV cache's (near-Gaussian values of a few scales) plus the
 * special patterns: ±0, subnormals, the largest finite values, ±infinity, NaNs.
 *
 * @param count How many near-Gaussian words.
 * @returns The words.
 */
export function sampleTensor(count: number): Uint16Array {
  let state = 0x9e3779b9;
  const uniform = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return (state + 0.5) / 4294967296;
  };
  const values = new Float16Array(count);
  for (let i = 0; i < count; i++) {
    const gaussian = Math.sqrt(-2 * Math.log(uniform())) *
      Math.cos(2 * Math.PI * uniform());
    values[i] = gaussian * [0.05, 1, 20][i % 3];
  }
  const special = [
    0x0000,
    0x8000,
    0x0001,
    0x03ff,
    0x8001,
    0x7bff,
    0xfbff,
    0x7c00,
    0xfc00,
    0x7e00,
    0x7c01,
    0xffff,
  ];
  return Uint16Array.from([
    ...special,
    ...new Uint16Array(values.buffer),
  ]);
}

/** What one codec did with the tensor. */
export interface CodecResult {
  /** Whether every word came back. */
  readonly ok: boolean;
  /** Words in the tensor. */
  readonly words: number;
  /** Bytes of both encoded planes. */
  readonly encodedBytes: number;
  /** CRC-32 of the decoded tensor's bytes. */
  readonly crc32: number;
}

/**
 * Splits the tensor into planes, round-trips both through each codec, joins them
 * and compares with the original.
 *
 * @param words The tensor.
 * @returns One result per codec, by name.
 */
export function roundTripEveryCodec(
  words: Uint16Array,
): Record<string, CodecResult> {
  const { hi6, lo10 } = kvbits.splitFp16Planes(words);
  const results: Record<string, CodecResult> = {};
  for (const [name, codec] of Object.entries(PLANE_CODECS)) {
    const hi = codec(hi6, kvbits.HI6_ALPHABET_SIZE);
    const lo = codec(lo10, kvbits.LO10_ALPHABET_SIZE);
    const back = kvbits.joinFp16Planes(
      Uint8Array.from(hi.decoded),
      Uint16Array.from(lo.decoded),
    );
    results[name] = {
      ok: back.length === words.length &&
        back.every((word, i) => word === words[i]),
      words: words.length,
      encodedBytes: hi.encoded.length + lo.encoded.length,
      crc32: kvbits.crc32(new Uint8Array(back.buffer)),
    };
  }
  return results;
}

if (import.meta.main) {
  const words = sampleTensor(4096);
  const codecs = roundTripEveryCodec(words);
  console.log(JSON.stringify({
    moduleUrl: import.meta.url,
    originalCrc32: kvbits.crc32(new Uint8Array(words.buffer)),
    codecs,
  }));
  if (!Object.values(codecs).every((result) => result.ok)) Deno.exit(1);
}
