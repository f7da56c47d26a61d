/**
 * Writing the files of one dump so that its marker file (the meta) appears only
 * when all the others are complete, after a kill or a power cut alike.
 *
 * @module
 */

import { dirname } from "@std/path";
import { fileErrorOf } from "./file_error.ts";
import {
  removeFileDurably,
  syncFolder,
  writeFileAtomic,
} from "./write_file_atomic.ts";

/** A file to write: where, and what. */
export interface FileToWrite {
  /** The path. */
  readonly path: string;
  /** The content. */
  readonly bytes: Uint8Array;
}

/**
 * Writes `files` and then `marker`, in that order, each through a temporary file:
 * 1. an existing `marker` is removed first (and the removal flushed), so that an
 *    old marker never stands beside new files;
 * 2. each file is written and renamed into place;
 * 3. their folders are flushed, so that the new files are on the disk;
 * 4. the marker is written and renamed into place.
 *
 * The marker's folder is added to `touched`; flush those folders at the end of
 * the job (`syncFolders`) to make the last markers durable. With `durable:
 * false`, steps 1 and 3 flush nothing.
 *
 * @param files The files of the dump.
 * @param marker The file whose presence says the dump is complete.
 * @param touched Collects folders that hold markers written since the last flush.
 * @param durable Flush to the disk (default true).
 * @throws {KvbitsFileError} Naming the file that could not be written.
 *
 * @example
 * ```ts
 * import { syncFolders, writeFilesThenMarker } from "./write_dump_files.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const root = await Deno.makeTempDir();
 * const touched = new Set<string>();
 * await writeFilesThenMarker(
 *   [{ path: `${root}/d/k.bin`, bytes: new Uint8Array([1]) }],
 *   { path: `${root}/d/meta.json`, bytes: new TextEncoder().encode("{}") },
 *   touched,
 * );
 * await syncFolders(touched);
 * assertEquals(await Deno.readTextFile(`${root}/d/meta.json`), "{}");
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export async function writeFilesThenMarker(
  files: readonly FileToWrite[],
  marker: FileToWrite,
  touched: Set<string>,
  durable = true,
): Promise<void> {
  await removeFileDurably(marker.path, { durable }).catch((error) => {
    throw fileErrorOf(marker.path, error);
  });
  const folders = new Set<string>();
  for (const { path, bytes } of files) {
    await writeFileAtomic(path, bytes, { durable }).catch((error) => {
      throw fileErrorOf(path, error);
    });
    folders.add(dirname(path));
  }
  if (durable) await syncFolders(folders);
  await writeFileAtomic(marker.path, marker.bytes, { durable }).catch(
    (error) => {
      throw fileErrorOf(marker.path, error);
    },
  );
  touched.add(dirname(marker.path));
}

/**
 * Flushes each folder to the disk and empties the set.
 *
 * @param folders Folders to flush.
 * @throws {KvbitsFileError} Naming a folder that cannot be flushed.
 *
 * @example
 * ```ts
 * import { syncFolders } from "./write_dump_files.ts";
 *
 * await syncFolders(new Set([Deno.cwd()]));
 * ```
 */
export async function syncFolders(folders: Set<string>): Promise<void> {
  for (const folder of folders) {
    await syncFolder(folder).catch((error) => {
      throw fileErrorOf(folder, error);
    });
  }
  folders.clear();
}
