/**
 * The peers a user would pick instead of kvbits, measured in the same run:
 * `zstd -3` and `zstd -19` on the raw FP16 bytes, and the byte-split baseline
 * (every low byte, then every high byte) with `zstd -3`, through the `zstd` CLI's
 * own in-memory benchmark (`zstd -b`), one thread, so that its speeds, like
 * kvbits' codec figures, leave file I/O out.
 *
 * @module
 */

/** A `zstd -b` result. */
export interface ZstdResult {
  /** What was compressed, e.g. `zstd -3 (raw bytes)`. */
  readonly label: string;
  /** The compression level. */
  readonly level: number;
  /** Bytes in. */
  readonly inputBytes: number;
  /** Bytes out (one frame of the whole input). */
  readonly compressedBytes: number;
  /** Compression speed, input MB (10^6 bytes) per second, as zstd reports it. */
  readonly compressMegabytesPerSecond: number;
  /** Decompression speed, output MB per second, as zstd reports it. */
  readonly decompressMegabytesPerSecond: number;
}

/**
 * The `zstd` CLI's version, or undefined when it cannot be run.
 *
 * @returns E.g. `zstd 1.5.4`.
 *
 * @example
 * ```ts ignore
 * import { zstdVersion } from "./zstd_baseline.ts";
 *
 * console.log(await zstdVersion() ?? "zstd is not on the PATH");
 * ```
 */
export async function zstdVersion(): Promise<string | undefined> {
  try {
    const output = await new Deno.Command("zstd", {
      args: ["--version"],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!output.success) return undefined;
    const line = new TextDecoder().decode(output.stdout).trim();
    const version = /v(\d+(?:\.\d+)+)/.exec(line)?.[1];
    return version ? `zstd ${version}` : line;
  } catch {
    return undefined;
  }
}

/**
 * The last result line of `zstd -b` output, e.g. `3#kv.bin : 462848 -> 427477
 * (x1.083), 707.2 MB/s, 1749.6 MB/s` (progress lines before it end with `\r`).
 *
 * @param text What `zstd -b` printed.
 * @returns Input and output bytes, compression and decompression MB/s.
 * @throws {Error} When no result line is found.
 *
 * @example
 * ```ts
 * import { parseZstdBench } from "./zstd_baseline.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const text = " 3#kv.bin :    462848 ->    427477 (x1.083),  707.2 MB/s, 1749.6 MB/s \n";
 * assertEquals(parseZstdBench(text), {
 *   inputBytes: 462848, compressedBytes: 427477,
 *   compressMegabytesPerSecond: 707.2, decompressMegabytesPerSecond: 1749.6,
 * });
 * ```
 */
export function parseZstdBench(text: string): {
  inputBytes: number;
  compressedBytes: number;
  compressMegabytesPerSecond: number;
  decompressMegabytesPerSecond: number;
} {
  const pattern =
    /(\d+) -> +(\d+) \(x[\d.]+\), +([\d.]+) MB\/s, +([\d.]+) MB\/s/g;
  const matches = [...text.matchAll(pattern)];
  const last = matches.at(-1);
  if (!last) {
    throw new Error(
      `Cannot read the zstd benchmark output: no result line in ${
        JSON.stringify(text.slice(-200))
      }`,
    );
  }
  return {
    inputBytes: Number(last[1]),
    compressedBytes: Number(last[2]),
    compressMegabytesPerSecond: Number(last[3]),
    decompressMegabytesPerSecond: Number(last[4]),
  };
}

/**
 * Runs `zstd -b<level>` (one thread, at least `seconds` of runs) on a file.
 *
 * @param path The file to compress.
 * @param level The compression level.
 * @param label What the row says was compressed.
 * @param seconds Minimum benchmark time per level (`zstd -i`).
 * @returns The result.
 * @throws {Error} When zstd fails or prints no result.
 *
 * @example
 * ```ts ignore
 * import { zstdBench } from "./zstd_baseline.ts";
 *
 * const result = await zstdBench("/tmp/kv.bin", 3, "zstd -3 (raw bytes)", 1);
 * console.log(result.compressMegabytesPerSecond);
 * ```
 */
export async function zstdBench(
  path: string,
  level: number,
  label: string,
  seconds: number,
): Promise<ZstdResult> {
  const output = await new Deno.Command("zstd", {
    args: [`-b${level}`, "-T1", `-i${seconds}`, path],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  const text = decoder.decode(output.stdout) + decoder.decode(output.stderr);
  if (!output.success) {
    throw new Error(`zstd -b${level} failed: ${text.trim().slice(-200)}`);
  }
  return { label, level, ...parseZstdBench(text) };
}

/**
 * The byte-split transform: the low byte of every word, then the high byte of
 * every word, over all tensors in order.
 *
 * @param tensors FP16 tensors.
 * @returns Their bytes, split.
 *
 * @example
 * ```ts
 * import { byteSplit } from "./zstd_baseline.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals([...byteSplit([new Uint16Array([0x3c01, 0xbc02])])], [0x01, 0x02, 0x3c, 0xbc]);
 * ```
 */
export function byteSplit(tensors: readonly Uint16Array[]): Uint8Array {
  let words = 0;
  for (const tensor of tensors) words += tensor.length;
  const out = new Uint8Array(2 * words);
  let at = 0;
  for (const tensor of tensors) {
    for (let i = 0; i < tensor.length; i++) {
      const word = tensor[i];
      out[at + i] = word & 0xff;
      out[words + at + i] = word >>> 8;
    }
    at += tensor.length;
  }
  return out;
}

/**
 * The raw bytes of FP16 tensors, concatenated (little-endian, as the files).
 *
 * @param tensors FP16 tensors.
 * @returns Their bytes, one after the other.
 *
 * @example
 * ```ts
 * import { concatenatedBytes } from "./zstd_baseline.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals([...concatenatedBytes([new Uint16Array([0x3c01]), new Uint16Array([0xbc02])])], [0x01, 0x3c, 0x02, 0xbc]);
 * ```
 */
export function concatenatedBytes(tensors: readonly Uint16Array[]): Uint8Array {
  let words = 0;
  for (const tensor of tensors) words += tensor.length;
  const out = new Uint8Array(2 * words);
  let at = 0;
  for (const tensor of tensors) {
    for (let i = 0; i < tensor.length; i++) {
      const word = tensor[i];
      out[at++] = word & 0xff;
      out[at++] = word >>> 8;
    }
  }
  return out;
}
