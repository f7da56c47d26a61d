/**
 * A user's program that imports kvbits by URL. `url_import_test.ts` serves the
 * repository over HTTP and runs this file from there (`deno run --no-config
 * --allow-import=127.0.0.1:PORT http://127.0.0.1:PORT/tests/_url_import_probe.ts`),
 * so that `../mod.ts` below is fetched by URL, with every module it imports, with
 * no import map and no permission but the import itself. It round-trips an FP16
 * tensor through each codec, alone and as a dump, and prints what happened as
 * JSON.
 *
 * It imports nothing but `mod.ts`: a bare specifier (`@std/...`) would fail here,
 * which is the point.
 *
 * @module
 */

import * as kvbits from "../mod.ts";

/** A tensor encoded and decoded by one codec. */
export interface TensorRoundTrip {
  /** Bytes of the encoded tensor. */
  readonly encodedBytes: number;
  /** The words decoded from it. */
  readonly decoded: Uint16Array;
}

/** Encodes an FP16 tensor and decodes it again. */
export type PlaneCodec = (words: Uint16Array) => TensorRoundTrip;

/**
 * Every codec `mod.ts` exports, by name, through its tensor API: a new codec
 * adds one line here.
 */
export const PLANE_CODECS: Readonly<Record<string, PlaneCodec>> = {
  huffman: (words) => {
    const coded = kvbits.huffmanEncodeTensor(words);
    return {
      encodedBytes: coded.hi6.length + coded.lo10.length,
      decoded: kvbits.huffmanDecodeTensor(coded),
    };
  },
  arith: (words) => {
    const coded = kvbits.arithEncodeTensor(words);
    return {
      encodedBytes: coded.hi6.length + coded.lo10.length,
      decoded: kvbits.arithDecodeTensor(coded),
    };
  },
  ctx: (words) => {
    const shape = { tokens: 1, heads: 1, headDim: words.length };
    const payload = kvbits.ctxEncodeTensor(words, shape);
    return {
      encodedBytes: payload.length,
      decoded: kvbits.ctxDecodeTensor(payload, shape),
    };
  },
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
  /** Bytes of the encoded tensor. */
  readonly encodedBytes: number;
  /** A checksum (FNV-1a) of the decoded tensor's words. */
  readonly crc32: number;
  /** Whether the tensor as a dump's K and V came back through `decodeDump`. */
  readonly dump: boolean;
}

/** FNV-1a of the words: this file imports nothing but `mod.ts`. */
function checksum(words: Uint16Array): number {
  let hash = 0x811c9dc5;
  for (const word of words) hash = Math.imul(hash ^ word, 0x01000193) >>> 0;
  return hash;
}

/**
 * Round-trips the tensor through each codec's tensor API, and as K and V of a
 * dump through `encodeDump`/`decodeDump`, and compares with the original.
 *
 * @param words The tensor.
 * @returns One result per codec, by name.
 */
export function roundTripEveryCodec(
  words: Uint16Array,
): Record<string, CodecResult> {
  const metaText = JSON.stringify({
    layer_id: 0,
    seq_len: 1,
    kv_heads: 1,
    head_dim: words.length,
    bytes_per_elem: 2,
    stage: "decode",
    k_file: "k.bin",
    v_file: "v.bin",
  });
  const same = (a: Uint16Array) =>
    a.length === words.length && a.every((word, i) => word === words[i]);
  const results: Record<string, CodecResult> = {};
  for (const [name, codec] of Object.entries(PLANE_CODECS)) {
    const { encodedBytes, decoded } = codec(words);
    const { files } = kvbits.encodeDump(
      { metaText, k: words, v: words },
      { codec: name as kvbits.CodecName, metaName: "meta_t0_1" },
    );
    const dump = kvbits.decodeDump(files);
    results[name] = {
      ok: same(decoded),
      words: words.length,
      encodedBytes,
      crc32: checksum(decoded),
      dump: same(dump.k) && same(dump.v) && dump.metaText === metaText,
    };
  }
  return results;
}

if (import.meta.main) {
  const words = sampleTensor(4096);
  const codecs = roundTripEveryCodec(words);
  console.log(JSON.stringify({
    moduleUrl: import.meta.url,
    originalCrc32: checksum(words),
    codecs,
  }));
  if (!Object.values(codecs).every((result) => result.ok && result.dump)) {
    Deno.exit(1);
  }
}
