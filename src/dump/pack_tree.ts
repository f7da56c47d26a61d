/**
 * The files of a folder tree, as a pack stores them: every regular file and every
 * empty folder, by `/`-separated relative path; and the reads and writes of them.
 *
 * Read me first:
 * - kvbits' own temporary files and folder locks are left out; so is any path
 *   given in `skip` (the pack being written, when it is inside the folder).
 * - Symbolic links and other files that are not regular files (FIFOs, devices,
 *   sockets) are not followed or read: they are listed as refused, with why.
 *
 * @module
 */

import { basename, dirname, join, resolve } from "./path.ts";
import { fileErrorOf } from "./file_error.ts";
import { LOCK_FILE_NAME } from "./folder_lock.ts";
import { readFileSync, readListedFileSync, RegularFiles } from "./read_file.ts";
import {
  syncFolderSync,
  TEMPORARY_FILE_MARK,
  temporaryNameOf,
  writeFileAtomicSync,
} from "./write_file_atomic.ts";

/** What a folder tree holds. */
export interface TreeListing {
  /** Regular files, sorted. */
  readonly files: string[];
  /** Folders with nothing in them, sorted. */
  readonly emptyFolders: string[];
  /** Entries that are not regular files or folders, with why. */
  readonly refused: { readonly path: string; readonly reason: string }[];
}

/** What one folder of a tree holds (names, sorted). */
export interface FolderListing {
  /** Names of its regular files. */
  readonly files: string[];
  /** Names of its folders. */
  readonly folders: string[];
  /** Entries that are not regular files or folders, with why. */
  readonly refused: { readonly path: string; readonly reason: string }[];
}

