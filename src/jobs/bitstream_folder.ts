/**
 * Reading a bitstream folder (kvbits' or the reference tools'): which layout it
 * has, its global codebook, and each dump decoded in memory.
 *
 * @module
 */

import { basename, dirname, join } from "@std/path";
import { crc32 } from "../codec/crc32.ts";
import { KvbitsDataError } from "../codec/errors.ts";
import {
  type BitstreamMeta,
  parseBitstreamMeta,
} from "../format/bitstream_meta.ts";
import {
  type Codec,
  codecOfMarkerFile,
  metaNameOfMarker,
} from "../format/codecs.ts";
import { isDumpFileCodec } from "../format/dump_file_codec.ts";
import type { RestoredMeta } from "../format/dump_meta.ts";
import {
  type DecodedDump,
  decodeDump,
  type GlobalCodebook,
} from "../format/encoded_dump.ts";
import { parseGlobalCodebook } from "../format/global_codebook.ts";
import { utf8Text } from "../format/json_fields.ts";
import {
  type PerStream,
  STREAM_NAMES,
  type StreamCodec,
} from "../format/stream_codec.ts";
import { fileErrorOf, KvbitsFileError } from "../dump/file_error.ts";
import { findFiles } from "../dump/find_files.ts";
import { pathExists } from "../dump/path_exists.ts";
import { type FileReader, readWholeFile } from "../dump/read_file.ts";
import { KvbitsJobError } from "./job_error.ts";
import { readDumpFile } from "./read_dump_file.ts";

/** An opened bitstream folder. */
export interface BitstreamFolder {
  /** The folder. */
  readonly dir: string;
  /** The codec of its layout; undefined when it holds no dump. */
  readonly codec?: Codec;
  /**
   * Relative paths of the files that mark each dump complete, sorted: the per-dump
   * meta files of a four-stream layout, the dump files of a one-file layout.
   */
  readonly metaFiles: readonly string[];
  /** Its global codebook, when the file exists and is valid. */
  readonly global?: GlobalCodebook<unknown>;
  /** Why the global codebook could not be used, when its file is present but bad. */
  readonly globalProblem?: string;
  /** Size of the global codebook file, 0 when there is none. */
  readonly codebookBytes: number;
  /** Markers of other layouts than `codec` (when one was given), relative. */
  readonly strays?: readonly string[];
}

/**
 * Opens a bitstream folder: finds its per-dump meta files, recognises the layout
 * from their names and reads the global codebook when there is one.
 *
 * @param dir The bitstream folder.
 * @param layout The codec of the folder's layout, when known (from its
 * manifest): markers of other layouts are then listed as `strays` instead of
 * making the folder unreadable.
 * @returns The opened folder.
 * @throws {KvbitsJobError} When the folder is missing or mixes layouts (and no
 * `layout` is given).
 *
 * @example
 * ```ts
 * import { openBitstreamFolder } from "./bitstream_folder.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const dir = new URL("../../fixtures/reference/huffman-per-dump", import.meta.url).pathname;
 * const folder = await openBitstreamFolder(dir);
 * assertEquals(folder.codec?.name, "huffman");
 * assertEquals(folder.global, undefined);
 * ```
 */
export async function openBitstreamFolder(
  dir: string,
  layout?: Codec,
): Promise<BitstreamFolder> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(dir);
  } catch (error) {
    throw new KvbitsJobError(
      `--bitstream-dir ${fileErrorOf(dir, error).message}`,
    );
  }
  if (!info.isDirectory) {
    throw new KvbitsJobError(`--bitstream-dir ${dir}: not a folder`);
  }
  const markers = await findFiles(
    dir,
    (name) => codecOfMarkerFile(name) !== undefined,
  );
  // The layout the folder's manifest names, when it has one: markers of other
  // layouts are strays, which do not block the folder's own dumps.
  const ofLayout = (path: string) =>
    codecOfMarkerFile(basename(path)) === layout;
  const metaFiles = layout ? markers.filter(ofLayout) : markers;
  const strays = layout ? markers.filter((path) => !ofLayout(path)) : [];
  const codecs = new Set(
    metaFiles.map((path) => codecOfMarkerFile(basename(path))!),
  );
  if (codecs.size > 1) {
    throw new KvbitsJobError(
      `--bitstream-dir ${dir}: holds dumps of several layouts (${
        [...codecs].map((codec) => codec.layout).join(", ")
      }); decode each layout from a folder of its own`,
    );
  }
  const codec = layout ?? [...codecs][0];
  if (!codec || isDumpFileCodec(codec)) {
    return { dir, codec, metaFiles, codebookBytes: 0, strays };
  }
  const codebookPath = join(dir, codec.globalCodebookFile);
  if (!await pathExists(codebookPath)) {
    return { dir, codec, metaFiles, codebookBytes: 0, strays };
  }
  try {
    const bytes = await readWholeFile(codebookPath);
    const models = parseGlobalCodebook(
      utf8Text(bytes, "global codebook"),
      codec,
    );
    return {
      dir,
      codec,
      metaFiles,
      global: { models, crc32: crc32(bytes) },
      codebookBytes: bytes.length,
      strays,
    };
  } catch (error) {
    return {
      dir,
      codec,
      metaFiles,
      globalProblem: fileErrorOf(codebookPath, error).message,
      codebookBytes: 0,
      strays,
    };
  }
}

