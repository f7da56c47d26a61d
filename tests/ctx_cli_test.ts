/**
 * `--codec ctx` as a user runs it: one `.kvc` file per dump, verify without the
 * originals, a corrupt file failing only its dump, and analyze's plane table.
 */

import {
  assert,
  assertEquals,
  assertMatch,
  assertStringIncludes,
} from "@std/assert";
import { join } from "@std/path";
import {
  KV_SAMPLE,
  listFiles,
  runTaskScript,
  withTempDir,
} from "./_helpers.ts";

Deno.test("ctx: encode writes one .kvc file per dump, verify and analyze read it, a corrupt file fails only its dump", async () => {
  await withTempDir(async (dir) => {
    const bits = join(dir, "bits");
    let run = await runTaskScript("encode", [
      "--dump-dir",
      KV_SAMPLE,
      "--out-dir",
      bits,
      "--codec",
      "ctx",
    ]);
    assertEquals(run.code, 0, run.stderr);
    assertStringIncludes(run.stdout, "Encoded: 51, Skipped: 0, Failed: 0");
    assertStringIncludes(run.stdout, "ctx, adaptive models");
    const files = (await listFiles(bits)).filter((file) =>
      file !== "kvbits_manifest.json"
    );
    assertEquals(files.length, 51);
    assert(files.every((file) => /\/meta_t\d+_\d+\.kvc$/.test(file)), files[0]);

    const report = join(dir, "report");
    run = await runTaskScript("analyze", [
      "--bitstream-dir",
      bits,
      "--orig-dump-dir",
      KV_SAMPLE,
      "--out-dir",
      report,
      "--include-meta",
    ]);
    assertEquals(run.code, 0, run.stderr);
    const summary = await Deno.readTextFile(join(report, "ctx_summary.md"));
    assertStringIncludes(summary, "## Model code lengths by plane");
    assertMatch(summary, /\| K \| \d\.\d{3} \| \d\.\d{3} \| \d\.\d{3} \|/);

    const victim = join(bits, "llama6L-kjv-ruth/layer_0/meta_t0_128.kvc");
    const bytes = await Deno.readFile(victim);
    bytes[bytes.length - 100] ^= 0x10;
    await Deno.writeFile(victim, bytes);
    run = await runTaskScript("verify", ["--bitstream-dir", bits], [
      "--allow-read",
    ]);
    assertEquals(run.code, 2);
    assertStringIncludes(run.stdout, "Checked: 50, Failed: 1");
    assertMatch(run.stderr, /failed .*meta_t0_128\.kvc: Cannot decode/);
    const restored = join(dir, "restored");
    run = await runTaskScript("decode", [
      "--bitstream-dir",
      bits,
      "--out-dir",
      restored,
    ]);
    assertEquals(run.code, 2);
    const back = await listFiles(restored);
    assertEquals(back.length, 50 * 3);
    assert(!back.some((file) => file.includes("t0_128")));
    for (const file of back) {
      assertEquals(
        await Deno.readFile(join(restored, file)),
        await Deno.readFile(join(KV_SAMPLE, file)),
        file,
      );
    }
  });
});
