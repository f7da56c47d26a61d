/**
 * Known-answer files of format v1: `.kvc` files made once from fixture dumps and
 * kept in `fixtures/golden/`. Each must decode to the exact bytes of its dump, and
 * encoding the dump again must give the exact bytes of the file, so a change to
 * what ctx writes (the payload or the file around it) fails here even when it
 * still round-trips.
 *
 * After a deliberate format change (a new version number, see docs), rewrite them
 * with `deno test -A tests/golden_test.ts -- --update-golden`.
 *
 * @module
 */

import { assertEquals } from "@std/assert";
import { dirname, join } from "@std/path";
import {
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

for (const relativePath of GOLDEN_DUMPS) {
  const metaName = relativePath.slice(relativePath.lastIndexOf("/") + 1)
    .replace(/\.json$/, "");
  const goldenPath = join(
    GOLDEN_CTX,
    dirname(relativePath),
    `${metaName}.kvc`,
  );
  Deno.test(`golden ctx file ${relativePath}: exact bytes both ways`, async () => {
    const metaPath = join(KV_SAMPLE, relativePath);
    const { text, meta } = await readInputMeta(metaPath);
    const paths = tensorPaths(dirname(metaPath), meta);
    const kBytes = await Deno.readFile(paths.k);
    const vBytes = await Deno.readFile(paths.v);
    const k = fp16WordsOfBytes(kBytes, kBytes.length / 2);
    const v = fp16WordsOfBytes(vBytes, vBytes.length / 2);
    const encoded = encodeCtxDumpFile({ metaName, metaText: text, meta, k, v });
    if (UPDATE) {
      await Deno.mkdir(dirname(goldenPath), { recursive: true });
      await Deno.writeFile(goldenPath, encoded.bytes);
    }
    const golden = await Deno.readFile(goldenPath);
    // Decoding the golden file restores the dump's files byte for byte.
    const decoded = decodeCtxDumpFile(golden, metaName);
    assertEquals(decoded.inputText, text);
    assertEquals(fp16BytesOfWords(decoded.k), kBytes);
    assertEquals(fp16BytesOfWords(decoded.v), vBytes);
    // Encoding the dump again writes the golden bytes exactly.
    assertEquals(encoded.bytes.length, golden.length);
    assertEquals(encoded.bytes, golden);
  });
}
