/**
 * Writing files so that a reader never sees a partial one, and so that files reach
 * the disk in the order they were written.
 *
 * Read me first:
 * - Protocol of one write: create `.<name>.kvbits-tmp-<pid>-<n>` in the target's
 *   folder (exclusively, so an existing file or link of that name is never
 *   followed or clobbered), write the bytes, flush them to the disk (fdatasync),
 *   rename the file onto the target. Folders that have to be created are flushed
 *   into their parent (fsync of the parent).
 * - Killing the process (SIGKILL) at any moment leaves the old target (or none)
 *   or the complete new one, plus at most one temporary file. Every reader of
 *   kvbits ignores names that start with a dot, and
 *   `removeStaleTemporaryFiles` removes the temporary files of processes that no
 *   longer run.
 * - Why flush at all: a killed process loses nothing the kernel has accepted, so
 *   SIGKILL alone would not need it. A power cut or a kernel crash can, though:
 *   without the flushes a renamed file may come back empty, or a later rename may
 *   reach the disk while an earlier one does not. The data flush makes a file
 *   complete on the disk before its name appears; the renames themselves reach
 *   the disk when the caller flushes the folder ({@link syncFolder}), which the
 *   jobs do where order matters: after a dump's streams and before its meta, and
 *   at the end of the job. That is what "a dump is complete when its meta exists"
 *   needs after a power cut too. Cost measured here (ext4 on a virtual disk):
 *   about 0.3 ms per flush; `durable: false` leaves the flushes out.
 * - Files whose completeness a later file vouches for (a dump's streams, before
 *   its meta) can skip the temporary file: {@link writeNewFileSync} writes
 *   them in place, in one call.
 * - Folders are not flushed on Windows, which cannot open a folder as a file.
 * - One implementation, synchronous: {@link writeFileAtomicSync}. The lanes of the
 *   folder jobs write each dump's files in one thread at a time, where blocking
 *   costs nothing and each call is several times cheaper than its asynchronous
 *   twin; the asynchronous functions here only wrap the synchronous ones. A
 *   caller that writes many files into few folders passes a set of folders
 *   known to exist (`folders`), so that each is made (or found) once.
 * - The crash-test hook (`crash_test_hook.ts`) is called by every write, in
 *   whichever thread it runs; writes are counted per thread (a worker counts
 *   its own).
 *
 * @module
 */

import { basename, dirname } from "./path.ts";
import { pauseIfRequested, pauseRequestedAt } from "./crash_test_hook.ts";

/** Marks kvbits' temporary files: `.<name>.kvbits-tmp-<pid>-<n>`. */
export const TEMPORARY_FILE_MARK = ".kvbits-tmp-";

/** Options of {@link writeFileAtomicSync} and {@link writeFileAtomic}. */
export interface WriteOptions {
  /**
   * Flush the file's bytes to the disk before its name appears (default true);
   * flush the folder afterwards ({@link syncFolder}) to make the name durable.
   */
  readonly durable?: boolean;
  /**
   * Folders known to exist, which are not checked again; folders that a write
   * makes or finds are added, and a failed write takes its folder out (it may
   * have been removed). Without it every write checks its folder.
   */
  readonly folders?: Set<string>;
}

/** Writes in this thread, for temporary names and the test hook. */
let writeCounter = 0;

