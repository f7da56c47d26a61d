/**
 * Known-answer files of the `ctx` format: `.kvc` files made once from fixture
 * dumps and kept in `fixtures/golden/ctx/`, by format version.
 *
 * - `v2/` (what kvbits writes): each file must decode to the exact bytes of its
 *   dump, and encoding the dump again must give the exact bytes of the file, so
 *   a change to what ctx writes (the payload or the file around it) fails here
 *   even when it still round-trips. `v2/chunks-2^12/` holds bare payloads (K
 *   then V) coded in chunks of 2^12 elements, eight chunks a dump: the chunk
 *   layout, which a `.kvc` of a fixture dump (one chunk of 2^18) never reaches.
 * - `v1/` (format version 1, no longer written): each file must still decode to
 *   the exact bytes of its dump.
 *
 * After a deliberate format change (a new version number, see docs), add a
 * folder for it and write its files with
 * `deno test -A tests/golden_test.ts -- --update-golden`.
 *
 * @module
 */

import { assertEquals } from "@std/assert";
import { dirname, join } from "@std/path";
import { ctxDecode, ctxEncode } from "../src/codec/ctx_codec.ts";
import {
  CTX_FORMAT_VERSION,
  decodeCtxDumpFile,
  encodeCtxDumpFile,
} from "../src/format/ctx_dump_file.ts";
import {
  fp16BytesOfWords,
  fp16WordsOfBytes,
} from "../src/format/fp16_tensor.ts";
import { readInputMeta, tensorPaths } from "../src/dump/input_dump.ts";
import { FIXTURES, KV_SAMPLE } from "./_helpers.ts";

const GOLDEN_CTX = join(FIXTURES, "golden", "ctx");
const UPDATE = Deno.args.includes("--update-golden");
/** Chunk size (log2 of elements) of the bare multi-chunk payloads. */
const SMALL_CHUNK_BITS = 12;

/**
 * The dumps with a golden file: a 128-token prefill chunk of layer 0 (repeated V
 * rows, K rows predicted by rotation, escapes, coded rows) and single-token
 * decode steps of two models (the "no history" contexts alone).
 */
const GOLDEN_DUMPS = [
  "llama6L-kjv-ruth/layer_0/meta_t0_128.json",
  "llama6L-kjv-ruth/layer_5/meta_t399_400.json",
  "gpt2L4-fortune-wisdom/layer_0/meta_t448_449.json",
];

/** A fixture dump: its meta name, text and parsed meta, and K and V as bytes and words. */
async function fixtureDump(relativePath: string) {
  const metaName = relativePath.slice(relativePath.lastIndexOf("/") + 1)
    .replace(/\.json$/, "");
  const metaPath = join(KV_SAMPLE, relativePath);
  const { text, meta } = await readInputMeta(metaPath);
  const paths = tensorPaths(dirname(metaPath), meta);
  const kBytes = await Deno.readFile(paths.k);
  const vBytes = await Deno.readFile(paths.v);
  return {
    metaName,
    text,
    meta,
    kBytes,
    vBytes,
    k: fp16WordsOfBytes(kBytes, kBytes.length / 2),
    v: fp16WordsOfBytes(vBytes, vBytes.length / 2),
    shape: { tokens: meta.seqLen, heads: meta.kvHeads, headDim: meta.headDim },
  };
}

/** The golden file's bytes; written first when updating. */
async function golden(path: string, bytes: Uint8Array): Promise<Uint8Array> {
  if (UPDATE) {
    await Deno.mkdir(dirname(path), { recursive: true });
    await Deno.writeFile(path, bytes);
  }
  return await Deno.readFile(path);
}

for (const relativePath of GOLDEN_DUMPS) {
  const kvc = relativePath.replace(/\.json$/, ".kvc");

  Deno.test(`golden ctx file v${CTX_FORMAT_VERSION}/${kvc}: exact bytes both ways`, async () => {
    const dump = await fixtureDump(relativePath);
    const encoded = encodeCtxDumpFile({ ...dump, metaText: dump.text });
    const bytes = await golden(
      join(GOLDEN_CTX, `v${CTX_FORMAT_VERSION}`, kvc),
      encoded.bytes,
    );
    // Decoding the golden file restores the dump's files byte for byte.
    const decoded = decodeCtxDumpFile(bytes, dump.metaName);
    assertEquals(decoded.inputText, dump.text);
    assertEquals(fp16BytesOfWords(decoded.k), dump.kBytes);
    assertEquals(fp16BytesOfWords(decoded.v), dump.vBytes);
    // Encoding the dump again writes the golden bytes exactly.
    assertEquals(encoded.bytes.length, bytes.length);
    assertEquals(encoded.bytes, bytes);
  });

  Deno.test(`golden ctx file v1/${kvc}: still decodes to the exact bytes`, async () => {
    const dump = await fixtureDump(relativePath);
    const bytes = await Deno.readFile(join(GOLDEN_CTX, "v1", kvc));
    assertEquals(bytes[3], 1);
    const decoded = decodeCtxDumpFile(bytes, dump.metaName);
    assertEquals(decoded.inputText, dump.text);
    assertEquals(fp16BytesOfWords(decoded.k), dump.kBytes);
    assertEquals(fp16BytesOfWords(decoded.v), dump.vBytes);
  });
}

Deno.test(`golden ctx payload v${CTX_FORMAT_VERSION}/chunks-2^${SMALL_CHUNK_BITS}: eight chunks, exact bytes both ways`, async () => {
  const relativePath = GOLDEN_DUMPS[0];
  const dump = await fixtureDump(relativePath);
  const options = { chunkBits: SMALL_CHUNK_BITS };
  const encoded = ctxEncode([dump.k, dump.v], dump.shape, options);
  const bytes = await golden(
    join(
      GOLDEN_CTX,
      `v${CTX_FORMAT_VERSION}`,
      `chunks-2^${SMALL_CHUNK_BITS}`,
      relativePath.replace(/\.json$/, ".ctx"),
    ),
    encoded,
  );
  // 2 x 128 rows of 128 elements in chunks of 32 rows.
  assertEquals(2 * dump.k.length / 2 ** SMALL_CHUNK_BITS, 8);
  const [k, v] = ctxDecode(bytes, 2, dump.shape, options);
  assertEquals(fp16BytesOfWords(k), dump.kBytes);
  assertEquals(fp16BytesOfWords(v), dump.vBytes);
  assertEquals(encoded, bytes);
  // Other chunk sizes code the same words in other bytes.
  const whole = ctxEncode([dump.k, dump.v], dump.shape);
  assertEquals(ctxDecode(whole, 2, dump.shape), [dump.k, dump.v]);
  assertEquals(whole.length < bytes.length, true);
});
