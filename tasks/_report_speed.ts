/**
 * The speeds `analyze --report` shows beside the ratios: each folder's codec
 * timed in memory on the originals (the bench's adapters: codec work only), and
 * general-purpose compressors on the same bytes for reference, when installed:
 * `zstd -3` on the raw bytes, timed by zstd's own in-memory benchmark
 * (`zstd -b3 -T1`, as the bench does), and `xz -9e` on the byte-split bytes (low
 * bytes of every word, then high bytes), one thread, timed as a whole process
 * (xz has no benchmark mode; at about 1 MB/s its start-up does not count).
 *
 * @module
 */

import { benchCodecs } from "../bench/bench_codecs.ts";
import { loadCorpus } from "../bench/bench_corpus.ts";
import { bestOf } from "../bench/timing.ts";
import {
  byteSplit,
  concatenatedBytes,
  zstdBench,
} from "../bench/zstd_baseline.ts";
import { join } from "../src/dump/path.ts";
import type { DumpWords } from "../src/format/layout.ts";
import type {
  CodecSpeed,
  PeerFigures,
  ReportSpeeds,
} from "../src/format/report_html.ts";

/** Timed runs of each codec figure, after a warm-up; the best counts. */
const RUNS = 3;

/** A peer run as a process both ways: how to make its input, its command lines. */
interface Peer {
  readonly label: string;
  readonly program: string;
  readonly input: (tensors: readonly Uint16Array[]) => Uint8Array;
  readonly compress: readonly string[];
  readonly decompress: readonly string[];
}

const XZ: Peer = {
  label: "byte split + xz -9e",
  program: "xz",
  input: byteSplit,
  compress: ["-9e", "-T1", "-q", "-c"],
  decompress: ["-d", "-q", "-c"],
};

/** Seconds of each `zstd -b` measurement. */
const ZSTD_SECONDS = 1;

/**
 * Measures each codec's speed and the peers' ratio and speed on the originals.
 *
 * @param codecs Each analysed folder's codec and codebook, in order.
 * @param origDumpDir The original dump folder.
 * @returns A speed per folder (undefined for a codec the bench does not know),
 * the peers' figures, and a note on how they were measured.
 */
export async function measureReportSpeeds(
  codecs: readonly { readonly codec: string; readonly codebook?: string }[],
  origDumpDir: string,
): Promise<{ codecs: (CodecSpeed | undefined)[]; speeds: ReportSpeeds }> {
  const corpus = await loadCorpus(origDumpDir);
  const megabytes = corpus.bytes / 1e6;
  const adapters = benchCodecs();
  const into: DumpWords[] = corpus.dumps.map((dump) => ({
    k: new Uint16Array(dump.k.length),
    v: new Uint16Array(dump.v.length),
  }));
  const measured = new Map<string, CodecSpeed>();
  const speeds = codecs.map(({ codec, codebook }) => {
    const adapter = adapters.find((candidate) =>
      candidate.codec === codec &&
      (candidate.codebook === codebook || candidate.codebook === "-")
    );
    if (adapter === undefined || corpus.dumps.length === 0) return undefined;
    const key = `${adapter.codec} ${adapter.codebook}`;
    let speed = measured.get(key);
    if (speed === undefined) {
      let encoding = adapter.encode(corpus.dumps);
      const encode = bestOf(RUNS, () => {
        encoding = adapter.encode(corpus.dumps);
      });
      const decode = bestOf(RUNS, () => adapter.decode(encoding, into));
      speed = {
        encodeMegabytesPerSecond: megabytes / encode.best,
        decodeMegabytesPerSecond: megabytes / decode.best,
      };
      measured.set(key, speed);
    }
    return speed;
  });
  const tensors = corpus.dumps.flatMap((dump) => [dump.k, dump.v]);
  const peers: PeerFigures[] = [];
  const missing: string[] = [];
  try {
    peers.push(await measureZstd(concatenatedBytes(tensors)));
  } catch (error) {
    missing.push(`zstd -3: ${reasonOf(error, "zstd")}`);
  }
  try {
    peers.push(await measurePeer(XZ, XZ.input(tensors)));
  } catch (error) {
    missing.push(`${XZ.label}: ${reasonOf(error, XZ.program)}`);
  }
  return {
    codecs: speeds,
    speeds: {
      note:
        `Codecs: in memory on the ${corpus.dumps.length} dumps of ${origDumpDir} (${
          megabytes.toFixed(2)
        } MB of K and V), codec work only (no file, checksum or JSON), one thread, best of ${RUNS} runs. Peers on the same bytes, one thread: zstd by its own in-memory benchmark (zstd -b3 -T1), xz as one process each way, fed and drained through pipes. Timings vary with the machine's load.`,
      peers,
      missing,
    },
  };
}

/** `zstd -b3 -T1` on `input`, written to a temporary file for it. */
async function measureZstd(input: Uint8Array): Promise<PeerFigures> {
  const dir = await Deno.makeTempDir({ prefix: "kvbits-report-" });
  try {
    const path = join(dir, "kv.bin");
    await Deno.writeFile(path, input);
    const result = await zstdBench(path, 3, "zstd -3", ZSTD_SECONDS);
    return {
      label: "zstd -3",
      ratio: result.inputBytes / result.compressedBytes,
      compressMegabytesPerSecond: result.compressMegabytesPerSecond,
      decompressMegabytesPerSecond: result.decompressMegabytesPerSecond,
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Runs a peer both ways on `input`, checks the round trip, returns its figures. */
async function measurePeer(
  peer: Peer,
  input: Uint8Array,
): Promise<PeerFigures> {
  const compress = await pipeThrough(peer.program, peer.compress, input);
  const decompress = await pipeThrough(
    peer.program,
    peer.decompress,
    compress.output,
  );
  if (
    decompress.output.length !== input.length ||
    !decompress.output.every((byte, index) => byte === input[index])
  ) {
    throw new Error("its output did not restore the input");
  }
  const megabytes = input.length / 1e6;
  return {
    label: peer.label,
    ratio: input.length / compress.output.length,
    compressMegabytesPerSecond: megabytes / compress.seconds,
    decompressMegabytesPerSecond: megabytes / decompress.seconds,
  };
}

/** Runs a program with `input` on its stdin; returns its stdout and wall time. */
async function pipeThrough(
  program: string,
  args: readonly string[],
  input: Uint8Array,
): Promise<{ output: Uint8Array; seconds: number }> {
  const started = performance.now();
  const child = new Deno.Command(program, {
    args: [...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const result = child.output();
  const writer = child.stdin.getWriter();
  await writer.write(input);
  await writer.close();
  const output = await result;
  const seconds = (performance.now() - started) / 1000;
  if (!output.success) {
    throw new Error(
      `exited with ${output.code}: ${
        new TextDecoder().decode(output.stderr).trim().slice(0, 200)
      }`,
    );
  }
  return { output: output.stdout, seconds };
}

function reasonOf(error: unknown, program: string): string {
  if (error instanceof Deno.errors.NotFound) {
    return `${program} is not installed`;
  }
  if (error instanceof Deno.errors.NotCapable) {
    return `not allowed to run ${program} (Deno's --allow-run)`;
  }
  return error instanceof Error ? error.message : String(error);
}