/**
 * Writes `bytes` to `path` through a temporary file in the same folder that is
 * renamed into place, creating missing folders. A crash leaves either the old file
 * (or none) or the complete new one, plus at most a temporary file whose name
 * starts with a dot and contains {@link TEMPORARY_FILE_MARK}; a failed write
 * removes its temporary file.
 *
 * @param path The file to write.
 * @param bytes Its new content.
 * @param options `durable` (default true): flush the file to the disk before
 * the rename; `folders`: folders known to exist.
 * @throws {Error} When a folder cannot be made, or the file cannot be written
 * or renamed (the temporary file is removed first).
 *
 * @example Many files, each folder made once
 * ```ts
 * import { writeFileAtomicSync } from "./write_file_atomic.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const root = await Deno.makeTempDir();
 * const folders = new Set<string>();
 * writeFileAtomicSync(`${root}/a/b/x.bin`, new Uint8Array([7]), { folders });
 * writeFileAtomicSync(`${root}/a/b/y.bin`, new Uint8Array([8]), { folders, durable: false });
 * assertEquals([...folders], [`${root}/a/b`]);
 * assertEquals([...Deno.readDirSync(`${root}/a/b`)].map((entry) => entry.name).sort(), ["x.bin", "y.bin"]);
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export function writeFileAtomicSync(
  path: string,
  bytes: Uint8Array,
  options: WriteOptions = {},
): void {
  const durable = options.durable ?? true;
  const folders = options.folders;
  const write = ++writeCounter;
  const folder = folderOfFile(path);
  if (!folders?.has(folder)) {
    ensureFolder(folder, durable);
    folders?.add(folder);
  }
  let temporary: string;
  let file: Deno.FsFile | undefined;
  for (let attempt = 0;; attempt++) {
    temporary = `${folder}/${
      temporaryNameOf(
        basename(path),
        `${Deno.pid}-${write}` + (attempt ? `-${attempt}` : ""),
      )
    }`;
    try {
      // Without a flush, one call writes the whole file.
      if (durable) {
        file = Deno.openSync(temporary, { write: true, createNew: true });
      } else Deno.writeFileSync(temporary, bytes, { createNew: true });
      break;
    } catch (error) {
      // A leftover of an earlier process with our pid, or a name another
      // thread of this process took (each counts its own writes): take the
      // next name.
      if (!(error instanceof Deno.errors.AlreadyExists) || attempt >= 100) {
        // What a failed write made of the file (a full disk) is ours.
        if (!(error instanceof Deno.errors.AlreadyExists)) {
          removeQuietly(temporary);
        }
        // A folder removed behind our back is made again by the next write.
        folders?.delete(folder);
        throw error;
      }
    }
  }
  try {
    if (file !== undefined) {
      try {
        let written = 0;
        while (written < bytes.length) {
          written += file.writeSync(bytes.subarray(written));
        }
        file.syncDataSync();
      } finally {
        file.close();
      }
    }
    pauseIfRequested(write, "temp", path);
    Deno.renameSync(temporary, path);
  } catch (error) {
    removeQuietly(temporary);
    folders?.delete(folder);
    throw error;
  }
  pauseIfRequested(write, "renamed", path);
}

/**
 * The folder of a file's path: `dirname` without its normalizing (a cost per
 * file when a job writes thousands), for paths with a folder part and no
 * trailing `/`, as the jobs make them; any other path goes to `dirname`.
 *
 * @param path A file's path.
 * @returns Its folder.
 *
 * @example
 * ```ts
 * import { folderOfFile } from "./write_file_atomic.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(folderOfFile("/out/run/layer_0/k.huff"), "/out/run/layer_0");
 * assertEquals(folderOfFile("k.huff"), ".");
 * ```
 */
export function folderOfFile(path: string): string {
  const end = path.lastIndexOf("/");
  return end > 0 && end < path.length - 1 ? path.slice(0, end) : dirname(path);
}

/** Removes a file this process made, if it is there. */
function removeQuietly(path: string): void {
  try {
    Deno.removeSync(path);
  } catch {
    // Never made, or gone already.
  }
}

