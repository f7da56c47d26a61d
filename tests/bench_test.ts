/**
 * `deno task bench` on the fixtures: every figure is there and adds up (the
 * bytes a codec's adapter counts are the bytes a folder encode writes), the
 * table and the JSON are printed. No figure is checked against a speed.
 */

import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { join } from "@std/path";
import { benchCodecs } from "../bench/bench_codecs.ts";
import { loadCorpus } from "../bench/bench_corpus.ts";
import { runBench } from "../bench/bench_run.ts";
import { benchTable } from "../bench/bench_table.ts";
import { zstdVersion } from "../bench/zstd_baseline.ts";
import { byteSplitFolder, onPath } from "../bench/peers.ts";
import {
  measurePackCoder,
  packOrder,
  packTaskAvailable,
} from "../bench/pack_bench.ts";
import { codecNamed } from "../src/format/codecs.ts";
import { encodeFolder } from "../src/jobs/encode_job.ts";
import {
  FIXTURES,
  KV_SAMPLE,
  listFiles,
  runTaskScript,
  withTempDir,
} from "./_helpers.ts";

Deno.test("every bench adapter (ctx included) counts the coded and meta bytes a folder encode writes", async () => {
  const corpus = await loadCorpus(KV_SAMPLE);
  await withTempDir(async (work) => {
    for (const bench of benchCodecs()) {
      const outDir = join(work, `${bench.codec}-${bench.codebook}`);
      const report = await encodeFolder({
        dumpDir: KV_SAMPLE,
        outDir,
        codec: codecNamed(bench.codec)!,
        codebook: bench.codebook === "global" ? "global" : "per-dump",
        overwrite: false,
        stage: "both",
        minSeqLen: 0,
        maxSeqLen: 0,
        durable: false,
      });
      const label = `${bench.codec} ${bench.codebook}`;
      assertEquals(bench.sizes(corpus.dumps), {
        streamBytes: report.streamBytes,
        metaBytes: report.metaBytes + report.codebookBytes,
      }, label);
      assertEquals(bench.encode(corpus.dumps).streamBytes, report.streamBytes);
      // Bits by plane: a stream codec's are its stream bytes; ctx's code
      // lengths come within a few bytes per dump of its payloads.
      const { k, v } = bench.planeBits(corpus.dumps);
      const total = k.hi6 + k.lo10 + k.other + v.hi6 + v.lo10 + v.other;
      if (bench.codec === "ctx") {
        assertEquals(k.lo10, k.lo10Top! + k.lo10Raw!, label);
        const slack = 8 * 16 * corpus.dumps.length;
        assert(Math.abs(total - 8 * report.streamBytes) < slack, label);
      } else {
        assertEquals(total, 8 * report.streamBytes, label);
        assertEquals(k.lo10Top, undefined, label);
      }
      assertEquals(k.elements, report.rawBytes / 4, label);
    }
  });
});

Deno.test("the bench measures codecs, zstd (when on the PATH) and whole folders with 1 and 2 jobs, and prints a table", async () => {
  await withTempDir(async (work) => {
    const [huffmanGlobal] = benchCodecs();
    const report = await runBench({
      dumpDir: KV_SAMPLE,
      runs: 1,
      folderRuns: 1,
      jobs: [1, 2],
      workDir: work,
      zstd: true,
      zstdSeconds: 1,
      codecs: [huffmanGlobal],
    });
    assertEquals(report.corpus.dumps, 51);
    assertEquals(report.corpus.bytes, 229376);
    const [figures] = report.codecs;
    assertEquals([figures.codec, figures.codebook], ["huffman", "global"]);
    assertEquals(figures.ratio, report.corpus.bytes / figures.streamBytes);
    assert(figures.encodeMegabytesPerSecond > 0);
    assert(figures.decodeMegabytesPerSecond > 0);
    assertEquals(report.folders.map((folder) => folder.jobs), [1, 2]);
    for (const folder of report.folders) {
      assert(folder.encodeMegabytesPerSecond > 0);
      assert(folder.verifyMegabytesPerSecond > 0);
      assertEquals(folder.encode.runs.length, 1);
    }
    if (await zstdVersion()) {
      assertEquals(report.zstd.results.map((result) => result.label), [
        "zstd -3 (raw bytes)",
        "zstd -19 (raw bytes)",
        "byte split + zstd -3",
      ]);
      for (const result of report.zstd.results) {
        assertEquals(result.inputBytes, report.corpus.bytes);
      }
      // tar | zstd -3 of the same folder, timed beside each folder encode.
      for (const folder of report.folders) {
        assertEquals(folder.tarZstdProcess?.runs.length, 1);
        assert(folder.tarZstdProcess!.best > 0);
      }
      assertStringIncludes(benchTable(report), "vs tar|zstd");
    } else {
      for (const folder of report.folders) {
        assertEquals(folder.tarZstdProcess, undefined);
      }
      assertStringIncludes(report.zstd.skipped!, "not on the PATH");
    }
    const table = benchTable(report);
    assertStringIncludes(table, "huffman  global");
    assertStringIncludes(table, "Bits per element by plane");
    assertStringIncludes(table, "Whole folders");
    // The bench cleans up after itself.
    assertEquals([...Deno.readDirSync(work)], []);
  });
});

