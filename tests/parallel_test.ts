/**
 * Whole folders on several lanes: the same bytes whatever `--jobs` is and
 * whichever lane (a worker or the job's thread) handles a dump, failures of a
 * dump reported for that dump while the others complete, and a worker that dies
 * costing only the dump it died on. Nothing here is timed.
 */

import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { join } from "@std/path";
import { codecNamed, CODECS } from "../src/format/codecs.ts";
import { flagsIn } from "../tasks/_cli.ts";
import type { CodebookMode } from "../src/format/stream_codec.ts";
import { STREAM_CODECS } from "../src/format/stream_codecs.ts";
import { decodeFolder } from "../src/jobs/decode_job.ts";
import type {
  DumpResult,
  EncodeSetupTask,
  LostReply,
} from "../src/jobs/dump_tasks.ts";
import { encodeFolder, type EncodeReport } from "../src/jobs/encode_job.ts";
import { verifyFolder } from "../src/jobs/verify_job.ts";
import { LaneRunner } from "../src/jobs/worker_pool.ts";
import {
  KV_SAMPLE,
  listFiles,
  runTaskScript,
  seededRandom,
  SHARED,
  SHARED_AVAILABLE,
  withTempDir,
  writeDumpFolder,
} from "./_helpers.ts";

/** Every file below a folder, by relative path. */
async function folderBytes(root: string): Promise<Map<string, Uint8Array>> {
  const files = new Map<string, Uint8Array>();
  for (const file of await listFiles(root)) {
    files.set(file, await Deno.readFile(join(root, file)));
  }
  return files;
}

function assertSameFolder(
  actual: Map<string, Uint8Array>,
  expected: Map<string, Uint8Array>,
  label: string,
): void {
  assertEquals([...actual.keys()], [...expected.keys()], `${label}: files`);
  for (const [file, bytes] of expected) {
    assertEquals(actual.get(file), bytes, `${label}: ${file}`);
  }
}

/** What of an encode report must not depend on the lanes. */
function reportFacts(report: EncodeReport) {
  const { outcomes, rawBytes, streamBytes, metaBytes, codebookBytes } = report;
  return { outcomes, rawBytes, streamBytes, metaBytes, codebookBytes };
}

/** The lane settings compared: serial, workers only, and workers beside the thread. */
const LANES = [
  { jobs: 2, threadLane: false },
  { jobs: 3, threadLane: false },
  { jobs: 3, threadLane: true },
] as const;

async function assertLanesWriteTheSame(
  dumpDir: string,
  codecName: string,
  codebook: CodebookMode,
): Promise<void> {
  const codec = codecNamed(codecName)!;
  // Durable writes (the default) on the fixtures, where they cost little, so
  // that the flushes run on workers too; kv-real's thousands of files skip them.
  const durable = dumpDir === KV_SAMPLE;
  await withTempDir(async (work) => {
    const encode = (outDir: string, jobs: number, threadLane: boolean) =>
      encodeFolder({
        dumpDir,
        outDir,
        codec,
        codebook,
        overwrite: false,
        stage: "both",
        minSeqLen: 0,
        maxSeqLen: 0,
        jobs,
        threadLane,
        durable,
      });
    const serialDir = join(work, "jobs1");
    const serial = await encode(serialDir, 1, true);
    assertEquals(serial.outcomes.every((o) => o.status === "done"), true);
    const expected = await folderBytes(serialDir);
    for (const { jobs, threadLane } of LANES) {
      const label = `${codecName} ${codebook} --jobs ${jobs}${
        threadLane ? "" : " (workers only)"
      }`;
      const outDir = join(work, `jobs${jobs}-${threadLane}`);
      const report = await encode(outDir, jobs, threadLane);
      assertEquals(reportFacts(report), reportFacts(serial), label);
      assertSameFolder(await folderBytes(outDir), expected, label);
    }
    // Decoding on workers restores the dumps, byte for byte.
    const restored = join(work, "restored");
    const decoded = await decodeFolder({
      bitstreamDir: serialDir,
      outDir: restored,
      overwrite: false,
      jobs: 3,
      threadLane: false,
      durable,
    });
    assertEquals(decoded.checkedByChecksum, serial.outcomes.length);
    // Every dump file comes back (kv-real also holds notes, which are no dump).
    const originals = await folderBytes(dumpDir);
    for (const file of originals.keys()) {
      if (!/(^|\/)(meta|k|v)_[^/]*$/.test(file)) originals.delete(file);
    }
    assertSameFolder(
      await folderBytes(restored),
      originals,
      `${codecName} ${codebook} decoded on workers`,
    );
  });
}

