/**
 * Issue 13, reliability round two: every way found to lose data, corrupt
 * silently, hang or run out of memory. One test (or more) per item of the issue,
 * named after it; each failed on the code before its fix.
 */

import {
  assert,
  assertEquals,
  assertMatch,
  assertNotMatch,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import { join } from "@std/path";
import { arithStreamCodec } from "../src/format/arith_stream_codec.ts";
import type { Codec } from "../src/format/codecs.ts";
import { ctxLayout } from "../src/format/ctx_dump_file.ts";
import { huffmanStreamCodec } from "../src/format/huffman_stream_codec.ts";
import { pythonJsonDumps } from "../src/format/python_json.ts";
import { analyzeFolders } from "../src/jobs/analyze_folders_job.ts";
import { decodeFolder } from "../src/jobs/decode_job.ts";
import { encodeFolder, type EncodeOptions } from "../src/jobs/encode_job.ts";
import { verifyFolder } from "../src/jobs/verify_job.ts";
import { jobsLimit } from "../src/jobs/jobs_limit.ts";
import { MANIFEST_FILE_NAME } from "../src/format/manifest.ts";
import {
  KV_SAMPLE,
  listFiles,
  peakMemoryOf,
  runTaskScript,
  type SyntheticDump,
  withTempDir,
  writeDumpFolder,
} from "./_helpers.ts";

const CODECS: readonly Codec[] = [
  huffmanStreamCodec,
  arithStreamCodec,
  ctxLayout,
];

function encode(
  dumpDir: string,
  outDir: string,
  options: Partial<EncodeOptions> = {},
) {
  return encodeFolder({
    dumpDir,
    outDir,
    codec: huffmanStreamCodec,
    codebook: "global",
    overwrite: false,
    stage: "both",
    minSeqLen: 0,
    maxSeqLen: 0,
    durable: false,
    jobs: 1,
    ...options,
  });
}

function words(length: number, seed: number): Uint16Array {
  return Uint16Array.from(
    { length },
    (_, i) => 0x3800 + ((i * 7919 + seed * 104729) % 977),
  );
}

/** Two small dumps of one layer, `meta_t0_2` (prefill) and `meta_t2_3` (decode). */
const TWO_DUMPS: readonly SyntheticDump[] = [
  { folder: "l0", name: "meta_t0_2", k: words(16, 1), seqLen: 2 },
  {
    folder: "l0",
    name: "meta_t2_3",
    k: words(8, 2),
    seqLen: 1,
    meta: { seq_start: 2, seq_end_exclusive: 3 },
  },
];

/** Every file below `dir` with its bytes. */
async function snapshot(dir: string): Promise<Map<string, Uint8Array>> {
  const files = new Map<string, Uint8Array>();
  for (const file of await listFiles(dir)) {
    files.set(file, await Deno.readFile(join(dir, file)));
  }
  return files;
}

/**
 * Encodes `dumps` with `codec`, decodes them into `restored`, and checks: every
 * dump encoded comes back byte for byte, and a dump not encoded failed with a
 * reason matching `refused`.
 */
async function assertRestoredExactlyOrRefused(
  dir: string,
  codec: Codec,
  refused: RegExp,
): Promise<void> {
  const dumps = join(dir, "dumps");
  const out = join(dir, `bits-${codec.name}`);
  const restored = join(dir, `restored-${codec.name}`);
  const encoded = await encode(dumps, out, { codec });
  await decodeFolder({
    bitstreamDir: out,
    outDir: restored,
    overwrite: false,
    durable: false,
    jobs: 1,
  }).catch(() => undefined);
  const originals = await snapshot(dumps);
  const back = await snapshot(restored).catch(() => new Map());
  for (const outcome of encoded.outcomes) {
    const metaPath = outcome.dump;
    if (outcome.status === "done") {
      assertEquals(
        back.get(metaPath),
        originals.get(metaPath),
        `${codec.name}: ${metaPath} restored exactly`,
      );
    } else {
      assertEquals(outcome.status, "failed", `${codec.name}: ${metaPath}`);
      assertMatch(outcome.reason ?? "", refused);
    }
  }
}

Deno.test("#13 item 1: a meta file starting with a UTF-8 BOM is restored exactly or refused with the reason, never 'matched' and different", async () => {
  await withTempDir(async (dir) => {
    await writeDumpFolder(join(dir, "dumps"), TWO_DUMPS);
    const path = join(dir, "dumps/l0/meta_t0_2.json");
    const text = await Deno.readFile(path);
    await Deno.writeFile(path, new Uint8Array([0xef, 0xbb, 0xbf, ...text]));
    for (const codec of CODECS) {
      await assertRestoredExactlyOrRefused(dir, codec, /byte order mark/);
    }
    // And the encode report names the problem, the other dump is encoded.
    const report = await encode(join(dir, "dumps"), join(dir, "again"));
    assertEquals(report.outcomes.map((o) => o.status), ["failed", "done"]);
  });
});

Deno.test("#13 item 2: a lone-surrogate escape in a meta value round-trips exactly with every codec (ctx included)", async () => {
  await withTempDir(async (dir) => {
    await writeDumpFolder(join(dir, "dumps"), [
      { ...TWO_DUMPS[0], meta: { run_id: "run-\udc80-x", note: "\ud800" } },
    ]);
    const text = await Deno.readTextFile(join(dir, "dumps/l0/meta_t0_2.json"));
    assertStringIncludes(text, "\\udc80");
    for (const codec of CODECS) {
      await assertRestoredExactlyOrRefused(dir, codec, /^$/);
    }
  });
});

Deno.test("#13 item 3: a legal 247-character tensor file name encodes and decodes (temporary names stay within 255 bytes)", async () => {
  await withTempDir(async (dir) => {
    const kName = `k_${"x".repeat(241)}.bin`;
    const vName = `v_${"é".repeat(120)}.bin`; // 246 bytes of UTF-8
    assertEquals(kName.length, 247);
    await writeDumpFolder(join(dir, "dumps"), [
      { ...TWO_DUMPS[0], meta: { k_file: kName, v_file: vName } },
    ]);
    await Deno.rename(
      join(dir, "dumps/l0/k_t0_2.bin"),
      join(dir, "dumps/l0", kName),
    );
    await Deno.rename(
      join(dir, "dumps/l0/v_t0_2.bin"),
      join(dir, "dumps/l0", vName),
    );
    for (const codec of CODECS) {
      await assertRestoredExactlyOrRefused(dir, codec, /^$/);
    }
  });
});

Deno.test("#13 item 4: encoding stage by stage into one folder never leaves dumps that the global codebook no longer decodes", async () => {
  await withTempDir(async (dir) => {
    const dumps = join(dir, "dumps");
    const out = join(dir, "bits");
    await writeDumpFolder(dumps, TWO_DUMPS);
    await encode(dumps, out, { stage: "prefill" });
    const second = await encode(dumps, out, {
      stage: "decode",
      overwrite: true,
    }).then(() => "", (error) => String(error));
    assertMatch(second, /not selected|--codebook per-dump/);
    const report = await verifyFolder({ bitstreamDir: out, jobs: 1 });
    assertEquals(report.outcomes.map((o) => [o.dump, o.status]), [
      ["l0/bitstream_meta_t0_2.json", "done"],
    ]);
    // Both stages in one run, or per-dump codebooks, work.
    await encode(dumps, join(dir, "pd"), {
      stage: "prefill",
      codebook: "per-dump",
    });
    await encode(dumps, join(dir, "pd"), {
      stage: "decode",
      codebook: "per-dump",
    });
    const pd = await verifyFolder({ bitstreamDir: join(dir, "pd"), jobs: 1 });
    assertEquals(pd.outcomes.map((o) => o.status), ["done", "done"]);
  });
});

Deno.test("#13 item 5: a symbolic link at <out>/.kvbits-lock is refused, and its target is left alone", async () => {
  await withTempDir(async (dir) => {
    const dumps = join(dir, "dumps");
    await writeDumpFolder(dumps, TWO_DUMPS);
    await encode(dumps, join(dir, "bits"));
    const target = join(dir, "precious.txt");
    await Deno.writeTextFile(target, "keep me\n");
    for (const out of ["out-enc", "out-dec"]) {
      await Deno.mkdir(join(dir, out));
      await Deno.symlink(target, join(dir, out, ".kvbits-lock"));
    }
    await assertRejects(
      () =>
        encode(dumps, join(dir, "out-enc"), { stage: "prefill", maxSeqLen: 1 }),
      Error,
      ".kvbits-lock: is a symbolic link",
    );
    await assertRejects(
      () =>
        decodeFolder({
          bitstreamDir: join(dir, "bits"),
          outDir: join(dir, "out-dec"),
          overwrite: false,
          jobs: 1,
        }),
      Error,
      ".kvbits-lock: is a symbolic link",
    );
    assertEquals(await Deno.readTextFile(target), "keep me\n");
  });
});

Deno.test("#13 item 6: decode does not replace a file it did not write (a k file with no meta beside it) without --overwrite", async () => {
  await withTempDir(async (dir) => {
    const dumps = join(dir, "dumps");
    await writeDumpFolder(dumps, TWO_DUMPS);
    await encode(dumps, join(dir, "bits"));
    const restored = join(dir, "restored");
    await Deno.mkdir(join(restored, "l0"), { recursive: true });
    const foreign = join(restored, "l0/k_t0_2.bin");
    await Deno.writeTextFile(foreign, "someone else's file\n");
    const report = await decodeFolder({
      bitstreamDir: join(dir, "bits"),
      outDir: restored,
      overwrite: false,
      durable: false,
      jobs: 1,
    });
    assertEquals(report.outcomes.map((o) => o.status), ["failed", "done"]);
    assertStringIncludes(report.outcomes[0].reason ?? "", foreign);
    assertStringIncludes(report.outcomes[0].reason ?? "", "--overwrite");
    assertEquals(await Deno.readTextFile(foreign), "someone else's file\n");
    // A file equal to what decode writes (a killed run's) is no obstacle.
    await Deno.copyFile(join(dumps, "l0/k_t0_2.bin"), foreign);
    const again = await decodeFolder({
      bitstreamDir: join(dir, "bits"),
      outDir: restored,
      overwrite: false,
      durable: false,
      jobs: 1,
    });
    assertEquals(again.outcomes.map((o) => o.status), ["done", "skipped"]);
    assertEquals(await snapshot(restored), await snapshot(dumps));
  });
});

Deno.test("#13 item 7: a deleted dump (bitstream meta or .kvc) is reported missing by verify and decode, from the manifest", async () => {
  await withTempDir(async (dir) => {
    const dumps = join(dir, "dumps");
    await writeDumpFolder(dumps, TWO_DUMPS);
    for (const codec of [huffmanStreamCodec, ctxLayout]) {
      const out = join(dir, codec.name);
      await encode(dumps, out, { codec });
      const marker = codec === ctxLayout
        ? "l0/meta_t2_3.kvc"
        : "l0/bitstream_meta_t2_3.json";
      const manifest = await Deno.readTextFile(join(out, MANIFEST_FILE_NAME));
      assertStringIncludes(manifest, marker);
      await Deno.remove(join(out, marker));
      const verify = await verifyFolder({ bitstreamDir: out, jobs: 1 });
      const failed = verify.outcomes.filter((o) => o.status === "failed");
      assertEquals(failed.map((o) => o.dump), [marker], codec.name);
      assertMatch(failed[0].reason ?? "", /missing/);
      const decode = await decodeFolder({
        bitstreamDir: out,
        outDir: join(dir, `restored-${codec.name}`),
        overwrite: false,
        durable: false,
        jobs: 1,
      });
      assertEquals(
        decode.outcomes.filter((o) => o.status === "failed").map((o) => o.dump),
        [marker],
      );
      // Through the CLI: exit 2, and the line names the dump.
      const run = await runTaskScript("verify", ["--bitstream-dir", out], [
        "--allow-read",
      ]);
      assertEquals(run.code, 2, run.stdout + run.stderr);
      assertStringIncludes(run.stdout + run.stderr, "meta_t2_3");
    }
  });
});

Deno.test("#13 item 8: a renamed bitstream meta and a .kvc moved to another layer folder are refused, not restored under the new name or place", async () => {
  await withTempDir(async (dir) => {
    const dumps = join(dir, "dumps");
    await writeDumpFolder(dumps, [
      ...TWO_DUMPS,
      { folder: "l1", name: "meta_t0_2", k: words(16, 3), seqLen: 2 },
    ]);
    const huff = join(dir, "huff");
    await encode(dumps, huff);
    await Deno.rename(
      join(huff, "l0/bitstream_meta_t2_3.json"),
      join(huff, "l0/bitstream_meta_t2_9.json"),
    );
    const ctx = join(dir, "ctx");
    await encode(dumps, ctx, { codec: ctxLayout });
    await Deno.mkdir(join(ctx, "l2"));
    await Deno.rename(
      join(ctx, "l1/meta_t0_2.kvc"),
      join(ctx, "l2/meta_t0_2.kvc"),
    );
    for (
      const [out, gone, moved] of [
        [huff, "l0/bitstream_meta_t2_3.json", "l0/bitstream_meta_t2_9.json"],
        [ctx, "l1/meta_t0_2.kvc", "l2/meta_t0_2.kvc"],
      ]
    ) {
      const restored = `${out}-restored`;
      const report = await decodeFolder({
        bitstreamDir: out,
        outDir: restored,
        overwrite: false,
        durable: false,
        jobs: 1,
      });
      const failed = report.outcomes.filter((o) => o.status === "failed");
      assertEquals(failed.map((o) => o.dump).sort(), [gone, moved].sort());
      assertMatch(
        failed.find((o) => o.dump === moved)?.reason ?? "",
        /not in the manifest/,
      );
      const files = await listFiles(restored);
      assert(!files.some((f) => f.includes("t2_9") || f.startsWith("l2/")));
    }
  });
});

Deno.test("#13 item 9: a k_file naming another dump's meta file is refused; decode never writes over another dump", async () => {
  await withTempDir(async (dir) => {
    const dumps = join(dir, "dumps");
    // meta_t2_3.json padded to 32 bytes' multiple: the size of t0_2's K.
    const other = pythonJsonDumps({
      layer_id: 0,
      seq_len: 1,
      kv_heads: 1,
      head_dim: 8,
      bytes_per_elem: 2,
      stage: "decode",
      k_file: "k_t2_3.bin",
      v_file: "v_t2_3.bin",
    });
    const padded = other +
      " ".repeat(Math.ceil(other.length / 32) * 32 - other.length);
    await writeDumpFolder(dumps, [
      {
        ...TWO_DUMPS[0],
        k: words(padded.length / 2, 1),
        seqLen: padded.length / 16,
        meta: { k_file: "meta_t2_3.json", head_dim: 8 },
      },
      { ...TWO_DUMPS[1], metaText: padded },
    ]);
    await Deno.remove(join(dumps, "l0/k_t0_2.bin"));
    for (const codec of [huffmanStreamCodec, ctxLayout]) {
      const report = await encode(dumps, join(dir, codec.name), { codec });
      assertEquals(report.outcomes.map((o) => o.status), ["failed", "done"]);
      assertMatch(report.outcomes[0].reason ?? "", /meta file/);
      const restored = join(dir, `restored-${codec.name}`);
      const decoded = await decodeFolder({
        bitstreamDir: join(dir, codec.name),
        outDir: restored,
        overwrite: false,
        durable: false,
        jobs: 1,
      });
      assertEquals(decoded.outcomes.map((o) => o.status), ["done"]);
      assertEquals(
        await Deno.readTextFile(join(restored, "l0/meta_t2_3.json")),
        padded,
      );
    }
  });
});

Deno.test("#13 item 10: an --out-dir inside --dump-dir that holds dumps is refused; a meta name with a newline is found", async () => {
  await withTempDir(async (dir) => {
    const kv = join(dir, "kv");
    await writeDumpFolder(kv, [
      { ...TWO_DUMPS[0], folder: "run_a/l0" },
      { ...TWO_DUMPS[0], folder: "run_b/l0" },
    ]);
    await assertRejects(
      () => encode(kv, join(kv, "run_a")),
      Error,
      "inside --dump-dir",
    );
    // An output folder inside the input without dumps is fine.
    const fine = await encode(kv, join(kv, "bits"));
    assertEquals(fine.outcomes.length, 2);

    const odd = join(dir, "odd");
    await writeDumpFolder(odd, [{ ...TWO_DUMPS[0], name: "meta_t0\n_2" }]);
    const report = await encode(odd, join(dir, "odd-bits"));
    assertEquals(report.outcomes.map((o) => o.status), ["done"]);
    const decoded = await decodeFolder({
      bitstreamDir: join(dir, "odd-bits"),
      outDir: join(dir, "odd-restored"),
      overwrite: false,
      durable: false,
      jobs: 1,
    });
    assertEquals(decoded.outcomes.map((o) => o.status), ["done"]);
    assertEquals(
      await snapshot(join(dir, "odd-restored")),
      await snapshot(odd),
    );
  });
});

Deno.test("#13 item 11: encoding a second layout into a folder is refused; a stray marker of another layout does not block the folder", async () => {
  await withTempDir(async (dir) => {
    const dumps = join(dir, "dumps");
    await writeDumpFolder(dumps, TWO_DUMPS);
    const out = join(dir, "bits");
    await encode(dumps, out);
    for (const codec of [ctxLayout, arithStreamCodec]) {
      for (const overwrite of [false, true]) {
        await assertRejects(
          () => encode(dumps, out, { codec, overwrite }),
          Error,
          "holds dumps of layout bitstream_huffman",
        );
      }
    }
    const ok = await verifyFolder({ bitstreamDir: out, jobs: 1 });
    assertEquals(ok.outcomes.map((o) => o.status), ["done", "done"]);

    const ctx = join(dir, "ctx");
    await encode(dumps, ctx, { codec: ctxLayout });
    await Deno.copyFile(
      join(out, "l0/bitstream_meta_t0_2.json"),
      join(ctx, "l0/bitstream_meta_x.json"),
    );
    const report = await verifyFolder({ bitstreamDir: ctx, jobs: 1 });
    assertEquals(
      report.outcomes.map((o) => [o.dump, o.status]),
      [
        ["l0/bitstream_meta_x.json", "failed"],
        ["l0/meta_t0_2.kvc", "done"],
        ["l0/meta_t2_3.kvc", "done"],
      ],
    );
    const analysis = await analyzeFolders({
      bitstreamDirs: [ctx],
      outDir: join(dir, "analysis"),
      includeMeta: true,
      report: false,
    });
    assertEquals(analysis.analyses[0].rows.length, 2);
  });
});

Deno.test("#13 item 12: analyze refuses an --out-dir that is one of its input folders", async () => {
  await withTempDir(async (dir) => {
    const dumps = join(dir, "dumps");
    await writeDumpFolder(dumps, TWO_DUMPS);
    const bits = join(dir, "bits");
    await encode(dumps, bits);
    const before = [await listFiles(bits), await listFiles(dumps)];
    for (const outDir of [bits, dumps, `${bits}/.`]) {
      await assertRejects(
        () =>
          analyzeFolders({
            bitstreamDirs: [bits],
            origDumpDir: dumps,
            outDir,
            includeMeta: true,
            report: true,
          }),
        Error,
        "inputs and outputs stay apart",
      );
    }
    assertEquals([await listFiles(bits), await listFiles(dumps)], before);
  });
});

const LINUX = Deno.build.os === "linux";

/**
 * A dump of `tokens` rows of 2 heads of 64 in the dumper's own meta (all 19
 * keys, every value predictable): the kv-sample's largest K and V, tiled, with
 * the lowest mantissa bits varied so that rows do not repeat.
 */
async function writeLargeDump(dumps: string, tokens: number): Promise<number> {
  const tile = async (name: string) => {
    const source = new Uint16Array(
      (await Deno.readFile(join(KV_SAMPLE, "llama6L-kjv-ruth/layer_0", name)))
        .buffer,
    );
    const words = new Uint16Array(tokens * 128);
    for (let i = 0; i < words.length; i++) {
      words[i] = source[i % source.length] ^ ((i * 2654435761) >>> 29);
    }
    return words;
  };
  const k = await tile("k_t0_128.bin");
  const v = await tile("v_t0_128.bin");
  const name = `t0_${tokens}`;
  await writeDumpFolder(dumps, [{
    folder: "l0",
    name: `meta_${name}`,
    k,
    v,
    metaText: pythonJsonDumps({
      layer_id: 0,
      seq_start: 0,
      seq_len: tokens,
      seq_end_exclusive: tokens,
      kv_heads: 2,
      head_dim: 64,
      bytes_per_elem: 2,
      dtype: "fp16",
      add: tokens,
      tensor_seq_len: tokens,
      quant_key: false,
      quant_value: false,
      flash_attention: false,
      stage: "prefill",
      run_id: "r",
      k_file: `k_${name}.bin`,
      v_file: `v_${name}.bin`,
      source_bytes_per_elem: 4,
      converted_from: "fp32",
    }),
  }]);
  return k.byteLength + v.byteLength;
}

Deno.test({
  name:
    "#13 item 13: ctx decode of a 50 MB dump stays within 2x its size + 100 MB; a dumper meta whose every value is predicted decodes",
  ignore: !LINUX,
  async fn() {
    await withTempDir(async (dir) => {
      const dumps = join(dir, "dumps");
      const size = await writeLargeDump(dumps, 196_608);
      const encoded = await encode(dumps, join(dir, "ctx"), {
        codec: ctxLayout,
      });
      assertEquals(encoded.outcomes.map((o) => o.status), ["done"]);
      const dec = await peakMemoryOf("decode", {
        bitstreamDir: join(dir, "ctx"),
        outDir: join(dir, "restored"),
      });
      assert(
        dec.peak < 2 * size + 100e6,
        `decode peak ${dec.peak} for ${size}`,
      );
      assertEquals(
        await snapshot(join(dir, "restored")),
        await snapshot(dumps),
      );
    });
  },
});

Deno.test({
  name:
    "#13 item 14: a crafted .kvc or meta with a huge shape and no data is refused before anything large is allocated",
  ignore: !LINUX,
  async fn() {
    await withTempDir(async (dir) => {
      const dumps = join(dir, "dumps");
      await writeDumpFolder(dumps, [{
        folder: "l0",
        name: "meta_t0_0",
        k: new Uint16Array(0),
        seqLen: 0,
        meta: { kv_heads: 32768, head_dim: 32768 },
      }]);
      const enc = await peakMemoryOf("encode", {
        dumpDir: dumps,
        outDir: join(dir, "ctx"),
        codec: "ctx",
      });
      assert(enc.peak < 300e6, `encode peak ${enc.peak}`);
      assertMatch(enc.output, /kv_heads \* head_dim is 1073741824 channels/);
      // The same shape in a .kvc file: a small one with its shape bytes replaced.
      const small = join(dir, "small");
      await writeDumpFolder(small, [{
        folder: "l0",
        name: "meta_t0_0",
        k: new Uint16Array(0),
      }]);
      await encode(small, join(dir, "small-ctx"), { codec: ctxLayout });
      const bytes = await Deno.readFile(
        join(dir, "small-ctx/l0/meta_t0_0.kvc"),
      );
      // Format version 2: the shape follows 4 model parameter bytes.
      assertEquals([...bytes.subarray(8, 11)], [0, 1, 1]); // tokens, heads, head_dim
      const varint32768 = [0x80, 0x80, 0x02];
      const crafted = new Uint8Array([
        ...bytes.subarray(0, 8),
        0,
        ...varint32768,
        ...varint32768,
        ...bytes.subarray(11),
      ]);
      await Deno.mkdir(join(dir, "crafted/l0"), { recursive: true });
      await Deno.writeFile(join(dir, "crafted/l0/meta_t0_0.kvc"), crafted);
      const dec = await peakMemoryOf("decode", {
        bitstreamDir: join(dir, "crafted"),
        outDir: join(dir, "restored"),
      });
      assert(dec.peak < 300e6, `decode peak ${dec.peak}`);
      assertMatch(dec.output, /shape 0 x 32768 x 32768 is not a tensor/);
    });
  },
});

Deno.test({
  name:
    "#13 item 15: a tensor file far larger than its meta says is refused from its size, without reading it",
  ignore: !LINUX,
  async fn() {
    await withTempDir(async (dir) => {
      const dumps = join(dir, "dumps");
      await writeDumpFolder(dumps, TWO_DUMPS);
      // 3 GB, sparse: costs no disk.
      await Deno.truncate(join(dumps, "l0/k_t0_2.bin"), 3e9);
      const { peak, output } = await peakMemoryOf("encode", {
        dumpDir: dumps,
        outDir: join(dir, "bits"),
      });
      assert(peak < 300e6, `peak ${peak}`);
      assertStringIncludes(output, "k_t0_2.bin: size is 3000000000 bytes");
    });
  },
});

Deno.test("#13 item 16: --jobs is capped by the CPUs and the memory, and the cap is said", async () => {
  const limit = jobsLimit(1000);
  assert(limit.jobs >= 1 && limit.jobs <= navigator.hardwareConcurrency);
  assertMatch(limit.note ?? "", /^--jobs 1000: using \d+ \(.*CPU/);
  assertEquals(jobsLimit(1).note, undefined);
  await withTempDir(async (dir) => {
    const run = await runTaskScript("encode", [
      "--dump-dir",
      KV_SAMPLE,
      "--out-dir",
      join(dir, "out"),
      "--jobs",
      "1000",
      "--stage",
      "decode",
      "--max-seq-len",
      "1",
    ]);
    assertEquals(run.code, 0, run.stderr);
    assertMatch(run.stderr, /--jobs 1000: using \d+/);
  });
});

Deno.test({
  name:
    "#13 item 17: a FIFO in place of a tensor or meta file is refused, never waited on",
  ignore: Deno.build.os === "windows",
  async fn() {
    await withTempDir(async (dir) => {
      const dumps = join(dir, "dumps");
      await writeDumpFolder(dumps, TWO_DUMPS);
      await Deno.remove(join(dumps, "l0/k_t0_2.bin"));
      await new Deno.Command("mkfifo", {
        args: [join(dumps, "l0/k_t0_2.bin"), join(dumps, "l0/meta_t9_9.json")],
      }).output();
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          new URL("../tasks/encode.ts", import.meta.url).pathname,
          "--dump-dir",
          dumps,
          "--out-dir",
          join(dir, "bits"),
        ],
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
      const output = await child.output();
      clearTimeout(timer);
      const text = new TextDecoder().decode(output.stdout) +
        new TextDecoder().decode(output.stderr);
      assertEquals(output.code, 2, text);
      assertStringIncludes(text, "k_t0_2.bin: not a regular file");
      assertStringIncludes(text, "meta_t9_9.json: not a regular file");
    });
  },
});

Deno.test("#13 item 18: messages name the real file and problem (5,000-deep JSON, an output path that is a file, a backslash in k_file)", async () => {
  await withTempDir(async (dir) => {
    const dumps = join(dir, "dumps");
    await writeDumpFolder(dumps, [
      {
        ...TWO_DUMPS[0],
        metaText: pythonJsonDumps({
          layer_id: 0,
          seq_len: 2,
          kv_heads: 1,
          head_dim: 8,
          bytes_per_elem: 2,
          stage: "prefill",
          k_file: "k_t0_2.bin",
          v_file: "v_t0_2.bin",
        }).replace(/}$/, `, "deep": ${"[".repeat(5000)}${"]".repeat(5000)}}`),
      },
      { ...TWO_DUMPS[1], meta: { k_file: "k\\t2_3.bin" } },
    ]);
    const out = join(dir, "bits");
    await Deno.mkdir(out);
    await Deno.writeTextFile(join(out, "l0"), "a file");
    const report = await encode(dumps, out);
    const [deep, backslash] = report.outcomes.map((o) => o.reason ?? "");
    assertNotMatch(deep, /call stack/);
    assertMatch(deep, /meta_t0_2\.json: .*nested (more|deeper) than/);
    assertMatch(backslash, /k_file "k\\\\t2_3\.bin"/);
    // The output path that is a file is named as such.
    await Deno.writeTextFile(
      join(dumps, "l0/meta_t2_3.json"),
      pythonJsonDumps({
        layer_id: 0,
        seq_len: 1,
        kv_heads: 1,
        head_dim: 8,
        bytes_per_elem: 2,
        stage: "decode",
        k_file: "k_t2_3.bin",
        v_file: "v_t2_3.bin",
      }),
    );
    const again = await encode(dumps, out, { stage: "decode" });
    const reason = again.outcomes.find((o) =>
      o.dump === "l0/meta_t2_3.json"
    )?.reason ?? "";
    assertMatch(
      reason,
      new RegExp(`^${join(out, "l0")}: .*file, not a folder`),
    );
  });
});

