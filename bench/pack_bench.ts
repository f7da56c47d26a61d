/**
 * The pack in `deno task bench`: its coder's speed in memory (one thread, as
 * the codec figures), its ratio with every byte of the pack file counted, and
 * whole folders as whole processes (Deno's start included) beside `tar | zstd`,
 * with the peak RSS of the pack's processes.
 *
 * @module
 */

import { fromFileUrl, join } from "@std/path";
import {
  PackBlockDecoder,
  PackBlockEncoder,
  type PackDumpContext,
} from "../src/codec/pack_coder.ts";
import { PACK_BLOCK_BYTES } from "../src/jobs/pack_encode_job.ts";
import type { BenchDump } from "./bench_corpus.ts";
import { bestOf, type Timing, timingOf } from "./timing.ts";

const TEXT_ENCODER = new TextEncoder();

/** The repository, where deno.json is. */
const ROOT = fromFileUrl(new URL("../", import.meta.url));

/**
 * The dumps in the pack's order (run, layer, `seq_start`, path) with the
 * context the pack gives its coder.
 *
 * @param dumps The corpus.
 * @returns Dumps and contexts, in coding order.
 *
 * @example
 * ```ts
 * import { packOrder } from "./pack_bench.ts";
 * import { loadCorpus } from "./bench_corpus.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const corpus = await loadCorpus(new URL("../fixtures/kv-sample", import.meta.url).pathname);
 * const ordered = packOrder(corpus.dumps);
 * assertEquals(ordered.length, corpus.dumps.length);
 * ```
 */
export function packOrder(
  dumps: readonly BenchDump[],
): { dump: BenchDump; context: PackDumpContext }[] {
  const start = (dump: BenchDump) => {
    const value = dump.meta.fields.seq_start;
    return Number.isSafeInteger(value) && (value as number) >= 0
      ? value as number
      : undefined;
  };
  return [...dumps].sort((a, b) =>
    a.meta.runId < b.meta.runId
      ? -1
      : a.meta.runId > b.meta.runId
      ? 1
      : (a.meta.layerId - b.meta.layerId) ||
        ((start(a) ?? 0) - (start(b) ?? 0)) ||
        (a.relativePath < b.relativePath ? -1 : 1)
  ).map((dump) => {
    const seqStart = start(dump);
    return {
      dump,
      context: {
        group: `${dump.meta.runId}\u0000${dump.meta.layerId}`,
        layer: dump.meta.layerId,
        ...(seqStart === undefined ? {} : { seqStart }),
      },
    };
  });
}

/** The pack coder's figures in memory. */
export interface PackCoderFigures {
  /** Blocks the corpus was cut into. */
  readonly blocks: number;
  /** Bytes of the coded dumps. */
  readonly codedBytes: number;
  /** Encode times. */
  readonly encode: Timing;
  /** Decode times. */
  readonly decode: Timing;
  /** K and V MB per second of the best encode. */
  readonly encodeMegabytesPerSecond: number;
  /** K and V MB per second of the best decode. */
  readonly decodeMegabytesPerSecond: number;
}

/**
 * Times the pack coder on the corpus cut into blocks as a pack cuts it (a block
 * ends once it holds `blockBytes` of meta and tensor bytes, a fresh coder per
 * block), one thread: codec work only (no file, CRC, table or framing).
 *
 * @param dumps The corpus.
 * @param bytes Its K and V bytes.
 * @param runs Timed runs after a warm-up.
 * @param blockBytes Input bytes after which a block ends (the pack's default).
 * @returns The figures.
 * @throws {Error} When a dump does not decode to its words.
 *
 * @example
 * ```ts
 * import { measurePackCoder } from "./pack_bench.ts";
 * import { loadCorpus } from "./bench_corpus.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const corpus = await loadCorpus(new URL("../fixtures/kv-sample", import.meta.url).pathname);
 * const figures = measurePackCoder(corpus.dumps, corpus.bytes, 1);
 * assertEquals(figures.codedBytes > 0 && figures.codedBytes < corpus.bytes, true);
 * assertEquals(measurePackCoder(corpus.dumps, corpus.bytes, 1, 64 << 10).blocks, 4);
 * ```
 */
