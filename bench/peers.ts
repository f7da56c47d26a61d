/**
 * The general-purpose compressors a user would pick instead of a pack, run on
 * the same folder with every byte counted: each on the raw bytes (a tar of the
 * folder) and on the byte-split streams ZipNN-style tools feed them (every low
 * byte of every `.bin` file, then every high byte, then every other file).
 * A peer whose program is not on the PATH is skipped with a note.
 *
 * @module
 */

import { join } from "@std/path";
import { findFiles } from "../src/dump/find_files.ts";

/** A peer compressor: a command that reads one file and writes one file. */
export interface Peer {
  /** What the table says, e.g. `xz -9e`. */
  readonly label: string;
  /** The program. */
  readonly program: string;
  /** Arguments; `{in}` and `{out}` are replaced by the paths. */
  readonly args: readonly string[];
  /** A program the command needs besides `program` (a shell's compressor). */
  readonly requires?: string;
  /** Whether it takes tens of seconds on kv-real (`--no-slow-peers` leaves it out). */
  readonly slow: boolean;
}

/** The peers of issue 12, in the order the table lists them. */
export const PEERS: readonly Peer[] = [
  {
    label: "zstd -3",
    program: "zstd",
    args: ["-3", "-q", "-f", "-T1", "{in}", "-o", "{out}"],
    slow: false,
  },
  {
    label: "zstd --ultra -22 --long=27",
    program: "zstd",
    args: [
      "--ultra",
      "-22",
      "--long=27",
      "-q",
      "-f",
      "-T1",
      "{in}",
      "-o",
      "{out}",
    ],
    slow: true,
  },
  {
    label: "xz -9e",
    program: "sh",
    args: ["-c", 'xz -9e -c -T1 "$0" > "$1"', "{in}", "{out}"],
    requires: "xz",
    slow: true,
  },
  {
    label: "brotli -q 11",
    program: "brotli",
    args: ["-q", "11", "-f", "{in}", "-o", "{out}"],
    slow: true,
  },
  {
    label: "zpaq -m5",
    program: "zpaq",
    args: ["a", "{out}", "{in}", "-m5"],
    slow: true,
  },
];

/** What one peer did with one input. */
export interface PeerResult {
  /** The peer's label. */
  readonly peer: string;
  /** `raw (tar)` or `byte split`. */
  readonly input: string;
  /** Bytes it wrote. */
  readonly compressedBytes: number;
  /** Wall seconds of its process. */
  readonly seconds: number;
}

/**
 * The byte-split streams of a folder: every low byte of every `.bin` file (in
 * path order), then every high byte, then every other file's bytes.
 *
 * @param dumpDir The folder.
 * @returns The bytes, and the folder's file bytes (what every ratio divides).
 *
 * @example
 * ```ts
 * import { byteSplitFolder } from "./peers.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const root = await Deno.makeTempDir();
 * await Deno.writeFile(`${root}/k.bin`, Uint8Array.from([1, 2, 3, 4]));
 * await Deno.writeTextFile(`${root}/a.json`, "{}");
 * const { bytes, folderBytes } = await byteSplitFolder(root);
 * assertEquals([...bytes], [1, 3, 2, 4, 123, 125]);
 * assertEquals(folderBytes, 6);
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export async function byteSplitFolder(
  dumpDir: string,
): Promise<{ bytes: Uint8Array; folderBytes: number }> {
  const paths = await findFiles(dumpDir, () => true);
  const bins: Uint8Array[] = [];
  const others: Uint8Array[] = [];
  let binBytes = 0;
  let otherBytes = 0;
  for (const path of paths) {
    const bytes = await Deno.readFile(join(dumpDir, path));
    if (path.endsWith(".bin")) {
      bins.push(bytes);
      binBytes += bytes.length;
    } else {
      others.push(bytes);
      otherBytes += bytes.length;
    }
  }
  const out = new Uint8Array(binBytes + otherBytes);
  // An odd-sized .bin file's last byte goes with the high bytes.
  let lowCount = 0;
  for (const bin of bins) lowCount += (bin.length + 1) >> 1;
  let low = 0;
  let high = lowCount;
  for (const bin of bins) {
    for (let i = 0; i < bin.length; i += 2) out[low++] = bin[i];
    for (let i = 1; i < bin.length; i += 2) out[high++] = bin[i];
  }
  let at = binBytes;
  for (const other of others) {
    out.set(other, at);
    at += other.length;
  }
  return { bytes: out, folderBytes: binBytes + otherBytes };
}

/**
 * Whether a program can be run (`program --version` or `-h` starts).
 *
 * @param program The program's name.
 * @returns True when it is on the PATH.
 *
 * @example
 * ```ts
 * import { onPath } from "./peers.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(await onPath("no-such-program-kvbits"), false);
 * ```
 */
