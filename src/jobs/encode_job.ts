/**
 * The encode job: a dump folder in, a bitstream folder out (FORMAT.md §1, §3, §4).
 *
 * Steps: find every `meta_*.json` below `--dump-dir`; read and select each (bad
 * meta fails the dump, selection flags and missing tensors skip it, with the
 * reason); for a global codebook count the symbols of all selected dumps and write
 * the codebook file first; then encode each dump, writing its four streams and
 * then its meta, each through a temporary file, so that a dump whose meta exists is
 * complete.
 *
 * Crash safety: a run killed at any moment leaves complete dumps (meta present)
 * and files that nothing mistakes for a dump; running the same command again
 * removes the temporary files left behind, skips the complete dumps and writes
 * the rest, giving the folder an uninterrupted run would have written.
 * - A dump whose meta output exists is skipped ("already encoded") when it was
 *   coded as this run would code it (same codebook mode and, for `global`, the
 *   same codebook file); otherwise it fails with the reason, and `overwrite` is
 *   needed to replace it.
 * - With `overwrite`, a dump's old meta is removed before its new streams are
 *   written, and when the global codebook changes, the old metas of all selected
 *   dumps are removed before the new codebook is written: an old meta never
 *   stands beside new streams or a new codebook.
 *
 * @module
 */

import { dirname, join, resolve } from "@std/path";
import { crc32 } from "../codec/crc32.ts";
import { countFp16Symbols, newFp16Histograms } from "../codec/histogram.ts";
import type { DumpMeta } from "../format/dump_meta.ts";
import { type Codec, markerFileName } from "../format/codecs.ts";
import { isDumpFileCodec } from "../format/dump_file_codec.ts";
import type { GlobalCodebook } from "../format/encoded_dump.ts";
import { firstDifference } from "../format/first_difference.ts";
import { globalCodebookText } from "../format/global_codebook.ts";
import { utf8Text } from "../format/json_fields.ts";
import { parseBitstreamMeta } from "../format/bitstream_meta.ts";
import type { CodebookMode, PerStream } from "../format/stream_codec.ts";
import { fileErrorOf, KvbitsFileError } from "../dump/file_error.ts";
import { findFiles } from "../dump/find_files.ts";
import {
  readInputMeta,
  readInputTensors,
  tensorPaths,
} from "../dump/input_dump.ts";
import { pathExists } from "../dump/path_exists.ts";
import { readWholeFile } from "../dump/read_file.ts";
import { syncFolders, writeFilesThenMarker } from "../dump/write_dump_files.ts";
import {
  removeFileDurably,
  syncFolder,
  writeFileAtomic,
} from "../dump/write_file_atomic.ts";
import { encodeDumpOutputs } from "./dump_outputs.ts";
import { type DumpSelection, selectionSkipReason } from "./dump_selection.ts";
import { KvbitsJobError } from "./job_error.ts";
import type { DumpOutcome, ProgressListener } from "./job_report.ts";
import { openOutputFolder } from "./output_folder.ts";

/** What to encode, where, and how. */
export interface EncodeOptions extends DumpSelection {
  /** The dump folder (`--dump-dir`). */
  readonly dumpDir: string;
  /** The bitstream folder to write (`--out-dir`). */
  readonly outDir: string;
  /** The codec (`--codec`). */
  readonly codec: Codec;
  /**
   * One codebook for all dumps, or one per dump (`--codebook`); codecs that write
   * one file per dump (`ctx`) learn as they code and ignore it.
   */
  readonly codebook: CodebookMode;
  /** Replace existing outputs (`--overwrite`). */
  readonly overwrite: boolean;
  /** Called after each dump of each phase. */
  readonly onProgress?: ProgressListener;
  /**
   * Flush every file to the disk before the meta that completes its dump, and
   * the folders at the end (default true): outputs then survive a power cut too,
   * not only a killed process (`--no-fsync` sets it false). About 0.3 ms per
   * file on the virtual disk the tests run on.
   */
  readonly durable?: boolean;
}