/**
 * Lists one folder of a tree (what {@link listTree} does for each folder).
 *
 * @param root The tree's folder.
 * @param folder The folder's relative path (`""` for the root).
 * @param skip Absolute paths to leave out (resolved: as `resolve` gives them).
 * @returns Its files and folders by name, and refused entries by path.
 * @throws {KvbitsFileError} When the folder cannot be read.
 *
 * @example
 * ```ts
 * import { listFolder } from "./pack_tree.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const root = await Deno.makeTempDir();
 * await Deno.mkdir(`${root}/a/b`, { recursive: true });
 * await Deno.writeTextFile(`${root}/a/x.txt`, "x");
 * assertEquals(listFolder(root, "a"), { files: ["x.txt"], folders: ["b"], refused: [] });
 * assertEquals(listFolder(root, "a", [`${root}/a/x.txt`]).files, []);
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export function listFolder(
  root: string,
  folder: string,
  skip: readonly string[] = [],
): FolderListing {
  const full = folder === "" ? root : join(root, folder);
  const prefix = folder === "" ? "" : `${folder}/`;
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(full)];
  } catch (error) {
    throw fileErrorOf(full, error);
  }
  const listing: FolderListing = { files: [], folders: [], refused: [] };
  // Paths are resolved only for names that a skipped path ends with.
  const skipNames = skip.map((path) => basename(path));
  for (const entry of entries) {
    const name = entry.name;
    if (name === LOCK_FILE_NAME || name.includes(TEMPORARY_FILE_MARK)) continue;
    if (skipNames.includes(name) && skip.includes(resolve(join(full, name)))) {
      continue;
    }
    if (entry.isDirectory) listing.folders.push(name);
    else if (entry.isFile) listing.files.push(name);
    else {
      listing.refused.push({
        path: prefix + name,
        reason: entry.isSymlink
          ? "a symbolic link (packs hold regular files only)"
          : "not a regular file",
      });
    }
  }
  listing.files.sort();
  listing.folders.sort();
  return listing;
}

/**
 * The size of a file of a tree.
 *
 * @param root The tree's folder.
 * @param path The file's relative path.
 * @returns Its size in bytes.
 * @throws {KvbitsFileError} Naming the file.
 *
 * @example
 * ```ts
 * import { treeFileSize } from "./pack_tree.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const root = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${root}/x`, "abc");
 * assertEquals(treeFileSize(root, "x"), 3);
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export function treeFileSize(root: string, path: string): number {
  const full = join(root, path);
  try {
    return Deno.statSync(full).size;
  } catch (error) {
    throw fileErrorOf(full, error);
  }
}

/**
 * Lists a folder tree.
 *
 * @param root The folder.
 * @param skip Absolute paths to leave out.
 * @returns Its files, empty folders and refused entries.
 * @throws {KvbitsFileError} When a folder cannot be read.
 *
 * @example
 * ```ts
 * import { listTree } from "./pack_tree.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const root = await Deno.makeTempDir();
 * await Deno.mkdir(`${root}/a/empty`, { recursive: true });
 * await Deno.writeTextFile(`${root}/a/x.txt`, "x");
 * await Deno.writeTextFile(`${root}/.hidden`, "h");
 * assertEquals(listTree(root), { files: [".hidden", "a/x.txt"], emptyFolders: ["a/empty"], refused: [] });
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export function listTree(
  root: string,
  skip: readonly string[] = [],
): TreeListing {
  const listing: TreeListing = { files: [], emptyFolders: [], refused: [] };
  const absolute = skip.map((path) => resolve(path));
  const visit = (folder: string) => {
    const here = listFolder(root, folder, absolute);
    const prefix = folder === "" ? "" : `${folder}/`;
    for (const name of here.files) listing.files.push(prefix + name);
    listing.refused.push(...here.refused);
    for (const name of here.folders) visit(prefix + name);
    if (
      folder !== "" && here.files.length + here.folders.length +
            here.refused.length === 0
    ) listing.emptyFolders.push(folder);
  };
  visit("");
  listing.files.sort();
  listing.emptyFolders.sort();
  return listing;
}

/**
 * Reads a file of a tree, into `buffer` when it is large enough.
 *
 * @param root The tree's folder.
 * @param path The file's relative path.
 * @param buffer Reused space, when the caller has some.
 * @returns The bytes (a view of `buffer` when it was used).
 * @throws {KvbitsFileError} Naming the file.
 *
 * @example
 * ```ts
 * import { readTreeFile } from "./pack_tree.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const root = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${root}/x`, "abc");
 * assertEquals(readTreeFile(root, "x").length, 3);
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export function readTreeFile(
  root: string,
  path: string,
  buffer?: Uint8Array,
): Uint8Array {
  const full = join(root, path);
  try {
    return readFileSync(
      full,
      (size) =>
        buffer !== undefined && buffer.length >= size
          ? buffer
          : new Uint8Array(size),
    );
  } catch (error) {
    throw fileErrorOf(full, error);
  }
}

/**
 * A reader of a tree's files for comparing each with bytes of a known length
 * (verify against the originals): a file's bytes when it has that length, in
 * one buffer reused from file to file; never more than `length + 1` bytes of
 * it read. A file that the listing of its folder (one per folder, kept by the
 * reader) shows to be regular is read to its end without a `stat`; any other
 * path with one, which refuses what is not a regular file and says why.
 *
 * @param root The tree's folder.
 * @returns The reader: relative path and length in; the bytes (valid until the
 * next read), or undefined when the file's length differs, out.
 * @throws {KvbitsFileError} Naming the file (from the reader).
 *
 * @example
 * ```ts
 * import { lengthCheckedTreeFileReader } from "./pack_tree.ts";
 * import { assertEquals, assertThrows } from "@std/assert";
 *
 * const root = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${root}/x`, "abc");
 * const read = lengthCheckedTreeFileReader(root);
 * assertEquals(read("x", 3), new TextEncoder().encode("abc"));
 * assertEquals([read("x", 2), read("x", 4)], [undefined, undefined]);
 * assertThrows(() => read("y", 1), Error, "y");
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export function lengthCheckedTreeFileReader(
  root: string,
): (path: string, length: number) => Uint8Array | undefined {
  const listed = new RegularFiles();
  let buffer = new Uint8Array(FIRST_READ_BUFFER);
  // Thrown by the size check of a read with `stat`: the file is not read.
  const differs = new Error("its length differs");
  const checkLength = (length: number) => (size: number) => {
    if (size !== length) throw differs;
  };
  return (path, length) => {
    const full = join(root, path);
    if (buffer.length <= length) {
      buffer = new Uint8Array(Math.max(2 * buffer.length, length + 1));
    }
    let bytes: Uint8Array;
    try {
      bytes = listed.has(full)
        ? readListedFileSync(full, buffer, length)
        : readFileSync(full, () => buffer, checkLength(length));
    } catch (error) {
      if (error === differs) return undefined;
      throw fileErrorOf(full, error);
    }
    return bytes.length === length ? bytes : undefined;
  };
}

/**
 * Bytes of the pieces a pack job reads and writes a large file in: a file
 * larger than this is never held in memory whole (encode reads it for its
 * CRC-32 and again as the pack is written; decode writes it as it is read).
 */
