/**
 * The dumps a benchmark runs on, read into memory once: the codec figures of
 * `deno task bench` time coding alone, so no file is read while the clock runs.
 *
 * @module
 */

import { dirname, join } from "@std/path";
import type { DumpMeta } from "../src/format/dump_meta.ts";
import { findFiles } from "../src/dump/find_files.ts";
import { readInputMeta, readInputTensors } from "../src/dump/input_dump.ts";
import { INPUT_META_PATTERN } from "../src/jobs/encode_job.ts";

/** One dump in memory, with what the encoder needs besides its words. */
export interface BenchDump {
  /** The meta file, relative to the dump folder. */
  readonly relativePath: string;
  /** The meta file name without `.json`, e.g. `meta_t0_128`. */
  readonly metaName: string;
  /** The meta file's text. */
  readonly metaText: string;
  /** The parsed meta. */
  readonly meta: DumpMeta;
  /** K as FP16 words. */
  readonly k: Uint16Array;
  /** V as FP16 words. */
  readonly v: Uint16Array;
}

/** A dump folder in memory. */
export interface BenchCorpus {
  /** The dump folder. */
  readonly dumpDir: string;
  /** Every FP16 dump whose files could be read, in path order. */
  readonly dumps: readonly BenchDump[];
  /** K and V bytes of all dumps: the figure every MB/s divides. */
  readonly bytes: number;
  /** K and V bytes of the largest dump. */
  readonly largestDumpBytes: number;
  /** Meta files left out (not FP16, or unreadable), with the reason. */
  readonly leftOut: readonly string[];
}

/**
 * Reads every FP16 dump of a folder into memory.
 *
 * @param dumpDir The dump folder.
 * @returns The dumps, in path order, and their sizes.
 *
 * @example
 * ```ts
 * import { loadCorpus } from "./bench_corpus.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const corpus = await loadCorpus(new URL("../fixtures/kv-sample", import.meta.url).pathname);
 * assertEquals(corpus.dumps.length, 51);
 * assertEquals(corpus.bytes, 229376);
 * ```
 */
export async function loadCorpus(dumpDir: string): Promise<BenchCorpus> {
  const metaFiles = await findFiles(
    dumpDir,
    (name) => INPUT_META_PATTERN.test(name),
  );
  const dumps: BenchDump[] = [];
  const leftOut: string[] = [];
  let bytes = 0;
  let largestDumpBytes = 0;
  for (const relativePath of metaFiles) {
    const path = join(dumpDir, relativePath);
    try {
      const { text, meta } = await readInputMeta(path);
      if (meta.bytesPerElem !== 2) {
        leftOut.push(`${relativePath}: bytes_per_elem is ${meta.bytesPerElem}`);
        continue;
      }
      const { k, v } = await readInputTensors(dirname(path), meta);
      const metaName = relativePath.slice(relativePath.lastIndexOf("/") + 1)
        .replace(/\.json$/, "");
      dumps.push({ relativePath, metaName, metaText: text, meta, k, v });
      const size = k.byteLength + v.byteLength;
      bytes += size;
      largestDumpBytes = Math.max(largestDumpBytes, size);
    } catch (error) {
      leftOut.push(error instanceof Error ? error.message : String(error));
    }
  }
  return { dumpDir, dumps, bytes, largestDumpBytes, leftOut };
}
