/**
 * Crash safety with a real SIGKILL: `tasks/encode.ts` and `tasks/decode.ts` run in
 * a subprocess and are killed at chosen writes (deterministically, through the
 * test hook of `src/dump/crash_test_hook.ts`: the process stops at the write and
 * the test kills it) and at moments of the test's choosing (a kill when enough
 * files have appeared). After each kill: verify and decode see only complete
 * dumps and restore them exactly, a later encode of a half-restored folder
 * takes only its complete dumps, and running the same command again gives a
 * folder identical, file for file and byte for byte, to an uninterrupted run.
 */

import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { join } from "@std/path";
import { PAUSE_AT_WRITE_VARIABLE } from "../src/dump/crash_test_hook.ts";
import { huffmanStreamCodec } from "../src/format/huffman_stream_codec.ts";
import { decodeFolder, type DecodeReport } from "../src/jobs/decode_job.ts";
import type { DumpOutcome } from "../src/jobs/job_report.ts";
import { MANIFEST_FILE_NAME } from "../src/format/manifest.ts";
import { encodeFolder } from "../src/jobs/encode_job.ts";
import { verifyFolder } from "../src/jobs/verify_job.ts";
import {
  KV_SAMPLE,
  listFiles,
  ROOT,
  runScriptAndKillAt,
  runTaskScript,
  withTempDir,
} from "./_helpers.ts";

/** What the tasks killed here may do: read, write and see the hook's variable. */
const HOOK_PERMISSIONS = [
  "--allow-read",
  "--allow-write",
  `--allow-env=${PAUSE_AT_WRITE_VARIABLE}`,
];

/** Dumps in the fixtures: 51, coded in path order. */
const DUMPS = 51;

/** Every file below a folder with its bytes, dot files included. */
async function snapshot(dir: string): Promise<Map<string, Uint8Array>> {
  const files = new Map<string, Uint8Array>();
  for (const file of await listFiles(dir)) {
    files.set(file, await Deno.readFile(join(dir, file)));
  }
  return files;
}

function assertSameFolder(
  actual: Map<string, Uint8Array>,
  expected: Map<string, Uint8Array>,
  what: string,
) {
  assertEquals([...actual.keys()], [...expected.keys()], `${what}: file list`);
  for (const [file, bytes] of expected) {
    assertEquals(actual.get(file), bytes, `${what}: ${file}`);
  }
}

/**
 * Runs a task until the hook stops it at `pause`, then kills it with SIGKILL.
 * The task runs with `--jobs 1`: the hook counts the writes of a thread, and
 * with one lane every write is in the task's thread, in the serial order. (The
 * re-runs use every CPU: their outputs must not depend on it.)
 */
async function runAndKillAt(
  task: string,
  args: string[],
  pause: string,
): Promise<string> {
  return await runScriptAndKillAt(
    join(ROOT, "tasks", `${task}.ts`),
    [...args, "--jobs", "1"],
    pause,
    HOOK_PERMISSIONS,
  );
}

/** The file the hook stopped at, from the task's stderr. */
function pausedPath(stderr: string): string {
  return /kvbits test hook: paused at write \d+ \(\w+\) (.*)\n/.exec(
    stderr,
  )![1];
}

/**
 * What a kill at `stage` of a write leaves of the file written: a stream is
 * written in place, so a kill in the middle leaves it cut in half under its
 * final name (and no temporary file); any other file (a meta, the codebook,
 * the manifest) is written through a temporary file. Asserts it, and returns
 * the number of temporary files left (0 or 1).
 */
async function assertLeftOfWrite(
  path: string,
  stage: "temp" | "renamed",
  expected: Map<string, Uint8Array>,
  bits: string,
  what: string,
): Promise<number> {
  const inPlace = path.endsWith(".huff");
  if (stage === "temp" && inPlace) {
    const whole = expected.get(path.slice(bits.length + 1))!;
    assertEquals(
      await Deno.readFile(path),
      whole.subarray(0, whole.length >> 1),
      `${what}: the stream cut in half`,
    );
  }
  const temporary = stage === "temp" && !inPlace ? 1 : 0;
  assertEquals(
    (await listFiles(bits)).filter((f) => f.includes(".kvbits-tmp-")).length,
    temporary,
    what,
  );
  return temporary;
}