export const TREE_FILE_PIECE_BYTES = 1 << 20;

/**
 * Reads a file of a tree front to back in pieces of at most `pieceBytes`, each a
 * view of one buffer that the next piece reuses: a file of any size is read in
 * that much memory.
 *
 * @param root The tree's folder.
 * @param path The file's relative path.
 * @param pieceBytes Most bytes of a piece.
 * @returns The pieces, in order (none for an empty file); each valid until the
 * next is asked for.
 * @throws {KvbitsFileError} Naming the file.
 *
 * @example
 * ```ts
 * import { treeFilePieces } from "./pack_tree.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const root = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${root}/x`, "abcde");
 * const pieces = [...treeFilePieces(root, "x", 2)].map((piece) => piece.length);
 * assertEquals(pieces, [2, 2, 1]);
 * // Each piece is read before the next overwrites it.
 * const text = Array.from(treeFilePieces(root, "x", 2), (piece) => new TextDecoder().decode(piece));
 * assertEquals(text, ["ab", "cd", "e"]);
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export function* treeFilePieces(
  root: string,
  path: string,
  pieceBytes: number,
): Generator<Uint8Array> {
  const full = join(root, path);
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(full, { read: true });
  } catch (error) {
    throw fileErrorOf(full, error);
  }
  try {
    const buffer = new Uint8Array(pieceBytes);
    for (;;) {
      let filled = 0;
      try {
        while (filled < buffer.length) {
          const got = file.readSync(buffer.subarray(filled));
          if (got === null) break;
          filled += got;
        }
      } catch (error) {
        throw fileErrorOf(full, error);
      }
      if (filled > 0) yield buffer.subarray(0, filled);
      if (filled < buffer.length) return;
    }
  } finally {
    file.close();
  }
}

/** A file of a tree being written in pieces ({@link openTreeFileWriter}). */
export interface TreeFileWriter {
  /**
   * Appends bytes.
   *
   * @param bytes The bytes (written now: the caller may reuse them).
   */
  write(bytes: Uint8Array): void;
  /**
   * Gives the file its name (replacing a file there only with `overwrite`).
   *
   * @returns False, removing what was written, when the name is taken.
   */
  commit(): boolean;
  /** Removes what was written; safe after {@link TreeFileWriter.commit}. */
  abort(): void;
}