/** What the encode job did. */
export interface EncodeReport {
  /** `meta_*.json` files found below the dump folder. */
  readonly metaFilesFound: number;
  /** Dumps taken by the selection flags (encoded, already encoded, or failed). */
  readonly selected: number;
  /** One outcome per meta file found, in path order. */
  readonly outcomes: readonly DumpOutcome[];
  /** Path of the global codebook file, for `global`. */
  readonly codebookPath?: string;
  /** Bytes of the global codebook file, for `global`. */
  readonly codebookBytes: number;
  /** K and V bytes of the dumps encoded in this run. */
  readonly rawBytes: number;
  /** Bytes of the stream files written. */
  readonly streamBytes: number;
  /** Bytes of the per-dump meta files written. */
  readonly metaBytes: number;
  /** Temporary files of an interrupted earlier run, removed from the output folder. */
  readonly temporaryFilesRemoved: number;
  /** Wall time of the job. */
  readonly seconds: number;
}

/** A selected dump: where it is and its parsed meta. */
interface SelectedDump {
  readonly relativePath: string;
  readonly folder: string;
  readonly metaName: string;
  readonly metaText: string;
  readonly meta: DumpMeta;
}

/** Name of a meta file in a dump folder: `meta_<anything>.json`. */
export const INPUT_META_PATTERN = /^meta_.+\.json$/;

/**
 * Encodes a dump folder into a bitstream folder.
 *
 * @param options Folders, codec, codebook mode, selection and overwrite flag.
 * @returns What was encoded, skipped and failed, with byte counts.
 * @throws {KvbitsJobError} When the dump folder is missing, the output folder is
 * the dump folder or a file, another kvbits run is writing into it, or an
 * existing global codebook differs from the one the dumps give (and `overwrite`
 * is not set).
 * @throws {KvbitsFileError} When a folder below the dump folder cannot be read.
 *
 * @example Encoding the bundled fixtures
 * ```ts
 * import { encodeFolder } from "./encode_job.ts";
 * import { huffmanStreamCodec } from "../format/huffman_stream_codec.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const outDir = await Deno.makeTempDir();
 * const report = await encodeFolder({
 *   dumpDir: new URL("../../fixtures/kv-sample", import.meta.url).pathname, outDir,
 *   codec: huffmanStreamCodec, codebook: "global", overwrite: false,
 *   stage: "both", minSeqLen: 0, maxSeqLen: 0,
 * });
 * assertEquals(report.outcomes.every((outcome) => outcome.status === "done"), true);
 * await Deno.remove(outDir, { recursive: true });
 * ```
 */
