/**
 * The pack as a user runs it: `encode --pack`, `decode --pack`, `verify --pack`,
 * `list --pack`, `merge`, files and pipes (`-`), exit codes and messages.
 */

import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { join } from "@std/path";
import { KV_SAMPLE, ROOT, runTaskScript, withTempDir } from "./_helpers.ts";
import { assertSameTree, equalBytes, treeOf } from "./_pack_helpers.ts";

const RW = ["--allow-read", "--allow-write"];

/** Runs `producer | consumer` (two task scripts), returning the consumer's run. */
async function pipe(
  producer: [string, string[]],
  consumer: [string, string[]],
): Promise<{ code: number; stdout: string; stderr: string; first: number }> {
  const command = ([name, args]: [string, string[]], stdin: "piped" | "null") =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", ...RW, join(ROOT, "tasks", `${name}.ts`), ...args],
      cwd: ROOT,
      env: { NO_COLOR: "1" },
      stdin,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  const first = command(producer, "null");
  const second = command(consumer, "piped");
  const [, out, firstStatus] = await Promise.all([
    first.stdout.pipeTo(second.stdin),
    second.output(),
    first.status,
    first.stderr.cancel(),
  ]);
  const decoder = new TextDecoder();
  return {
    code: out.code,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
    first: firstStatus.code,
  };
}

Deno.test("pack CLI: encode, list, verify, decode with files; the tree comes back byte for byte", async () => {
  await withTempDir(async (dir) => {
    const pack = join(dir, "s.kvp");
    let run = await runTaskScript("encode", [
      "--dump-dir",
      KV_SAMPLE,
      "--pack",
      pack,
    ]);
    assertEquals(run.code, 0, run.stderr);
    assertStringIncludes(run.stdout, "Packed: 51 dumps, 0 other files");
    run = await runTaskScript("list", ["--pack", pack], ["--allow-read"]);
    assertEquals(run.code, 0, run.stderr);
    assertStringIncludes(run.stdout, "51 entries (51 dumps) in 1 block:");
    assertStringIncludes(
      run.stdout,
      "llama6L-kjv-ruth/layer_5/meta_t399_400.json",
    );
    run = await runTaskScript("verify", [
      "--pack",
      pack,
      "--orig-dump-dir",
      KV_SAMPLE,
    ], ["--allow-read"]);
    assertEquals(run.code, 0, run.stderr);
    assertStringIncludes(run.stdout, "Pack complete");
    const out = join(dir, "out");
    run = await runTaskScript("decode", ["--pack", pack, "--out-dir", out]);
    assertEquals(run.code, 0, run.stderr);
    assertSameTree(treeOf(out), treeOf(KV_SAMPLE));
    // A second decode refuses to replace what is there, file by file.
    run = await runTaskScript("decode", ["--pack", pack, "--out-dir", out]);
    assertEquals(run.code, 2);
    assertStringIncludes(run.stderr, "exists in the output folder");
  });
});

Deno.test("pack CLI: encode --pack - | decode --pack - restores the tree, and - gives the file's bytes", async () => {
  await withTempDir(async (dir) => {
    const pack = join(dir, "s.kvp");
    const encoded = await runTaskScript("encode", [
      "--dump-dir",
      KV_SAMPLE,
      "--pack",
      pack,
      "--quiet",
    ]);
    assertEquals(encoded.code, 0, encoded.stderr);
    const out = join(dir, "out");
    const run = await pipe(
      ["encode", ["--dump-dir", KV_SAMPLE, "--pack", "-"]],
      ["decode", ["--pack", "-", "--out-dir", out]],
    );
    assertEquals([run.first, run.code], [0, 0], run.stderr);
    assertStringIncludes(run.stdout, "Restored: 51 dumps, 153 files");
    assertSameTree(treeOf(out), treeOf(KV_SAMPLE));
    const copy = join(dir, "copy.kvp");
    const cat = await pipe(
      ["encode", ["--dump-dir", KV_SAMPLE, "--pack", "-", "--json"]],
      ["../tests/_stdin_to_file", [copy]],
    );
    assertEquals(cat.code, 0, cat.stderr);
    assert(equalBytes(Deno.readFileSync(copy), Deno.readFileSync(pack)));
  });
});