/** Runs a task and kills it with SIGKILL once `enough` says so (polled every few ms). */
async function runAndKillWhen(
  task: string,
  args: string[],
  enough: () => Promise<boolean>,
): Promise<Deno.CommandStatus> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-write",
      join(ROOT, "tasks", `${task}.ts`),
      ...args,
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  let ended = false;
  child.status.then(() => ended = true);
  while (!ended && !await enough()) {
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  if (!ended) child.kill("SIGKILL");
  return await child.status;
}

async function countFiles(dir: string, pattern: RegExp): Promise<number> {
  return (await listFiles(dir).catch(() => [])).filter((f) => pattern.test(f))
    .length;
}

/**
 * Checks a bitstream folder left by a killed encode: verify and decode see
 * `complete` dumps (every meta present), all of them check and restore exactly.
 */
async function assertOnlyCompleteDumps(
  bits: string,
  work: string,
  complete: number | undefined,
  what: string,
) {
  const metas = await countFiles(bits, /(^|\/)bitstream_meta_[^/]*\.json$/);
  if (complete !== undefined) assertEquals(metas, complete, what);
  const verified = await verifyFolder({ bitstreamDir: bits });
  // Streams without a meta (one maybe cut short) are not dumps, and the
  // manifest says the encode did not finish.
  if (metas === 0) {
    if (await countFiles(bits, /kvbits_manifest\.json$/) > 0) {
      assertInterruptionSaid(verified, what);
    }
    return;
  }
  assertEquals(dumpOutcomes(verified).length, metas, what);
  assertEquals(
    dumpOutcomes(verified).filter((o) => o.status !== "done"),
    [],
    what,
  );
  assertInterruptionSaid(verified, what);
  assertEquals(verified.checkedByChecksum, metas, what);
  const restored = join(work, "restored-partial");
  const decoded = await decodeFolder({
    bitstreamDir: bits,
    outDir: restored,
    origDumpDir: KV_SAMPLE,
    overwrite: false,
    durable: false,
  });
  assertEquals(decoded.checkedAgainstOriginals, metas, what);
  for (const file of await listFiles(restored)) {
    assertEquals(
      await Deno.readFile(join(restored, file)),
      await Deno.readFile(join(KV_SAMPLE, file)),
      `${what}: ${file}`,
    );
  }
  await Deno.remove(restored, { recursive: true });
}

/** The outcomes of the dumps, without the manifest's own. */
function dumpOutcomes(report: DecodeReport): DumpOutcome[] {
  return report.outcomes.filter((o) => o.dump !== MANIFEST_FILE_NAME);
}

/** A killed encode leaves its manifest incomplete, and verify says so. */
function assertInterruptionSaid(report: DecodeReport, what: string) {
  const said = report.outcomes.find((o) => o.dump === MANIFEST_FILE_NAME);
  assertStringIncludes(
    said?.reason ?? "",
    "the last encode into this folder did not finish",
    what,
  );
}

/**
 * Complete dumps after a kill at encode write `n` (global codebook): write 1
 * marks the manifest incomplete, write 2 is the codebook, dump i has its
 * streams at writes 3 + 5i .. 6 + 5i and its meta at 7 + 5i; the complete
 * manifest is the last write.
 */
function completeAfterEncodeKill(n: number, stage: "temp" | "renamed") {
  let complete = 0;
  for (let i = 0; i < DUMPS; i++) {
    const meta = 7 + 5 * i;
    if (meta < n || (meta === n && stage === "renamed")) complete++;
  }
  return complete;
}