export async function encodeFolder(
  options: EncodeOptions,
): Promise<EncodeReport> {
  const started = performance.now();
  const { codec, dumpDir, outDir, onProgress } = options;
  const durable = options.durable ?? true;
  await checkDumpFolder(dumpDir);
  await using output = await openOutputFolder(outDir, {
    "--dump-dir": dumpDir,
  });
  const metaFiles = await findFiles(
    dumpDir,
    (name) => INPUT_META_PATTERN.test(name),
    resolve(outDir),
  );
  const outcomes = new Map<string, DumpOutcome>();
  const selected: SelectedDump[] = [];
  for (const relativePath of metaFiles) {
    const metaPath = join(dumpDir, relativePath);
    try {
      const { text, meta } = await readInputMeta(metaPath);
      const folder = dirname(metaPath);
      const skip = selectionSkipReason(meta, options) ??
        await missingTensorReason(folder, meta);
      if (skip) {
        outcomes.set(relativePath, {
          dump: relativePath,
          status: "skipped",
          reason: skip,
        });
        continue;
      }
      const metaName = relativePath.slice(relativePath.lastIndexOf("/") + 1)
        .replace(/\.json$/, "");
      selected.push({ relativePath, folder, metaName, metaText: text, meta });
    } catch (error) {
      outcomes.set(relativePath, failed(relativePath, metaPath, error));
    }
  }

  let global: GlobalCodebook<unknown> | undefined;
  let codebookPath: string | undefined;
  let codebookBytes = 0;
  let toEncode = selected;
  // Dump-file codecs (ctx) learn as they code: no codebook pass.
  const streamCodec = isDumpFileCodec(codec) ? undefined : codec;
  const counted = options.codebook === "global" && streamCodec
    ? await countSymbols(selected, outcomes, onProgress)
    : undefined;
  if (counted) toEncode = counted.dumps;
  // No codebook without a dump to code with it: nothing is written then.
  if (streamCodec && counted && toEncode.length > 0) {
    const codec = streamCodec;
    const models = {} as PerStream<unknown>;
    const { k, v } = counted;
    models.k_hi6 = codec.modelFromCounts(k.hi6, "k_hi6");
    models.k_lo10 = codec.modelFromCounts(k.lo10, "k_lo10");
    models.v_hi6 = codec.modelFromCounts(v.hi6, "v_hi6");
    models.v_lo10 = codec.modelFromCounts(v.lo10, "v_lo10");
    const bytes = new TextEncoder().encode(globalCodebookText(codec, models));
    const path = join(outDir, codec.globalCodebookFile);
    codebookPath = path;
    const existing = await readExistingCodebook(path);
    if (existing === undefined || firstDifference(existing, bytes) !== -1) {
      if (existing !== undefined) {
        if (!options.overwrite) {
          throw new KvbitsJobError(
            `${path}: exists and differs from the codebook of the selected dumps; use --overwrite to replace it and re-encode every dump`,
          );
        }
        // The dumps coded with the old codebook go first, so that none of them is
        // ever beside the new one (all are re-encoded below).
        for (const dump of toEncode) {
          const metaOut = metaOutputPath(outDir, dump, codec);
          await removeFileDurably(metaOut, { durable }).catch((error) => {
            throw new KvbitsJobError(fileErrorOf(metaOut, error).message);
          });
        }
      }
      // On the disk, name included, before any dump that depends on it.
      await writeFileAtomic(path, bytes, { durable })
        .then(() => durable ? syncFolder(dirname(path)) : undefined)
        .catch((error) => {
          throw new KvbitsJobError(fileErrorOf(path, error).message);
        });
    }
    codebookBytes = bytes.length;
    global = { models, crc32: crc32(bytes) };
  }

  let rawBytes = 0;
  let streamBytes = 0;
  let metaBytes = 0;
  let done = 0;
  const touched = new Set<string>();
  for (const dump of toEncode) {
    const outFolder = join(outDir, dirname(dump.relativePath));
    const metaOut = metaOutputPath(outDir, dump, codec);
    try {
      const existing = options.overwrite || !await pathExists(metaOut)
        ? undefined
        : await existingDumpProblem(metaOut, codec, options.codebook, global);
      if (existing === "") {
        outcomes.set(dump.relativePath, {
          dump: dump.relativePath,
          status: "skipped",
          reason:
            `already encoded: ${metaOut} exists (use --overwrite to replace it)`,
        });
      } else if (existing !== undefined) {
        outcomes.set(dump.relativePath, {
          dump: dump.relativePath,
          status: "failed",
          reason: new KvbitsFileError(
            metaOut,
            `${existing}; use --overwrite to re-encode the dump`,
          ).message,
        });
      } else {
        const { k, v } = await readInputTensors(dump.folder, dump.meta);
        const outputs = encodeDumpOutputs({ ...dump, k, v }, codec, global);
        // The last file (the meta, or the only file) marks the dump complete.
        await writeFilesThenMarker(
          outputs.files.slice(0, -1).map((file) => ({
            path: join(outFolder, file.name),
            bytes: file.bytes,
          })),
          {
            path: metaOut,
            bytes: outputs.files[outputs.files.length - 1].bytes,
          },
          touched,
          durable,
        );
        streamBytes += outputs.streamBytes;
        metaBytes += outputs.metaBytes;
        rawBytes += k.byteLength + v.byteLength;
        outcomes.set(dump.relativePath, {
          dump: dump.relativePath,
          status: "done",
        });
      }
    } catch (error) {
      outcomes.set(
        dump.relativePath,
        failed(dump.relativePath, join(dumpDir, dump.relativePath), error),
      );
    }
    onProgress?.({
      phase: "encoding",
      done: ++done,
      total: toEncode.length,
      bytes: rawBytes,
    });
  }
  if (durable) {
    await syncFolders(touched).catch((error) => {
      throw new KvbitsJobError(error.message);
    });
  }

  return {
    metaFilesFound: metaFiles.length,
    selected: selected.length,
    outcomes: metaFiles.map((path) => outcomes.get(path)!),
    codebookPath,
    codebookBytes,
    rawBytes,
    streamBytes,
    metaBytes,
    temporaryFilesRemoved: output.temporaryFilesRemoved.length,
    seconds: (performance.now() - started) / 1000,
  };
}