export async function onPath(program: string): Promise<boolean> {
  try {
    await new Deno.Command(program, {
      args: ["--version"],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).output();
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs one peer on one file and measures what it wrote.
 *
 * @param peer The peer.
 * @param input The file to compress.
 * @param output Where it writes (removed after).
 * @returns Bytes written and wall seconds.
 * @throws {Error} When the peer fails.
 *
 * @example
 * ```ts ignore
 * import { PEERS, runPeer } from "./peers.ts";
 *
 * console.log(await runPeer(PEERS[0], "/tmp/raw.tar", "/tmp/raw.tar.zst"));
 * ```
 */
export async function runPeer(
  peer: Peer,
  input: string,
  output: string,
): Promise<{ compressedBytes: number; seconds: number }> {
  await Deno.remove(output).catch(() => {});
  const started = performance.now();
  const result = await new Deno.Command(peer.program, {
    args: peer.args.map((arg) =>
      arg.replace("{in}", input).replace("{out}", output)
    ),
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  const seconds = (performance.now() - started) / 1000;
  if (!result.success) {
    throw new Error(
      `${peer.label} failed on ${input}: ${
        new TextDecoder().decode(result.stderr).trim().slice(-200)
      }`,
    );
  }
  const compressedBytes = (await Deno.stat(output)).size;
  await Deno.remove(output);
  return { compressedBytes, seconds };
}

/** The peers' results on a folder, and the peers skipped with why. */
export interface PeerReport {
  /** Bytes of the folder's files: what each ratio divides. */
  readonly folderBytes: number;
  /** One entry per peer and input. */
  readonly results: readonly PeerResult[];
  /** Peers not run, with the reason. */
  readonly skipped: readonly string[];
}

/**
 * Runs every peer on a tar of the folder and on its byte-split streams.
 *
 * @param dumpDir The folder.
 * @param work A folder for the inputs and outputs.
 * @param options `slow: false` leaves the slow peers out; `peers` replaces
 * {@link PEERS} (tests pass a fake).
 * @returns The results.
 *
 * @example A fake peer (cat) and a missing one
 * ```ts
 * import { runPeers } from "./peers.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const root = await Deno.makeTempDir();
 * await Deno.writeFile(`${root}/k.bin`, Uint8Array.from([1, 2, 3, 4]));
 * const peers = [
 *   { label: "cat", program: "sh", args: ["-c", 'cat "$0" > "$1"', "{in}", "{out}"], slow: false },
 *   { label: "nothing", program: "no-such-program-kvbits", args: [], slow: false },
 * ];
 * const work = await Deno.makeTempDir();
 * const report = await runPeers(root, work, { slow: true, peers });
 * assertEquals(report.results.map((r) => [r.input, r.compressedBytes]), [["byte split", 4], ["raw (tar)", 10240]]);
 * assertEquals(report.skipped, ["nothing: no-such-program-kvbits is not on the PATH"]);
 * await Deno.remove(root, { recursive: true });
 * await Deno.remove(work, { recursive: true });
 * ```
 */
export async function runPeers(
  dumpDir: string,
  work: string,
  options: {
    readonly slow: boolean;
    readonly peers?: readonly Peer[];
    readonly onStep?: (step: string) => void;
  },
): Promise<PeerReport> {
  const step = options.onStep ?? (() => {});
  const peers = options.peers ?? PEERS;
  const skipped: string[] = [];
  const runnable: Peer[] = [];
  for (const peer of peers) {
    if (!options.slow && peer.slow) {
      skipped.push(`${peer.label}: slow (--skip-slow-peers)`);
    } else if (!await onPath(peer.program)) {
      skipped.push(`${peer.label}: ${peer.program} is not on the PATH`);
    } else if (peer.requires && !await onPath(peer.requires)) {
      skipped.push(`${peer.label}: ${peer.requires} is not on the PATH`);
    } else {
      runnable.push(peer);
    }
  }
  const { bytes, folderBytes } = await byteSplitFolder(dumpDir);
  const results: PeerResult[] = [];
  if (runnable.length === 0) return { folderBytes, results, skipped };
  const split = join(work, "split.bin");
  const tar = join(work, "raw.tar");
  await Deno.writeFile(split, bytes);
  const tarred = await new Deno.Command("tar", {
    args: ["-cf", tar, "-C", dumpDir, "."],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!tarred.success) {
    throw new Error(
      `tar of ${dumpDir} failed: ${new TextDecoder().decode(tarred.stderr)}`,
    );
  }
  try {
    for (const peer of runnable) {
      for (const [input, path] of [["byte split", split], ["raw (tar)", tar]]) {
        step(`${peer.label} on the ${input}`);
        const result = await runPeer(peer, path, join(work, "peer.out"));
        results.push({ peer: peer.label, input, ...result });
      }
    }
  } finally {
    await Deno.remove(split);
    await Deno.remove(tar);
  }
  return { folderBytes, results, skipped };
}
