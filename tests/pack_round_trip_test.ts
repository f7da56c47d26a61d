/**
 * The pack restores whole trees byte for byte: fixtures, kv-real, an empty folder,
 * dumps of many shapes and odd metas in one pack, selections, merges, and the
 * golden pack's exact bytes.
 */

import { assert, assertEquals, assertRejects } from "@std/assert";
import { join } from "@std/path";
import { listTree } from "../src/dump/pack_tree.ts";
import { assertSameTree, equalBytes, treeOf } from "./_pack_helpers.ts";
import { decodePack, verifyPack } from "../src/jobs/pack_decode_job.ts";
import { encodePack } from "../src/jobs/pack_encode_job.ts";
import { listPack } from "../src/jobs/pack_list_job.ts";
import { mergePacks } from "../src/jobs/pack_merge_job.ts";
import { packWorkerPool } from "../src/jobs/pack_worker_pool.ts";
import { KvbitsJobError } from "../src/jobs/job_error.ts";
import {
  FIXTURES,
  KV_SAMPLE,
  ROOT,
  seededRandom,
  SHARED,
  SHARED_AVAILABLE,
  withTempDir,
  writeDumpFolder,
} from "./_helpers.ts";

async function roundTrip(
  dir: string,
  source: string,
  blockBytes?: number,
): Promise<void> {
  const pack = join(dir, "t.kvp");
  const encoded = await encodePack({
    dumpDir: source,
    pack,
    durable: false,
    blockBytes,
  });
  assertEquals(encoded.outcomes, []);
  const out = join(dir, "out");
  const report = await decodePack({ pack, outDir: out, durable: false });
  assertEquals(report.damage, []);
  assertEquals(report.failures, []);
  assertEquals(report.ending?.complete, true);
  assertSameTree(treeOf(out), treeOf(source));
  const verified = await verifyPack({ pack, origDumpDir: source });
  assertEquals([verified.damage, verified.notInPack], [[], []]);
  assertEquals(verified.failures, []);
}

Deno.test("pack: every fixture round trips byte for byte (dumps, reference outputs, READMEs)", async () => {
  await withTempDir((dir) => roundTrip(dir, FIXTURES, 64 << 10));
});

Deno.test({
  name:
    "pack: kv-real round trips byte for byte, README.md and runs.json included",
  ignore: !SHARED_AVAILABLE,
  fn: async () => {
    await withTempDir(async (dir) => {
      await roundTrip(dir, join(SHARED, "kv-real"));
      const listed = await listPack({ pack: join(dir, "t.kvp") });
      assertEquals(listed.entries.filter((e) => e.kind === "dump").length, 384);
      assertEquals(
        listed.entries.filter((e) => e.kind === "file").map((e) => e.path),
        ["README.md", "runs.json"],
      );
    });
  },
});

Deno.test("pack: an empty folder packs and restores as an empty folder", async () => {
  await withTempDir(async (dir) => {
    const source = join(dir, "empty");
    await Deno.mkdir(source);
    const encoded = await encodePack({
      dumpDir: source,
      pack: join(dir, "e.kvp"),
      durable: false,
    });
    assertEquals([encoded.blocks, encoded.inputBytes], [0, 0]);
    await roundTrip(dir, source);
    assertEquals([...Deno.readDirSync(join(dir, "out"))], []);
  });
});

