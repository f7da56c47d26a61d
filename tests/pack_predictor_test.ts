/**
 * Packs coded against a predictor folder (`--predictor-dir`, issue 15): round
 * trips with the int8 and bf16 predictor samples, a predictor one FP16 step off
 * refused with nothing wrong written, a predictor folder missing a dump, shapes
 * that disagree, format versions (merge included), the golden version-2 pack,
 * and the command lines as a user types them.
 */

import {
  assert,
  assertEquals,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import { join } from "@std/path";
import { decodePack as decodePackBytes } from "../mod.ts";
import { decodePack, verifyPack } from "../src/jobs/pack_decode_job.ts";
import { encodePack } from "../src/jobs/pack_encode_job.ts";
import { listPack } from "../src/jobs/pack_list_job.ts";
import { mergePacks } from "../src/jobs/pack_merge_job.ts";
import { denoTask, FIXTURES, KV_SAMPLE, withTempDir } from "./_helpers.ts";
import { assertSameTree, equalBytes, treeOf } from "./_pack_helpers.ts";

const PREDICTORS = join(FIXTURES, "predictor-sample");
const GOLDEN = join(FIXTURES, "golden", "pack");

async function copyTree(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const entry of Deno.readDir(from)) {
    if (entry.isDirectory) {
      await copyTree(join(from, entry.name), join(to, entry.name));
    } else await Deno.copyFile(join(from, entry.name), join(to, entry.name));
  }
}

/** The format version byte of a pack file. */
function versionOf(pack: string): number {
  return Deno.readFileSync(pack)[4];
}

for (const predictor of ["int8", "bf16"]) {
  Deno.test(`pack with the ${predictor} predictor: every dump predicted, format version 2, the tree comes back byte for byte`, async () => {
    await withTempDir(async (dir) => {
      const predictorDir = join(PREDICTORS, predictor);
      const pack = join(dir, "p.kvp");
      const report = await encodePack({
        dumpDir: KV_SAMPLE,
        pack,
        predictorDir,
        durable: false,
      });
      assertEquals([report.dumps, report.predicted], [51, 51]);
      assertEquals(versionOf(pack), 2);
      const plain = join(dir, "plain.kvp");
      const without = await encodePack({
        dumpDir: KV_SAMPLE,
        pack: plain,
        durable: false,
      });
      assertEquals([without.predicted, versionOf(plain)], [0, 1]);
      // Every byte counted, on these samples (their prefill rows repeat, so the
      // pack coder alone reaches 2.54 here, against 1.27 on all of kv-real).
      const ratio = report.inputBytes / report.packBytes;
      assert(ratio > (predictor === "int8" ? 2.45 : 3.2), `ratio ${ratio}`);
      const listing = await listPack({ pack });
      assert(listing.entries.every((entry) => entry.predicted === true));
      const decoded = await decodePack({
        pack,
        outDir: join(dir, "out"),
        predictorDir,
        durable: false,
      });
      assertEquals([decoded.dumps, decoded.failures], [51, []]);
      assertSameTree(treeOf(join(dir, "out")), treeOf(KV_SAMPLE));
      const verified = await verifyPack({
        pack,
        predictorDir,
        origDumpDir: KV_SAMPLE,
        jobs: 2,
      });
      assertEquals([verified.dumps, verified.failures, verified.notInPack], [
        51,
        [],
        [],
      ]);
    });
  });
}

