/**
 * The bench report as plain text tables, for people.
 *
 * @module
 */

import { basename } from "@std/path";
import type { BenchReport } from "./bench_run.ts";
import type { PredictedPackFigures } from "./predicted_bench.ts";

/**
 * Lays out rows as columns: the first `leftColumns` left-aligned, the others
 * right-aligned, two spaces apart.
 *
 * @param header Column titles.
 * @param rows The cells.
 * @param leftColumns How many columns, from the left, are text.
 * @returns The lines.
 *
 * @example
 * ```ts
 * import { columns } from "./bench_table.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(columns(["a", "n"], [["xyz", "1"]], 1), ["a    n", "xyz  1"]);
 * ```
 */
export function columns(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  leftColumns: number,
): string[] {
  const widths = header.map((title, i) =>
    Math.max(title.length, ...rows.map((row) => row[i].length))
  );
  const line = (cells: readonly string[]) =>
    cells.map((cell, i) =>
      i < leftColumns ? cell.padEnd(widths[i]) : cell.padStart(widths[i])
    ).join("  ").trimEnd();
  return [line(header), ...rows.map(line)];
}

/**
 * The bench report as text: the corpus and machine, a table of codec figures
 * with zstd beside them, a table of bits per element by plane, and a table of
 * whole-folder figures.
 *
 * @param report What the bench measured.
 * @returns The text, lines ending in `\n`.
 *
 * @example
 * ```ts
 * import { benchTable } from "./bench_table.ts";
 * import { assertStringIncludes } from "@std/assert";
 *
 * const timing = { best: 0.5, median: 0.5, runs: [0.5] };
 * const text = benchTable({
 *   corpus: { dumpDir: "kv", dumps: 2, bytes: 1e6, largestDumpBytes: 6e5 },
 *   machine: { cpus: 2, deno: "2.9.6", v8: "15.0" }, runs: 1, folderRuns: 0,
 *   codecs: [{
 *     codec: "huffman", codebook: "global", streamBytes: 8e5, metaBytes: 1e5,
 *     ratio: 1.25, ratioWithMeta: 1.1111, encode: timing, decode: timing,
 *     encodeMegabytesPerSecond: 2, decodeMegabytesPerSecond: 2,
 *     bitsPerElement: {
 *       k: { hi6: 3.5, lo10: 10, other: 0, total: 13.5 },
 *       v: { hi6: 3.25, lo10: 10, other: 0, total: 13.25 },
 *     },
 *   }],
 *   zstd: { skipped: "the zstd CLI is not on the PATH", results: [] }, folders: [],
 * });
 * assertStringIncludes(text, "huffman  global      1.2500     1.1111          2.0          2.0");
 * assertStringIncludes(text, "huffman  global    K       3.500  10.000    -    -      -  13.500");
 * assertStringIncludes(text, "zstd: not measured: the zstd CLI is not on the PATH");
 * ```
 */