Deno.test("encode killed with SIGKILL at chosen writes: only complete dumps are seen, and the same command finishes the folder byte for byte", async () => {
  await withTempDir(async (root) => {
    const reference = join(root, "reference");
    const args = (out: string) => ["--dump-dir", KV_SAMPLE, "--out-dir", out];
    assertEquals((await runTaskScript("encode", args(reference))).code, 0);
    const expected = await snapshot(reference);
    assertEquals(expected.size, 2 + 5 * DUMPS);

    const points: [number, "temp" | "renamed"][] = [
      [1, "temp"], // the incomplete manifest's temporary file, nothing in place
      [2, "temp"], // the codebook's temporary file
      [2, "renamed"], // the codebook alone
      [4, "temp"], // first dump: one stream in place, the second cut in half
      [6, "renamed"], // first dump: four streams, no meta
      [7, "temp"], // first dump: meta written but not renamed
      [7, "renamed"], // first dump complete
      [130, "temp"], // mid-run
      [2 + 5 * DUMPS, "temp"], // the last meta, not renamed
      [3 + 5 * DUMPS, "temp"], // every dump flushed, the manifest not renamed
    ];
    const scenario = async ([n, stage]: [number, "temp" | "renamed"]) => {
      const what = `killed at write ${n} (${stage})`;
      const work = join(root, `kill-${n}-${stage}`);
      const bits = join(work, "bits");
      const stderr = await runAndKillAt("encode", args(bits), `${n}:${stage}`);
      // What a kill leaves: the outputs so far, at most one temporary file or
      // one stream cut short, the lock file.
      const temporary = await assertLeftOfWrite(
        pausedPath(stderr),
        stage,
        expected,
        bits,
        what,
      );
      const complete = completeAfterEncodeKill(n, stage);
      await assertOnlyCompleteDumps(bits, work, complete, what);
      const rerun = await runTaskScript("encode", args(bits));
      assertEquals(rerun.code, 0, `${what}: ${rerun.stderr}`);
      assertStringIncludes(
        rerun.stdout,
        `Encoded: ${DUMPS - complete}, Skipped: ${complete}, Failed: 0`,
      );
      if (temporary === 1) {
        assertStringIncludes(
          rerun.stderr,
          "removed 1 temporary file left in the output folder by an interrupted run",
        );
      }
      assertSameFolder(await snapshot(bits), expected, what);
    };
    // Two at a time: each kill point is fixed by the hook, not by timing.
    for (let i = 0; i < points.length; i += 2) {
      await Promise.all(points.slice(i, i + 2).map(scenario));
    }
  });
});

Deno.test("encode killed with SIGKILL at moments the test picks (files appearing), then re-run: the same guarantees", async () => {
  await withTempDir(async (root) => {
    const reference = join(root, "reference");
    const args = (out: string) => [
      "--dump-dir",
      KV_SAMPLE,
      "--out-dir",
      out,
      "--codebook",
      "per-dump",
    ];
    assertEquals((await runTaskScript("encode", args(reference))).code, 0);
    const expected = await snapshot(reference);
    for (const files of [7, 90, 200]) {
      const what = `per-dump encode killed after ${files} files appeared`;
      const work = join(root, `kill-after-${files}`);
      const bits = join(work, "bits");
      await runAndKillWhen(
        "encode",
        args(bits),
        async () => await countFiles(bits, /\.(huff|json)$/) >= files,
      );
      await assertOnlyCompleteDumps(bits, work, undefined, what);
      const rerun = await runTaskScript("encode", args(bits));
      assertEquals(rerun.code, 0, `${what}: ${rerun.stderr}`);
      assertSameFolder(await snapshot(bits), expected, what);
    }
  });
});