Deno.test("pack with a predictor one FP16 step off in one value: that dump is refused naming the predictor file, nothing wrong is written", async () => {
  await withTempDir(async (dir) => {
    const pack = join(dir, "p.kvp");
    await encodePack({
      dumpDir: KV_SAMPLE,
      pack,
      predictorDir: join(PREDICTORS, "int8"),
      durable: false,
      blockBytes: 1,
    });
    const changed = join(dir, "pred");
    await copyTree(join(PREDICTORS, "int8"), changed);
    const dump = "llama6L-kjv-ruth/layer_5/meta_t390_391.json";
    const file = join(changed, "llama6L-kjv-ruth/layer_5/v_t390_391.bin");
    const bytes = Deno.readFileSync(file);
    // One FP16 step: the next larger magnitude of a positive value's word.
    const words = new Uint16Array(bytes.buffer);
    const at = words.findIndex((word) => word > 0 && word < 0x7c00);
    words[at] += 1;
    Deno.writeFileSync(file, bytes);
    const out = join(dir, "out");
    const report = await decodePack({
      pack,
      outDir: out,
      predictorDir: changed,
      durable: false,
    });
    assertEquals(report.failures.map((failure) => failure.dump), [dump]);
    assertEquals(
      report.failures[0].reason,
      `${dump}: refused: predictor file ${file} is not the one this dump was coded with (its SHA-256 differs); regenerate it exactly (same weights, tokens, chunking, software and kernels)`,
    );
    // Every other dump is restored, the refused one not at all.
    const restored = treeOf(out);
    const expected = treeOf(KV_SAMPLE);
    for (
      const path of [
        dump,
        dump.replace("meta_", "k_").replace(".json", ".bin"),
        dump.replace("meta_", "v_").replace(".json", ".bin"),
      ]
    ) {
      assert(!restored.has(path), path);
      expected.delete(path);
    }
    assertSameTree(restored, expected);
    const verified = await verifyPack({ pack, predictorDir: changed });
    assertEquals(verified.failures.map((failure) => failure.dump), [dump]);
  });
});

Deno.test("pack with a predictor one step off inside a block: the block's later predicted dumps are lost with it, never decoded wrongly", async () => {
  await withTempDir(async (dir) => {
    const pack = join(dir, "p.kvp");
    const root = join(KV_SAMPLE, "llama6L-kjv-ruth");
    await encodePack({
      dumpDir: root,
      pack,
      predictorDir: join(PREDICTORS, "int8", "llama6L-kjv-ruth"),
      durable: false,
    });
    const changed = join(dir, "pred");
    await copyTree(join(PREDICTORS, "int8", "llama6L-kjv-ruth"), changed);
    const file = join(changed, "layer_5/k_t398_399.bin");
    const bytes = Deno.readFileSync(file);
    bytes[0] ^= 1;
    Deno.writeFileSync(file, bytes);
    const out = join(dir, "out");
    const report = await decodePack({
      pack,
      outDir: out,
      predictorDir: changed,
      durable: false,
    });
    assertEquals(report.failures.map((failure) => failure.dump), [
      "layer_5/meta_t398_399.json",
      "layer_5/meta_t399_400.json",
    ]);
    assertStringIncludes(report.failures[1].reason ?? "", "not decoded");
    const restored = treeOf(out);
    const expected = treeOf(root);
    assertEquals(restored.size, expected.size - 6);
    for (const [path, bytes] of restored) {
      assert(equalBytes(bytes, expected.get(path)!), path);
    }
  });
});

Deno.test("pack with a predictor on workers: --jobs 2 writes the same bytes as one job, and decodes", async () => {
  await withTempDir(async (dir) => {
    const predictorDir = join(PREDICTORS, "int8");
    for (const jobs of [1, 2]) {
      await encodePack({
        dumpDir: KV_SAMPLE,
        pack: join(dir, `${jobs}.kvp`),
        predictorDir,
        durable: false,
        blockBytes: 50_000,
        jobs,
      });
    }
    const one = Deno.readFileSync(join(dir, "1.kvp"));
    assert(equalBytes(one, Deno.readFileSync(join(dir, "2.kvp"))));
    const verified = await verifyPack({
      pack: join(dir, "2.kvp"),
      predictorDir,
      origDumpDir: KV_SAMPLE,
      jobs: 2,
    });
    assertEquals([verified.dumps, verified.failures], [51, []]);
  });
});