Deno.test("deno task bench --json prints one object with the figures", async () => {
  const run = await runTaskScript("bench", [
    "--dump-dir",
    KV_SAMPLE,
    "--runs",
    "1",
    "--folder-runs",
    "0",
    "--skip-zstd",
    "--skip-peers",
    "--skip-pack",
    "--json",
  ], ["--allow-read", "--allow-write", "--allow-run"]);
  assertEquals(run.code, 0, run.stderr);
  const summary = JSON.parse(run.stdout);
  assertEquals(summary.task, "bench");
  assertEquals(
    summary.codecs.map((c: { codec: string; codebook: string }) =>
      `${c.codec} ${c.codebook}`
    ),
    [
      "huffman global",
      "huffman per-dump",
      "arith global",
      "arith per-dump",
      "ctx -",
    ],
  );
  assertEquals(summary.zstd.skipped, "not asked for (--skip-zstd)");
  assertEquals(summary.folders, []);
  assertEquals([summary.peers, summary.pack], [undefined, undefined]);
});

Deno.test("the byte-split streams hold every byte of the folder: .bin low bytes, then high bytes, then the other files", async () => {
  const { bytes, folderBytes } = await byteSplitFolder(KV_SAMPLE);
  const paths = await listFiles(KV_SAMPLE);
  const files = await Promise.all(
    paths.map((path) => Deno.readFile(join(KV_SAMPLE, path))),
  );
  assertEquals(folderBytes, files.reduce((sum, file) => sum + file.length, 0));
  assertEquals(bytes.length, folderBytes);
  const bins = files.filter((_, i) => paths[i].endsWith(".bin"));
  const binBytes = bins.reduce((sum, file) => sum + file.length, 0);
  const first = bins[0];
  assertEquals(bytes[0], first[0]);
  assertEquals(bytes[1], first[2]);
  assertEquals(bytes[binBytes / 2], first[1]);
  assertEquals(bytes[binBytes / 2 + 1], first[3]);
  const sorted = (data: Uint8Array) => [...data].sort((a, b) => a - b);
  assertEquals(
    sorted(bytes),
    sorted(Uint8Array.from(files.flatMap((file) => [...file]))),
  );
});

Deno.test("the peers run on a tar and on the byte split, a missing one and the slow ones are skipped with a note", async () => {
  await withTempDir(async (work) => {
    const report = await runBench({
      dumpDir: KV_SAMPLE,
      runs: 1,
      folderRuns: 0,
      jobs: [],
      workDir: work,
      zstd: false,
      zstdSeconds: 1,
      codecs: [],
      peers: true,
      slowPeers: false,
      peerList: [
        {
          label: "copy",
          program: "sh",
          args: ["-c", 'cat "$0" > "$1"', "{in}", "{out}"],
          slow: false,
        },
        {
          label: "slow copy",
          program: "sh",
          args: ["-c", 'cat "$0" > "$1"', "{in}", "{out}"],
          slow: true,
        },
        {
          label: "gone",
          program: "no-such-program-kvbits",
          args: [],
          slow: false,
        },
      ],
    });
    const peers = report.peers!;
    assertEquals(peers.results.map((r) => [r.peer, r.input]), [
      ["copy", "byte split"],
      ["copy", "raw (tar)"],
    ]);
    assertEquals(peers.results[0].compressedBytes, peers.folderBytes);
    assert(peers.results[1].compressedBytes > peers.folderBytes);
    assertEquals(peers.skipped, [
      "slow copy: slow (--skip-slow-peers)",
      "gone: no-such-program-kvbits is not on the PATH",
    ]);
    const table = benchTable(report);
    assertStringIncludes(
      table,
      "skipped: gone: no-such-program-kvbits is not on the PATH",
    );
    assertEquals([...Deno.readDirSync(work)], []);
  });
});

