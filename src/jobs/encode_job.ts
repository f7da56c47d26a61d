/**
 * The encode job: a dump folder in, a bitstream folder out (FORMAT.md §1, §3, §4).
 *
 * Steps: find every `meta_*.json` below `--dump-dir`; read and select each (bad
 * meta fails the dump, selection flags and missing tensors skip it, with the
 * reason); for a global codebook count the symbols of all selected dumps and write
 * the codebook file first; then encode each dump, writing its four streams and
 * then its meta, each through a temporary file, so that a dump whose meta exists is
 * complete. A dump whose meta output exists is skipped unless `overwrite` is set.
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
import type { CodebookMode, PerStream } from "../format/stream_codec.ts";
import { fileErrorOf } from "../dump/file_error.ts";
import { findFiles } from "../dump/find_files.ts";
import {
  readInputMeta,
  readInputTensors,
  tensorPaths,
} from "../dump/input_dump.ts";
import { pathExists } from "../dump/path_exists.ts";
import { readWholeFile } from "../dump/read_file.ts";
import { writeFileAtomic } from "../dump/write_file_atomic.ts";
import { encodeDumpOutputs } from "./dump_outputs.ts";
import { type DumpSelection, selectionSkipReason } from "./dump_selection.ts";
import { KvbitsJobError } from "./job_error.ts";
import type { DumpOutcome, ProgressListener } from "./job_report.ts";

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
 * the dump folder, or an existing global codebook differs from the one the dumps
 * give (and `overwrite` is not set).
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
  await checkFolders(dumpDir, outDir);
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
  if (options.codebook === "global" && !isDumpFileCodec(codec)) {
    const counted = await countSymbols(selected, outcomes, onProgress);
    toEncode = counted.dumps;
    const models = {} as PerStream<unknown>;
    const { k, v } = counted;
    models.k_hi6 = codec.modelFromCounts(k.hi6, "k_hi6");
    models.k_lo10 = codec.modelFromCounts(k.lo10, "k_lo10");
    models.v_hi6 = codec.modelFromCounts(v.hi6, "v_hi6");
    models.v_lo10 = codec.modelFromCounts(v.lo10, "v_lo10");
    const bytes = new TextEncoder().encode(globalCodebookText(codec, models));
    codebookPath = join(outDir, codec.globalCodebookFile);
    await writeCodebook(codebookPath, bytes, options.overwrite);
    codebookBytes = bytes.length;
    global = { models, crc32: crc32(bytes) };
  }

  let rawBytes = 0;
  let streamBytes = 0;
  let metaBytes = 0;
  let done = 0;
  for (const dump of toEncode) {
    const outFolder = join(outDir, dirname(dump.relativePath));
    const metaOut = join(outFolder, markerFileName(codec, dump.metaName));
    try {
      if (!options.overwrite && await pathExists(metaOut)) {
        outcomes.set(dump.relativePath, {
          dump: dump.relativePath,
          status: "skipped",
          reason:
            `already encoded: ${metaOut} exists (use --overwrite to replace it)`,
        });
      } else {
        const { k, v } = await readInputTensors(dump.folder, dump.meta);
        const outputs = encodeDumpOutputs({ ...dump, k, v }, codec, global);
        // The last file (the meta, or the only file) marks the dump complete.
        for (const file of outputs.files) {
          const path = join(outFolder, file.name);
          await writeFileAtomic(path, file.bytes).catch((error) => {
            throw fileErrorOf(path, error);
          });
        }
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

  return {
    metaFilesFound: metaFiles.length,
    selected: selected.length,
    outcomes: metaFiles.map((path) => outcomes.get(path)!),
    codebookPath,
    codebookBytes,
    rawBytes,
    streamBytes,
    metaBytes,
    seconds: (performance.now() - started) / 1000,
  };
}

async function checkFolders(dumpDir: string, outDir: string): Promise<void> {
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
  const realDump = await Deno.realPath(dumpDir);
  const realOut = await Deno.realPath(outDir).catch(() => resolve(outDir));
  if (realDump === realOut) {
    throw new KvbitsJobError(
      `--out-dir ${outDir} is the dump folder itself: choose another folder so that inputs and outputs stay apart`,
    );
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

/** Writes the global codebook, or keeps an identical one; refuses to replace a different one. */
async function writeCodebook(
  path: string,
  bytes: Uint8Array,
  overwrite: boolean,
): Promise<void> {
  if (!overwrite && await pathExists(path)) {
    const existing = await readWholeFile(path).catch((error) => {
      throw new KvbitsJobError(fileErrorOf(path, error).message);
    });
    if (firstDifference(existing, bytes) === -1) return;
    throw new KvbitsJobError(
      `${path}: exists and differs from the codebook of the selected dumps; use --overwrite to replace it and re-encode every dump`,
    );
  }
  await writeFileAtomic(path, bytes).catch((error) => {
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
