/**
 * Finding and removing the temporary files that an interrupted run left behind.
 *
 * `writeFileAtomic` names its temporary files `.<name>.kvbits-tmp-<pid>-<n>`. A
 * process killed between creating one and renaming it leaves it behind. Readers
 * never mistake it for an output (its name starts with a dot), so leaving it is
 * safe; removing it makes the output folder equal to that of an uninterrupted run.
 *
 * Which ones are left behind: kvbits writes into a folder only while it holds the
 * folder's lock (`lockFolder`), so while a job holds the lock of its output
 * folder, every temporary file below it belongs to a run that has ended, except
 * below a sub-folder that another running job has locked for itself; those are
 * left alone.
 *
 * @module
 */

import { join } from "./path.ts";
import { LOCK_FILE_NAME, whileLockedByNobody } from "./folder_lock.ts";

/** Name of a temporary file of `writeFileAtomic`: target name, pid, counter. */
const TEMPORARY_FILE_NAME = /^\.(.+)\.kvbits-tmp-(\d+)-\d+(-\d+)?$/s;

/**
 * The process id in a temporary file's name, or undefined when the name is not
 * one of kvbits' temporary files.
 *
 * @param name A file name.
 * @returns The pid of the writer.
 *
 * @example
 * ```ts
 * import { temporaryFileWriter } from "./temporary_files.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(temporaryFileWriter(".k_hi6_meta_t0_1.huff.kvbits-tmp-4242-7"), 4242);
 * assertEquals(temporaryFileWriter("k_hi6_meta_t0_1.huff"), undefined);
 * ```
 */
export function temporaryFileWriter(name: string): number | undefined {
  const match = TEMPORARY_FILE_NAME.exec(name);
  return match ? Number(match[2]) : undefined;
}

/**
 * Removes the temporary files below `root` that runs which have ended left
 * behind. The caller must hold the lock of `root` (see `lockFolder`). Sub-folders
 * locked by a running process, folders in `skip`, dot-folders and folder links
 * are not entered.
 * Best effort: what cannot be read or removed is left as it is (it is harmless).
 *
 * @param root A folder whose lock the caller holds.
 * @param skip Real paths of folders not to enter (the job's inputs).
 * @returns Paths of the files removed, sorted.
 *
 * @example
 * ```ts
 * import { lockFolder } from "./folder_lock.ts";
 * import { removeStaleTemporaryFiles } from "./temporary_files.ts";
 * import { assert, assertEquals } from "@std/assert";
 *
 * const root = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${root}/.x.json.kvbits-tmp-4242-1`, "{");
 * await Deno.writeTextFile(`${root}/x.json`, "{}");
 * const lock = await lockFolder(root);
 * assert("release" in lock);
 * assertEquals(await removeStaleTemporaryFiles(root), [`${root}/.x.json.kvbits-tmp-4242-1`]);
 * await lock.release();
 * assertEquals([...Deno.readDirSync(root)].map((entry) => entry.name), ["x.json"]);
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export async function removeStaleTemporaryFiles(
  root: string,
  skip: readonly string[] = [],
): Promise<string[]> {
  const removed: string[] = [];
  const visit = async (folder: string) => {
    const entries: Deno.DirEntry[] = [];
    try {
      for await (const entry of Deno.readDir(folder)) entries.push(entry);
    } catch {
      return;
    }
    for (const entry of entries) {
      const path = join(folder, entry.name);
      if (entry.isDirectory) {
        // kvbits writes no output below a dot-folder (such as .git): not entered.
        if (entry.name.startsWith(".")) continue;
        const real = await Deno.realPath(path).catch(() => path);
        if (skip.includes(real)) continue;
        if (!await hasLockFile(path)) await visit(path);
        else await whileLockedByNobody(path, () => visit(path));
        continue;
      }
      if (!entry.isFile || temporaryFileWriter(entry.name) === undefined) {
        continue;
      }
      try {
        await Deno.remove(path);
        removed.push(path);
      } catch {
        // Gone meanwhile, or not ours to remove: harmless either way.
      }
    }
  };
  await visit(root);
  return removed.sort();
}

async function hasLockFile(folder: string): Promise<boolean> {
  try {
    return (await Deno.lstat(join(folder, LOCK_FILE_NAME))).isFile;
  } catch {
    return false;
  }
}