export function benchTable(report: BenchReport): string {
  const { corpus, machine } = report;
  const mb = (bytes: number) => `${(bytes / 1e6).toFixed(2)} MB`;
  const out: string[] = [
    `kvbits bench on ${corpus.dumpDir}: ${corpus.dumps} dumps, ${
      mb(corpus.bytes)
    } of FP16 K and V (largest dump ${mb(corpus.largestDumpBytes)})`,
    `machine: ${machine.cpus} CPUs${
      machine.cpuModel ? ` (${machine.cpuModel})` : ""
    }${
      machine.loadAverage !== undefined
        ? `, load average ${machine.loadAverage.toFixed(2)} at start`
        : ""
    }; deno ${machine.deno}, V8 ${machine.v8}`,
    "",
    `Codecs: one thread, in memory (no file I/O, no checksum, no JSON), best of ${report.runs} runs after a warm-up.`,
    "MB/s = 10^6 bytes of FP16 K and V per second. Ratio = K and V bytes / coded streams (ctx: payloads);",
    "'with meta' counts every byte a folder encode writes: the per-dump meta JSON and the global codebook,",
    "or ctx's file headers and compact meta.",
    "",
  ];
  const rows = report.codecs.map((figures) => [
    figures.codec,
    figures.codebook,
    figures.ratio.toFixed(4),
    figures.ratioWithMeta.toFixed(4),
    figures.encodeMegabytesPerSecond.toFixed(1),
    figures.decodeMegabytesPerSecond.toFixed(1),
  ]);
  for (const result of report.zstd.results) {
    rows.push([
      result.label,
      "-",
      (result.inputBytes / result.compressedBytes).toFixed(4),
      "-",
      result.compressMegabytesPerSecond.toFixed(1),
      result.decompressMegabytesPerSecond.toFixed(1),
    ]);
  }
  out.push(
    ...columns(
      [
        "codec",
        "codebook",
        "KV ratio",
        "with meta",
        "encode MB/s",
        "decode MB/s",
      ],
      rows,
      2,
    ),
  );
  out.push("");
  out.push(
    report.zstd.skipped
      ? `zstd: not measured: ${report.zstd.skipped}`
      : `zstd: ${report.zstd.version} (zstd -b -T1: its own in-memory benchmark, one thread; the byte split itself is not timed)`,
  );
  out.push(
    "",
    "Bits per element by plane, K and V apart, coded data only (no header, meta or codebook). huffman and arith:",
    "bytes of the hi6 and lo10 streams (lo10 is one symbol). ctx: its models' code lengths (the rANS stream is",
    "within a few bytes of their sum); lo10 = 2 modelled top bits + raw low bits, 'other' = repeated and predicted rows.",
    "",
  );
  const bits = (value: number | undefined) =>
    value === undefined ? "-" : value.toFixed(3);
  const planeRows = report.codecs.flatMap((figures) =>
    (["k", "v"] as const).map((tensor) => {
      const planes = figures.bitsPerElement[tensor];
      return [
        figures.codec,
        figures.codebook,
        tensor.toUpperCase(),
        bits(planes.hi6),
        bits(planes.lo10),
        bits(planes.lo10Top),
        bits(planes.lo10Raw),
        planes.lo10Top === undefined ? "-" : bits(planes.other),
        bits(planes.total),
      ];
    })
  );
  out.push(
    ...columns(
      [
        "codec",
        "codebook",
        "tensor",
        "hi6",
        "lo10",
        "top",
        "raw",
        "other",
        "total",
      ],
      planeRows,
      3,
    ),
  );
  if (report.folders.length > 0) {
    out.push(
      "",
      "Whole folders: the encode and verify tasks as a user runs them, each run in a process of its own",
      "(cold JIT, workers started), with every file read and written; encode writes an empty folder, verify",
      "checks the recorded CRC-32. MB/s from the job's own time in its --json summary (Deno's start-up and",
      `module loading, the same for every --jobs, left out); best of ${report.folderRuns} runs after a warm-up.`,
      "Encode process s: the whole encode process (Deno's start included); vs tar|zstd: that over the best",
      "`tar -c | zstd -3 -T1` of the same folder as a process, timed in the same loop (- when zstd did not run).",
      "",
    );
    const base = new Map<string, { encode: number; verify: number }>();
    for (const figures of report.folders) {
      const key = `${figures.codec} ${figures.codebook}`;
      if (!base.has(key)) {
        base.set(key, {
          encode: figures.encodeMegabytesPerSecond,
          verify: figures.verifyMegabytesPerSecond,
        });
      }
    }
    const folderRows = report.folders.map((figures) => {
      const first = base.get(`${figures.codec} ${figures.codebook}`)!;
      return [
        figures.codec,
        figures.codebook,
        String(figures.jobs),
        figures.encodeMegabytesPerSecond.toFixed(1),
        `${(figures.encodeMegabytesPerSecond / first.encode).toFixed(2)}x`,
        figures.verifyMegabytesPerSecond.toFixed(1),
        `${(figures.verifyMegabytesPerSecond / first.verify).toFixed(2)}x`,
        figures.encodeProcess.best.toFixed(2),
        figures.tarZstdProcess
          ? `${
            (figures.encodeProcess.best / figures.tarZstdProcess.best).toFixed(
              1,
            )
          }x`
          : "-",
      ];
    });
    out.push(
      ...columns(
        [
          "codec",
          "codebook",
          "jobs",
          "encode MB/s",
          "speedup",
          "verify MB/s",
          "speedup",
          "encode process s",
          "vs tar|zstd",
        ],
        folderRows,
        2,
      ),
    );
  }
  out.push(...packLines(report), ...predictedLines(report));
  return out.join("\n") + "\n";
}