for (const codec of CODECS) {
  // A codec that learns as it codes (ctx) has no codebook: one run.
  for (const codebook of codec.codebookModes) {
    const used = codec.modelsUsed(codebook).codebook;
    const label = used ? `${codec.name} ${used}` : codec.name;
    Deno.test(`${label}: --jobs 1, 2 and 3, on workers or beside them, write the same bytes; workers decode them back`, async () => {
      await assertLanesWriteTheSame(KV_SAMPLE, codec.name, codebook);
    });
  }
}

Deno.test({
  name: "kv-real, huffman global: --jobs 1, 2 and 3 write the same bytes",
  ignore: !SHARED_AVAILABLE,
  fn: async () => {
    await assertLanesWriteTheSame(
      join(SHARED, "kv-real"),
      "huffman",
      "global",
    );
  },
});

Deno.test({
  name: "kv-real, ctx: --jobs 1, 2 and 3 write the same bytes",
  ignore: !SHARED_AVAILABLE,
  fn: async () => {
    await assertLanesWriteTheSame(
      join(SHARED, "kv-real"),
      "ctx",
      "per-dump",
    );
  },
});

Deno.test("on workers, existing outputs are skipped or failed as in one thread, --overwrite replaces them, and leftovers of killed runs are removed", async () => {
  await withTempDir(async (work) => {
    const bits = join(work, "bits");
    const onWorkers = { jobs: 2, threadLane: false } as const;
    const encode = (
      codecName: string,
      codebook: CodebookMode,
      overwrite: boolean,
      outDir = bits,
    ) =>
      encodeFolder({
        dumpDir: KV_SAMPLE,
        outDir,
        codec: codecNamed(codecName)!,
        codebook,
        overwrite,
        stage: "both",
        minSeqLen: 0,
        maxSeqLen: 0,
        durable: false,
        ...onWorkers,
      });
    const statuses = (report: EncodeReport) =>
      new Set(report.outcomes.map((o) => o.status));
    assertEquals(
      statuses(await encode("huffman", "per-dump", false)),
      new Set(["done"]),
    );
    // A leftover of a killed run, and the same command again: all skipped.
    const leftover = join(
      bits,
      "llama6L-kjv-ruth/layer_0/.k_hi6_meta_t0_128.huff.kvbits-tmp-1-1",
    );
    await Deno.writeFile(leftover, new Uint8Array(3));
    const again = await encode("huffman", "per-dump", false);
    assertEquals(again.temporaryFilesRemoved, 1);
    assertEquals(statuses(again), new Set(["skipped"]));
    assertStringIncludes(again.outcomes[0].reason!, "already encoded");
    // The other codebook mode: every dump fails, naming its meta and the reason.
    const other = await encode("huffman", "global", false);
    assertEquals(statuses(other), new Set(["failed"]));
    // The job names its options; the CLI says them as flags.
    assertStringIncludes(
      flagsIn(other.outcomes[0].reason!),
      "exists but was encoded with --codebook per-dump; use --overwrite to re-encode the dump",
    );
    // --overwrite on workers gives what a fresh global encode gives.
    assertEquals(
      statuses(await encode("huffman", "global", true)),
      new Set(["done"]),
    );
    const fresh = join(work, "fresh");
    await encode("huffman", "global", false, fresh);
    assertSameFolder(
      await folderBytes(bits),
      await folderBytes(fresh),
      "--overwrite on workers",
    );
    // ctx beside them: its files are their own markers, skipped when present.
    const ctx = join(work, "ctx");
    assertEquals(
      statuses(await encode("ctx", "per-dump", false, ctx)),
      new Set(["done"]),
    );
    assertEquals(
      statuses(await encode("ctx", "per-dump", false, ctx)),
      new Set(["skipped"]),
    );
    // Decoding on workers: restored dumps are skipped, and replaced with --overwrite.
    const restored = join(work, "restored");
    const decode = (overwrite: boolean) =>
      decodeFolder({
        bitstreamDir: ctx,
        outDir: restored,
        overwrite,
        durable: false,
        ...onWorkers,
      });
    const first = await decode(false);
    assertEquals(first.checkedByChecksum, first.outcomes.length);
    assertEquals(
      new Set((await decode(false)).outcomes.map((o) => o.status)),
      new Set(["skipped"]),
    );
    assertEquals(
      new Set((await decode(true)).outcomes.map((o) => o.status)),
      new Set(["done"]),
    );
  });
});

