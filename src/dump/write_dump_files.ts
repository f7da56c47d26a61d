/**
 * Writing the files of one dump so that its marker file (the meta, or a one-file
 * layout's only file) appears only when all the others are complete, after a
 * kill or a power cut alike. Every lane of the folder jobs writes its dumps
 * through {@link writeFilesThenMarker}; the job flushes the markers' folders at
 * its end ({@link syncFolders}).
 *
 * @module
 */

import { dirname } from "./path.ts";
import { fileErrorOf } from "./file_error.ts";
import {
  removeFileDurablySync,
  syncFolderSync,
  writeFileAtomicSync,
  writeNewFileSync,
  type WriteOptions,
} from "./write_file_atomic.ts";

/** A file to write: where, and what. */
export interface FileToWrite {
  /** The path. */
  readonly path: string;
  /** The content. */
  readonly bytes: Uint8Array;
}

/**
 * Writes `files` and then `marker`, in that order, each through a temporary file
 * (`writeFileAtomicSync`; `files` in place with `inPlace`):
 * 1. an existing `marker` is removed first (and the removal flushed), so that an
 *    old marker never stands beside new files;
 * 2. each file is written and renamed into place (or written in place);
 * 3. their folders are flushed, so that the new files are on the disk;
 * 4. the marker is written and renamed into place.
 *
 * Flush the marker's folder at the end of the job ({@link syncFolders}) to make
 * the last markers durable. With `durable: false`, steps 1 and 3 flush nothing
 * and neither do the writes.
 *
 * @param files The files of the dump (none for a one-file layout).
 * @param marker The file whose presence says the dump is complete.
 * @param options `durable` (default true), the writer's set of `folders`
 * known to exist, and `markerAbsent` when the caller has just seen that there is
 * no marker to remove (saves a failing system call per dump).
 * @throws {KvbitsFileError} Naming the file that could not be written.
 *
 * @example
 * ```ts
 * import { syncFolders, writeFilesThenMarker } from "./write_dump_files.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const root = await Deno.makeTempDir();
 * writeFilesThenMarker(
 *   [{ path: `${root}/d/k.bin`, bytes: new Uint8Array([1]) }],
 *   { path: `${root}/d/meta.json`, bytes: new TextEncoder().encode("{}") },
 * );
 * await syncFolders(new Set([`${root}/d`]));
 * assertEquals(await Deno.readTextFile(`${root}/d/meta.json`), "{}");
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export function writeFilesThenMarker(
  files: readonly FileToWrite[],
  marker: FileToWrite,
  options: WriteOptions & {
    /** The caller knows the marker does not exist: nothing to remove. */
    readonly markerAbsent?: boolean;
    /**
     * The caller flushes the folders later, after all its dumps and before a
     * record written last (the manifest): step 3 is left out, and the
     * removal of an old marker is not flushed either.
     */
    readonly foldersLater?: boolean;
    /**
     * Write `files` under their final names ({@link writeNewFileSync}), not
     * through temporary files: a kill can leave one cut short, but never
     * beside a marker, which still comes last through a temporary file.
     */
    readonly inPlace?: boolean;
  } = {},
): void {
  const durable = options.durable ?? true;
  if (!options.markerAbsent) {
    try {
      removeFileDurablySync(marker.path, {
        durable: durable && !options.foldersLater,
      });
    } catch (error) {
      throw fileErrorOf(marker.path, error);
    }
  }
  const folders = new Set<string>();
  const write = options.inPlace ? writeNewFileSync : writeFileAtomicSync;
  for (const { path, bytes } of files) {
    try {
      write(path, bytes, options);
    } catch (error) {
      throw fileErrorOf(path, error);
    }
    folders.add(dirname(path));
  }
  if (durable && !options.foldersLater) {
    for (const folder of folders) {
      try {
        syncFolderSync(folder);
      } catch (error) {
        throw fileErrorOf(folder, error);
      }
    }
  }
  try {
    writeFileAtomicSync(marker.path, marker.bytes, options);
  } catch (error) {
    throw fileErrorOf(marker.path, error);
  }
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
// deno-lint-ignore require-await -- async, so that errors reject
export async function syncFolders(folders: Set<string>): Promise<void> {
  for (const folder of folders) {
    try {
      syncFolderSync(folder);
    } catch (error) {
      throw fileErrorOf(folder, error);
    }
  }
  folders.clear();
}
