/**
 * Flushing many written files at once, at the end of a job: git's "batch" mode
 * of fsync as the model. Writing thousands of small files, each flushed as it is
 * written (and its folder before the next dump's marker), cost more than the
 * coding; so the folder jobs write everything first (each file still through a
 * temporary file and a rename, so that a killed process never leaves a partial
 * one), then flush each file and each folder once, and write the folder's
 * manifest last. A power cut before that leaves an incomplete manifest, and the
 * next run checks what the interrupted one wrote before keeping it.
 *
 * @module
 */

import { dirname } from "@std/path";
import { fileErrorOf } from "./file_error.ts";
import { syncFolderSync } from "./write_file_atomic.ts";

/**
 * Flushes files to the disk (their data, fdatasync), then each folder that
 * holds one and each folder between those and `root` (their entries, fsync), so
 * that the files and their names survive a power cut.
 *
 * @param files Paths of the files written.
 * @param root The output folder: folders above it are not flushed.
 * @throws {KvbitsFileError} Naming the file or folder that cannot be flushed.
 *
 * @example
 * ```ts
 * import { flushFilesAndFolders } from "./flush_files.ts";
 * import { writeFileAtomicSync } from "./write_file_atomic.ts";
 *
 * const root = await Deno.makeTempDir();
 * const written = [`${root}/a/x.bin`, `${root}/a/b/y.bin`];
 * for (const path of written) writeFileAtomicSync(path, new Uint8Array([1]), { durable: false });
 * flushFilesAndFolders(written, root);
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export function flushFilesAndFolders(
  files: Iterable<string>,
  root: string,
): void {
  const folders = new Set<string>();
  for (const path of files) {
    try {
      using file = Deno.openSync(path, { read: true });
      file.syncDataSync();
    } catch (error) {
      throw fileErrorOf(path, error);
    }
    for (
      let folder = dirname(path);
      !folders.has(folder);
      folder = dirname(folder)
    ) {
      folders.add(folder);
      if (folder === root || dirname(folder) === folder) break;
    }
  }
  // Deepest first: a folder's entry in its parent after its own entries.
  for (const folder of [...folders].sort((a, b) => b.length - a.length)) {
    try {
      syncFolderSync(folder);
    } catch (error) {
      throw fileErrorOf(folder, error);
    }
  }
}
