/**
 * Flushing what a folder job wrote once, at its end: git's "batch" mode of
 * fsync as the model. Flushing each file as it was written, and each dump's
 * folder before its marker, cost more than the coding: on the ext4 virtual
 * disk here every flush is a journal commit of its own. Now the lanes write
 * everything (a dump's marker last), the job flushes it all
 * ({@link flushWritten}) and writes the folder's manifest last. A power cut
 * before that leaves the manifest marked incomplete, and the next run decodes
 * what the interrupted one wrote before keeping it.
 *
 * How it flushes: on Linux, when the process may run `sync`, with one
 * `sync -f` per job (syncfs(2) on each file system written to: one journal
 * commit for the whole folder; Deno has no call of its own for it); otherwise
 * each file's data, many at a time ({@link flushFiles}: concurrent flushes
 * share journal commits), then every folder once ({@link flushFoldersOf}).
 *
 * @module
 */

import { dirname } from "./path.ts";
import { fileErrorOf } from "./file_error.ts";
import { folderOfFile, syncFolderSync } from "./write_file_atomic.ts";

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

/** Flushes in flight at once: enough for the file system to group them. */
const CONCURRENT_FLUSHES = 64;

/**
 * Flushes the data of many files (fdatasync), many at a time: a journaling
 * file system commits concurrent flushes together (ext4 measured here: one
 * journal commit per flush when they come one by one, which made a folder of
 * thousands of small files take many times longer than writing it).
 *
 * @param files Paths of the files written.
 * @throws {KvbitsFileError} Naming a file that cannot be flushed.
 *
 * @example
 * ```ts
 * import { flushFiles } from "./flush_files.ts";
 *
 * const root = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${root}/a`, "1");
 * await flushFiles([`${root}/a`]);
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export async function flushFiles(files: readonly string[]): Promise<void> {
  let next = 0;
  const flushOne = async () => {
    while (next < files.length) {
      const path = files[next++];
      try {
        using file = await Deno.open(path, { read: true });
        await file.syncData();
      } catch (error) {
        throw fileErrorOf(path, error);
      }
    }
  };
  await Promise.all(
    Array.from(
      { length: Math.min(CONCURRENT_FLUSHES, files.length) },
      flushOne,
    ),
  );
}

/** How {@link flushWritten} flushed: one `sync -f`, or file by file. */
export type FlushMethod = "sync -f" | "files";

/**
 * Flushes files a job wrote below `root` (their data and their names, and the
 * folders made for them) to the disk, once, at the job's end: with `sync -f`
 * on each file system they are on when this is Linux and the process may run
 * `sync` (one journal commit instead of one a file), else with
 * {@link flushFiles} and {@link flushFoldersOf}.
 *
 * @param files Paths of the files written, all below `root`.
 * @param root The output folder.
 * @returns How the files were flushed.
 * @throws {KvbitsFileError} Naming a file or folder that cannot be flushed.
 *
 * @example
 * ```ts
 * import { flushWritten } from "./flush_files.ts";
 * import { writeFileAtomicSync } from "./write_file_atomic.ts";
 * import { assert } from "@std/assert";
 *
 * const root = await Deno.makeTempDir();
 * writeFileAtomicSync(`${root}/a/x.bin`, new Uint8Array([1]), { durable: false });
 * assert(["sync -f", "files"].includes(await flushWritten([`${root}/a/x.bin`], root)));
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export async function flushWritten(
  files: readonly string[],
  root: string,
): Promise<FlushMethod> {
  if (files.length === 0) return "files";
  if (await syncFileSystemsOf(files, root)) return "sync -f";
  await flushFiles(files);
  flushFoldersOf(files, root);
  return "files";
}

/**
 * Starts writing what a job has written so far below `root` to the disk, in
 * the background (`sync -f` on its file system), while the job goes on
 * writing: the flush at its end ({@link flushWritten}) then has less left to
 * write, and the job less to wait for (measured here: a folder of 15,000
 * small files, 0.25-0.5 s of final flush, 0.1 s after a background one at
 * half way). It promises nothing: only {@link flushWritten} makes files
 * durable. Nothing happens where `sync -f` cannot run (see
 * {@link flushWritten}); it never fails.
 *
 * @param root The output folder.
 * @returns When the flush is over.
 *
 * @example
 * ```ts
 * import { startBackgroundFlush } from "./flush_files.ts";
 *
 * const root = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${root}/a`, "1");
 * await startBackgroundFlush(root);
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export async function startBackgroundFlush(root: string): Promise<void> {
  if (!maySyncFileSystems()) return;
  try {
    await new Deno.Command("sync", {
      args: ["-f", "--", root],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).output();
  } catch {
    // No `sync` on the PATH: the final flush goes file by file.
  }
}

/**
 * Whether this process may flush file systems with `sync -f` (Linux, with
 * permission to run `sync`): then a job can leave each file's flush out and
 * flush once at its end ({@link syncFileSystemsOf}).
 *
 * @returns True when `sync -f` may run here.
 *
 * @example
 * ```ts
 * import { maySyncFileSystems } from "./flush_files.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(typeof maySyncFileSystems(), "boolean");
 * ```
 */
export function maySyncFileSystems(): boolean {
  return Deno.build.os === "linux" &&
    Deno.permissions.querySync({ name: "run", command: "sync" }).state ===
      "granted";
}

/**
 * Runs `sync -f` on one folder of each file system that the files' folders are
 * on (a folder below `root` may be a mount point, or a link to elsewhere).
 * False when it cannot be run here (not Linux, no permission, no `sync`, or it
 * failed): the caller flushes file by file then.
 *
 * @param files Paths of files written (none: `root`'s file system alone).
 * @param root The output folder.
 * @returns Whether the file systems were flushed.
 * @throws {KvbitsFileError} Naming a folder that cannot be looked at.
 *
 * @example
 * ```ts
 * import { maySyncFileSystems, syncFileSystemsOf } from "./flush_files.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const root = await Deno.makeTempDir();
 * const flushed = await syncFileSystemsOf([], root);
 * if (!maySyncFileSystems()) assertEquals(flushed, false);
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export async function syncFileSystemsOf(
  files: readonly string[],
  root: string,
): Promise<boolean> {
  if (!maySyncFileSystems()) return false;
  // One folder per few files: the cheap folder of each first.
  const folders = new Set([root]);
  for (const path of files) folders.add(folderOfFile(path));
  const byDevice = new Map<number, string>();
  for (const folder of folders) {
    try {
      const device = Deno.statSync(folder).dev;
      if (!byDevice.has(device)) byDevice.set(device, folder);
    } catch (error) {
      throw fileErrorOf(folder, error);
    }
  }
  try {
    const { success } = await new Deno.Command("sync", {
      args: ["-f", "--", ...byDevice.values()],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).output();
    return success;
  } catch {
    // No `sync` on the PATH: flushed file by file instead.
    return false;
  }
}
