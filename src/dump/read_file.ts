/**
 * Reading whole files into memory quickly: two synchronous cores that every
 * reader of kvbits goes through. {@link readFileSync} looks at a file with
 * `stat` first (a file a meta names may be anything, and of any size);
 * {@link readListedFileSync} reads to the end without one, for files a folder
 * listing has just found to be regular (the pack's encode, where the `stat`
 * cost more than the read of a small file). The lanes of the folder jobs read a dump's
 * files with {@link readBoundedFileSync}: the second core for the files that
 * a listing of their folder ({@link RegularFiles}) shows to be regular when
 * the caller bounds their size (a tensor's size is known from its meta, a
 * meta's is capped), the first for the others.
 *
 * Why synchronous: a dump's files are read by one lane at a time (the job's
 * thread or a worker), where blocking costs nothing, and each call is several
 * times cheaper than its asynchronous twin. Measured here (Deno 2.9.6, small
 * files, page cache): an asynchronous open, stat, read and close 34 µs,
 * `openSync` and `readSync` into a reused buffer 6 µs. See
 * ../shared/DENO-HERE.md for large files.
 *
 * @module
 */

/**
 * Reads a whole file for a caller-given role (`k`, `meta`, `k_hi6`, ...). A
 * reader may return a view of a buffer it reuses for the next read of the same
 * role, so the bytes must be used (or copied) before that. `checkSize` refuses
 * a size; `limit`, when given, is a size above which `checkSize` refuses any
 * (a reader may then read a regular file without `stat`, up to `limit + 1`
 * bytes, and check the size it read).
 */
export type FileReader = (
  path: string,
  role: string,
  checkSize?: SizeCheck,
  limit?: number,
) => Uint8Array | Promise<Uint8Array>;

/**
 * Checks a file's size before it is read (from `stat`, so that a file far
 * larger than expected is refused without reading it): throws to refuse.
 */
export type SizeCheck = (size: number) => void;

/** Bytes a reused read buffer grows by at least, so that growing is rare. */
const MINIMUM_BUFFER = 64 * 1024;

/**
 * Reads a whole file with `openSync` and `readSync` into one buffer sized from
 * the file's size (a new one, or the caller's), checking that the file did not
 * change size while read. The file is looked at with `stat` first: anything but
 * a regular file (a FIFO would block the read forever, a device never end) is
 * refused, and so is a size that `checkSize` refuses, before anything is
 * allocated or read.
 *
 * @param path The file.
 * @param bufferOf Gives a buffer of at least `size` bytes to read into; a new
 * one of exactly `size` bytes when omitted.
 * @param checkSize Throws when the file's size is not acceptable.
 * @returns The file's bytes: a view of the buffer, `size` bytes long.
 * @throws {Deno.errors.NotFound} When the file does not exist.
 * @throws {Error} When it is not a regular file, or is shorter than its size
 * said (it changed).
 *
 * @example
 * ```ts
 * import { readFileSync } from "./read_file.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const path = await Deno.makeTempFile();
 * await Deno.writeFile(path, new Uint8Array([1, 2, 3]));
 * assertEquals([...readFileSync(path)], [1, 2, 3]);
 * assertEquals(readFileSync(path, (size) => new Uint8Array(size + 5)).length, 3);
 * await Deno.remove(path);
 * ```
 */
export function readFileSync(
  path: string,
  bufferOf: (size: number) => Uint8Array = (size) => new Uint8Array(size),
  checkSize?: SizeCheck,
): Uint8Array {
  const info = Deno.statSync(path);
  if (!info.isFile) throw new Error(`not a regular file (${kindOf(info)})`);
  const size = info.size;
  checkSize?.(size);
  using file = Deno.openSync(path, { read: true });
  const bytes = bufferOf(size).subarray(0, size);
  let filled = 0;
  while (filled < size) {
    const read = file.readSync(bytes.subarray(filled));
    if (read === null || read === 0) {
      throw new Error(
        `file ended after ${filled} of ${size} bytes (it changed while being read)`,
      );
    }
    filled += read;
  }
  return bytes;
}

/**
 * Reads a file from its start to its end into `buffer` (a larger one, by
 * doubling, when the file does not fit), or only up to `limit + 1` bytes. No
 * `stat`: the end is where a read returns nothing, one cheap call more than the
 * data takes. Only for paths a folder listing found to be regular files (the
 * open of a FIFO would block).
 *
 * @param path The file.
 * @param buffer Where to read; its bytes may be replaced.
 * @param limit Read no more than `limit + 1` bytes (a longer result says the
 * file is larger than `limit`).
 * @returns The bytes read: a view of `buffer` or of its larger replacement
 * (whose `buffer` the caller may keep for the next read).
 * @throws {Deno.errors.NotFound} When the file does not exist.
 *
 * @example
 * ```ts
 * import { readListedFileSync } from "./read_file.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const path = await Deno.makeTempFile();
 * await Deno.writeFile(path, new Uint8Array([1, 2, 3, 4, 5]));
 * assertEquals([...readListedFileSync(path, new Uint8Array(2))], [1, 2, 3, 4, 5]);
 * assertEquals(readListedFileSync(path, new Uint8Array(2), 2).length, 3);
 * await Deno.remove(path);
 * ```
 */
