/**
 * The decode job: a bitstream folder in, the dump folder restored (FORMAT.md §3,
 * §4), optionally compared with the originals as well.
 *
 * Each dump is decoded in memory and checked against the checksums kvbits recorded
 * (reference outputs have none) before anything is written; its two tensors are
 * then written, and its meta file last, each through a temporary file, so that a
 * restored dump whose meta exists is complete.
 *
 * @module
 */

import { basename, dirname, join, resolve } from "@std/path";
import { metaNameOfMarker } from "../format/codecs.ts";
import { fp16BytesOfWords } from "../format/fp16_tensor.ts";
import { fileErrorOf } from "../dump/file_error.ts";
import { pathExists } from "../dump/path_exists.ts";
import { writeFileAtomic } from "../dump/write_file_atomic.ts";
import { openBitstreamFolder, readBitstreamDump } from "./bitstream_folder.ts";
import { KvbitsJobError } from "./job_error.ts";
import type { DumpOutcome, ProgressListener } from "./job_report.ts";
import { compareWithOriginal } from "./original_dump.ts";

/** What to decode, and where to put or compare the result. */
export interface DecodeOptions {
  /** The bitstream folder (`--bitstream-dir`). */
  readonly bitstreamDir: string;
  /** Where to restore the dump folder (`--out-dir`); nothing is written without. */
  readonly outDir?: string;
  /** The original dump folder to compare with (`--orig-dump-dir`). */
  readonly origDumpDir?: string;
  /** Replace existing restored dumps (`--overwrite`). */
  readonly overwrite: boolean;
  /** Called after each dump. */
  readonly onProgress?: ProgressListener;
}

/** What the decode job did. */
export interface DecodeReport {
  /** The layout recognised, e.g. `bitstream_huffman`; undefined with no dump. */
  readonly layout?: string;
  /** One outcome per dump, in path order. */
  readonly outcomes: readonly DumpOutcome[];
  /** Dumps whose tensors matched kvbits' recorded checksums. */
  readonly checkedByChecksum: number;
  /** Dumps found equal to the originals (with `origDumpDir`). */
  readonly checkedAgainstOriginals: number;
  /** Dumps decoded that neither check could confirm (reference output, no originals). */
  readonly unchecked: number;
  /** K and V bytes decoded. */
  readonly rawBytes: number;
  /** Wall time of the job. */
  readonly seconds: number;
}

/**
 * Decodes every dump of a bitstream folder, writing the restored dump folder and/or
 * comparing with the originals.
 *
 * @param options Folders and flags.
 * @returns The outcome of each dump and what was checked.
 * @throws {KvbitsJobError} When the bitstream folder is missing or mixes layouts,
 * or the output folder is the original or bitstream folder.
 *
 * @example Restoring the reference Huffman fixtures and comparing them
 * ```ts
 * import { decodeFolder } from "./decode_job.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const fixtures = new URL("../../fixtures/", import.meta.url).pathname;
 * const outDir = await Deno.makeTempDir();
 * const report = await decodeFolder({
 *   bitstreamDir: `${fixtures}reference/huffman-per-dump`, outDir,
 *   origDumpDir: `${fixtures}kv-sample`, overwrite: false,
 * });
 * assertEquals(report.checkedAgainstOriginals, 4);
 * await Deno.remove(outDir, { recursive: true });
 * ```
 */
export async function decodeFolder(
  options: DecodeOptions,
): Promise<DecodeReport> {
  const started = performance.now();
  const { outDir, origDumpDir, onProgress } = options;
  const folder = await openBitstreamFolder(options.bitstreamDir);
  if (outDir !== undefined) {
    const out = await realOrResolved(outDir);
    for (
      const [flag, dir] of [
        ["--bitstream-dir", options.bitstreamDir],
        ["--orig-dump-dir", origDumpDir],
      ] as const
    ) {
      if (dir !== undefined && out === await realOrResolved(dir)) {
        throw new KvbitsJobError(
          `--out-dir ${outDir} is the ${flag} folder: choose another folder so that nothing there is overwritten`,
        );
      }
    }
  }
  if (origDumpDir !== undefined) {
    const info = await Deno.stat(origDumpDir).catch(() => undefined);
    if (!info?.isDirectory) {
      throw new KvbitsJobError(
        `--orig-dump-dir ${origDumpDir}: folder not found`,
      );
    }
  }
  const outcomes: DumpOutcome[] = [];
  let checkedByChecksum = 0;
  let checkedAgainstOriginals = 0;
  let unchecked = 0;
  let rawBytes = 0;
  for (const metaFile of folder.metaFiles) {
    const metaOut = outDir === undefined ? undefined : join(
      outDir,
      dirname(metaFile),
      `${metaNameOfMarker(folder.codec!, basename(metaFile))}.json`,
    );
    try {
      if (
        metaOut !== undefined && !options.overwrite && await pathExists(metaOut)
      ) {
        outcomes.push({
          dump: metaFile,
          status: "skipped",
          reason:
            `already decoded: ${metaOut} exists (use --overwrite to replace it)`,
        });
      } else {
        const dump = await readBitstreamDump(folder, metaFile);
        const { decoded } = dump;
        if (decoded.integrityChecked) checkedByChecksum++;
        if (origDumpDir !== undefined) {
          await compareWithOriginal(origDumpDir, metaFile, dump);
          checkedAgainstOriginals++;
        } else if (!decoded.integrityChecked) {
          unchecked++;
        }
        if (metaOut !== undefined) {
          const { input, inputText } = dump.meta;
          const folderOut = dirname(metaOut);
          const files: [string, Uint8Array][] = [
            [join(folderOut, input.kFile), fp16BytesOfWords(decoded.k)],
            [join(folderOut, input.vFile), fp16BytesOfWords(decoded.v)],
            [metaOut, new TextEncoder().encode(inputText)],
          ];
          for (const [path, bytes] of files) {
            await writeFileAtomic(path, bytes).catch((error) => {
              throw fileErrorOf(path, error);
            });
          }
        }
        rawBytes += decoded.k.byteLength + decoded.v.byteLength;
        outcomes.push({ dump: metaFile, status: "done" });
      }
    } catch (error) {
      outcomes.push({
        dump: metaFile,
        status: "failed",
        reason:
          fileErrorOf(join(options.bitstreamDir, metaFile), error).message,
      });
    }
    onProgress?.({
      phase: outDir === undefined ? "verifying" : "decoding",
      done: outcomes.length,
      total: folder.metaFiles.length,
      bytes: rawBytes,
    });
  }
  return {
    layout: folder.codec?.layout,
    outcomes,
    checkedByChecksum,
    checkedAgainstOriginals,
    unchecked,
    rawBytes,
    seconds: (performance.now() - started) / 1000,
  };
}

async function realOrResolved(path: string): Promise<string> {
  return await Deno.realPath(path).catch(() => resolve(path));
}