Deno.test("encode on a worker killed with SIGKILL at chosen writes (huffman and ctx): only complete dumps are seen, and the same command finishes the folder byte for byte", async () => {
  await withTempDir(async (root) => {
    const onWorkers = join(ROOT, "tests", "_encode_on_workers.ts");
    // The worker writes dump i's files in path order: huffman per dump, streams
    // at 1 + 5i .. 4 + 5i and meta at 5 + 5i; ctx, its one file at 1 + i.
    const cases = [
      { codec: "huffman", files: 5, marker: /bitstream_meta_[^/]*\.json$/ },
      { codec: "ctx", files: 1, marker: /\.kvc$/ },
    ];
    const points: [number, "temp" | "renamed"][] = [[13, "temp"], [
      20,
      "renamed",
    ]];
    for (const { codec, files, marker } of cases) {
      const args = (out: string) => [
        "--dump-dir",
        KV_SAMPLE,
        "--out-dir",
        out,
        "--codec",
        codec,
        "--codebook",
        "per-dump",
      ];
      const reference = join(root, `${codec}-reference`);
      assertEquals((await runTaskScript("encode", args(reference))).code, 0);
      const expected = await snapshot(reference);
      for (const [n, stage] of points) {
        const what = `${codec} on a worker killed at write ${n} (${stage})`;
        const bits = join(root, `${codec}-kill-${n}-${stage}`);
        const stderr = await runScriptAndKillAt(
          onWorkers,
          [KV_SAMPLE, bits, codec],
          `${n}:${stage}`,
          HOOK_PERMISSIONS,
        );
        const complete = Math.floor(
          (stage === "renamed" ? n : n - 1) / files,
        );
        // Stopped at a stream, or at the file that completes a dump.
        const paused = codec === "ctx"
          ? ".kvc"
          : n % files === 0
          ? "bitstream_meta_"
          : ".huff";
        assertStringIncludes(stderr, paused, what);
        const left = await listFiles(bits);
        assertEquals(
          left.filter((f) => marker.test(f)).length,
          complete,
          what,
        );
        await assertLeftOfWrite(
          pausedPath(stderr),
          stage,
          expected,
          bits,
          what,
        );
        const verified = await verifyFolder({ bitstreamDir: bits });
        assertEquals(verified.checkedByChecksum, complete, what);
        assertEquals(
          dumpOutcomes(verified).filter((o) => o.status !== "done"),
          [],
          what,
        );
        assertInterruptionSaid(verified, what);
        const rerun = await runTaskScript("encode", args(bits));
        assertEquals(rerun.code, 0, `${what}: ${rerun.stderr}`);
        assertStringIncludes(
          rerun.stdout,
          `Encoded: ${DUMPS - complete}, Skipped: ${complete}, Failed: 0`,
        );
        assertSameFolder(await snapshot(bits), expected, what);
      }
    }
  });
});

Deno.test("encode --overwrite killed halfway: no old meta beside new streams; the same command finishes the folder byte for byte", async () => {
  await withTempDir(async (root) => {
    const global = ["--dump-dir", KV_SAMPLE, "--out-dir"];
    const perDump = (out: string) => [
      ...global,
      out,
      "--codebook",
      "per-dump",
      "--overwrite",
    ];
    // Reference: a global folder, then re-encoded per dump with --overwrite.
    const reference = join(root, "reference");
    assertEquals(
      (await runTaskScript("encode", [...global, reference])).code,
      0,
    );
    const before = await snapshot(reference);
    assertEquals((await runTaskScript("encode", perDump(reference))).code, 0);
    const expected = await snapshot(reference);

    const bits = join(root, "bits");
    for (const [file, bytes] of before) {
      await Deno.mkdir(join(bits, file, ".."), { recursive: true });
      await Deno.writeFile(join(bits, file), bytes);
    }
    // Per-dump writes: the incomplete manifest at 1, dump i has streams at
    // 2 + 5i .. 5 + 5i, meta at 6 + 5i. Killed with the 21st dump's streams
    // half replaced: its old meta is gone.
    await runAndKillAt("encode", perDump(bits), "104:temp");
    const metas = (await listFiles(bits)).filter((f) =>
      /bitstream_meta_[^/]*\.json$/.test(f)
    );
    assertEquals(metas.length, DUMPS - 1);
    // Twenty dumps are new (per-dump), thirty are old (global) and still whole.
    await assertOnlyCompleteDumps(bits, root, DUMPS - 1, "overwrite killed");
    const rerun = await runTaskScript("encode", perDump(bits));
    assertEquals(rerun.code, 0, rerun.stderr);
    assertSameFolder(await snapshot(bits), expected, "overwrite re-run");
  });
});