Deno.test("pack: dumps of different shapes and odd files in one pack round trip", async () => {
  await withTempDir(async (dir) => {
    const source = join(dir, "src");
    const random = seededRandom(12);
    const words = (n: number) =>
      Uint16Array.from({ length: n }, () => Math.floor(random() * 65536));
    await writeDumpFolder(source, [
      { folder: "a/layer_0", name: "meta_t0_3", k: words(3 * 8), seqLen: 3 },
      { folder: "a/layer_0", name: "meta_t3_4", k: words(8), v: words(8) },
      {
        folder: "a/layer_1",
        name: "meta_t0_2",
        k: words(2 * 2 * 16),
        seqLen: 2,
        meta: { kv_heads: 2, head_dim: 16, layer_id: 1 },
      },
      { folder: "b/layer_0", name: "meta_t0_0", k: words(0), seqLen: 0 },
      { folder: "b/layer_0", name: "meta_t5_6", k: words(5), v: words(5) },
      // Not dumps the pack can code: kept as files.
      {
        folder: "c",
        name: "meta_bom",
        k: words(4),
        metaText:
          '\ufeff{"layer_id": 0, "seq_len": 1, "kv_heads": 1, "head_dim": 4, "bytes_per_elem": 2, "stage": "decode", "k_file": "k_bom.bin", "v_file": "v_bom.bin"}',
      },
      {
        folder: "c",
        name: "meta_surrogate",
        k: words(2),
        metaText:
          '{"layer_id": 0, "seq_len": 1, "kv_heads": 1, "head_dim": 2, "bytes_per_elem": 2, "stage": "decode", "run_id": "\\udc80", "k_file": "k_surrogate.bin", "v_file": "v_surrogate.bin"}',
      },
      {
        folder: "c",
        name: "meta_short",
        k: words(3),
        seqLen: 1,
        meta: { head_dim: 4 },
      },
    ]);
    await Deno.writeFile(join(source, "c/raw.bin"), Uint8Array.of(0xff, 0, 1));
    await Deno.writeTextFile(join(source, "README.md"), "# runs\n");
    await Deno.mkdir(join(source, "d/empty"), { recursive: true });
    await Deno.writeFile(join(source, ".hidden"), new Uint8Array(0));
    await roundTrip(dir, source, 100);
    const listed = await listPack({ pack: join(dir, "t.kvp") });
    const kinds = Object.fromEntries(
      listed.entries.map((entry) => [entry.path, entry.kind]),
    );
    assertEquals(kinds["a/layer_1/meta_t0_2.json"], "dump");
    assertEquals(kinds["b/layer_0/meta_t0_0.json"], "dump");
    assertEquals(kinds["c/meta_bom.json"], "file");
    assertEquals(kinds["c/meta_short.json"], "file");
    assertEquals(kinds["d/empty"], "folder");
  });
});

Deno.test("pack: --only restores exactly the selection, by glob, stage and layer, from the index", async () => {
  await withTempDir(async (dir) => {
    const pack = join(dir, "s.kvp");
    await encodePack({
      dumpDir: KV_SAMPLE,
      pack,
      durable: false,
      blockBytes: 32 << 10,
    });
    const all = treeOf(KV_SAMPLE);
    const cases: [string[], (path: string) => boolean][] = [
      [
        ["gpt2L4-fortune-wisdom"],
        (p) => p.startsWith("gpt2L4-fortune-wisdom/"),
      ],
      [["**/v_t38?_*.bin"], (p) => /t38\d_/.test(p)],
      [
        ["stage=prefill"],
        (p) => /_t\d+_\d+\./.test(p) && /t(0_128|128_256|256_384)\./.test(p),
      ],
      [["layer=5"], (p) => p.includes("/layer_5/")],
      [["layer=5", "stage=prefill"], () => false],
      [
        ["layer=0", "llama6L-kjv-ruth/**"],
        (p) => p.startsWith("llama6L-kjv-ruth/layer_0/"),
      ],
    ];
    for (const [only, expected] of cases) {
      const out = join(
        dir,
        `out-${only.join("+").replace(/[^a-z0-9]/gi, "_")}`,
      );
      const report = await decodePack({
        pack,
        outDir: out,
        durable: false,
        only,
      });
      assertEquals(report.damage, [], only.join(" "));
      const want = new Map([...all].filter(([path]) => expected(path)));
      // A dump is restored whole when any of its files matches.
      const restored = treeOf(out);
      for (const path of restored.keys()) {
        const stem = path.replace(
          /\/(k|v|meta)_(t\d+_\d+)\.(bin|json)$/,
          "/$2",
        );
        assert(
          [...want.keys()].some((p) =>
            p.replace(/\/(k|v|meta)_(t\d+_\d+)\.(bin|json)$/, "/$2") === stem
          ),
          `${only.join(" ")}: ${path} was not selected`,
        );
        assert(equalBytes(restored.get(path)!, all.get(path)!), path);
      }
      for (const path of want.keys()) {
        assert(restored.has(path), `${only.join(" ")}: ${path} is missing`);
      }
    }
  });
});