/**
 * Writes `bytes` to a new file `path` in one call, under its final name (no
 * temporary file, no rename, no flush: half the system calls of
 * {@link writeFileAtomicSync}), making missing folders. For files whose
 * completeness something written after them vouches for (a dump's streams,
 * before its meta): a killed process can leave such a file cut short. When
 * something is at `path` already (a file cut short by a killed run, an old
 * output, a link), the file is written by {@link writeFileAtomicSync} instead,
 * which replaces it without following a link.
 *
 * @param path The file to write.
 * @param bytes Its content.
 * @param options `folders`: folders known to exist; `durable`: for the
 * replacement of an existing file.
 * @throws {Error} When a folder cannot be made, or the file cannot be written
 * (what was written of it is removed).
 *
 * @example
 * ```ts
 * import { writeNewFileSync } from "./write_file_atomic.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const root = await Deno.makeTempDir();
 * writeNewFileSync(`${root}/a/x.bin`, new Uint8Array([7]));
 * writeNewFileSync(`${root}/a/x.bin`, new Uint8Array([8, 9])); // replaced
 * assertEquals([...await Deno.readFile(`${root}/a/x.bin`)], [8, 9]);
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export function writeNewFileSync(
  path: string,
  bytes: Uint8Array,
  options: WriteOptions = {},
): void {
  const folders = options.folders;
  const folder = folderOfFile(path);
  if (!folders?.has(folder)) {
    ensureFolder(folder, options.durable ?? true);
    folders?.add(folder);
  }
  const write = ++writeCounter;
  try {
    if (pauseRequestedAt(write)) {
      // A crash test stops here with the file cut in half.
      const half = bytes.length >> 1;
      Deno.writeFileSync(path, bytes.subarray(0, half), { createNew: true });
      pauseIfRequested(write, "temp", path);
      Deno.writeFileSync(path, bytes.subarray(half), { append: true });
    } else {
      Deno.writeFileSync(path, bytes, { createNew: true });
    }
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists) {
      writeFileAtomicSync(path, bytes, options);
      return;
    }
    removeQuietly(path);
    folders?.delete(folder);
    throw error;
  }
  pauseIfRequested(write, "renamed", path);
}

/** Stateless: encodes names to count their bytes. */
const UTF8 = new TextEncoder();

/** Longest file name, in bytes of UTF-8, on the common file systems. */
const MAX_NAME_BYTES = 255;

/**
 * The temporary name of a file: `.<name>.kvbits-tmp-<id>`, with `<name>` cut
 * (at a character boundary) so that the whole stays within 255 bytes: a legal
 * 247-character name must not make its temporary name illegal. The id keeps it
 * unique; the cut name only helps a person see whose it is.
 *
 * @param name The target's file name.
 * @param id The writer's pid and write number, e.g. `4242-7`.
 * @returns The temporary file's name.
 *
 * @example
 * ```ts
 * import { temporaryNameOf } from "./write_file_atomic.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(temporaryNameOf("k.bin", "42-1"), ".k.bin.kvbits-tmp-42-1");
 * assertEquals(new TextEncoder().encode(temporaryNameOf("é".repeat(127), "42-1")).length <= 255, true);
 * ```
 */
export function temporaryNameOf(name: string, id: string): string {
  const suffix = `${TEMPORARY_FILE_MARK}${id}`;
  const room = MAX_NAME_BYTES - 1 - suffix.length;
  let cut = name;
  // Three bytes of UTF-8 at most per UTF-16 unit: most names need no count.
  if (3 * name.length > room && UTF8.encode(name).length > room) {
    let bytes = 0;
    let end = 0;
    for (const char of name) {
      const length = UTF8.encode(char).length;
      if (bytes + length > room) break;
      bytes += length;
      end += char.length;
    }
    cut = name.slice(0, end);
  }
  return `.${cut}${suffix}`;
}

/**
 * {@link writeFileAtomicSync}, for callers that await.
 *
 * @param path The file to write.
 * @param bytes Its new content.
 * @param options `durable` (default true): flush the file to the disk.
 *
 * @example
 * ```ts
 * import { writeFileAtomic } from "./write_file_atomic.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const root = await Deno.makeTempDir();
 * await writeFileAtomic(`${root}/a/b/x.bin`, new Uint8Array([7]));
 * await writeFileAtomic(`${root}/a/b/x.bin`, new Uint8Array([8, 9]));
 * assertEquals([...await Deno.readFile(`${root}/a/b/x.bin`)], [8, 9]);
 * assertEquals([...Deno.readDirSync(`${root}/a/b`)].map((entry) => entry.name), ["x.bin"]);
 * await Deno.remove(root, { recursive: true });
 * ```
 */
// deno-lint-ignore require-await -- async, so that errors reject
export async function writeFileAtomic(
  path: string,
  bytes: Uint8Array,
  options: WriteOptions = {},
): Promise<void> {
  writeFileAtomicSync(path, bytes, options);
}