/**
 * Starts writing a file of a tree in pieces, under a temporary name beside it
 * (marked temporary: no reader takes it for a file of the tree), making
 * folders: what goes in is named only by {@link TreeFileWriter.commit}, so a
 * file too large to hold in memory is named only once all of it is written and
 * the caller found it right.
 *
 * @param root The tree's folder.
 * @param path The file's relative path.
 * @param options `durable`: flush the bytes before the name; `folders`:
 * folders known to exist (filled as folders are made, to be flushed by the
 * caller); `overwrite`: replace a file of that name.
 * @returns The writer.
 * @throws {KvbitsFileError} Naming the file (from the writer's calls too).
 *
 * @example
 * ```ts
 * import { openTreeFileWriter } from "./pack_tree.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const root = await Deno.makeTempDir();
 * const options = { durable: false, folders: new Set<string>(), overwrite: false };
 * for (const text of ["ab", "cd"]) {
 *   const writer = openTreeFileWriter(root, "a/x", options);
 *   writer.write(new TextEncoder().encode(text));
 *   assertEquals(writer.commit(), text === "ab");
 * }
 * assertEquals(await Deno.readTextFile(`${root}/a/x`), "ab");
 * assertEquals([...Deno.readDirSync(`${root}/a`)].length, 1);
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export function openTreeFileWriter(
  root: string,
  path: string,
  options: {
    readonly durable: boolean;
    readonly folders: Set<string>;
    readonly overwrite: boolean;
  },
): TreeFileWriter {
  const full = join(root, path);
  const folder = dirname(full);
  let temporary = "";
  let file: Deno.FsFile | undefined;
  try {
    makeFolders(root, folder, options.folders);
    ({ file, temporary } = openTemporaryBeside(full));
  } catch (error) {
    throw fileErrorOf(full, error);
  }
  let open: Deno.FsFile | undefined = file;
  const close = () => {
    open?.close();
    open = undefined;
  };
  const abort = () => {
    close();
    try {
      Deno.removeSync(temporary);
    } catch {
      // Named or removed already.
    }
  };
  return {
    write(bytes) {
      try {
        let written = 0;
        while (written < bytes.length) {
          written += open!.writeSync(bytes.subarray(written));
        }
      } catch (error) {
        abort();
        throw fileErrorOf(full, error);
      }
    },
    commit() {
      try {
        if (options.durable) open!.syncDataSync();
        close();
        if (options.overwrite) {
          Deno.renameSync(temporary, full);
          return true;
        }
        try {
          Deno.linkSync(temporary, full);
        } catch (error) {
          if (error instanceof Deno.errors.AlreadyExists) {
            abort();
            return false;
          }
          // No hard links here: a check, then a rename (as createTreeFile).
          if (pathExists(full)) {
            abort();
            return false;
          }
          Deno.renameSync(temporary, full);
          return true;
        }
        Deno.removeSync(temporary);
        return true;
      } catch (error) {
        abort();
        throw fileErrorOf(full, error);
      }
    },
    abort,
  };
}

/** Creates a file of a new temporary name beside `full`, for writing. */
function openTemporaryBeside(
  full: string,
): { file: Deno.FsFile; temporary: string } {
  const folder = dirname(full);
  for (;;) {
    const id = `${Deno.pid}-${Math.random().toString(36).slice(2, 10)}`;
    const temporary = join(folder, temporaryNameOf(basename(full), id));
    try {
      const file = Deno.openSync(temporary, { write: true, createNew: true });
      return { file, temporary };
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
    }
  }
}

/**
 * Makes `folder` (inside `root`) and its parents unless `folders` knows it,
 * adding what exists now to `folders` (all to be flushed by the caller: a new
 * folder's name is in its parent).
 */
function makeFolders(root: string, folder: string, folders: Set<string>) {
  if (folders.has(folder)) return;
  Deno.mkdirSync(folder, { recursive: true });
  for (let known = folder; !folders.has(known); known = dirname(known)) {
    folders.add(known);
    if (known === join(root, ".") || dirname(known) === known) break;
  }
}

/** Bytes a reader's buffer starts with: metas and small tensors fit. */
const FIRST_READ_BUFFER = 64 * 1024;
/** Bytes of each buffer that {@link smallTreeFileReader} copies files into. */
const SLAB_BYTES = 64 * 1024;