Deno.test("pack: merged packs decode into the union of their trees; a path in two packs is refused", async () => {
  await withTempDir(async (dir) => {
    const a = join(dir, "a.kvp"), b = join(dir, "b.kvp");
    const source = join(dir, "src");
    await Deno.mkdir(join(source, "x"), { recursive: true });
    await Deno.writeTextFile(join(source, "x/notes.txt"), "shard a");
    await encodePack({ dumpDir: join(KV_SAMPLE), pack: a, durable: false });
    await encodePack({ dumpDir: source, pack: b, durable: false });
    const merged = join(dir, "c.kvp");
    const report = await mergePacks({
      inputs: [a, b],
      output: merged,
      durable: false,
    });
    assertEquals(report.blocks, 2);
    const out = join(dir, "out");
    const decoded = await decodePack({
      pack: merged,
      outDir: out,
      durable: false,
    });
    assertEquals([decoded.damage, decoded.ending?.complete], [[], true]);
    assertSameTree(
      treeOf(out),
      new Map([...treeOf(KV_SAMPLE), ...treeOf(source)]),
    );
    await assertRejects(
      () => mergePacks({ inputs: [a, merged], output: join(dir, "d.kvp") }),
      KvbitsJobError,
      "is in both",
    );
    assertEquals(listTree(dir).files.includes("d.kvp"), false);
  });
});

Deno.test("pack: the golden pack has its exact bytes and restores its tree", async () => {
  const golden = join(ROOT, "fixtures/golden/pack");
  await withTempDir(async (dir) => {
    const pack = join(dir, "g.kvp");
    await encodePack({ dumpDir: join(golden, "tree"), pack, durable: false });
    assert(
      equalBytes(
        Deno.readFileSync(pack),
        Deno.readFileSync(join(golden, "tree.kvp")),
      ),
      "encoding fixtures/golden/pack/tree no longer gives tree.kvp: a layout change bumps the version (docs/FORMAT.md); an encoder change regenerates it with deno task encode --dump-dir fixtures/golden/pack/tree --pack fixtures/golden/pack/tree.kvp",
    );
    const out = join(dir, "out");
    await decodePack({
      pack: join(golden, "tree.kvp"),
      outDir: out,
      durable: false,
    });
    assertSameTree(treeOf(out), treeOf(join(golden, "tree")));
  });
});

Deno.test("pack: the pack's bytes do not depend on the number of jobs", async () => {
  await withTempDir(async (dir) => {
    const packs: Uint8Array[] = [];
    for (const jobs of [1, 2, 3]) {
      const pack = join(dir, `j${jobs}.kvp`);
      const report = await encodePack({
        dumpDir: FIXTURES,
        pack,
        durable: false,
        blockBytes: 40 << 10,
        jobs,
      });
      assert(report.blocks > 4, `${report.blocks} blocks`);
      packs.push(Deno.readFileSync(pack));
    }
    assert(equalBytes(packs[0], packs[1]) && equalBytes(packs[0], packs[2]));
  });
});

Deno.test("pack: decode and verify on workers restore the same tree and report the same", async () => {
  await withTempDir(async (dir) => {
    const pack = join(dir, "f.kvp");
    await encodePack({
      dumpDir: FIXTURES,
      pack,
      durable: false,
      blockBytes: 40 << 10,
      jobs: 2,
    });
    for (const jobs of [2, 3]) {
      const out = join(dir, `out${jobs}`);
      const report = await decodePack({
        pack,
        outDir: out,
        durable: false,
        jobs,
      });
      assertEquals([report.failures, report.damage], [[], []]);
      assertSameTree(treeOf(out), treeOf(FIXTURES));
      const verified = await verifyPack({ pack, origDumpDir: FIXTURES, jobs });
      assertEquals([verified.failures, verified.notInPack], [[], []]);
      assertEquals(verified.entries, report.entries);
    }
  });
});

