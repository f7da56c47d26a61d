/**
 * What the tasks print for people and for scripts: the progress bar on a terminal
 * only (and not with --quiet), the plain summary otherwise, and with --json one
 * JSON object on stdout and nothing else there.
 */

import {
  assert,
  assertEquals,
  assertGreater,
  assertNotMatch,
  assertStringIncludes,
} from "@std/assert";
import { join } from "@std/path";
import { formatDuration, progressLine } from "../tasks/_progress.ts";
import {
  KV_SAMPLE,
  ROOT,
  runTaskScript,
  withTempDir,
  writeDumpFolder,
} from "./_helpers.ts";

/** A dump folder with one dump to encode, one to skip and one that fails. */
async function writeMixedFolder(dumps: string): Promise<void> {
  const words = Uint16Array.from({ length: 8 }, (_, i) => 0x3c00 + i);
  await writeDumpFolder(dumps, [
    { folder: "l0", name: "meta_good", k: words, seqLen: 2 },
    {
      folder: "l0",
      name: "meta_bpe4",
      k: words,
      seqLen: 2,
      meta: { bytes_per_elem: 4 },
    },
    { folder: "l0", name: "meta_badjson", k: words, metaText: "{" },
  ]);
}

/** Parses stdout as exactly one JSON object. */
function parseOneObject(stdout: string): Record<string, unknown> {
  const value = JSON.parse(stdout);
  assertEquals(typeof value, "object");
  assert(value !== null && !Array.isArray(value));
  return value;
}

Deno.test("progressLine shows phase, bar, counts, bytes, rate and time left, and never wraps", () => {
  const state = {
    phase: "encoding",
    done: 96,
    total: 384,
    bytes: 1.2e6,
    seconds: 2,
  };
  const line = progressLine(state, 100);
  assertEquals(
    line,
    "encoding          ███████░░░░░░░░░░░░░░░░░░░░░░░   96/384 dumps  1.20 MB  0.6 MB/s  ETA 6s",
  );
  // The time taken replaces the time left once the phase is complete.
  assertStringIncludes(
    progressLine({ ...state, done: 384, seconds: 8 }, 100),
    "384/384 dumps  1.20 MB  0.1 MB/s  in 8s",
  );
  assertStringIncludes(
    progressLine({ ...state, done: 0, bytes: 0 }, 100),
    "ETA --",
  );
  assertStringIncludes(progressLine({ ...state, total: 0, done: 0 }, 100), "█");
  for (const width of [20, 60, 79, 80, 200]) {
    const cut = progressLine(state, width);
    assert(cut.length < width, `${width}: ${cut}`);
  }
  assertEquals(
    [formatDuration(0), formatDuration(59.4), formatDuration(3600)],
    ["0s", "59s", "1h00m"],
  );
});

Deno.test("--json prints one object on stdout: counts, bytes in/out, ratio, seconds, every skip and failure with its reason", async () => {
  await withTempDir(async (dir) => {
    const dumps = join(dir, "dumps");
    await writeMixedFolder(dumps);
    const bits = join(dir, "bits");
    const encode = await runTaskScript("encode", [
      "--dump-dir",
      dumps,
      "--out-dir",
      bits,
      "--json",
    ]);
    assertEquals(encode.code, 2, encode.stderr);
    const encoded = parseOneObject(encode.stdout);
    assertEquals(encoded.task, "encode");
    assertEquals(encoded.exitCode, 2);
    assertEquals(encoded.codec, "huffman");
    assertEquals(encoded.codebook, "global");
    assertEquals(encoded.dumps, {
      found: 3,
      selected: 1,
      done: 1,
      skipped: 1,
      failed: 1,
    });
    const bytes = encoded.bytes as Record<string, number>;
    assertEquals(bytes.in, 32);
    assertEquals(bytes.tensors, 32);
    assertEquals(bytes.out, bytes.streams + bytes.json);
    const ratio = encoded.ratio as Record<string, number>;
    assertEquals(ratio.streams, 32 / bytes.streams);
    assertEquals(ratio.withJson, 32 / bytes.out);
    assertEquals(typeof encoded.seconds, "number");
    assertEquals(encoded.skipped, [{
      dump: "l0/meta_bpe4.json",
      reason: "bytes_per_elem is 4: only FP16 (2) is coded",
    }]);
    const failed = encoded.failed as { dump: string; reason: string }[];
    assertEquals(failed.map((problem) => problem.dump), [
      "l0/meta_badjson.json",
    ]);
    assertStringIncludes(failed[0].reason, "meta is not valid JSON");

    for (const task of ["verify", "decode"]) {
      const args = ["--bitstream-dir", bits, "--json"];
      if (task === "decode") args.push("--out-dir", join(dir, "restored"));
      const run = await runTaskScript(task, args);
      assertEquals(run.code, 0, run.stderr);
      const summary = parseOneObject(run.stdout);
      assertEquals(summary.task, task);
      assertEquals(summary.exitCode, 0);
      assertEquals(summary.layout, "bitstream_huffman");
      assertEquals(summary.dumps, { found: 1, done: 1, skipped: 0, failed: 0 });
      assertEquals(summary.checked, {
        againstOriginals: 0,
        byChecksum: 1,
        unchecked: 0,
      });
      // What encode wrote is what decode reads, and the other way round.
      assertEquals(summary.bytes, { ...bytes, in: bytes.out, out: bytes.in });
      assertEquals(summary.ratio, ratio);
      assertEquals([summary.skipped, summary.failed], [[], []]);
    }

    const analyze = await runTaskScript("analyze", [
      "--bitstream-dir",
      bits,
      "--out-dir",
      join(dir, "report"),
      "--json",
    ]);
    assertEquals(analyze.code, 0, analyze.stderr);
    const analyzed = parseOneObject(analyze.stdout);
    assertEquals(analyzed.dumps, { found: 1, done: 1, skipped: 0, failed: 0 });
    assertEquals(
      (analyzed.bytes as Record<string, number>).streams,
      bytes.streams,
    );
    assertEquals(
      (analyzed.withoutMeta as Record<string, number>).kvRatio,
      ratio.streams,
    );
    assertEquals((analyzed.written as string[]).length, 2);
  });
});