/**
 * Removes a file if it exists, flushing the removal to the disk: used to take a
 * dump's meta away before its other files are replaced, so that a crash never
 * leaves an old meta beside new streams.
 *
 * @param path The file.
 * @param options `durable` (default true): flush the folder afterwards.
 * @returns Whether there was a file to remove.
 *
 * @example
 * ```ts
 * import { removeFileDurablySync } from "./write_file_atomic.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const path = await Deno.makeTempFile();
 * assertEquals(removeFileDurablySync(path), true);
 * assertEquals(removeFileDurablySync(path), false);
 * ```
 */
export function removeFileDurablySync(
  path: string,
  options: WriteOptions = {},
): boolean {
  try {
    Deno.removeSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
  if (options.durable ?? true) syncFolderSync(dirname(path));
  return true;
}

/**
 * {@link removeFileDurablySync}, for callers that await.
 *
 * @param path The file.
 * @param options `durable` (default true): flush the folder afterwards.
 * @returns Whether there was a file to remove.
 *
 * @example
 * ```ts
 * import { removeFileDurably } from "./write_file_atomic.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const path = await Deno.makeTempFile();
 * assertEquals(await removeFileDurably(path), true);
 * assertEquals(await removeFileDurably(path), false);
 * ```
 */
// deno-lint-ignore require-await -- async, so that errors reject
export async function removeFileDurably(
  path: string,
  options: WriteOptions = {},
): Promise<boolean> {
  return removeFileDurablySync(path, options);
}

/** Creates `folder` and its missing parents, flushing each new entry into its parent. */
function ensureFolder(folder: string, durable: boolean): void {
  if (!durable) {
    // Nothing to flush: one call makes or finds the folders (an error for
    // every missing one, as below, costs more than making it). When it fails
    // (a file in the way), the steps below say why.
    try {
      Deno.mkdirSync(folder, { recursive: true });
      return;
    } catch {
      // Said below.
    }
  }
  try {
    if (Deno.statSync(folder).isDirectory) return;
    throw new Error(`cannot create folder ${folder}: a file is in the way`);
  } catch (error) {
    // Not found, or a parent is a file (found when the parent is made).
    if (
      !(error instanceof Deno.errors.NotFound) &&
      !(error instanceof Deno.errors.NotADirectory)
    ) throw error;
  }
  const parent = dirname(folder);
  if (parent !== folder) ensureFolder(parent, durable);
  try {
    Deno.mkdirSync(folder);
  } catch (error) {
    // Another writer made it meanwhile: fine.
    if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
    if (Deno.statSync(folder).isDirectory) return;
    throw new Error(`cannot create folder ${folder}: a file is in the way`);
  }
  if (durable) syncFolderSync(parent);
}

/**
 * Flushes a folder to the disk (fsync), so that the renames, creations and
 * removals made in it so far survive a power cut. Nothing on Windows.
 *
 * @param folder The folder.
 *
 * @example
 * ```ts
 * import { syncFolderSync, writeFileAtomicSync } from "./write_file_atomic.ts";
 *
 * const root = await Deno.makeTempDir();
 * writeFileAtomicSync(`${root}/a.bin`, new Uint8Array([1]));
 * writeFileAtomicSync(`${root}/b.bin`, new Uint8Array([2]));
 * syncFolderSync(root); // both names are on the disk now
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export function syncFolderSync(folder: string): void {
  if (Deno.build.os === "windows") return;
  using handle = Deno.openSync(folder, { read: true });
  handle.syncSync();
}

/**
 * {@link syncFolderSync}, for callers that await.
 *
 * @param folder The folder.
 *
 * @example
 * ```ts
 * import { syncFolder, writeFileAtomic } from "./write_file_atomic.ts";
 *
 * const root = await Deno.makeTempDir();
 * await writeFileAtomic(`${root}/a.bin`, new Uint8Array([1]));
 * await syncFolder(root);
 * await Deno.remove(root, { recursive: true });
 * ```
 */
// deno-lint-ignore require-await -- async, so that errors reject
export async function syncFolder(folder: string): Promise<void> {
  syncFolderSync(folder);
}