Deno.test("pack: a worker that cannot start leaves its blocks to the other lanes", async () => {
  const pool = packWorkerPool(
    3,
    new URL("./no_such_worker_module.ts", import.meta.url),
  );
  try {
    const replies = await Promise.all(
      [1, 2, 3, 4].map((n) =>
        pool.run({
          kind: "encode",
          root: ".",
          items: [{ kind: "folder", path: `f${n}` }],
        })
      ),
    );
    assertEquals(replies.map((reply) => "body" in reply && reply.folders), [
      1,
      1,
      1,
      1,
    ]);
  } finally {
    pool.close();
  }
});

Deno.test("pack decode: the staging folder a killed decode left is removed, and the tree comes back whole", async () => {
  await withTempDir(async (dir) => {
    const pack = join(dir, "s.kvp");
    await encodePack({ dumpDir: KV_SAMPLE, pack, durable: false });
    const out = join(dir, "out");
    // What a decode killed while restoring leaves: its staging folder, with a
    // file cut short under its name.
    const stale = join(out, ".restore.kvbits-tmp-4242-abc", "llama6L-kjv-ruth");
    await Deno.mkdir(stale, { recursive: true });
    await Deno.writeFile(join(stale, "cut.bin"), new Uint8Array(3));
    for (const jobs of [1, 2]) {
      const report = await decodePack({
        pack,
        outDir: out,
        durable: jobs === 1,
        jobs,
      });
      assertEquals(report.dumps, 51);
      assertEquals(report.failures, []);
      assertSameTree(treeOf(out), treeOf(KV_SAMPLE));
      assertEquals(
        [...Deno.readDirSync(out)].map((entry) => entry.name).sort(),
        ["gpt2L4-fortune-wisdom", "llama6L-kjv-ruth"],
      );
      await Deno.remove(out, { recursive: true });
    }
  });
});

Deno.test("pack verify with originals: an original that differs in a byte, is shorter, longer, missing or not a regular file is named, the others pass", async () => {
  await withTempDir(async (dir) => {
    const pack = join(dir, "s.kvp");
    await encodePack({ dumpDir: KV_SAMPLE, pack, durable: false });
    const orig = join(dir, "orig");
    const layer = "llama6L-kjv-ruth/layer_5";
    for (const path of listTree(KV_SAMPLE).files) {
      await Deno.mkdir(join(orig, path, ".."), { recursive: true });
      await Deno.copyFile(join(KV_SAMPLE, path), join(orig, path));
    }
    const change = async (
      name: string,
      how: (bytes: Uint8Array) => Uint8Array,
    ) => {
      const path = join(orig, layer, name);
      const bytes = how(await Deno.readFile(path));
      await Deno.remove(path);
      await Deno.writeFile(path, bytes);
    };
    await change("k_t384_385.bin", (bytes) => {
      bytes[bytes.length - 1] ^= 1;
      return bytes;
    });
    await change("v_t385_386.bin", (bytes) => bytes.subarray(1));
    await change("meta_t386_387.json", (bytes) => Uint8Array.of(...bytes, 32));
    await Deno.remove(join(orig, layer, "k_t387_388.bin"));
    await Deno.remove(join(orig, layer, "v_t388_389.bin"));
    await Deno.mkdir(join(orig, layer, "v_t388_389.bin"));
    for (const jobs of [1, 2]) {
      const report = await verifyPack({ pack, origDumpDir: orig, jobs });
      const reasons = report.failures.map((failure) => failure.reason ?? "")
        .sort();
      assertEquals(reasons.length, 5, reasons.join("\n"));
      const at = (t: number) => `${layer}/meta_t${t}_${t + 1}.json: `;
      assertEquals(reasons.slice(0, 3), [
        `${at(384)}${layer}/k_t384_385.bin differs from the original`,
        `${at(385)}${layer}/v_t385_386.bin differs from the original`,
        `${at(386)}${layer}/meta_t386_387.json differs from the original`,
      ]);
      assert(reasons[3].startsWith(`${at(387)}the original cannot be read`));
      assert(reasons[3].includes("k_t387_388.bin"), reasons[3]);
      assert(reasons[4].startsWith(`${at(388)}the original cannot be read`));
      assert(reasons[4].includes("a folder"), reasons[4]);
      assertEquals(report.dumps, 46);
    }
  });
});