/** The predicted coding section (none when no predictor folder was given). */
function predictedLines(report: BenchReport): string[] {
  const predicted = report.predicted;
  if (!predicted) return [];
  const speed = (wall: number, cpu: number) =>
    `${wall.toFixed(1)} (${cpu.toFixed(1)})`;
  const jobCells = (job: PredictedPackFigures) => [
    job.ratio.toFixed(4),
    speed(job.encodeMBps, job.encodeCpuMBps),
    speed(job.decodeMBps, job.decodeCpuMBps),
  ];
  const rows = [
    ["none (pack)", ...jobCells(predicted.unpredicted), "-", "-", "-", "-"],
    ...predicted.predictors.map(({ predictorDir, coder, job }) => [
      basename(predictorDir),
      ...jobCells(job),
      coder.ratio.toFixed(3),
      speed(coder.encodeMBps, coder.encodeCpuMBps),
      speed(coder.decodeMBps, coder.decodeCpuMBps),
      `${coder.ctxEncodeMBps.toFixed(1)} / ${coder.ctxDecodeMBps.toFixed(1)}`,
    ]),
  ];
  return [
    "",
    "Predicted coding (--predictor-dir): pack ratio = the folder's bytes over the pack's, every byte counted",
    "(the predictor folder not counted); job = encode --pack and decode --pack in this process, one job, no",
    "flush, every file read (the predictor's too) and written; coder = K and V payloads in memory, one thread,",
    "beside ctx coding the same dumps alone. MB/s by wall clock (by CPU time), best of several runs.",
    "",
    ...columns(
      [
        "predictor",
        "pack ratio",
        "job enc MB/s",
        "job dec MB/s",
        "coder ratio",
        "coder enc MB/s",
        "coder dec MB/s",
        "ctx enc / dec",
      ],
      rows,
      1,
    ),
    "",
    "The job's file system calls alone (list the folders; open, read and close each file; make each folder and",
    "file of the restored tree), and the most a job could reach with them and the coder's time in memory:",
    ...predicted.predictors.map(({ predictorDir, coder, files }) => {
      const coderMs = (mbps: number) => 4 * coder.elements / 1e3 / mbps;
      const ceiling = (filesMs: number, mbps: number) =>
        (files.bytes / 1e3 / (filesMs + coderMs(mbps))).toFixed(1);
      return `  ${
        basename(predictorDir)
      }: encode ${files.encodeFiles} files read in ${
        files.encodeMs.toFixed(1)
      } ms, decode ${files.decodeReads} read and ${files.decodeWrites} made in ${
        files.decodeMs.toFixed(1)
      } ms; at most ${ceiling(files.encodeMs, coder.encodeMBps)} / ${
        ceiling(files.decodeMs, coder.decodeMBps)
      } MB/s`;
    }),
  ];
}

const MB = (bytes: number) => (bytes / 1e6).toFixed(1);