/** One dump of a bitstream folder, read and decoded. */
export interface ReadBitstreamDump {
  /** The input meta restored (a four-stream layout's full `BitstreamMeta`). */
  readonly meta: RestoredMeta;
  /** The decoded tensors. */
  readonly decoded: DecodedDump;
  /** File name of the input meta to restore, e.g. `meta_t0_128.json`. */
  readonly inputMetaName: string;
  /** Bytes of each stream file (four-stream layouts). */
  readonly streamBytes?: PerStream<number>;
  /** Bytes of coded tensor data in a one-file layout's dump file. */
  readonly payloadBytes?: number;
  /** Bytes of the per-dump meta file (of a one-file layout: header and meta). */
  readonly metaBytes: number;
}

/**
 * Reads one dump of an opened bitstream folder and decodes it in memory.
 *
 * @param folder The opened folder (with a codec).
 * @param metaFile The dump's meta file, relative to the folder.
 * @param read How to read its files (roles `meta` and the stream names, or
 * `dump` for a one-file layout); `readWholeFile` by default.
 * @returns The meta, the decoded tensors and the file sizes.
 * @throws {KvbitsFileError} Naming the file at fault: a bad meta, a missing or
 * corrupt stream, a tensor that fails its checksum.
 *
 * @example
 * ```ts
 * import { openBitstreamFolder, readBitstreamDump } from "./bitstream_folder.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const dir = new URL("../../fixtures/reference/huffman-per-dump", import.meta.url).pathname;
 * const folder = await openBitstreamFolder(dir);
 * const dump = await readBitstreamDump(folder, folder.metaFiles[0]);
 * assertEquals(dump.decoded.k.length, 2 * dump.meta.input.seqLen * 64);
 * assertEquals(dump.inputMetaName.startsWith("meta_"), true);
 * ```
 */
export async function readBitstreamDump(
  folder: BitstreamFolder,
  metaFile: string,
  read: FileReader = readWholeFile,
): Promise<ReadBitstreamDump> {
  if (isDumpFileCodec(folder.codec!)) {
    return await readDumpFile(folder.dir, metaFile, folder.codec, read);
  }
  const codec = folder.codec as StreamCodec<unknown>;
  const metaPath = join(folder.dir, metaFile);
  let meta: BitstreamMeta;
  let metaBytes: number;
  try {
    const bytes = await read(metaPath, "meta");
    metaBytes = bytes.length;
    meta = parseBitstreamMeta(
      utf8Text(bytes, "bitstream meta"),
      codec,
    );
  } catch (error) {
    throw fileErrorOf(metaPath, error);
  }
  if (meta.codebook === "global" && !folder.global) {
    throw new KvbitsFileError(
      metaPath,
      folder.globalProblem ??
        `uses the global codebook but ${
          join(folder.dir, codec.globalCodebookFile)
        } is missing`,
    );
  }
  const streams = {} as PerStream<Uint8Array>;
  const streamBytes = {} as PerStream<number>;
  for (const stream of STREAM_NAMES) {
    const path = join(dirname(metaPath), meta.streamFiles[stream]);
    try {
      streams[stream] = await read(path, stream);
    } catch (error) {
      throw fileErrorOf(path, error);
    }
    streamBytes[stream] = streams[stream].length;
  }
  let decoded: DecodedDump;
  try {
    decoded = decodeDump(meta, streams, codec, folder.global);
  } catch (error) {
    // A corrupt stream is reported at its own file; other problems at the meta.
    const stream = error instanceof KvbitsDataError
      ? STREAM_NAMES.find((name) => name === error.stream)
      : undefined;
    throw fileErrorOf(
      stream ? join(dirname(metaPath), meta.streamFiles[stream]) : metaPath,
      error,
    );
  }
  return {
    meta,
    decoded,
    inputMetaName: `${metaNameOfMarker(codec, basename(metaFile))}.json`,
    streamBytes,
    metaBytes,
  };
}
