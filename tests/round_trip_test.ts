/**
 * Whole folders through encode, verify and decode: real dumps and adversarial ones,
 * with every codec (the stream codecs with global and per-dump codebooks), restored
 * byte for byte.
 */

import { assert, assertEquals } from "@std/assert";
import { join } from "@std/path";
import type { CodebookMode } from "../src/format/stream_codec.ts";
import { CODECS } from "../src/format/codecs.ts";
import { STREAM_CODECS } from "../src/format/stream_codecs.ts";
import { decodeFolder } from "../src/jobs/decode_job.ts";
import { encodeFolder } from "../src/jobs/encode_job.ts";
import { verifyFolder } from "../src/jobs/verify_job.ts";
import {
  KV_SAMPLE,
  listFiles,
  SHARED,
  SHARED_AVAILABLE,
  type SyntheticDump,
  withTempDir,
  writeDumpFolder,
} from "./_helpers.ts";

/** Encodes, verifies (with and without originals) and decodes a folder; asserts every file comes back. */
async function assertRoundTrip(
  dumpDir: string,
  codebook: CodebookMode,
  codecName: string,
) {
  const codec = CODECS.find((c) => c.name === codecName)!;
  await withTempDir(async (work) => {
    const bitstreamDir = join(work, "bits");
    const restoredDir = join(work, "restored");
    const encoded = await encodeFolder({
      dumpDir,
      outDir: bitstreamDir,
      codec,
      codebook,
      overwrite: false,
      stage: "both",
      minSeqLen: 0,
      maxSeqLen: 0,
      durable: false, // no disk flushes: this test is about the bytes
    });
    const dumps = encoded.outcomes.length;
    assertEquals(encoded.outcomes.filter((o) => o.status !== "done"), []);
    const byChecksum = await verifyFolder({ bitstreamDir });
    assertEquals([byChecksum.checkedByChecksum, byChecksum.unchecked], [
      dumps,
      0,
    ]);
    const byOriginals = await verifyFolder({
      bitstreamDir,
      origDumpDir: dumpDir,
    });
    assertEquals(byOriginals.checkedAgainstOriginals, dumps);
    const decoded = await decodeFolder({
      bitstreamDir,
      outDir: restoredDir,
      overwrite: false,
      durable: false,
    });
    assertEquals(decoded.outcomes.filter((o) => o.status !== "done"), []);
    // Dump files only: kv-real also holds a README and runs.json.
    const originals = (await listFiles(dumpDir)).filter((file) =>
      /(^|\/)(meta_.*\.json|[kv]_.*\.bin)$/.test(file)
    );
    assertEquals(await listFiles(restoredDir), originals);
    for (const file of originals) {
      assertEquals(
        await Deno.readFile(join(restoredDir, file)),
        await Deno.readFile(join(dumpDir, file)),
        `${codecName} ${codebook}: ${file}`,
      );
    }
  });
}

/** Dumps that stress the coder: empty, constant, every bit pattern, specials, odd meta text. */
function adversarialDumps(): SyntheticDump[] {
  const every = Uint16Array.from({ length: 65536 }, (_, i) => i);
  const reversed = every.slice().reverse();
  const specials = Uint16Array.from(
    { length: 4096 },
    (_, i) =>
      [
        0x0000,
        0x8000,
        0x0001,
        0x83ff,
        0x7c00,
        0xfc00,
        0x7e00,
        0x7c01,
        0xffff,
      ][i % 9],
  );
  return [
    {
      folder: "run/layer_0",
      name: "meta_t0_0",
      k: new Uint16Array(0),
      seqLen: 0,
    },
    {
      folder: "run/layer_0",
      name: "meta_t0_1",
      k: new Uint16Array(64).fill(0x3c00),
    },
    {
      folder: "run/layer_0",
      name: "meta_t1_257",
      k: every,
      v: reversed,
      seqLen: 256,
    },
    { folder: "run/layer_1", name: "meta_t0_16", k: specials, seqLen: 16 },
    {
      folder: "run/layer_1",
      name: "meta_t16_17",
      k: Uint16Array.from({ length: 128 }, (_, i) => i * 3),
      meta: { run_id: "café ☕", note: "tab\there", nested: { a: [1, 2] } },
    },
    {
      // Repeated token rows (a reference each in ctx), odd head_dim.
      folder: "run/layer_2",
      name: "meta_t0_6",
      k: Uint16Array.from({ length: 6 * 5 }, (_, i) => 0x3c00 + (i % 10)),
      seqLen: 6,
    },
    {
      // Not in the dumper's style: restored from the text kvbits stores.
      folder: "run/layer_1",
      name: "meta_t17_18",
      k: new Uint16Array([0x3c00, 0xbc00]),
      metaText:
        '{\n  "layer_id": 1,\n  "seq_len": 1,\n  "kv_heads": 1,\n  "head_dim": 2,\n  "bytes_per_elem": 2,\n  "stage": "decode",\n  "k_file": "k_t17_18.bin",\n  "v_file": "v_t17_18.bin",\n  "layout": "mine"\n}\n',
    },
  ];
}

for (const codec of CODECS) {
  // A codec that learns as it codes (ctx) has no codebook: one run of each test.
  for (const codebook of codec.codebookModes) {
    const used = codec.modelsUsed(codebook).codebook;
    const label = used ? `${codec.name} ${used}` : codec.name;
    Deno.test(`${label}: the bundled real dumps round-trip byte for byte`, async () => {
      await assertRoundTrip(KV_SAMPLE, codebook, codec.name);
    });

    Deno.test(`${label}: adversarial dumps round-trip byte for byte`, async () => {
      await withTempDir(async (dumpDir) => {
        await writeDumpFolder(dumpDir, adversarialDumps());
        await assertRoundTrip(dumpDir, codebook, codec.name);
      });
    });

    Deno.test({
      name: `${label}: all of ../shared/kv-real round-trips byte for byte`,
      ignore: !SHARED_AVAILABLE,
      fn: async () => {
        await assertRoundTrip(join(SHARED, "kv-real"), codebook, codec.name);
      },
    });
  }
}

Deno.test("kvbits' per-dump JSON is compact: no whitespace between tokens", async () => {
  await withTempDir(async (outDir) => {
    await encodeFolder({
      dumpDir: KV_SAMPLE,
      outDir,
      codec: STREAM_CODECS[0],
      codebook: "global",
      overwrite: false,
      stage: "both",
      minSeqLen: 0,
      maxSeqLen: 0,
    });
    const text = await Deno.readTextFile(
      join(outDir, "llama6L-kjv-ruth/layer_0/bitstream_meta_t0_128.json"),
    );
    assert(!/[,:]\s|\n/.test(text), text);
  });
});
