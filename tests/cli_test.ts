/**
 * The tasks as a user runs them: help, flag errors, exit codes, and bad inputs
 * answered with one line naming the file, the run going on, nothing partial left.
 */

import {
  assert,
  assertEquals,
  assertMatch,
  assertNotMatch,
  assertStringIncludes,
} from "@std/assert";
import { join } from "@std/path";
import {
  KV_SAMPLE,
  listFiles,
  runTaskScript,
  withTempDir,
  writeDumpFolder,
} from "./_helpers.ts";
import { formatBytes } from "../tasks/_cli.ts";

const TASKS = ["encode", "decode", "verify", "analyze", "demo"];

Deno.test("formatBytes groups digits by thousands as en-US does and adds MB from 100 kB", () => {
  const counts = [
    0,
    7,
    999,
    1000,
    99_999.6,
    123_456,
    1_234_567,
    152_490_432,
    -1234,
  ];
  assertEquals(
    counts.map(formatBytes),
    [
      "0 B",
      "7 B",
      "999 B",
      "1,000 B",
      "100,000 B",
      "123,456 B (0.12 MB)",
      "1,234,567 B (1.23 MB)",
      "152,490,432 B (152.49 MB)",
      "-1,234 B",
    ],
  );
  for (const n of counts) {
    assert(formatBytes(n).startsWith(Math.round(n).toLocaleString("en-US")));
  }
});

Deno.test("every task prints its help with flags and exit codes, and exits 0", async () => {
  for (const task of TASKS) {
    const run = await runTaskScript(task, ["--help"]);
    assertEquals(run.code, 0, task);
    assertStringIncludes(run.stdout, `kvbits ${task}:`);
    assertStringIncludes(run.stdout, "Exit codes:");
    assertStringIncludes(run.stdout, "--help");
  }
});

Deno.test("unknown flags, stray arguments, missing and bad values are usage errors (exit 64) that say what was expected", async () => {
  const cases: [string, string[], string][] = [
    [
      "encode",
      ["--dump-dir", "a", "--out-dir", "b", "--codec", "zip"],
      "--codec must be one of huffman",
    ],
    [
      "encode",
      ["--dump-dir", "a", "--out-dir", "b", "--min-seq-len", "-3"],
      "--min-seq-len must be a non-negative integer",
    ],
    [
      "encode",
      ["--dump-dir", "a", "--out-dir", "b", "--min-seq-len", "x"],
      "--min-seq-len must be a non-negative integer",
    ],
    ["encode", ["--out-dir", "b"], "--dump-dir DIR is required"],
    [
      "encode",
      ["--dump-dir", "a", "--out-dir", "b", "--bogus"],
      "unknown flag --bogus",
    ],
    [
      "encode",
      ["--dump-dir", "a", "--out-dir", "b", "extra"],
      'unexpected argument "extra"',
    ],
    [
      "encode",
      ["--dump-dir", "a", "--dump-dir", "c", "--out-dir", "b"],
      "--dump-dir is given 2 times",
    ],
    ["decode", ["--bitstream-dir", "a"], "give --out-dir DIR"],
    [
      "decode",
      ["--bitstream-dir", "a", "--verify"],
      "--verify needs --orig-dump-dir",
    ],
    ["verify", [], "--bitstream-dir DIR is required"],
    ["analyze", ["--bitstream-dir", "a"], "--out-dir DIR is required"],
  ];
  for (const [task, args, message] of cases) {
    const run = await runTaskScript(task, args);
    assertEquals(run.code, 64, `${task} ${args.join(" ")}: ${run.stderr}`);
    assertStringIncludes(run.stderr, message);
    assertNotMatch(run.stderr, /\s+at /, "no stack trace for a usage error");
  }
});

