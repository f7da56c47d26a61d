/**
 * `--codec arith` as a user runs it: encode with both codebook modes and the
 * selection flags; decode, verify and analyze find the layout by themselves.
 */

import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { join } from "@std/path";
import {
  KV_SAMPLE,
  listFiles,
  runTaskScript,
  withTempDir,
} from "./_helpers.ts";

const READ_ONLY = ["--allow-read"];

Deno.test("encode --codec arith --codebook global with selection flags, then decode, verify and analyze without --codec", async () => {
  await withTempDir(async (dir) => {
    const bits = join(dir, "bits");
    let run = await runTaskScript("encode", [
      "--dump-dir",
      KV_SAMPLE,
      "--out-dir",
      bits,
      "--codec",
      "arith",
      "--stage",
      "decode",
      "--max-seq-len",
      "1",
    ]);
    assertEquals(run.code, 0, run.stderr);
    assertStringIncludes(
      run.stdout,
      "Encoded: 48, Skipped: 3, Failed: 0 (51 dumps found, 48 selected; arith, global codebook)",
    );
    const files = await listFiles(bits);
    assert(files.includes("global_codebook_arith.json"));
    assertEquals(
      files.filter((f) => /\/arith_meta_t\d+_\d+\.json$/.test(f)).length,
      48,
    );
    assertEquals(files.filter((f) => f.endsWith(".ac")).length, 48 * 4);
    assertEquals(files.filter((f) => f.endsWith(".huff")).length, 0);

    run = await runTaskScript("verify", [
      "--bitstream-dir",
      bits,
      "--orig-dump-dir",
      KV_SAMPLE,
    ], READ_ONLY);
    assertEquals(run.code, 0, run.stderr);
    assertStringIncludes(run.stdout, "Checked: 48, Failed: 0");

    const restored = join(dir, "restored");
    run = await runTaskScript("decode", [
      "--bitstream-dir",
      bits,
      "--out-dir",
      restored,
    ]);
    assertEquals(run.code, 0, run.stderr);
    const back = await listFiles(restored);
    assertEquals(back.length, 48 * 3);
    for (const file of back) {
      assertEquals(
        await Deno.readFile(join(restored, file)),
        await Deno.readFile(join(KV_SAMPLE, file)),
        file,
      );
    }

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
    assertStringIncludes(run.stdout, "Dumps: 48 (arith)");
    assertEquals(await listFiles(report), [
      "arith_metrics.csv",
      "arith_summary.md",
    ]);
    const csv = (await Deno.readTextFile(join(report, "arith_metrics.csv")))
      .trim().split("\n");
    assertEquals(
      csv[0],
      "run_id,layer_id,stage,seq_len,k_raw,v_raw,k_comp,v_comp,k_ratio,v_ratio",
    );
    assertEquals(csv.length, 1 + 48);
  });
});

Deno.test("encode --codec arith --codebook per-dump --stage prefill --min-seq-len writes the tables into each dump's meta", async () => {
  await withTempDir(async (dir) => {
    const bits = join(dir, "bits");
    let run = await runTaskScript("encode", [
      "--dump-dir",
      KV_SAMPLE,
      "--out-dir",
      bits,
      "--codec",
      "arith",
      "--codebook",
      "per-dump",
      "--stage",
      "prefill",
      "--min-seq-len",
      "100",
    ]);
    assertEquals(run.code, 0, run.stderr);
    assertStringIncludes(run.stdout, "Encoded: 3, Skipped: 48, Failed: 0");
    const files = await listFiles(bits);
    assert(!files.includes("global_codebook_arith.json"));
    const meta = JSON.parse(
      await Deno.readTextFile(
        join(bits, "llama6L-kjv-ruth/layer_0/arith_meta_t0_128.json"),
      ),
    );
    assertEquals(meta.codebook, "per-dump");
    for (const stream of ["k_hi6", "k_lo10", "v_hi6", "v_lo10"]) {
      const table = meta[`${stream}_freq`] as number[];
      assertEquals(table.length, stream.endsWith("hi6") ? 64 : 1024);
      // 128 tokens * 2 heads * 64 = 16384 symbols: a power of two, the raw counts.
      assertEquals(table.reduce((a, b) => a + b, 0), 16384);
    }
    run = await runTaskScript("verify", ["--bitstream-dir", bits], READ_ONLY);
    assertEquals(run.code, 0, run.stderr);
    assertStringIncludes(run.stdout, "Checked: 3, Failed: 0");
  });
});