Deno.test("pack with a predictor folder missing one dump: that dump is coded without prediction and decodes", async () => {
  await withTempDir(async (dir) => {
    const predictorDir = join(dir, "pred");
    await copyTree(join(PREDICTORS, "bf16"), predictorDir);
    const missing = "gpt2L4-fortune-wisdom/layer_0/meta_t455_456.json";
    await Deno.remove(join(predictorDir, missing));
    const pack = join(dir, "p.kvp");
    const report = await encodePack({
      dumpDir: KV_SAMPLE,
      pack,
      predictorDir,
      durable: false,
    });
    assertEquals([report.dumps, report.predicted], [51, 50]);
    const listing = await listPack({ pack });
    assertEquals(
      listing.entries.filter((entry) => !entry.predicted).map((e) => e.path),
      [missing],
    );
    const decoded = await decodePack({
      pack,
      outDir: join(dir, "out"),
      predictorDir,
      durable: false,
    });
    assertEquals(decoded.failures, []);
    assertSameTree(treeOf(join(dir, "out")), treeOf(KV_SAMPLE));
  });
});

Deno.test("pack with a predictor dump of another shape: encode refused naming the predictor file, no pack left", async () => {
  await withTempDir(async (dir) => {
    const predictorDir = join(dir, "pred");
    await copyTree(join(PREDICTORS, "int8"), predictorDir);
    const meta = join(
      predictorDir,
      "llama6L-kjv-ruth/layer_5/meta_t384_385.json",
    );
    const text = Deno.readTextFileSync(meta);
    Deno.writeTextFileSync(
      meta,
      text.replace('"kv_heads": 2', '"kv_heads": 1').replace(
        '"head_dim": 64',
        '"head_dim": 128',
      ),
    );
    const pack = join(dir, "p.kvp");
    await assertRejects(
      () =>
        encodePack({ dumpDir: KV_SAMPLE, pack, predictorDir, durable: false }),
      Error,
      `${meta}: predictor shape 1 x 1 x 128 differs from the dump's 1 x 2 x 64`,
    );
    assertEquals(
      (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name),
      [
        "pred",
      ],
    );
  });
});

Deno.test("pack: a missing predictor folder is an error naming it, at encode and at decode", async () => {
  await withTempDir(async (dir) => {
    const nope = join(dir, "nope");
    await assertRejects(
      () =>
        encodePack({
          dumpDir: KV_SAMPLE,
          pack: join(dir, "p.kvp"),
          predictorDir: nope,
          durable: false,
        }),
      Error,
      `${nope}: predictor folder does not exist`,
    );
    await assertRejects(
      () =>
        decodePack({
          pack: join(GOLDEN, "predicted.kvp"),
          outDir: join(dir, "out"),
          predictorDir: nope,
        }),
      Error,
      `${nope}: predictor folder does not exist`,
    );
  });
});

Deno.test("pack merge: the output has the highest format version of its inputs, and decodes with the predictor", async () => {
  await withTempDir(async (dir) => {
    const a = join(dir, "a.kvp"),
      b = join(dir, "b.kvp"),
      c = join(dir, "c.kvp");
    await encodePack({
      dumpDir: join(KV_SAMPLE, "llama6L-kjv-ruth"),
      pack: a,
      durable: false,
    });
    await encodePack({
      dumpDir: join(KV_SAMPLE, "gpt2L4-fortune-wisdom"),
      pack: b,
      predictorDir: join(PREDICTORS, "int8", "gpt2L4-fortune-wisdom"),
      durable: false,
    });
    await mergePacks({ inputs: [a, b], output: c, durable: false });
    assertEquals([versionOf(a), versionOf(b), versionOf(c)], [1, 2, 2]);
    // The merged tree's predicted dumps find their predictors at the same paths.
    const predictorDir = join(dir, "pred");
    await copyTree(
      join(PREDICTORS, "int8", "gpt2L4-fortune-wisdom"),
      predictorDir,
    );
    const verified = await verifyPack({ pack: c, predictorDir });
    assertEquals([verified.dumps, verified.failures], [51, []]);
    await mergePacks({
      inputs: [a],
      output: join(dir, "d.kvp"),
      durable: false,
    });
    assertEquals(versionOf(join(dir, "d.kvp")), 1);
  });
});