Deno.test("a missing folder or an output folder equal to the input stops the job (exit 3) with one line", async () => {
  await withTempDir(async (dir) => {
    let run = await runTaskScript("encode", [
      "--dump-dir",
      join(dir, "nope"),
      "--out-dir",
      join(dir, "o"),
    ]);
    assertEquals(run.code, 3);
    assertStringIncludes(
      run.stderr,
      `--dump-dir ${join(dir, "nope")}: file not found`,
    );
    run = await runTaskScript("encode", [
      "--dump-dir",
      KV_SAMPLE,
      "--out-dir",
      KV_SAMPLE,
    ]);
    assertEquals(run.code, 3);
    assertStringIncludes(run.stderr, "is the --dump-dir folder");
    run = await runTaskScript("verify", ["--bitstream-dir", join(dir, "nope")]);
    assertEquals(run.code, 3);
    assertEquals(run.stderr.trim().split("\n").length, 1);
  });
});

Deno.test("an empty dump folder, or one whose dumps are all left out, exits 1", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(join(dir, "empty"));
    let run = await runTaskScript("encode", [
      "--dump-dir",
      join(dir, "empty"),
      "--out-dir",
      join(dir, "o"),
    ]);
    assertEquals(run.code, 1);
    assertStringIncludes(run.stderr, "No dump found");
    assertEquals(await Deno.stat(join(dir, "o")).catch(() => "none"), "none");
    run = await runTaskScript("encode", [
      "--dump-dir",
      KV_SAMPLE,
      "--out-dir",
      join(dir, "o"),
      "--min-seq-len",
      "100000",
    ]);
    assertEquals(run.code, 1);
    assertStringIncludes(run.stderr, "No dump selected");
    assertStringIncludes(run.stderr, "is below --min-seq-len 100000");
  });
});

Deno.test("bad dumps get one line naming the file and problem, the others are encoded, nothing partial is written", async () => {
  await withTempDir(async (dir) => {
    const dumps = join(dir, "dumps");
    const words = Uint16Array.from({ length: 8 }, (_, i) => 0x3c00 + i);
    await writeDumpFolder(dumps, [
      { folder: "l0", name: "meta_good", k: words, seqLen: 2 },
      {
        folder: "l0",
        name: "meta_badjson",
        k: words,
        metaText: '{"layer_id": 0, ',
      },
      {
        folder: "l0",
        name: "meta_nokey",
        k: words,
        metaText: '{"layer_id": 0}',
      },
      {
        folder: "l0",
        name: "meta_badtype",
        k: words,
        seqLen: 2,
        meta: { seq_len: "2" },
      },
      {
        folder: "l0",
        name: "meta_bpe4",
        k: words,
        seqLen: 2,
        meta: { bytes_per_elem: 4 },
      },
      {
        folder: "l0",
        name: "meta_short",
        k: words,
        seqLen: 2,
        meta: { head_dim: 8 },
      },
      { folder: "l0", name: "meta_nok", k: words, seqLen: 2 },
      { folder: "l0", name: "meta_odd", k: words, seqLen: 2 },
      {
        folder: "l0",
        name: "meta_escape",
        k: words,
        seqLen: 2,
        meta: { k_file: "../outside.bin" },
      },
    ]);
    await Deno.remove(join(dumps, "l0/k_nok.bin"));
    await Deno.writeFile(join(dumps, "l0/v_odd.bin"), new Uint8Array(15));
    const out = join(dir, "out");
    const run = await runTaskScript("encode", [
      "--dump-dir",
      dumps,
      "--out-dir",
      out,
      "--codebook",
      "per-dump",
    ]);
    assertEquals(run.code, 2, run.stderr);
    assertStringIncludes(run.stdout, "Encoded: 1, Skipped: 2, Failed: 6");
    const expectations = [
      `skipped k file ${join(dumps, "l0/k_nok.bin")} is missing`,
      "skipped bytes_per_elem is 4: only FP16 (2) is coded",
      `failed  ${join(dumps, "l0/meta_badjson.json")}: meta is not valid JSON`,
      `failed  ${join(dumps, "l0/meta_nokey.json")}: key "seq_len" is missing`,
      `failed  ${
        join(dumps, "l0/meta_badtype.json")
      }: key "seq_len" must be an integer >= 0, got "2"`,
      `failed  ${
        join(dumps, "l0/k_short.bin")
      }: size is 16 bytes but the meta shape needs 32`,
      `failed  ${
        join(dumps, "l0/v_odd.bin")
      }: size is odd (15 bytes): not FP16 data`,
      `failed  ${
        join(dumps, "l0/meta_escape.json")
      }: key "k_file" must name a file inside the meta file's folder`,
    ];
    for (const line of expectations) assertStringIncludes(run.stderr, line);
    assertEquals(run.stderr.trim().split("\n").length, expectations.length);
    assertEquals(await listFiles(out), [
      "kvbits_manifest.json",
      "l0/bitstream_meta_good.json",
      "l0/k_hi6_meta_good.huff",
      "l0/k_lo10_meta_good.huff",
      "l0/v_hi6_meta_good.huff",
      "l0/v_lo10_meta_good.huff",
    ]);
  });
});