Deno.test("--json still prints one object when the job cannot run (exit 3); a wrong command line prints none (exit 64)", async () => {
  await withTempDir(async (dir) => {
    let run = await runTaskScript("verify", [
      "--bitstream-dir",
      join(dir, "nope"),
      "--json",
    ], ["--allow-read"]);
    assertEquals(run.code, 3);
    const summary = parseOneObject(run.stdout);
    assertEquals(summary.task, "verify");
    assertEquals(summary.exitCode, 3);
    assertStringIncludes(String(summary.error), "file not found");
    run = await runTaskScript("verify", ["--json", "--bogus"]);
    assertEquals([run.code, run.stdout], [64, ""]);
  });
});

Deno.test("off a terminal there is no progress text: stdout holds the summary, stderr stays empty", async () => {
  await withTempDir(async (out) => {
    for (const extra of [[], ["--quiet"]]) {
      const run = await runTaskScript("encode", [
        "--dump-dir",
        KV_SAMPLE,
        "--out-dir",
        out,
        "--overwrite",
        ...extra,
      ]);
      assertEquals(run.code, 0);
      assertEquals(run.stderr, "");
      assertEquals(
        run.stdout.trim().split("\n").map((line) => line.split(":")[0]),
        ["Encoded", "Bytes", "Ratio"],
      );
      for (const mark of ["\r", "\x1b", "ETA", "/51 dumps"]) {
        assert(!run.stdout.includes(mark), `${JSON.stringify(mark)} in stdout`);
      }
    }
    const verify = await runTaskScript("verify", ["--bitstream-dir", out], [
      "--allow-read",
    ]);
    assertEquals(verify.stderr, "");
    for (const mark of ["\r", "\x1b", "ETA"]) {
      assert(
        !verify.stdout.includes(mark),
        `${JSON.stringify(mark)} in stdout`,
      );
    }
  });
});

/** Whether util-linux `script` is here to give a task a pseudo-terminal. */
const SCRIPT_AVAILABLE = await new Deno.Command("script", {
  args: ["--version"],
  stdout: "null",
  stderr: "null",
}).output().then((output) => output.success, () => false);

Deno.test({
  name: SCRIPT_AVAILABLE
    ? "on a terminal encode, verify and decode draw the progress bar on stderr; --quiet leaves only the summary"
    : "on a terminal ... progress bar (skipped: util-linux `script` is not installed, so no pseudo-terminal)",
  ignore: !SCRIPT_AVAILABLE,
  fn: async () => {
    await withTempDir(async (dir) => {
      const bits = join(dir, "bits");
      const onTerminal = async (task: string, args: string[]) => {
        const command = [
          Deno.execPath(),
          "run",
          "--allow-read",
          "--allow-write",
          join(ROOT, "tasks", `${task}.ts`),
          ...args,
        ].map((word) => `'${word}'`).join(" ");
        const output = await new Deno.Command("script", {
          args: ["-qfec", command, "/dev/null"],
          env: { NO_COLOR: "1", COLUMNS: "120" },
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
        }).output();
        assertEquals(output.code, 0);
        return new TextDecoder().decode(output.stdout);
      };
      const encoded = await onTerminal("encode", [
        "--dump-dir",
        KV_SAMPLE,
        "--out-dir",
        bits,
      ]);
      // Global codebook: two phases, each left complete on its own line.
      assertStringIncludes(encoded, "\r\x1b[2Kcounting symbols  ");
      assertStringIncludes(encoded, "\r\x1b[2Kencoding  ");
      assert(
        /encoding +█+ +51\/51 dumps +0\.23 MB +[\d.]+ MB\/s +in \d+s/.test(
          encoded,
        ),
        encoded,
      );
      assertStringIncludes(encoded, "Encoded: 51, Skipped: 0, Failed: 0");
      const verified = await onTerminal("verify", ["--bitstream-dir", bits]);
      assertStringIncludes(verified, "verifying ");
      assertStringIncludes(verified, "51/51 dumps");
      const decoded = await onTerminal("decode", [
        "--bitstream-dir",
        bits,
        "--out-dir",
        join(dir, "restored"),
      ]);
      assertStringIncludes(decoded, "decoding ");
      const quiet = await onTerminal("verify", [
        "--bitstream-dir",
        bits,
        "--quiet",
      ]);
      assertNotMatch(quiet, /dumps|█/);
      assertStringIncludes(quiet, "Checked: 51, Failed: 0");
      assertGreater(encoded.length, quiet.length);
    });
  },
});
