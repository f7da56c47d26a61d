/**
 * Flushing the folders a job wrote into once, at its end: git's "batch" mode of
 * fsync as the model. Flushing each dump's folder before its marker, as the
 * folder jobs did, cost a folder flush per dump on top of the files' own. Now a
 * lane flushes each file's data as it writes it (through a temporary file and a
 * rename, so that a killed process never leaves a partial file), the job
 * flushes every folder that received files once at its end, and writes the
 * folder's manifest last. A power cut before that leaves the manifest marked
 * incomplete, and the next run checks what the interrupted one wrote before
 * keeping it.
 *
 * @module
 */

import { dirname } from "@std/path";
import { fileErrorOf } from "./file_error.ts";
import { syncFolderSync } from "./write_file_atomic.ts";

/**
 * Flushes (fsync) the folder of each file and each folder between those and
 * `root`, deepest first, so that the files' names, and the folders made for
 * them, survive a power cut.
 *
 * @param files Paths of files written (one per folder is enough).
 * @param root The output folder: folders above it are not flushed.
 * @returns The number of folders flushed.
 * @throws {KvbitsFileError} Naming the folder that cannot be flushed.
 *
 * @example
 * ```ts
 * import { flushFoldersOf } from "./flush_files.ts";
 * import { writeFileAtomicSync } from "./write_file_atomic.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const root = await Deno.makeTempDir();
 * const written = [`${root}/a/x.bin`, `${root}/a/b/y.bin`, `${root}/a/b/z.bin`];
 * for (const path of written) writeFileAtomicSync(path, new Uint8Array([1]));
 * assertEquals(flushFoldersOf(written, root), 3); // a/b, a and the root
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export function flushFoldersOf(files: Iterable<string>, root: string): number {
  const folders = new Set<string>();
  for (const path of files) {
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
  return folders.size;
}
