/**
 * Reading a bitstream folder (kvbits' or the reference tools'): which layout it
 * has, its global codebook, and each dump decoded in memory.
 *
 * @module
 */

import { basename, dirname, join } from "../dump/path.ts";
import { KvbitsDataError } from "../codec/errors.ts";
import { type Codec, codecOfMarkerFile } from "../format/codecs.ts";
import type { DecodedDump } from "../format/layout.ts";
import { fileErrorOf, KvbitsFileError } from "../dump/file_error.ts";
import { findFiles } from "../dump/find_files.ts";
import { requireFolder } from "../dump/folder_info.ts";
import { pathExists } from "../dump/path_exists.ts";
import { type FileReader, readWholeFile } from "../dump/read_file.ts";
import { KvbitsJobError } from "./job_error.ts";

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
  /** Its shared file (a global codebook) opened, when it exists and is valid. */
  readonly global?: unknown;
  /** The shared file's bytes, when it exists and is valid (lanes open their own). */
  readonly globalBytes?: Uint8Array;
  /** Why the shared file could not be used, when it is present but bad. */
  readonly globalProblem?: string;
  /** Size of the shared file, 0 when there is none. */
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
  await requireFolder(dir).catch((error) => {
    throw new KvbitsJobError(fileErrorOf(dir, error).message, "bitstreamDir");
  });
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
      `${dir}: holds dumps of several layouts (${
        [...codecs].map((codec) => codec.layout).join(", ")
      }); decode each layout from a folder of its own`,
      "bitstreamDir",
    );
  }
  const codec = layout ?? [...codecs][0];
  const shared = codec?.sharedFile;
  if (!shared) return { dir, codec, metaFiles, codebookBytes: 0, strays };
  const sharedPath = join(dir, shared.fileName);
  if (!await pathExists(sharedPath)) {
    return { dir, codec, metaFiles, codebookBytes: 0, strays };
  }
  try {
    const bytes = await readWholeFile(sharedPath);
    return {
      dir,
      codec,
      metaFiles,
      global: shared.open(bytes),
      globalBytes: bytes,
      codebookBytes: bytes.length,
      strays,
    };
  } catch (error) {
    return {
      dir,
      codec,
      metaFiles,
      globalProblem: fileErrorOf(sharedPath, error).message,
      codebookBytes: 0,
      strays,
    };
  }
}

/** One dump of a bitstream folder, read and decoded. */
export interface ReadBitstreamDump {
  /** The decoded dump: meta to restore, tensors, bytes read. */
  readonly decoded: DecodedDump;
  /** File name of the input meta to restore, e.g. `meta_t0_128.json`. */
  readonly inputMetaName: string;
}

/**
 * Reads one dump of an opened bitstream folder and decodes it in memory.
 *
 * @param folder The opened folder (with a codec).
 * @param metaFile The dump's marker file, relative to the folder.
 * @param read How to read its files (role `meta` for the marker, then the roles
 * the layout gives its other files); `readWholeFile` by default.
 * @returns The decoded dump and the name of its input meta.
 * @throws {KvbitsFileError} Naming the file at fault: a bad marker, a missing or
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
 * assertEquals(dump.decoded.k.length, 2 * dump.decoded.input.seqLen * 64);
 * assertEquals(dump.inputMetaName.startsWith("meta_"), true);
 * ```
 */
export async function readBitstreamDump(
  folder: BitstreamFolder,
  metaFile: string,
  read: FileReader = readWholeFile,
): Promise<ReadBitstreamDump> {
  const codec = folder.codec!;
  const markerPath = join(folder.dir, metaFile);
  const metaName = codec.metaNameOfMarker(basename(metaFile));
  if (metaName === undefined) {
    throw new KvbitsFileError(markerPath, `not a ${codec.name} dump file`);
  }
  let opened;
  try {
    opened = codec.openDump(metaName, await read(markerPath, "meta"));
  } catch (error) {
    throw fileErrorOf(markerPath, error);
  }
  if (opened.needsShared && folder.global === undefined) {
    throw new KvbitsFileError(
      markerPath,
      folder.globalProblem ??
        `uses the ${codec.sharedFile?.title} but ${
          join(folder.dir, codec.sharedFile?.fileName ?? "")
        } is missing`,
    );
  }
  const companionPath = (name: string) => join(dirname(markerPath), name);
  const companions: Uint8Array[] = [];
  for (const { name, role } of opened.companions) {
    const path = companionPath(name);
    try {
      companions.push(await read(path, role));
    } catch (error) {
      throw fileErrorOf(path, error);
    }
  }
  try {
    return {
      decoded: opened.decode(companions, folder.global),
      inputMetaName: `${metaName}.json`,
    };
  } catch (error) {
    // A corrupt stream is reported at its own file; other problems at the marker.
    const companion = error instanceof KvbitsDataError
      ? opened.companions.find(({ role }) => role === error.stream)
      : undefined;
    throw fileErrorOf(
      companion ? companionPath(companion.name) : markerPath,
      error,
    );
  }
}