/** The flushes and renames of a durable encode of the fixtures, in order. */
async function tracedEncode(dir: string, permissions: string[]) {
  const out = join(dir, "bits");
  const trace = join(dir, "trace");
  await new Deno.Command("strace", {
    args: [
      "-f",
      "-qq",
      "-e",
      "trace=rename,renameat,renameat2,fsync,fdatasync,syncfs",
      "-o",
      trace,
      Deno.execPath(),
      "run",
      ...permissions,
      new URL("../tasks/encode.ts", import.meta.url).pathname,
      "--dump-dir",
      KV_SAMPLE,
      "--out-dir",
      out,
      "--jobs",
      "1",
    ],
    stdout: "null",
    stderr: "null",
  }).output();
  const calls = (await Deno.readTextFile(trace)).split("\n")
    .map((line) => /(rename\w*|fdatasync|fsync|syncfs)\(/.exec(line)?.[1])
    .filter((call) => call !== undefined);
  const at = (name: RegExp) =>
    calls.flatMap((call, i) => name.test(call) ? [i] : []);
  const folders = new Set(
    (await listFiles(out)).map((f) => f.slice(0, f.lastIndexOf("/"))),
  );
  return {
    renames: at(/^rename/),
    folderFlushes: at(/^fsync$/),
    dataFlushes: at(/^fdatasync$/),
    fileSystemFlushes: at(/^syncfs$/),
    folders: folders.size,
  };
}

Deno.test({
  name:
    "#13 item 19: a durable encode that may run sync flushes the folder with one sync -f at the end, writes streams in place and renames only metas, then writes the manifest last",
  ignore: Deno.build.os !== "linux" || !hasStrace(),
  async fn() {
    await withTempDir(async (dir) => {
      const { renames, folderFlushes, dataFlushes, fileSystemFlushes } =
        await tracedEncode(dir, ["-A"]);
      // The manifest marked incomplete, the global codebook, every dump's
      // meta (its streams are written in place), then the complete manifest.
      assertEquals(renames.length, 2 + 51 + 1);
      const lastDump = renames[renames.length - 2];
      // No file's data flushed on its own but those three.
      assertEquals(dataFlushes.length, 3);
      // One syncfs, after the last dump and before the manifest.
      assertEquals(fileSystemFlushes.length, 1);
      assert(fileSystemFlushes[0] > lastDump);
      assert(fileSystemFlushes[0] < renames[renames.length - 1]);
      // Folders flushed among the dumps: none (only the output folder, for
      // the manifest and the codebook).
      assertEquals(
        folderFlushes.filter((i) => i > renames[2] && i < lastDump),
        [],
      );
    });
  },
});

Deno.test({
  name:
    "#13 item 19: a durable encode that may not run sync flushes each file as written and each folder once at the end (not per dump), then writes the manifest last",
  ignore: Deno.build.os !== "linux" || !hasStrace(),
  async fn() {
    await withTempDir(async (dir) => {
      const {
        renames,
        folderFlushes,
        dataFlushes,
        fileSystemFlushes,
        folders,
      } = await tracedEncode(dir, ["--allow-read", "--allow-write"]);
      assertEquals(renames.length, 2 + 51 + 1);
      const firstDump = renames[2];
      const lastDump = renames[renames.length - 2];
      assertEquals(fileSystemFlushes, []);
      // Among the dumps' writes, a folder is flushed only when it is made
      // (into its parent), never once per dump.
      const amongDumps = folderFlushes.filter((i) =>
        i > firstDump && i < lastDump
      );
      assert(amongDumps.length < folders, `${amongDumps.length} flushes`);
      // Each file's data once (at the end, many at once); the folders once
      // each, before the manifest.
      assertEquals(dataFlushes.length, 2 + 51 * 5 + 1);
      const atEnd = folderFlushes.filter((i) => i > lastDump);
      assert(atEnd.length <= folders + 3, `${atEnd.length} flushes`);
      assert(atEnd.some((i) => i < renames[renames.length - 1]));
      assert(atEnd.some((i) => i > renames[renames.length - 1]));
    });
  },
});

Deno.test("#13 item 19: after an interrupted encode (a power cut's leftovers), the next run decodes what it finds before keeping it", async () => {
  await withTempDir(async (dir) => {
    const dumps = join(dir, "dumps");
    await writeDumpFolder(dumps, TWO_DUMPS);
    const reference = join(dir, "reference");
    await encode(dumps, reference);
    const out = join(dir, "bits");
    await encode(dumps, out);
    // What a power cut can leave: the manifest of a run that did not finish,
    // and a dump whose meta reached the disk but whose stream did not.
    const manifest = join(out, MANIFEST_FILE_NAME);
    await Deno.writeTextFile(
      manifest,
      (await Deno.readTextFile(manifest)).replace(
        '"complete": true',
        '"complete": false',
      ),
    );
    await Deno.writeFile(
      join(out, "l0/k_lo10_meta_t0_2.huff"),
      new Uint8Array(3),
    );
    const report = await encode(dumps, out);
    assertEquals(report.outcomes.map((o) => o.status), ["done", "skipped"]);
    assertEquals(await snapshot(out), await snapshot(reference));
  });
});

function hasStrace(): boolean {
  try {
    return new Deno.Command("strace", { args: ["-V"], stdout: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}