Deno.test("pack CLI: a truncated pack decodes what it holds, names the loss, exits 2", async () => {
  await withTempDir(async (dir) => {
    const pack = join(dir, "s.kvp");
    await runTaskScript("encode", [
      "--dump-dir",
      KV_SAMPLE,
      "--pack",
      pack,
      "--block-mb",
      "1",
      "--quiet",
    ]);
    const bytes = Deno.readFileSync(pack);
    await Deno.writeFile(pack, bytes.subarray(0, bytes.length - 5000));
    const out = join(dir, "out");
    const run = await runTaskScript("decode", [
      "--pack",
      pack,
      "--out-dir",
      out,
    ]);
    assertEquals(run.code, 2, run.stdout);
    assertStringIncludes(
      run.stderr,
      "damaged the pack ends inside block 0's payload",
    );
    assertStringIncludes(run.stdout, "Pack NOT complete");
    const restored = treeOf(out);
    const original = treeOf(KV_SAMPLE);
    assert(restored.size > 0 && restored.size < original.size);
    for (const [path, content] of restored) {
      assert(equalBytes(content, original.get(path)!), path);
    }
  });
});

Deno.test("pack CLI: merge a b -o c, then decode --only", async () => {
  await withTempDir(async (dir) => {
    const a = join(dir, "a.kvp"),
      b = join(dir, "b.kvp"),
      c = join(dir, "c.kvp");
    for (
      const [run, pack] of [["llama6L-kjv-ruth", a], [
        "gpt2L4-fortune-wisdom",
        b,
      ]]
    ) {
      const source = join(dir, `src-${run}`);
      await copyOf(join(KV_SAMPLE, run), join(source, run));
      const encoded = await runTaskScript("encode", [
        "--dump-dir",
        source,
        "--pack",
        pack,
        "--quiet",
      ]);
      assertEquals(encoded.code, 0, encoded.stderr);
    }
    let run = await runTaskScript("merge", [a, b, "-o", c]);
    assertEquals(run.code, 0, run.stderr);
    assertStringIncludes(run.stdout, "Merged: 2 packs, 2 blocks, 51 entries");
    const out = join(dir, "out");
    run = await runTaskScript("decode", [
      "--pack",
      c,
      "--out-dir",
      out,
      "--only",
      "stage=prefill",
    ]);
    assertEquals(run.code, 0, run.stderr);
    assertEquals(treeOf(out).size, 3 * 3);
    run = await runTaskScript("merge", [a, a, "-o", join(dir, "d.kvp")]);
    assertEquals(run.code, 3);
    assertStringIncludes(run.stderr, "is in both");
  });
});

Deno.test("pack CLI: usage and input errors say what is wrong", async () => {
  await withTempDir(async (dir) => {
    let run = await runTaskScript("decode", [
      "--pack",
      join(dir, "none.kvp"),
      "--out-dir",
      dir,
    ]);
    assertEquals(run.code, 3);
    assertStringIncludes(run.stderr, "none.kvp");
    run = await runTaskScript("encode", [
      "--dump-dir",
      KV_SAMPLE,
      "--pack",
      join(dir, "x.kvp"),
      "--codec",
      "ctx",
    ]);
    assertEquals(run.code, 64);
    assertStringIncludes(run.stderr, "unknown flag --codec");
    run = await runTaskScript("list", [
      "--pack",
      join(dir, "x.kvp"),
      "--only",
      "layer=x",
    ], ["--allow-read"]);
    assertEquals(run.code, 64);
    assertStringIncludes(run.stderr, '"x" is not a layer');
    assertEquals(
      (await Array.fromAsync(Deno.readDir(dir))).map((entry) => entry.name),
      [],
    );
  });
});

async function copyOf(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const entry of Deno.readDir(from)) {
    if (entry.isDirectory) {
      await copyOf(join(from, entry.name), join(to, entry.name));
    } else await Deno.copyFile(join(from, entry.name), join(to, entry.name));
  }
}

Deno.test("pack CLI: decode flushes once with sync -f where it may run it, file by file where not; the same tree", async () => {
  await withTempDir(async (dir) => {
    const pack = join(dir, "s.kvp");
    let run = await runTaskScript("encode", [
      "--dump-dir",
      KV_SAMPLE,
      "--pack",
      pack,
      "--no-fsync",
    ]);
    assertEquals(run.code, 0, run.stderr);
    for (const permissions of [RW, [...RW, "--allow-run=sync"]]) {
      const out = join(dir, `out-${permissions.length}`);
      run = await runTaskScript(
        "decode",
        ["--pack", pack, "--out-dir", out],
        permissions,
      );
      assertEquals(run.code, 0, run.stderr);
      assertSameTree(treeOf(out), treeOf(KV_SAMPLE));
      assertEquals(
        [...Deno.readDirSync(out)].map((entry) => entry.name).sort(),
        ["gpt2L4-fortune-wisdom", "llama6L-kjv-ruth"],
      );
    }
  });
});