/**
 * A reader of a tree's files that reuses one buffer per role (each read
 * replaces the last of its role): for the tensors of one dump after another.
 * It reads each file to its end without a `stat` first: for files the tree's
 * listing found to be regular files.
 *
 * @param root The tree's folder.
 * @returns The reader: relative path and role in, bytes out.
 *
 * @example
 * ```ts
 * import { treeFileReader } from "./pack_tree.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const root = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${root}/x`, "abc");
 * await Deno.writeFile(`${root}/y`, new Uint8Array(100_000).fill(7));
 * const read = treeFileReader(root);
 * assertEquals(read("x", "k").length, 3);
 * assertEquals(read("y", "k").filter((byte) => byte === 7).length, 100_000);
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export function treeFileReader(
  root: string,
): (path: string, role: string) => Uint8Array {
  const buffers = new Map<string, Uint8Array<ArrayBuffer>>();
  return (path, role) => {
    const full = join(root, path);
    try {
      const bytes = readListedFileSync(
        full,
        buffers.get(role) ?? new Uint8Array(FIRST_READ_BUFFER),
        Infinity,
      );
      buffers.set(role, new Uint8Array(bytes.buffer));
      return bytes;
    } catch (error) {
      throw fileErrorOf(full, error);
    }
  };
}

/**
 * A reader of a tree's small files (metas): each file's bytes, in an array of
 * their size that stays valid (a view of a buffer shared with other files read:
 * not to be transferred or detached alone), unless the file is larger than `limit` (then nothing more
 * than `limit + 1` bytes is read). Like {@link treeFileReader}, for files the
 * listing found to be regular files: no `stat`.
 *
 * @param root The tree's folder.
 * @param limit Most bytes of a file to take.
 * @returns The reader: relative path in; bytes, or undefined when the file is
 * larger than `limit`, out.
 * @throws {KvbitsFileError} Naming the file (from the reader).
 *
 * @example
 * ```ts
 * import { smallTreeFileReader } from "./pack_tree.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const root = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${root}/x`, "abc");
 * assertEquals(smallTreeFileReader(root, 2)("x"), undefined);
 * assertEquals(smallTreeFileReader(root, 3)("x")?.length, 3);
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export function smallTreeFileReader(
  root: string,
  limit: number,
): (path: string) => Uint8Array | undefined {
  let buffer = new Uint8Array(Math.min(FIRST_READ_BUFFER, limit + 1));
  // Files are copied out into slabs, many to a buffer: a block's thousands of
  // metas are then a few buffers, not one each (less for the collector, and
  // for a structured clone to copy).
  let slab = new Uint8Array(0);
  let used = 0;
  return (path) => {
    const full = join(root, path);
    let bytes: Uint8Array<ArrayBuffer>;
    try {
      bytes = readListedFileSync(full, buffer, limit);
    } catch (error) {
      throw fileErrorOf(full, error);
    }
    buffer = new Uint8Array(bytes.buffer);
    if (bytes.length > limit) return undefined;
    if (used + bytes.length > slab.length) {
      slab = new Uint8Array(Math.max(SLAB_BYTES, bytes.length));
      used = 0;
    }
    const copy = slab.subarray(used, used + bytes.length);
    copy.set(bytes);
    used += bytes.length;
    return copy;
  };
}

/** Whether something is at `full` (a broken link included). */
function pathExists(full: string): boolean {
  try {
    Deno.lstatSync(full);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/**
 * Writes a file of a tree atomically (temporary name, rename), making folders.
 *
 * @param root The tree's folder.
 * @param path The file's relative path.
 * @param bytes Its content.
 * @param options `durable`: flush before the rename; `folders`: folders known to
 * exist (filled as folders are made, for {@link syncFolders}).
 * @throws {KvbitsFileError} Naming the file.
 *
 * @example
 * ```ts
 * import { writeTreeFile } from "./pack_tree.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const root = await Deno.makeTempDir();
 * writeTreeFile(root, "a/b.txt", new TextEncoder().encode("b"), { durable: false, folders: new Set() });
 * assertEquals(await Deno.readTextFile(`${root}/a/b.txt`), "b");
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export function writeTreeFile(
  root: string,
  path: string,
  bytes: Uint8Array,
  options: { readonly durable: boolean; readonly folders: Set<string> },
): void {
  const full = join(root, path);
  try {
    writeFileAtomicSync(full, bytes, options);
  } catch (error) {
    throw fileErrorOf(full, error);
  }
}

/**
 * Writes a new file of a tree, never replacing one. Makes missing folders.
 *
 * In a folder that other writers may share, the file is written under a
 * temporary name, then linked to its name (which fails, atomically, when
 * something is there already, even if another thread put it there a moment
 * ago), then the temporary name is removed: a kill never leaves a file cut
 * short under its name. In a `fresh` folder (a staging folder this job made
 * and alone writes into, whose name marks it temporary until the job moves its
 * content out), the file is created under its name directly, refused
 * atomically when the name is taken: two calls fewer per file, and what a kill
 * leaves cut short is inside the staging folder.
 *
 * @param root The tree's folder.
 * @param path The file's relative path.
 * @param bytes Its content.
 * @param options `durable`: flush the file's bytes before it gets its name;
 * `folders`: folders known to exist (filled as folders are made, to be flushed
 * by the caller); `fresh`: `root` is a staging folder (see above).
 * @returns False, writing nothing, when the path exists.
 * @throws {KvbitsFileError} Naming the file.
 *
 * @example
 * ```ts
 * import { createTreeFile } from "./pack_tree.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const root = await Deno.makeTempDir();
 * for (const fresh of [false, true]) {
 *   const options = { durable: false, folders: new Set<string>(), fresh };
 *   assertEquals(createTreeFile(root, `${fresh}/b.txt`, new TextEncoder().encode("b"), options), true);
 *   assertEquals(createTreeFile(root, `${fresh}/b.txt`, new TextEncoder().encode("c"), options), false);
 *   assertEquals(await Deno.readTextFile(`${root}/${fresh}/b.txt`), "b");
 *   assertEquals([...Deno.readDirSync(`${root}/${fresh}`)].length, 1);
 * }
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export function createTreeFile(
  root: string,
  path: string,
  bytes: Uint8Array,
  options: {
    readonly durable: boolean;
    readonly folders: Set<string>;
    readonly fresh?: boolean;
  },
): boolean {
  const full = join(root, path);
  const folder = dirname(full);
  let temporary = "";
  try {
    makeFolders(root, folder, options.folders);
    if (options.fresh) {
      if (!options.durable) {
        // One call: create (refused when the name is taken), write, close.
        try {
          Deno.writeFileSync(full, bytes, { createNew: true });
          return true;
        } catch (error) {
          if (error instanceof Deno.errors.AlreadyExists) return false;
          // Created, then a write failed: what was begun goes.
          temporary = full;
          throw error;
        }
      }
      let file: Deno.FsFile;
      try {
        file = Deno.openSync(full, { write: true, createNew: true });
      } catch (error) {
        if (error instanceof Deno.errors.AlreadyExists) return false;
        throw error;
      }
      // From here on, a failure removes what was begun under the name.
      temporary = full;
      writeAll(file, bytes, options.durable);
      return true;
    }
    const opened = openTemporaryBeside(full);
    temporary = opened.temporary;
    writeAll(opened.file, bytes, options.durable);
    let linked: boolean;
    try {
      Deno.linkSync(temporary, full);
      linked = true;
    } catch (error) {
      if (error instanceof Deno.errors.AlreadyExists) {
        Deno.removeSync(temporary);
        return false;
      }
      // A file system without hard links (FAT, some network shares): a check,
      // then a rename (not atomic against another writer of the same name).
      linked = false;
    }
    if (linked) {
      Deno.removeSync(temporary);
      return true;
    }
    if (pathExists(full)) {
      Deno.removeSync(temporary);
      return false;
    }
    Deno.renameSync(temporary, full);
    return true;
  } catch (error) {
    if (temporary !== "") {
      try {
        Deno.removeSync(temporary);
      } catch {
        // Removed already, or never made.
      }
    }
    options.folders.delete(folder);
    throw fileErrorOf(full, error);
  }
}

/** Writes all of `bytes` to `file`, flushes them when `durable`, closes it. */
function writeAll(file: Deno.FsFile, bytes: Uint8Array, durable: boolean) {
  try {
    let written = 0;
    while (written < bytes.length) {
      written += file.writeSync(bytes.subarray(written));
    }
    if (durable) file.syncDataSync();
  } finally {
    file.close();
  }
}

/**
 * Removes a file of a tree (one this process wrote).
 *
 * @param root The tree's folder.
 * @param path The file's relative path.
 * @throws {KvbitsFileError} Naming the file.
 *
 * @example
 * ```ts
 * import { removeTreeFile } from "./pack_tree.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const root = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${root}/x`, "x");
 * removeTreeFile(root, "x");
 * assertEquals([...Deno.readDirSync(root)], []);
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export function removeTreeFile(root: string, path: string): void {
  const full = join(root, path);
  try {
    Deno.removeSync(full);
  } catch (error) {
    throw fileErrorOf(full, error);
  }
}

/**
 * Makes a folder of a tree (and its parents).
 *
 * @param root The tree's folder.
 * @param path The folder's relative path.
 * @throws {KvbitsFileError} Naming the folder.
 *
 * @example
 * ```ts
 * import { makeTreeFolder } from "./pack_tree.ts";
 *
 * const root = await Deno.makeTempDir();
 * makeTreeFolder(root, "a/b");
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export function makeTreeFolder(root: string, path: string): void {
  const full = join(root, path);
  try {
    Deno.mkdirSync(full, { recursive: true });
  } catch (error) {
    throw fileErrorOf(full, error);
  }
}

/**
 * Flushes a tree to the disk: every file's data, then each folder's names
 * (deepest first), folder by folder (memory does not grow with the tree). For
 * a tree written without flushes, where `sync -f` cannot flush its file system
 * at once (`syncFileSystemsOf`).
 *
 * @param root The tree's folder.
 * @throws {KvbitsFileError} Naming a file or folder that cannot be flushed.
 *
 * @example
 * ```ts
 * import { flushTree } from "./pack_tree.ts";
 *
 * const root = await Deno.makeTempDir();
 * await Deno.mkdir(`${root}/a/b`, { recursive: true });
 * await Deno.writeTextFile(`${root}/a/x`, "x");
 * flushTree(root);
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export function flushTree(root: string): void {
  const visit = (folder: string) => {
    const here = listFolder(root, folder);
    const prefix = folder === "" ? "" : `${folder}/`;
    for (const name of here.files) {
      const full = join(root, prefix + name);
      try {
        const file = Deno.openSync(full, { read: true });
        try {
          file.syncDataSync();
        } finally {
          file.close();
        }
      } catch (error) {
        throw fileErrorOf(full, error);
      }
    }
    for (const name of here.folders) visit(prefix + name);
    const full = folder === "" ? root : join(root, folder);
    try {
      syncFolderSync(full);
    } catch (error) {
      throw fileErrorOf(full, error);
    }
  };
  visit("");
}

/** Start of the name of a staging folder (see {@link openStagingFolder}). */
const STAGING_PREFIX = `.restore${TEMPORARY_FILE_MARK}`;

/**
 * Opens a staging folder inside `outDir` when `outDir` holds nothing yet (but
 * its lock and temporary files): a hidden folder, its name marked temporary,
 * that a restore fills with the tree's files under their names (each created
 * by {@link createTreeFile} with `fresh`) and then moves into `outDir` whole
 * ({@link finishStagingFolder}). What a killed restore leaves is this folder,
 * which no reader takes for output and the next restore into `outDir` removes.
 * The caller holds `outDir`'s lock: staging folders found there are left by
 * runs that have ended, and are removed first.
 *
 * @param outDir The output folder (it exists).
 * @returns The staging folder's path, or undefined when `outDir` holds files
 * already (then files go there one by one) or the system is Windows.
 * @throws {KvbitsFileError} When `outDir` cannot be read or the folder made.
 *
 * @example
 * ```ts
 * import { finishStagingFolder, openStagingFolder } from "./pack_tree.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const out = await Deno.makeTempDir();
 * const staging = openStagingFolder(out)!;
 * await Deno.mkdir(`${staging}/a`);
 * await Deno.writeTextFile(`${staging}/a/x`, "x");
 * assertEquals(finishStagingFolder(staging, out, false), []);
 * assertEquals(await Deno.readTextFile(`${out}/a/x`), "x");
 * assertEquals([...Deno.readDirSync(out)].map((entry) => entry.name), ["a"]);
 * assertEquals(openStagingFolder(out), undefined);
 * await Deno.remove(out, { recursive: true });
 * ```
 */
export function openStagingFolder(outDir: string): string | undefined {
  if (Deno.build.os === "windows") return undefined;
  try {
    for (const entry of Deno.readDirSync(outDir)) {
      const name = entry.name;
      if (name.startsWith(STAGING_PREFIX) && entry.isDirectory) {
        Deno.removeSync(join(outDir, name), { recursive: true });
      } else if (
        name !== LOCK_FILE_NAME && !name.includes(TEMPORARY_FILE_MARK)
      ) return undefined;
    }
    for (;;) {
      const id = `${Deno.pid}-${Math.random().toString(36).slice(2, 10)}`;
      const staging = join(outDir, `${STAGING_PREFIX}${id}`);
      try {
        Deno.mkdirSync(staging);
        return staging;
      } catch (error) {
        if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
      }
    }
  } catch (error) {
    throw fileErrorOf(outDir, error);
  }
}

/**
 * Moves what a staging folder holds into its output folder (one rename per
 * entry of its top level, none replacing anything), flushes the output folder
 * when `durable`, and removes the staging folder.
 *
 * @param staging The staging folder ({@link openStagingFolder}).
 * @param outDir The output folder it is in.
 * @param durable Flush the output folder's names.
 * @returns Names that were taken in `outDir` meanwhile (their staged content
 * is dropped).
 * @throws {KvbitsFileError} When an entry cannot be moved.
 *
 * @example
 * ```ts
 * import { finishStagingFolder, openStagingFolder } from "./pack_tree.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const out = await Deno.makeTempDir();
 * const staging = openStagingFolder(out)!;
 * await Deno.writeTextFile(`${staging}/x`, "new");
 * await Deno.writeTextFile(`${out}/x`, "there");
 * assertEquals(finishStagingFolder(staging, out, false), ["x"]);
 * assertEquals(await Deno.readTextFile(`${out}/x`), "there");
 * await Deno.remove(out, { recursive: true });
 * ```
 */
export function finishStagingFolder(
  staging: string,
  outDir: string,
  durable: boolean,
): string[] {
  const taken: string[] = [];
  for (const entry of Deno.readDirSync(staging)) {
    const from = join(staging, entry.name);
    const to = join(outDir, entry.name);
    try {
      if (entry.isDirectory) {
        if (pathExists(to)) taken.push(entry.name);
        else Deno.renameSync(from, to);
      } else {
        // A file: linked, which refuses a taken name atomically.
        try {
          Deno.linkSync(from, to);
        } catch (error) {
          if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
          taken.push(entry.name);
        }
      }
    } catch (error) {
      throw fileErrorOf(to, error);
    }
  }
  try {
    Deno.removeSync(staging, { recursive: true });
    if (durable) syncFolderSync(outDir);
  } catch (error) {
    throw fileErrorOf(staging, error);
  }
  return taken.sort();
}