export function measurePackCoder(
  dumps: readonly BenchDump[],
  bytes: number,
  runs: number,
  blockBytes: number = PACK_BLOCK_BYTES,
): PackCoderFigures {
  const ordered = packOrder(dumps);
  const shapeOf = (dump: BenchDump) => ({
    tokens: dump.meta.seqLen,
    heads: dump.meta.kvHeads,
    headDim: dump.meta.headDim,
  });
  // The block of each dump, by the plan's rule (`pack_plan.ts`).
  const blockOf: number[] = [];
  let block = 0, inBlock = 0;
  for (const { dump } of ordered) {
    blockOf.push(block);
    inBlock += TEXT_ENCODER.encode(dump.metaText).length + 2 * dump.k.length +
      2 * dump.v.length;
    if (inBlock >= blockBytes) {
      block++;
      inBlock = 0;
    }
  }
  const encodeAll = () => {
    let encoder = new PackBlockEncoder();
    return ordered.map(({ dump, context }, i) => {
      if (i > 0 && blockOf[i] !== blockOf[i - 1]) {
        encoder = new PackBlockEncoder();
      }
      return encoder.encodeDump(shapeOf(dump), dump.k, dump.v, context);
    });
  };
  const encode = bestOf(runs, encodeAll);
  const coded = encodeAll();
  let decoded: { k: Uint16Array; v: Uint16Array }[] = [];
  const decode = bestOf(runs, () => {
    let decoder = new PackBlockDecoder();
    decoded = ordered.map(({ dump, context }, i) => {
      if (i > 0 && blockOf[i] !== blockOf[i - 1]) {
        decoder = new PackBlockDecoder();
      }
      return decoder.decodeDump(coded[i], shapeOf(dump), context);
    });
  });
  ordered.forEach(({ dump }, i) => {
    const same = (a: Uint16Array, b: Uint16Array) =>
      a.length === b.length && a.every((word, j) => word === b[j]);
    if (!same(dump.k, decoded[i].k) || !same(dump.v, decoded[i].v)) {
      throw new Error(
        `Cannot benchmark the pack coder: ${dump.relativePath} does not decode to its original`,
      );
    }
  });
  return {
    blocks: ordered.length === 0 ? 0 : blockOf[blockOf.length - 1] + 1,
    codedBytes: coded.reduce((sum, part) => sum + part.length, 0),
    encode,
    decode,
    encodeMegabytesPerSecond: bytes / 1e6 / encode.best,
    decodeMegabytesPerSecond: bytes / 1e6 / decode.best,
  };
}

/** One process run: wall seconds and, when measured, peak RSS. */
export interface ProcessRun {
  /** Wall seconds, Deno's start included. */
  readonly seconds: number;
  /** Peak resident set size in bytes (`/usr/bin/time -v`), when measured. */
  readonly peakRssBytes?: number;
}

/**
 * Where peak RSS comes from: `/usr/bin/time -v` when it runs here.
 *
 * @returns Its name, or undefined when it cannot be measured.
 *
 * @example
 * ```ts ignore
 * import { rssTool } from "./pack_bench.ts";
 *
 * console.log(await rssTool() ?? "peak RSS not measured");
 * ```
 */