export function readListedFileSync(
  path: string,
  buffer: Uint8Array<ArrayBuffer>,
  limit: number = Infinity,
): Uint8Array<ArrayBuffer> {
  // try/finally rather than `using`: this runs for every file of a tree, and
  // the transpiled `using` costs about a microsecond a call more.
  const file = Deno.openSync(path, { read: true });
  try {
    let filled = 0;
    for (;;) {
      if (filled === buffer.length) {
        if (filled > limit) break;
        const larger = new Uint8Array(
          Math.min(Math.max(1, 2 * buffer.length), limit + 1),
        );
        larger.set(buffer);
        buffer = larger;
      }
      const read = file.readSync(
        filled === 0 ? buffer : buffer.subarray(filled),
      );
      if (read === null || read === 0) break;
      filled += read;
    }
    return buffer.subarray(0, filled);
  } finally {
    file.close();
  }
}

function kindOf(info: Deno.FileInfo): string {
  if (info.isDirectory) return "a folder";
  if (info.isFifo) return "a FIFO";
  if (info.isCharDevice || info.isBlockDevice) return "a device";
  if (info.isSocket) return "a socket";
  return "not a file";
}

/**
 * Reads a whole file into a new buffer ({@link readFileSync}, for callers that
 * await).
 *
 * @param path The file.
 * @param _role Unused: what the file is to the caller (see {@link FileReader}).
 * @param checkSize Throws when the file's size is not acceptable.
 * @returns Its bytes.
 * @throws {Deno.errors.NotFound} When the file does not exist.
 * @throws {Error} When it is not a regular file, or is shorter than its size
 * said (it changed).
 *
 * @example
 * ```ts
 * import { readWholeFile } from "./read_file.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const path = await Deno.makeTempFile();
 * await Deno.writeFile(path, new Uint8Array([1, 2, 3]));
 * assertEquals([...await readWholeFile(path)], [1, 2, 3]);
 * await Deno.remove(path);
 * ```
 */
// deno-lint-ignore require-await -- async, so that errors reject
export async function readWholeFile(
  path: string,
  _role?: string,
  checkSize?: SizeCheck,
): Promise<Uint8Array> {
  return readFileSync(path, undefined, checkSize);
}

/**
 * Which files of their folders are regular files, from one listing of each
 * folder (its entries' types, no `stat` per file): files found so may be read
 * to their end without a `stat` ({@link readListedFileSync}). A file listed
 * as regular and replaced by something else before it is read (a FIFO, whose
 * open would block) is the one case this does not catch; anything not listed
 * as a regular file (a link, a FIFO, a folder, a file made after the listing,
 * a missing one) is not taken for one.
 *
 * @example
 * ```ts
 * import { RegularFiles } from "./read_file.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/a`, "1");
 * await Deno.mkdir(`${dir}/b`);
 * const listed = new RegularFiles();
 * const paths = [`${dir}/a`, `${dir}/b`, `${dir}/c`];
 * assertEquals(paths.map((path) => listed.has(path)), [true, false, false]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class RegularFiles {
  /**
   * Each folder listed: whether each entry is a regular file; undefined when
   * the folder could not be listed.
   */
  readonly #entries = new Map<string, Map<string, boolean> | undefined>();

  /**
   * Whether the listing of `path`'s folder found a regular file of its name.
   *
   * @param path A file's path.
   * @returns True when it was listed as a regular file.
   */
  has(path: string): boolean {
    return this.status(path) === "file";
  }

  /**
   * What the listing of `path`'s folder says of it: a regular file (`file`),
   * no entry of that name (`absent`), or `unknown`: something else, a folder
   * that cannot be listed, or a name that is not a plain one (`.`, `..`, or
   * one with a backslash, which this does not take apart).
   *
   * @param path A file's path, its parts separated by `/`.
   * @returns What the listing says.
   *
   * @example
   * ```ts
   * import { RegularFiles } from "./read_file.ts";
   * import { assertEquals } from "@std/assert";
   *
   * const dir = await Deno.makeTempDir();
   * await Deno.writeTextFile(`${dir}/a`, "1");
   * await Deno.mkdir(`${dir}/b`);
   * const listed = new RegularFiles();
   * const names = ["a", "b", "c", "..", "x/c"];
   * assertEquals(
   *   names.map((name) => listed.status(`${dir}/${name}`)),
   *   ["file", "unknown", "absent", "unknown", "unknown"],
   * );
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  status(path: string): "file" | "absent" | "unknown" {
    const end = path.lastIndexOf("/");
    const name = path.slice(end + 1);
    if (name === "" || name === "." || name === ".." || name.includes("\\")) {
      return "unknown";
    }
    const folder = end < 0 ? "." : end === 0 ? "/" : path.slice(0, end);
    let entries = this.#entries.get(folder);
    if (!this.#entries.has(folder)) {
      entries = new Map();
      try {
        for (const entry of Deno.readDirSync(folder)) {
          entries.set(entry.name, entry.isFile);
        }
      } catch {
        // Nothing listed: each file is read with a `stat`, which says why.
        entries = undefined;
      }
      this.#entries.set(folder, entries);
    }
    if (entries === undefined) return "unknown";
    const regular = entries.get(name);
    return regular === undefined ? "absent" : regular ? "file" : "unknown";
  }

  /** Forgets every listing (files may have changed since). */
  clear(): void {
    this.#entries.clear();
  }
}