/** The set-up of lanes that only count the fixtures' dumps (nothing is written). */
const COUNT_SETUP: EncodeSetupTask = {
  kind: "encode-setup",
  codec: "huffman",
  dumpDir: KV_SAMPLE,
  outDir: "unused",
  overwrite: false,
  codebook: "global",
  durable: false,
};

/** A folder of small dumps, one of which (`broken`) has a tensor of the wrong size. */
async function writeFolderWithABrokenDump(root: string): Promise<number> {
  const random = seededRandom(9);
  const dumps = Array.from({ length: 40 }, (_, i) => ({
    folder: `run/layer_${i % 4}`,
    name: `meta_t${i}_${i + 1}`,
    k: Uint16Array.from({ length: 64 }, () => Math.floor(random() * 65536)),
  }));
  await writeDumpFolder(root, dumps);
  // layer_1/meta_t13_14 keeps its meta but loses half of its K tensor.
  await Deno.writeFile(
    join(root, "run/layer_1/k_t13_14.bin"),
    new Uint8Array(64),
  );
  return dumps.length;
}

Deno.test("a dump that fails on a worker is reported for that dump, and the others complete", async () => {
  await withTempDir(async (work) => {
    const dumpDir = join(work, "dumps");
    const count = await writeFolderWithABrokenDump(dumpDir);
    for (const codebook of ["global", "per-dump"] as const) {
      const outDir = join(work, `bits-${codebook}`);
      const report = await encodeFolder({
        dumpDir,
        outDir,
        codec: STREAM_CODECS[0],
        codebook,
        overwrite: false,
        stage: "both",
        minSeqLen: 0,
        maxSeqLen: 0,
        jobs: 2,
        threadLane: false,
      });
      const failed = report.outcomes.filter((o) => o.status === "failed");
      assertEquals(failed.map((o) => o.dump), ["run/layer_1/meta_t13_14.json"]);
      assertStringIncludes(failed[0].reason!, "k_t13_14.bin: size is 64 bytes");
      assertEquals(
        report.outcomes.filter((o) => o.status === "done").length,
        count - 1,
      );
    }
    // A corrupt stream, verified on workers: that dump fails, naming the file.
    const bitstreamDir = join(work, "bits-per-dump");
    const stream = join(bitstreamDir, "run/layer_2/k_lo10_meta_t6_7.huff");
    assert(await Deno.stat(stream).then(() => true, () => false));
    const bytes = await Deno.readFile(stream);
    bytes[0] ^= 0xff;
    await Deno.writeFile(stream, bytes);
    const verified = await verifyFolder({
      bitstreamDir,
      jobs: 3,
      threadLane: false,
    });
    const failed = verified.outcomes.filter((o) => o.status === "failed");
    assertEquals(failed.map((o) => o.dump), [
      "run/layer_2/bitstream_meta_t6_7.json",
    ]);
    // Named at the stream, or at the meta when the stream decodes to other
    // values that then fail the checksum.
    assert(
      failed[0].reason!.startsWith(join(bitstreamDir, "run/layer_2/")),
      failed[0].reason,
    );
    assertEquals(verified.checkedByChecksum, count - 2);
  });
});