Deno.test("existing outputs are skipped without --overwrite, counted, and replaced with it", async () => {
  await withTempDir(async (out) => {
    const args = ["--dump-dir", KV_SAMPLE, "--out-dir", out];
    assertEquals((await runTaskScript("encode", args)).code, 0);
    let run = await runTaskScript("encode", args);
    assertEquals(run.code, 0);
    assertStringIncludes(run.stdout, "Encoded: 0, Skipped: 51, Failed: 0");
    // One line for the 51 dumps; -v lists each.
    assertEquals(
      run.stderr,
      "skipped 51 dumps, already encoded: the output exists (--overwrite replaces it); -v lists them\n",
    );
    run = await runTaskScript("encode", [...args, "-v"]);
    assertEquals(run.stderr.trim().split("\n").length, 51);
    assertMatch(
      run.stderr,
      /skipped llama6L-kjv-ruth\/layer_0\/meta_t0_128\.json: already encoded: .*bitstream_meta_t0_128\.json exists \(use --overwrite/,
    );
    run = await runTaskScript("encode", [...args, "--overwrite"]);
    assertStringIncludes(run.stdout, "Encoded: 51, Skipped: 0, Failed: 0");
    // A global codebook that no longer matches the dumps is not silently mixed in.
    run = await runTaskScript("encode", [...args, "--stage", "prefill"]);
    assertEquals(run.code, 3);
    assertStringIncludes(
      run.stderr,
      "global_codebook.json: exists and differs",
    );
  });
});

Deno.test("a corrupt stream fails its dump in decode and verify, and nothing of that dump is restored", async () => {
  await withTempDir(async (dir) => {
    const bits = join(dir, "bits");
    assertEquals(
      (await runTaskScript("encode", [
        "--dump-dir",
        KV_SAMPLE,
        "--out-dir",
        bits,
      ])).code,
      0,
    );
    const victim = join(
      bits,
      "llama6L-kjv-ruth/layer_0/k_lo10_meta_t0_128.huff",
    );
    const bytes = await Deno.readFile(victim);
    bytes[100] ^= 0x10;
    await Deno.writeFile(victim, bytes);
    let run = await runTaskScript("verify", ["--bitstream-dir", bits], [
      "--allow-read",
    ]);
    assertEquals(run.code, 2);
    assertStringIncludes(run.stdout, "Checked: 50, Failed: 1");
    assertMatch(
      run.stderr,
      /failed .*bitstream_meta_t0_128\.json: Cannot decode: decoded K has CRC-32 \w+ but the original had \w+/,
    );
    const restored = join(dir, "restored");
    run = await runTaskScript("decode", [
      "--bitstream-dir",
      bits,
      "--out-dir",
      restored,
    ]);
    assertEquals(run.code, 2);
    const files = await listFiles(restored);
    assertEquals(files.length, 50 * 3);
    assert(!files.some((file) => file.includes("t0_128")));
    run = await runTaskScript("verify", [
      "--bitstream-dir",
      bits,
      "--orig-dump-dir",
      KV_SAMPLE,
    ], ["--allow-read"]);
    assertEquals(run.code, 2);
  });
});