Deno.test("golden version-2 pack: encoding its tree against its predictor gives it byte for byte; mod.ts decodePack takes the predictors", async () => {
  await withTempDir(async (dir) => {
    const pack = join(dir, "p.kvp");
    const predictorDir = join(GOLDEN, "predictor");
    await encodePack({
      dumpDir: join(GOLDEN, "tree"),
      pack,
      predictorDir,
      durable: false,
    });
    assert(
      equalBytes(
        Deno.readFileSync(pack),
        Deno.readFileSync(join(GOLDEN, "predicted.kvp")),
      ),
      "encoding fixtures/golden/pack/tree against fixtures/golden/pack/predictor no longer gives predicted.kvp (see fixtures/golden/README.md)",
    );
  });
  const words = (path: string) =>
    new Uint16Array(Deno.readFileSync(join(GOLDEN, "predictor", path)).buffer);
  const decoded = decodePackBytes(
    Deno.readFileSync(join(GOLDEN, "predicted.kvp")),
    {
      predictors: (_path, dump) => ({
        k: words(dump.kPath),
        v: words(dump.vPath),
      }),
    },
  );
  assertEquals(decoded.problems, []);
  const tree = treeOf(join(GOLDEN, "tree"));
  assertEquals(decoded.files.length, tree.size);
  for (const file of decoded.files) {
    assert(equalBytes(file.bytes, tree.get(file.path)!), file.path);
  }
  // Without predictors: every dump is listed as a problem, no dump file comes out.
  const without = decodePackBytes(
    Deno.readFileSync(join(GOLDEN, "predicted.kvp")),
  );
  assertEquals(without.files.map((file) => file.path), ["README.md"]);
  assertEquals(without.problems.length, 5);
});

Deno.test("pack with a predictor on the command line: encode, list, analyze, verify, decode as written in the issue, and through kvbits", async () => {
  await withTempDir(async (dir) => {
    const pack = join(dir, "p.kvp");
    const predictor = "fixtures/predictor-sample/bf16";
    let run = await denoTask([
      "encode",
      "--dump-dir",
      "fixtures/kv-sample",
      "--predictor-dir",
      predictor,
      "--pack",
      pack,
    ]);
    assertEquals(run.code, 0, run.stderr);
    assertStringIncludes(
      run.stdout,
      "Packed: 51 dumps (51 against the predictor), 0 other files",
    );
    run = await denoTask(["list", "--pack", pack]);
    assertEquals(run.code, 0, run.stderr);
    assertStringIncludes(
      run.stdout,
      "dump*     0",
    );
    run = await denoTask([
      "analyze",
      "--pack",
      pack,
      "--predictor-dir",
      predictor,
    ]);
    assertEquals(run.code, 0, run.stderr);
    assertStringIncludes(run.stdout, "layer 5 decode predicted");
    run = await denoTask([
      "verify",
      "--pack",
      pack,
      "--predictor-dir",
      predictor,
    ]);
    assertEquals(run.code, 0, run.stderr);
    assertStringIncludes(run.stdout, "Checked: 51 dumps, 153 files");
    run = await denoTask([
      "kvbits",
      "verify",
      "--pack",
      pack,
      "--predictor-dir",
      predictor,
    ]);
    assertEquals(run.code, 0, run.stderr);
    run = await denoTask(["verify", "--pack", pack]);
    assertEquals(run.code, 2);
    assertStringIncludes(
      run.stderr,
      "coded against a predictor dump, and no predictor folder was given",
    );
    const out = join(dir, "out");
    run = await denoTask([
      "decode",
      "--pack",
      pack,
      "--predictor-dir",
      predictor,
      "--out-dir",
      out,
    ]);
    assertEquals(run.code, 0, run.stderr);
    assertSameTree(treeOf(out), treeOf(KV_SAMPLE));
  });
});
