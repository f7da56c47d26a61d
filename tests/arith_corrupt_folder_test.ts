/**
 * Corrupt arithmetic folders through the verify job: truncated and bit-flipped
 * `.ac` files, tables that disagree with their streams, and tables too large for
 * the coder each fail their own dump with one clear line; the others pass.
 */

import { assert, assertEquals, assertMatch } from "@std/assert";
import { join } from "@std/path";
import { arithStreamCodec } from "../src/format/arith_stream_codec.ts";
import { encodeFolder } from "../src/jobs/encode_job.ts";
import { verifyFolder } from "../src/jobs/verify_job.ts";
import type { DumpOutcome } from "../src/jobs/job_report.ts";
import {
  KV_SAMPLE,
  listFiles,
  REFERENCE,
  seededRandom,
  withTempDir,
} from "./_helpers.ts";

const LAYER = "llama6L-kjv-ruth/layer_0";

/** Encodes the 19 dumps of one fixture layer with the arithmetic codec. */
async function encodeLayer(outDir: string, codebook: "global" | "per-dump") {
  const report = await encodeFolder({
    dumpDir: join(KV_SAMPLE, LAYER),
    outDir,
    codec: arithStreamCodec,
    codebook,
    overwrite: false,
    stage: "both",
    minSeqLen: 0,
    maxSeqLen: 0,
  });
  assertEquals(report.outcomes.filter((o) => o.status === "done").length, 19);
}

async function editFile(path: string, edit: (bytes: Uint8Array) => Uint8Array) {
  await Deno.writeFile(path, edit(await Deno.readFile(path)));
}

function failures(outcomes: readonly DumpOutcome[]): Record<string, string> {
  return Object.fromEntries(
    outcomes.filter((o) => o.status === "failed").map((
      o,
    ) => [o.dump, o.reason!]),
  );
}

Deno.test("kvbits' arithmetic folder: truncated, flipped and extended streams and a disagreeing table fail their dump only", async () => {
  await withTempDir(async (dir) => {
    await encodeLayer(dir, "per-dump");
    // Truncated by one byte.
    await editFile(
      join(dir, "k_hi6_meta_t0_128.ac"),
      (b) => b.subarray(0, b.length - 1),
    );
    // One bit flipped in the middle.
    await editFile(join(dir, "v_lo10_meta_t128_256.ac"), (b) => {
      b[b.length >> 1] ^= 0x08;
      return b;
    });
    // One byte appended.
    await editFile(
      join(dir, "k_lo10_meta_t384_385.ac"),
      (b) => Uint8Array.from([...b, 0]),
    );
    // A table that disagrees with its stream: one count moved between symbols.
    const metaPath = join(dir, "arith_meta_t256_384.json");
    const meta = JSON.parse(await Deno.readTextFile(metaPath));
    const table = meta.v_hi6_freq as number[];
    const top = table.indexOf(Math.max(...table));
    table[top] -= 1;
    table[(top + 1) % 64] += 1;
    await Deno.writeTextFile(metaPath, JSON.stringify(meta));

    const report = await verifyFolder({ bitstreamDir: dir });
    const failed = failures(report.outcomes);
    assertEquals(Object.keys(failed).sort(), [
      "arith_meta_t0_128.json",
      "arith_meta_t128_256.json",
      "arith_meta_t256_384.json",
      "arith_meta_t384_385.json",
    ]);
    assertMatch(
      failed["arith_meta_t0_128.json"],
      /k_hi6_meta_t0_128\.ac: Cannot decode k_hi6 at bit \d+: /,
    );
    assertMatch(
      failed["arith_meta_t384_385.json"],
      /k_lo10_meta_t384_385\.ac: Cannot decode k_lo10 at bit \d+: 1 bytes follow the end/,
    );
    // A flip or a wrong table is caught by the finish check or, when the result
    // happens to be a valid stream of other symbols, by the CRC-32.
    for (
      const dump of ["arith_meta_t128_256.json", "arith_meta_t256_384.json"]
    ) {
      assertMatch(
        failed[dump],
        /Cannot decode.*(does not end|ends early|follow the end|CRC-32)/,
      );
    }
    assertEquals(report.checkedByChecksum, 15);
  });
});

Deno.test("a global arithmetic codebook with a total above 2^30 fails every dump, naming the table", async () => {
  await withTempDir(async (dir) => {
    await encodeLayer(dir, "global");
    const path = join(dir, "global_codebook_arith.json");
    const codebook = JSON.parse(await Deno.readTextFile(path));
    (codebook.v_lo10_freq as number[])[7] = 2 ** 30;
    await Deno.writeTextFile(path, JSON.stringify(codebook));
    const report = await verifyFolder({ bitstreamDir: dir });
    const failed = Object.values(failures(report.outcomes));
    assertEquals(failed.length, 19);
    for (const reason of failed) {
      assertMatch(
        reason,
        /global_codebook_arith\.json: Cannot decode v_lo10_freq: its frequencies sum to \d+, above 2\^30/,
      );
    }
  });
});

Deno.test("a reference arithmetic folder (no checksums) with flipped bits fails verification against the originals", async () => {
  await withTempDir(async (dir) => {
    const source = join(REFERENCE, "arith-per-dump");
    for (const file of await listFiles(source)) {
      await Deno.mkdir(join(dir, file, ".."), { recursive: true });
      await Deno.copyFile(join(source, file), join(dir, file));
    }
    // Flip one bit in each of the four dumps' k_lo10 streams, at different places.
    const streams = (await listFiles(dir)).filter((f) =>
      f.includes("k_lo10_") && f.endsWith(".ac")
    );
    assertEquals(streams.length, 4);
    for (const [i, file] of streams.entries()) {
      await editFile(join(dir, file), (b) => {
        b[Math.floor(b.length * (i + 1) / 5)] ^= 0x40;
        return b;
      });
    }
    const report = await verifyFolder({
      bitstreamDir: dir,
      origDumpDir: KV_SAMPLE,
    });
    const failed = Object.values(failures(report.outcomes));
    assertEquals(failed.length, 4);
    for (const reason of failed) assert(reason.length > 0);
  });
});

Deno.test("the arithmetic symbol capacity never refuses a real stream and refuses an inflated count", () => {
  const random = seededRandom(11);
  for (let trial = 0; trial < 400; trial++) {
    const count = 1 + Math.floor(random() * 3000);
    const skew = 1 + random() * 8;
    const symbols = Uint8Array.from(
      { length: count },
      () => Math.floor(64 * random() ** skew),
    );
    const counts = new Float64Array(64);
    for (const symbol of symbols) counts[symbol]++;
    const model = arithStreamCodec.modelFromCounts(counts, "k_hi6");
    const bytes = arithStreamCodec.encode(symbols, model, "k_hi6");
    const capacity = arithStreamCodec.symbolCapacity!(bytes.length, model);
    assert(
      count <= capacity,
      `${count} symbols in ${bytes.length} bytes, capacity ${capacity}`,
    );
    if (capacity !== Infinity) {
      assert(capacity < 64 * count + 1e5, `capacity ${capacity} is loose`);
    }
  }
  const oneSymbol = arithStreamCodec.modelFromCounts(
    Float64Array.from({ length: 64 }, (_, i) => i === 3 ? 9 : 0),
    "v_hi6",
  );
  assertEquals(arithStreamCodec.symbolCapacity!(1, oneSymbol), Infinity);
});