/**
 * Reads a file with {@link readListedFileSync} when `listed` shows it to be a
 * regular file and the caller bounds its size (`limit`), else with
 * {@link readFileSync} (`stat` first). Without the `stat` it reads into
 * `buffer`, or a larger one when the file does not fit (doubling, as the
 * file's bytes come: never more than `limit + 1` bytes, whatever `limit`
 * says); a file larger than `limit` is read again with a `stat`, so that
 * `checkSize` sees its whole size.
 *
 * @param path The file.
 * @param listed The regular files known, or undefined for none.
 * @param buffer Where to read without `stat` (see {@link readListedFileSync}).
 * @param bufferOf Gives a buffer of at least `size` bytes for a read with
 * `stat` (see {@link readFileSync}).
 * @param checkSize Throws when the file's size is not acceptable.
 * @param limit The size above which `checkSize` refuses any.
 * @returns The file's bytes: a view of `buffer`, of its larger replacement
 * (whose `buffer` the caller may keep), or of what `bufferOf` gave.
 * @throws {Deno.errors.NotFound} When the file does not exist.
 * @throws {Error} As {@link readFileSync}, and what `checkSize` throws.
 *
 * @example
 * ```ts
 * import { readBoundedFileSync, RegularFiles } from "./read_file.ts";
 * import { assertEquals, assertThrows } from "@std/assert";
 *
 * const path = await Deno.makeTempFile();
 * await Deno.writeFile(path, new Uint8Array([1, 2, 3]));
 * const listed = new RegularFiles();
 * const bufferOf = (size: number) => new Uint8Array(size);
 * const exactly = (expected: number) => (size: number) => {
 *   if (size !== expected) throw new Error(`size is ${size}, not ${expected}`);
 * };
 * const read = (limit: number) =>
 *   readBoundedFileSync(path, listed, new Uint8Array(1), bufferOf, exactly(limit), limit);
 * assertEquals([...read(3)], [1, 2, 3]);
 * assertThrows(() => read(2), Error, "size is 3, not 2");
 * await Deno.remove(path);
 * ```
 */
export function readBoundedFileSync(
  path: string,
  listed: RegularFiles | undefined,
  buffer: Uint8Array<ArrayBuffer>,
  bufferOf: (size: number) => Uint8Array,
  checkSize?: SizeCheck,
  limit?: number,
): Uint8Array {
  if (limit !== undefined && listed?.has(path)) {
    const bytes = readListedFileSync(path, buffer, limit);
    if (bytes.length <= limit) {
      checkSize?.(bytes.length);
      return bytes;
    }
  }
  return readFileSync(path, bufferOf, checkSize);
}

/**
 * A {@link FileReader} that reads into one reused buffer per role: memory stays
 * at the largest file of each role, and a folder of many small dumps allocates
 * almost nothing per file. Given the regular files known (`listed`), it reads
 * those whose size the caller bounds without a `stat`
 * ({@link readBoundedFileSync}).
 *
 * @param listed Regular files known from listings of their folders.
 * @returns The reader. Its result for a role is valid until the next read of
 * that role.
 *
 * @example Two roles, each with its own buffer
 * ```ts
 * import { RegularFiles, reusedFileReader } from "./read_file.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.writeFile(`${dir}/a`, new Uint8Array([1, 2, 3]));
 * await Deno.writeFile(`${dir}/b`, new Uint8Array([4]));
 * const read = reusedFileReader(new RegularFiles());
 * const a = read(`${dir}/a`, "k");
 * const b = read(`${dir}/b`, "v", undefined, 1);
 * assertEquals([[...a], [...b]], [[1, 2, 3], [4]]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function reusedFileReader(listed?: RegularFiles): (
  path: string,
  role: string,
  checkSize?: SizeCheck,
  limit?: number,
) => Uint8Array {
  const buffers = new Map<string, Uint8Array<ArrayBuffer>>();
  const bufferOf = (role: string, size: number) => {
    let buffer = buffers.get(role);
    if (buffer === undefined || buffer.length < size) {
      buffer = new Uint8Array(
        Math.max(MINIMUM_BUFFER, size, 2 * (buffer?.length ?? 0)),
      );
      buffers.set(role, buffer);
    }
    return buffer;
  };
  return (path, role, checkSize, limit) => {
    const buffer = bufferOf(role, 0);
    const bytes = readBoundedFileSync(
      path,
      listed,
      buffer,
      (size) => bufferOf(role, size),
      checkSize,
      limit,
    );
    // Grown by a read without `stat`: kept for the next read of the role.
    if (bytes.buffer !== buffers.get(role)!.buffer) {
      buffers.set(role, new Uint8Array(bytes.buffer as ArrayBuffer));
    }
    return bytes;
  };
}
