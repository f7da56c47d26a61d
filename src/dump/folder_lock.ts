/**
 * One writer per output folder: a lock file that the kernel releases when the
 * process ends, however it ends.
 *
 * Read me first:
 * - The lock is an exclusive `flock` on `<folder>/.kvbits-lock`, taken without
 *   waiting. A process killed with SIGKILL holds no lock any more, so a lock file
 *   left behind by a crash never blocks the next run; only a running process does.
 * - The holder removes the lock file before releasing the lock, so a finished run
 *   leaves no trace. Removing a lock file opens a race (another process may have
 *   opened the old file and lock it after its removal), closed the usual way: after
 *   locking, a taker checks that the path still names the file it locked, and
 *   starts again when it does not.
 * - While a folder is locked, every temporary file below it was left by a run that
 *   no longer runs (see `removeStaleTemporaryFiles`).
 *
 * @module
 */

import { join } from "./path.ts";
import { KvbitsFileError } from "./file_error.ts";

/** Name of the lock file in a locked folder. */
export const LOCK_FILE_NAME = ".kvbits-lock";

/** A held folder lock; `release()` (or `await using`) removes the lock file. */
export interface FolderLock extends AsyncDisposable {
  /** The locked folder. */
  readonly folder: string;
  /**
   * False when the file system cannot lock files (some network and FUSE file
   * systems): the job then runs without the lock, and without the clean-up that
   * relies on it, rather than not at all.
   */
  readonly held: boolean;
  /** Removes the lock file and releases the lock; safe to call twice. */
  release(): Promise<void>;
}

/** Who holds a folder's lock, when it could not be taken. */
export interface FolderBusy {
  /** The pid written in the lock file by its holder, when readable. */
  readonly holderPid?: number;
}

/**
 * Takes the lock of `folder` without waiting, creating the folder when missing.
 *
 * @param folder The folder to lock.
 * @returns The lock, or who holds it when another open lock file has it. On a
 * file system without locks, a lock that is not `held`.
 * @throws {Error} When the folder or the lock file cannot be created.
 * @throws {KvbitsFileError} When the lock file's name holds a symbolic link or
 * anything but a regular file (never followed or written).
 *
 * @example A second taker is refused until the first releases the lock
 * ```ts
 * import { lockFolder } from "./folder_lock.ts";
 * import { assert, assertEquals } from "@std/assert";
 *
 * const folder = await Deno.makeTempDir();
 * const first = await lockFolder(folder);
 * assert("release" in first);
 * assertEquals(await lockFolder(folder), { holderPid: Deno.pid });
 * await first.release();
 * const again = await lockFolder(folder);
 * assert("release" in again);
 * await again.release();
 * assertEquals([...Deno.readDirSync(folder)], []);
 * await Deno.remove(folder);
 * ```
 */
export async function lockFolder(
  folder: string,
): Promise<FolderLock | FolderBusy> {
  await Deno.mkdir(folder, { recursive: true });
  const path = join(folder, LOCK_FILE_NAME);
  for (;;) {
    // Never follow a link: the lock file is truncated and written, and a link
    // would make that happen to its target, wherever it is.
    const existing = await Deno.lstat(path).catch(() => undefined);
    if (existing !== undefined && !existing.isFile) {
      throw new KvbitsFileError(
        path,
        `is ${
          existing.isSymlink ? "a symbolic link" : "not a regular file"
        }, not kvbits' lock file; remove it and run again`,
      );
    }
    const file = await Deno.open(path, {
      read: true,
      write: true,
      create: true,
    });
    let locked: boolean;
    try {
      locked = await file.tryLock(true);
    } catch {
      // No locks on this file system: go on without one.
      file.close();
      await Deno.remove(path).catch(() => {});
      const release = () => Promise.resolve();
      return { folder, held: false, release, [Symbol.asyncDispose]: release };
    }
    if (!locked) {
      file.close();
      return { holderPid: await readHolderPid(path) };
    }
    if (await isSameFile(file, path)) {
      await file.truncate(0);
      await file.write(new TextEncoder().encode(`${Deno.pid}\n`));
      let released = false;
      const release = async () => {
        if (released) return;
        released = true;
        await Deno.remove(path).catch(() => {});
        file.close();
      };
      return { folder, held: true, release, [Symbol.asyncDispose]: release };
    }
    // The holder removed the file between our open and our lock: start again.
    file.close();
  }
}

/**
 * Runs `body` while holding the lock of a folder that is not ours (a folder below
 * the one a job holds, owned by whoever locked it last), without creating or
 * removing its lock file. Returns false, without running `body`, when a running
 * process holds it.
 *
 * @param folder A folder that holds a lock file.
 * @param body What to do while it is locked.
 * @returns Whether `body` ran.
 *
 * @example
 * ```ts
 * import { lockFolder, whileLockedByNobody } from "./folder_lock.ts";
 * import { assert, assertEquals } from "@std/assert";
 *
 * const folder = await Deno.makeTempDir();
 * const lock = await lockFolder(folder);
 * assert("release" in lock);
 * assertEquals(await whileLockedByNobody(folder, async () => {}), false);
 * await lock.release();
 * await Deno.remove(folder);
 * ```
 */
export async function whileLockedByNobody(
  folder: string,
  body: () => Promise<void>,
): Promise<boolean> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(join(folder, LOCK_FILE_NAME), {
      read: true,
      write: true,
    });
  } catch {
    return false;
  }
  try {
    if (!await file.tryLock(true).catch(() => false)) return false;
    await body();
    return true;
  } finally {
    file.close();
  }
}

async function isSameFile(file: Deno.FsFile, path: string): Promise<boolean> {
  const opened = await file.stat();
  const named = await Deno.lstat(path).catch(() => undefined);
  if (named === undefined) return false;
  // Windows gives no inode numbers; it cannot remove an open file either.
  return opened.ino === null ||
    (opened.ino === named.ino && opened.dev === named.dev);
}

async function readHolderPid(path: string): Promise<number | undefined> {
  const text = await Deno.readTextFile(path).catch(() => "");
  const pid = Number.parseInt(text, 10);
  return Number.isSafeInteger(pid) ? pid : undefined;
}