Deno.test("a worker that dies costs only the dump it died on: the others are handled, and a new worker takes over", async () => {
  const paths = (await listFiles(KV_SAMPLE)).filter((file) =>
    /meta_.*\.json$/.test(file)
  );
  // The crashing worker dies on any task holding a path with "crash" in it.
  const items = [
    ...paths.slice(0, 20),
    "crash/meta_t0_1.json",
    ...paths.slice(20),
  ];
  const runner = new LaneRunner({
    jobs: 3,
    threadLane: false,
    workerModule: new URL("./_crashing_worker.ts", import.meta.url),
  });
  const results = new Map<string, DumpResult | LostReply>();
  try {
    await runner.setUp(COUNT_SETUP);
    await runner.forEach(items, {
      taskOf: (batch) => ({
        kind: "count",
        dumps: batch.map((relativePath) => ({
          relativePath,
          metaText: relativePath.startsWith("crash")
            ? "{}"
            : Deno.readTextFileSync(join(KV_SAMPLE, relativePath)),
        })),
      }),
      maxItems: 4,
    }, (item, result) => {
      assert(!results.has(item), `${item} answered twice`);
      results.set(item, result);
    });
  } finally {
    runner.close();
  }
  assertEquals(results.size, items.length);
  const lost = [...results].filter(([, result]) => result.kind === "lost");
  assertEquals(lost.map(([item]) => item), ["crash/meta_t0_1.json"]);
  const [, result] = lost[0];
  assertStringIncludes(
    result.kind === "lost" ? result.reason : "",
    "a worker stopped while handling it: Uncaught Error: crashed on purpose",
  );
  for (const path of paths) {
    const counted = results.get(path);
    assert(
      counted?.kind === "counted" && counted.failure === undefined,
      `${path} was not counted`,
    );
  }
});

Deno.test("--jobs is checked, and the tasks give the same summary for any value", async () => {
  await withTempDir(async (work) => {
    const zero = await runTaskScript("verify", [
      "--bitstream-dir",
      work,
      "--jobs",
      "0",
    ]);
    assertEquals(zero.code, 64, zero.stderr);
    assertStringIncludes(zero.stderr, "--jobs must be at least 1");
    const summaries = [];
    for (const jobs of ["1", "3"]) {
      const outDir = join(work, `bits${jobs}`);
      const run = await runTaskScript("encode", [
        "--dump-dir",
        KV_SAMPLE,
        "--out-dir",
        outDir,
        "--jobs",
        jobs,
        "--json",
      ]);
      assertEquals(run.code, 0, run.stderr);
      const { seconds: _s, megabytesPerSecond: _m, ...summary } = JSON.parse(
        run.stdout,
      );
      summaries.push(summary);
    }
    assertEquals(summaries[1], summaries[0]);
  });
});

Deno.test("a job with many dumps starts its workers as soon as it knows their number; a small one does not", () => {
  const small = new LaneRunner({ jobs: 2 });
  const large = new LaneRunner({ jobs: 2 });
  const single = new LaneRunner({ jobs: 1 });
  try {
    small.expectWork(10);
    large.expectWork(3072);
    single.expectWork(3072);
    assertEquals([small.workers, large.workers, single.workers], [0, 1, 0]);
  } finally {
    small.close();
    large.close();
    single.close();
  }
});

Deno.test("one lane takes the items in order, batch after batch, and an item naming a lane that does not run still gets its result there", async () => {
  const paths = (await listFiles(KV_SAMPLE)).filter((file) =>
    /meta_.*\.json$/.test(file)
  ).sort();
  const runner = new LaneRunner({ jobs: 1 });
  const seen: { item: string; index: number; lane: number }[] = [];
  try {
    await runner.setUp(COUNT_SETUP);
    await runner.forEach(paths, {
      taskOf: (batch) => ({
        kind: "count",
        dumps: batch.map((relativePath) => ({ relativePath })),
      }),
      maxItems: 3,
      // Every other item asks for a worker that a one-job runner never starts.
      laneOf: (item) => paths.indexOf(item) % 2 === 0 ? 0 : 1,
    }, (item, result, index, lane) => {
      assertEquals(result.kind, "counted");
      seen.push({ item, index, lane });
    });
  } finally {
    runner.close();
  }
  // Crash tests count the writes of --jobs 1 in path order: that order holds.
  assertEquals(seen.map(({ item }) => item), paths);
  assertEquals(seen.map(({ index }) => index), paths.map((_, i) => i));
  assertEquals(new Set(seen.map(({ lane }) => lane)), new Set([0]));
});