function metaOutputPath(
  outDir: string,
  dump: SelectedDump,
  codec: Codec,
): string {
  return join(
    outDir,
    dirname(dump.relativePath),
    markerFileName(codec, dump.metaName),
  );
}

/**
 * Why an existing meta output is not the dump this run would write ("" when it
 * is, and the dump can be skipped as already encoded).
 */
async function existingDumpProblem(
  metaOut: string,
  codec: Codec,
  codebook: CodebookMode,
  global: GlobalCodebook<unknown> | undefined,
): Promise<string> {
  // A dump file is written whole and renamed into place: it exists, so it is complete.
  if (isDumpFileCodec(codec)) return "";
  let existing;
  try {
    const text = utf8Text(await readWholeFile(metaOut), "bitstream meta");
    existing = parseBitstreamMeta(text, codec);
  } catch (error) {
    return `exists but cannot be read (${fileErrorOf(metaOut, error).detail})`;
  }
  if (existing.codebook !== codebook) {
    return `exists but was encoded with --codebook ${existing.codebook}`;
  }
  if (global && existing.integrity?.codebookCrc32 !== global.crc32) {
    return `exists but was encoded with another ${codec.globalCodebookFile}`;
  }
  return "";
}

async function checkDumpFolder(dumpDir: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(dumpDir);
  } catch (error) {
    throw new KvbitsJobError(
      `--dump-dir ${fileErrorOf(dumpDir, error).message}`,
    );
  }
  if (!info.isDirectory) {
    throw new KvbitsJobError(`--dump-dir ${dumpDir}: not a folder`);
  }
}

async function missingTensorReason(
  folder: string,
  meta: DumpMeta,
): Promise<string | undefined> {
  const paths = tensorPaths(folder, meta);
  if (!await pathExists(paths.k)) return `k file ${paths.k} is missing`;
  if (!await pathExists(paths.v)) return `v file ${paths.v} is missing`;
  return undefined;
}

/** Pass 1 of a global codebook: histograms of all selected dumps that can be read. */
async function countSymbols(
  selected: readonly SelectedDump[],
  outcomes: Map<string, DumpOutcome>,
  onProgress: ProgressListener | undefined,
) {
  const k = newFp16Histograms();
  const v = newFp16Histograms();
  const dumps: SelectedDump[] = [];
  let bytes = 0;
  let done = 0;
  for (const dump of selected) {
    try {
      const tensors = await readInputTensors(dump.folder, dump.meta);
      countFp16Symbols(tensors.k, k);
      countFp16Symbols(tensors.v, v);
      bytes += tensors.k.byteLength + tensors.v.byteLength;
      dumps.push(dump);
    } catch (error) {
      outcomes.set(
        dump.relativePath,
        failed(dump.relativePath, dump.relativePath, error),
      );
    }
    onProgress?.({
      phase: "counting symbols",
      done: ++done,
      total: selected.length,
      bytes,
    });
  }
  return { k, v, dumps };
}

/** The bytes of the global codebook file on disk, or undefined when there is none. */
async function readExistingCodebook(
  path: string,
): Promise<Uint8Array | undefined> {
  if (!await pathExists(path)) return undefined;
  return await readWholeFile(path).catch((error) => {
    throw new KvbitsJobError(fileErrorOf(path, error).message);
  });
}

function failed(dump: string, path: string, error: unknown): DumpOutcome {
  return {
    dump,
    status: "failed",
    reason: fileErrorOf(path, error).message,
  };
}
