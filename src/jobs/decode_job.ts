/**
 * The decode job: a bitstream folder in, the dump folder restored (FORMAT.md §3,
 * §4), optionally compared with the originals as well.
 *
 * Each dump is decoded in memory and checked against the checksums kvbits recorded
 * (reference outputs have none) before anything is written; its two tensors are
 * then written, and its meta file last, each through a temporary file, so that a
 * restored dump whose meta exists is complete. A run killed at any moment can be
 * run again: temporary files left behind are removed, restored dumps are skipped
 * and the others written. With `overwrite`, a restored dump's meta is removed
 * before its tensors are replaced.
 *
 * @module
 */

import { basename, dirname, join } from "@std/path";
import { metaNameOfMarker } from "../format/codecs.ts";
import { fp16BytesOfWords } from "../format/fp16_tensor.ts";
import { fileErrorOf } from "../dump/file_error.ts";
import { pathExists } from "../dump/path_exists.ts";
import { syncFolders, writeFilesThenMarker } from "../dump/write_dump_files.ts";
import { openBitstreamFolder, readBitstreamDump } from "./bitstream_folder.ts";
import { KvbitsJobError } from "./job_error.ts";
import type { DumpOutcome, ProgressListener } from "./job_report.ts";
import { compareWithOriginal } from "./original_dump.ts";
import { openOutputFolder } from "./output_folder.ts";

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
  /**
   * Flush every file to the disk before the meta that completes its dump, and
   * the folders at the end (default true): outputs then survive a power cut too,
   * not only a killed process (`--no-fsync` sets it false). About 0.3 ms per
   * file on the virtual disk the tests run on.
   */
  readonly durable?: boolean;
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
  /** Bytes of the stream files of the dumps decoded. */
  readonly streamBytes: number;
  /** Bytes of the per-dump meta files of the dumps decoded. */
  readonly metaBytes: number;
  /** Bytes of the global codebook file, 0 when there is none. */
  readonly codebookBytes: number;
  /** Temporary files of an interrupted earlier run, removed from the output folder. */
  readonly temporaryFilesRemoved: number;
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
 * or the output folder is the original or bitstream folder, or a file, or
 * another kvbits run is writing into it.
 * @throws {KvbitsFileError} When a folder below the bitstream folder cannot be
 * read.
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
  await using output = outDir === undefined
    ? undefined
    : await openOutputFolder(outDir, {
      "--bitstream-dir": options.bitstreamDir,
      "--orig-dump-dir": origDumpDir,
    });
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
  let streamBytes = 0;
  let metaBytes = 0;
  const touched = new Set<string>();
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
          await writeFilesThenMarker(
            [
              {
                path: join(folderOut, input.kFile),
                bytes: fp16BytesOfWords(decoded.k),
              },
              {
                path: join(folderOut, input.vFile),
                bytes: fp16BytesOfWords(decoded.v),
              },
            ],
            { path: metaOut, bytes: new TextEncoder().encode(inputText) },
            touched,
            options.durable ?? true,
          );
        }
        rawBytes += decoded.k.byteLength + decoded.v.byteLength;
        streamBytes += dump.streamBytes
          ? Object.values(dump.streamBytes).reduce((a, b) => a + b, 0)
          : dump.payloadBytes ?? 0;
        metaBytes += dump.metaBytes;
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
  if (options.durable ?? true) {
    await syncFolders(touched).catch((error) => {
      throw new KvbitsJobError(error.message);
    });
  }
  return {
    layout: folder.codec?.layout,
    outcomes,
    checkedByChecksum,
    checkedAgainstOriginals,
    unchecked,
    rawBytes,
    streamBytes,
    metaBytes,
    codebookBytes: folder.codebookBytes,
    temporaryFilesRemoved: output?.temporaryFilesRemoved.length ?? 0,
    seconds: (performance.now() - started) / 1000,
  };
}