Deno.test("the pack coder round-trips the corpus in memory in the pack's order, runs and layers together", async () => {
  const corpus = await loadCorpus(KV_SAMPLE);
  const figures = measurePackCoder(corpus.dumps, corpus.bytes, 1);
  assert(figures.codedBytes > 0 && figures.codedBytes < corpus.bytes);
  assertEquals(figures.encode.runs.length, 1);
  const order = packOrder(corpus.dumps);
  for (let i = 1; i < order.length; i++) {
    const [a, b] = [order[i - 1].dump.meta, order[i].dump.meta];
    assert(
      a.runId < b.runId || (a.runId === b.runId && a.layerId <= b.layerId),
    );
  }
});

Deno.test({
  name:
    "the pack's row: its ratio, and whole folders as processes beside tar + zstd, at N and 4N copies",
  ignore: !(await packTaskAvailable()) || !(await onPath("zstd")),
  fn: async () => {
    await withTempDir(async (work) => {
      const report = await runBench({
        dumpDir: KV_SAMPLE,
        runs: 1,
        folderRuns: 1,
        jobs: [],
        workDir: work,
        zstd: false,
        zstdSeconds: 1,
        codecs: benchCodecs().filter((codec) => codec.codec === "ctx"),
        pack: true,
        copies: 1,
        scaleCheck: true,
      });
      const pack = report.pack!;
      assert(pack.packBytes! > 0 && pack.packBytes! < pack.folderBytes!);
      const folders = pack.folders!;
      assertEquals(folders.atN.folderBytes, pack.folderBytes);
      assertEquals(folders.at4N!.folderBytes, 4 * pack.folderBytes!);
      for (const speed of [folders.atN, folders.at4N!]) {
        for (const key of ["encode", "decode", "verify"] as const) {
          assertEquals(speed[key].pack.runs.length, 1);
          assertEquals(speed[key].peer.runs.length, 1);
        }
      }
      const table = benchTable(report);
      assertStringIncludes(table, "kvbits pack");
      assertStringIncludes(table, "Linearity");
      assertStringIncludes(table, "pack -> folder");
      assertEquals([...Deno.readDirSync(work)], []);
    });
  },
});

Deno.test("the bench measures predicted coding against each predictor folder, beside the pack without one", async () => {
  await withTempDir(async (work) => {
    const [huffmanGlobal] = benchCodecs();
    const predictorDir = join(FIXTURES, "predictor-sample", "bf16");
    const report = await runBench({
      dumpDir: KV_SAMPLE,
      runs: 1,
      folderRuns: 0,
      jobs: [],
      workDir: work,
      zstd: false,
      zstdSeconds: 1,
      codecs: [huffmanGlobal],
      predictorDirs: [predictorDir],
    });
    const predicted = report.predicted!;
    assertEquals(predicted.unpredicted.predicted, 0);
    assertEquals(predicted.predictors.map((p) => p.predictorDir), [
      predictorDir,
    ]);
    const [{ coder, job, files }] = predicted.predictors;
    assertEquals([job.dumps, job.predicted], [51, 51]);
    assertEquals(coder.dumps, 51);
    // Both folders' 153 files read to encode; the predictor's read and the
    // sample's made again to decode, the folder's every byte counted.
    assertEquals(
      [files.encodeFiles, files.decodeReads, files.decodeWrites],
      [306, 153, 153],
    );
    assertEquals(files.bytes, job.folderBytes);
    assert(files.encodeMs > 0 && files.decodeMs > 0);
    // bf16 predicts the sample closely: past what the pack reaches alone
    // (3.28 against 2.54 on the sample, whose rows repeat a lot).
    assert(job.ratio > 1.2 * predicted.unpredicted.ratio);
    assert(coder.encodeMBps > 0 && coder.decodeMBps > 0);
    const table = benchTable(report);
    assertStringIncludes(table, "Predicted coding (--predictor-dir)");
    assertStringIncludes(table, "none (pack)");
    assertStringIncludes(table, "\nbf16 ");
    assertStringIncludes(
      table,
      "  bf16: encode 306 files read in ",
    );
    // Without predictor folders there is no such section.
    assertEquals(
      benchTable({ ...report, predicted: undefined }).includes("Predicted"),
      false,
    );
  });
});