export async function rssTool(): Promise<string | undefined> {
  try {
    const output = await new Deno.Command("/usr/bin/time", {
      args: ["-v", "true"],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).output();
    return new TextDecoder().decode(output.stderr).includes(
        "Maximum resident set size",
      )
      ? "/usr/bin/time -v"
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Runs a command, timing it from spawn to exit, under `/usr/bin/time -v` when
 * `rss` is set (peak RSS of the largest process of the tree it waited for).
 *
 * @param program The program.
 * @param args Its arguments.
 * @param rss Whether to measure peak RSS.
 * @returns Seconds and peak RSS.
 * @throws {Error} When it fails.
 *
 * @example
 * ```ts
 * import { runProcess } from "./pack_bench.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals((await runProcess("true", [], false)).seconds > 0, true);
 * ```
 */
export async function runProcess(
  program: string,
  args: readonly string[],
  rss: boolean,
): Promise<ProcessRun> {
  const started = performance.now();
  const output = await new Deno.Command(rss ? "/usr/bin/time" : program, {
    args: rss ? ["-v", program, ...args] : [...args],
    cwd: ROOT,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  const seconds = (performance.now() - started) / 1000;
  const text = new TextDecoder().decode(output.stderr);
  if (!output.success) {
    throw new Error(
      `${program} ${args.join(" ")} failed: ${text.trim().slice(-300)}`,
    );
  }
  const kbytes = /Maximum resident set size \(kbytes\): (\d+)/.exec(text)?.[1];
  return {
    seconds,
    ...(kbytes === undefined ? {} : { peakRssBytes: Number(kbytes) * 1024 }),
  };
}

/** `deno task NAME ...` as a user runs it, with this repository's deno.json. */
function denoTask(task: string, ...args: string[]): [string, string[]] {
  return [Deno.execPath(), [
    "task",
    "--quiet",
    "--config",
    join(ROOT, "deno.json"),
    task,
    ...args,
  ]];
}

/** `sh -c SCRIPT` with positional arguments. */
function shell(script: string, ...args: string[]): [string, string[]] {
  return ["sh", ["-c", script, "sh", ...args]];
}

/** Best-of timings of the pack and tar + zstd on one folder. */
export interface FolderSpeed {
  /** The folder's file bytes. */
  readonly folderBytes: number;
  /** Bytes of the pack. */
  readonly packBytes: number;
  /** folder -> pack, and `tar -c | zstd -3`. */
  readonly encode: { readonly pack: Timing; readonly peer: Timing };
  /** pack -> folder, and `zstd -d | tar -x`. */
  readonly decode: { readonly pack: Timing; readonly peer: Timing };
  /** verify the pack, and `zstd -d` to /dev/null. */
  readonly verify: { readonly pack: Timing; readonly peer: Timing };
  /** Peak RSS of the pack's encode and decode, the highest of the runs. */
  readonly peakRssBytes?: { readonly encode: number; readonly decode: number };
}

/**
 * Times folder -> pack, pack -> folder and verify against tar + zstd -3, each
 * a whole process, best of `runs` after a warm-up, the two interleaved.
 *
 * @param dumpDir The folder.
 * @param work Where packs, archives and restored folders go (emptied after).
 * @param runs Timed runs.
 * @param rss Whether to measure peak RSS with `/usr/bin/time -v`.
 * @returns The timings.
 * @throws {Error} When a process fails.
 *
 * @example
 * ```ts ignore
 * import { measureFolderSpeed } from "./pack_bench.ts";
 *
 * const speed = await measureFolderSpeed("/mnt/x/copies", "/mnt/x", 3, true);
 * console.log(speed.encode.pack.best / speed.encode.peer.best);
 * ```
 */
export async function measureFolderSpeed(
  dumpDir: string,
  work: string,
  runs: number,
  rss: boolean,
): Promise<FolderSpeed> {
  const pack = join(work, "folder.kvpack");
  const zst = join(work, "folder.tar.zst");
  const restored = join(work, "restored");
  const times = {
    encode: { pack: [] as number[], peer: [] as number[] },
    decode: { pack: [] as number[], peer: [] as number[] },
    verify: { pack: [] as number[], peer: [] as number[] },
  };
  let encodeRss = 0;
  let decodeRss = 0;
  const clear = () =>
    Deno.remove(restored, { recursive: true }).catch(() => {});
  for (let run = 0; run <= runs; run++) {
    await Deno.remove(pack).catch(() => {});
    const steps: [keyof typeof times, "pack" | "peer", [string, string[]]][] = [
      [
        "encode",
        "pack",
        denoTask("encode", "--dump-dir", dumpDir, "--pack", pack),
      ],
      [
        "encode",
        "peer",
        shell('tar -c -C "$1" . | zstd -3 -q -f -T1 -o "$2"', dumpDir, zst),
      ],
      [
        "decode",
        "pack",
        denoTask("decode", "--pack", pack, "--out-dir", restored),
      ],
      [
        "decode",
        "peer",
        shell(
          'mkdir -p "$2" && zstd -d -q -c "$1" | tar -x -C "$2"',
          zst,
          restored,
        ),
      ],
      ["verify", "pack", denoTask("verify", "--pack", pack)],
      ["verify", "peer", shell('zstd -d -q -c "$1" > /dev/null', zst)],
    ];
    for (const [what, who, [program, args]] of steps) {
      if (what === "decode") await clear();
      if (what === "encode" && who === "peer") {
        await Deno.remove(zst).catch(() => {});
      }
      const measured = await runProcess(program, args, rss && who === "pack");
      if (run > 0) times[what][who].push(measured.seconds);
      if (who === "pack" && what === "encode") {
        encodeRss = Math.max(encodeRss, measured.peakRssBytes ?? 0);
      }
      if (who === "pack" && what === "decode") {
        decodeRss = Math.max(decodeRss, measured.peakRssBytes ?? 0);
      }
    }
  }
  await clear();
  const packBytes = (await Deno.stat(pack)).size;
  await Deno.remove(pack);
  await Deno.remove(zst);
  const timing = (pair: { pack: number[]; peer: number[] }) => ({
    pack: timingOf(pair.pack),
    peer: timingOf(pair.peer),
  });
  return {
    folderBytes: await folderBytesOf(dumpDir),
    packBytes,
    encode: timing(times.encode),
    decode: timing(times.decode),
    verify: timing(times.verify),
    ...(rss ? { peakRssBytes: { encode: encodeRss, decode: decodeRss } } : {}),
  };
}

/**
 * Bytes of every file under a folder.
 *
 * @param root The folder.
 * @returns Their sum.
 *
 * @example
 * ```ts
 * import { folderBytesOf } from "./pack_bench.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(await folderBytesOf(new URL("../fixtures/kv-sample", import.meta.url).pathname) > 229376, true);
 * ```
 */
export async function folderBytesOf(root: string): Promise<number> {
  let total = 0;
  for await (const entry of Deno.readDir(root)) {
    const path = join(root, entry.name);
    if (entry.isDirectory) total += await folderBytesOf(path);
    else if (entry.isFile) total += (await Deno.stat(path)).size;
  }
  return total;
}

/**
 * Makes a folder of `copies` copies of `source` (`copy_0000`, ...).
 *
 * @param source The folder to copy.
 * @param target The new folder.
 * @param copies How many copies.
 * @throws {Error} When `cp` fails.
 *
 * @example
 * ```ts ignore
 * import { copyFolder } from "./pack_bench.ts";
 *
 * await copyFolder("../shared/kv-real", "/mnt/x/copies", 32);
 * ```
 */
export async function copyFolder(
  source: string,
  target: string,
  copies: number,
): Promise<void> {
  await Deno.mkdir(target, { recursive: true });
  for (let i = 0; i < copies; i++) {
    await runProcess("cp", [
      "-r",
      source,
      join(target, `copy_${String(i).padStart(4, "0")}`),
    ], false);
  }
}

/**
 * Whether the encode task knows `--pack` (the pack has landed in this
 * checkout).
 *
 * @returns True when `deno task encode --pack - --help` prints the pack's help.
 *
 * @example
 * ```ts ignore
 * import { packTaskAvailable } from "./pack_bench.ts";
 *
 * console.log(await packTaskAvailable());
 * ```
 */
export async function packTaskAvailable(): Promise<boolean> {
  const [program, args] = denoTask("encode", "--pack", "-", "--help");
  const output = await new Deno.Command(program, {
    args,
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return output.success &&
    (decoder.decode(output.stdout) + decoder.decode(output.stderr))
      .includes("--pack");
}

/**
 * The pack's ratio on a folder, every byte of the pack counted: one encode
 * into `work`, its size.
 *
 * @param dumpDir The folder.
 * @param work Where the pack goes (removed after).
 * @returns The pack's bytes.
 * @throws {Error} When the encode fails.
 *
 * @example
 * ```ts ignore
 * import { packBytesOf } from "./pack_bench.ts";
 *
 * console.log(await packBytesOf("../shared/kv-real", "/tmp"));
 * ```
 */
export async function packBytesOf(
  dumpDir: string,
  work: string,
): Promise<number> {
  const pack = join(work, "ratio.kvpack");
  const [program, args] = denoTask(
    "encode",
    "--dump-dir",
    dumpDir,
    "--pack",
    pack,
  );
  await runProcess(program, args, false);
  const size = (await Deno.stat(pack)).size;
  await Deno.remove(pack);
  return size;
}
