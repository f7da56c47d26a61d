/**
 * Memory of the `ctx` layout on one large dump (issue 13, item 13): encode and
 * decode, each a job in a process of its own, measured by the process's peak
 * resident memory (VmHWM, Linux).
 *
 * @module
 */

import { assert, assertEquals } from "@std/assert";
import { join } from "@std/path";
import {
  listFiles,
  peakMemoryOf,
  withTempDir,
  writeDumpFolder,
} from "./_helpers.ts";

/** Tokens of the dump: 2 x 98,304 rows of 2 heads of 64, 50.3 MB. */
const TOKENS = 98_304;

/**
 * K and V of `tokens` rows that do not repeat, shaped like real ones: each
 * channel keeps a scale and a sign tendency, the low mantissa bits are noise.
 */
function largeTensor(tokens: number, seed: number): Uint16Array {
  const rowLength = 128;
  const words = new Uint16Array(tokens * rowLength);
  let state = seed;
  for (let i = 0; i < words.length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    const channel = i % rowLength;
    const exponent = 10 + (channel % 7) + ((state >>> 30) & 1);
    const sign = (state >>> 29) & (channel & 1);
    words[i] = (sign << 15) | (exponent << 10) | ((state >>> 8) & 0x3ff);
  }
  return words;
}

Deno.test({
  name:
    "#13 item 13: ctx encode and decode of a 50 MB dump each peak within 3x its size + 100 MB (format v2 codes in chunks)",
  ignore: Deno.build.os !== "linux",
  async fn() {
    await withTempDir(async (dir) => {
      const dumps = join(dir, "dumps");
      const k = largeTensor(TOKENS, 1);
      const v = largeTensor(TOKENS, 2);
      const size = k.byteLength + v.byteLength;
      await writeDumpFolder(dumps, [{
        folder: "l0",
        name: `meta_t0_${TOKENS}`,
        k,
        v,
        seqLen: TOKENS,
        meta: { kv_heads: 2, head_dim: 64 },
      }]);
      const encode = await peakMemoryOf("encode", {
        dumpDir: dumps,
        outDir: join(dir, "ctx"),
        codec: "ctx",
      });
      assertEquals(encode.output, "");
      assert(
        encode.peak <= 3 * size + 100e6,
        `encode peak ${encode.peak} B for a dump of ${size} B`,
      );
      const kvc = join(dir, "ctx", "l0", `meta_t0_${TOKENS}.kvc`);
      assertEquals((await Deno.readFile(kvc))[3], 2);
      const decode = await peakMemoryOf("decode", {
        bitstreamDir: join(dir, "ctx"),
        outDir: join(dir, "restored"),
      });
      assertEquals(decode.output, "");
      assert(
        decode.peak <= 3 * size + 100e6,
        `decode peak ${decode.peak} B for a dump of ${size} B`,
      );
      for (const file of await listFiles(dumps)) {
        assertEquals(
          await Deno.readFile(join(dir, "restored", file)),
          await Deno.readFile(join(dumps, file)),
          file,
        );
      }
    });
  },
});