/** The peers' and the pack's sections (none when neither was measured). */
function packLines(report: BenchReport): string[] {
  const out: string[] = [];
  const { peers, pack } = report;
  if (peers || pack) {
    const folderBytes = peers?.folderBytes ?? pack?.folderBytes;
    out.push(
      "",
      `Ratio on the whole folder, every byte counted: the folder's ${
        folderBytes ?? "?"
      } bytes of files over the bytes written. Peers`,
      "on a tar of the folder and on its byte-split streams (all low bytes of every .bin file, then all high",
      "bytes, then every other file); seconds: wall time of the peer's process (one thread where it has the option).",
      "",
    );
    const rows: string[][] = [];
    let best = 0;
    for (const result of peers?.results ?? []) {
      const ratio = peers!.folderBytes / result.compressedBytes;
      if (result.peer !== "zstd -3") best = Math.max(best, ratio);
      rows.push([
        result.peer,
        result.input,
        String(result.compressedBytes),
        ratio.toFixed(4),
        result.seconds.toFixed(2),
      ]);
    }
    if (pack?.packBytes !== undefined && pack.folderBytes !== undefined) {
      const ratio = pack.folderBytes / pack.packBytes;
      rows.push([
        "kvbits pack",
        "folder",
        String(pack.packBytes),
        ratio.toFixed(4),
        "-",
      ]);
      if (best > 0) {
        rows.push([
          "pack / best strong peer",
          "",
          "",
          `${(ratio / best).toFixed(4)}x`,
          "",
        ]);
      }
    }
    out.push(
      ...columns(["compressor", "input", "bytes", "ratio", "seconds"], rows, 2),
    );
    for (const note of peers?.skipped ?? []) out.push(`skipped: ${note}`);
    if (!peers) out.push("peers: not run (--skip-peers)");
  }
  if (pack) {
    const ctx = report.codecs.find((figures) => figures.codec === "ctx");
    out.push(
      "",
      "Coder in memory, one thread, codec work only (no file, CRC or framing); the pack coder codes the",
      `corpus in the pack's order (run, layer, seq_start), cut into blocks as the pack cuts it (${pack.coder.blocks} here), carrying models and the row dictionary:`,
      "",
      ...columns(["coder", "KV ratio", "encode MB/s", "decode MB/s"], [
        [
          "pack",
          (report.corpus.bytes / pack.coder.codedBytes).toFixed(4),
          pack.coder.encodeMegabytesPerSecond.toFixed(1),
          pack.coder.decodeMegabytesPerSecond.toFixed(1),
        ],
        ...(ctx
          ? [[
            "ctx",
            ctx.ratio.toFixed(4),
            ctx.encodeMegabytesPerSecond.toFixed(1),
            ctx.decodeMegabytesPerSecond.toFixed(1),
          ]]
          : []),
      ], 1),
    );
    if (pack.skipped) {
      out.push(`pack file figures: not measured: ${pack.skipped}`);
    }
  }
  const folders = pack?.folders;
  if (folders) {
    out.push(
      "",
      `Whole folders as whole processes (Deno's start included), on the folder copied ${folders.copies} times,`,
      `in ${folders.tmpDir}; best of ${report.folderRuns} runs after a warm-up, pack and peer interleaved.`,
      "",
    );
    const rows: string[][] = [];
    const add = (n: number, speed: FolderSpeedOf) => {
      for (
        const [what, peer, limit] of [
          ["folder -> pack", "tar -c | zstd -3", "<= 1.5x"],
          ["pack -> folder", "zstd -d | tar -x", "<= 1.5x"],
          ["verify", "zstd -d", "<= 1x"],
        ] as const
      ) {
        const key = what === "folder -> pack"
          ? "encode"
          : what === "verify"
          ? "verify"
          : "decode";
        const pair = speed[key];
        rows.push([
          String(n),
          MB(speed.folderBytes),
          what,
          pair.pack.best.toFixed(2),
          peer,
          pair.peer.best.toFixed(2),
          `${(pair.pack.best / pair.peer.best).toFixed(2)}x`,
          limit,
        ]);
      }
    };
    add(folders.copies, folders.atN);
    if (folders.at4N) add(4 * folders.copies, folders.at4N);
    out.push(
      ...columns(
        [
          "copies",
          "MB",
          "task",
          "pack s",
          "peer",
          "peer s",
          "pack/peer",
          "limit",
        ],
        rows,
        1,
      ),
    );
    if (folders.at4N) {
      out.push(
        "",
        "Linearity: time at 4N copies / time at N copies (limit <= 4.4):",
      );
      for (const key of ["encode", "decode", "verify"] as const) {
        out.push(
          `  ${key}: ${
            (folders.at4N[key].pack.best / folders.atN[key].pack.best).toFixed(
              2,
            )
          }x (tar+zstd: ${
            (folders.at4N[key].peer.best / folders.atN[key].peer.best).toFixed(
              2,
            )
          }x)`,
        );
      }
    }
    out.push("", `Peak RSS of the pack's processes (${pack!.rss}):`);
    for (
      const [n, speed] of [[folders.copies, folders.atN], [
        4 * folders.copies,
        folders.at4N,
      ]] as const
    ) {
      if (!speed?.peakRssBytes) continue;
      out.push(
        `  ${n} copies (${MB(speed.folderBytes)} MB, pack ${
          MB(speed.packBytes)
        } MB): encode ${MB(speed.peakRssBytes.encode)} MB, decode ${
          MB(speed.peakRssBytes.decode)
        } MB; bound 3 x largest dump + 150 MB = ${
          MB(3 * report.corpus.largestDumpBytes + 150e6)
        } MB`,
      );
    }
  }
  return out;
}

type FolderSpeedOf = NonNullable<
  NonNullable<BenchReport["pack"]>["folders"]
>["atN"];