Deno.test("decode killed with SIGKILL: a later encode takes only the completely restored dumps, and the same decode finishes byte for byte", async () => {
  await withTempDir(async (root) => {
    const bits = join(root, "bits");
    await encodeFolder({
      dumpDir: KV_SAMPLE,
      outDir: bits,
      codec: huffmanStreamCodec,
      codebook: "global",
      overwrite: false,
      stage: "both",
      minSeqLen: 0,
      maxSeqLen: 0,
      durable: false,
    });
    const args = (out: string) => ["--bitstream-dir", bits, "--out-dir", out];
    const reference = join(root, "reference");
    assertEquals((await runTaskScript("decode", args(reference))).code, 0);
    const expected = await snapshot(reference);
    assertEquals(expected.size, 3 * DUMPS);

    // Dump i: K at write 1 + 3i, V at 2 + 3i, meta at 3 + 3i.
    const points: [number, "temp" | "renamed", number][] = [
      [2, "temp", 0], // K in place, V half-written
      [3, "temp", 0], // K and V in place, meta not renamed
      [3, "renamed", 1],
      [77, "renamed", 25],
    ];
    const scenario = async ([n, stage, complete]: (typeof points)[number]) => {
      const what = `decode killed at write ${n} (${stage})`;
      const work = join(root, `kill-${n}-${stage}`);
      const restored = join(work, "restored");
      await runAndKillAt("decode", args(restored), `${n}:${stage}`);
      const metas = (await listFiles(restored)).filter((f) =>
        /(^|\/)meta_[^/]*\.json$/.test(f)
      );
      assertEquals(metas.length, complete, what);
      // A later encode of the half-restored folder sees only complete dumps.
      const reencoded = await encodeFolder({
        dumpDir: restored,
        outDir: join(work, "reencoded"),
        codec: huffmanStreamCodec,
        codebook: "per-dump",
        overwrite: false,
        stage: "both",
        minSeqLen: 0,
        maxSeqLen: 0,
        durable: false,
      });
      assertEquals(reencoded.metaFilesFound, complete, what);
      assertEquals(
        reencoded.outcomes.filter((o) => o.status !== "done"),
        [],
        what,
      );
      const rerun = await runTaskScript("decode", args(restored));
      assertEquals(rerun.code, 0, `${what}: ${rerun.stderr}`);
      assertStringIncludes(
        rerun.stdout,
        `Decoded: ${DUMPS - complete}, Skipped: ${complete}, Failed: 0`,
      );
      assertSameFolder(await snapshot(restored), expected, what);
    };
    for (let i = 0; i < points.length; i += 2) {
      await Promise.all(points.slice(i, i + 2).map(scenario));
    }
  });
});

Deno.test("a second writer into a folder that a running job holds is refused with one line (exit 3), and leaves it alone", async () => {
  await withTempDir(async (root) => {
    const bits = join(root, "bits");
    const args = ["--dump-dir", KV_SAMPLE, "--out-dir", bits];
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read",
        "--allow-write",
        `--allow-env=${PAUSE_AT_WRITE_VARIABLE}`,
        join(ROOT, "tasks", "encode.ts"),
        ...args,
        "--jobs",
        "1",
      ],
      env: { [PAUSE_AT_WRITE_VARIABLE]: "10:temp" },
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const reader = child.stderr.getReader();
    let stderr = "";
    while (!stderr.includes("paused")) {
      const { value, done } = await reader.read();
      if (done) break;
      stderr += new TextDecoder().decode(value);
    }
    const before = await snapshot(bits);
    const second = await runTaskScript("encode", args);
    assertEquals(second.code, 3);
    assertStringIncludes(
      second.stderr,
      `kvbits encode: --out-dir ${bits}: another kvbits run (pid ${child.pid}) is writing into it`,
    );
    assertSameFolder(await snapshot(bits), before, "second writer");
    child.kill("SIGKILL");
    await child.status;
    await reader.cancel();
    // Once it is dead, the folder is free again.
    assert((await runTaskScript("encode", args)).code === 0);
  });
});
