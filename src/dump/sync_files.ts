/**
 * Fast per-dump file access for the folder jobs: synchronous calls (a dump's
 * files are handled by one worker at a time, where blocking costs nothing and
 * each call is several times cheaper than its asynchronous twin), reads into
 * reused buffers, and writes that create each output folder once.
 *
 * Measured here (Deno 2.9.6, small files, page cache): an asynchronous open,
 * stat, read and close 34 µs, `openSync` and `readSync` into a reused buffer 6 µs;
 * `Deno.mkdir` per file 14 µs. See ../shared/DENO-HERE.md for large files.
 *
 * @module
 */

import { basename, dirname, join } from "@std/path";
import { TEMPORARY_FILE_MARK } from "./write_file_atomic.ts";

/**
 * Reads a whole file for a caller-given role (`k`, `meta`, `k_hi6`, ...). A
 * reader may return a view of a buffer it reuses for the next read of the same
 * role, so the bytes must be used (or copied) before that.
 */
export type FileReader = (
  path: string,
  role: string,
) => Uint8Array | Promise<Uint8Array>;

/** Bytes a read buffer grows by at least, so that growing is rare. */
const MINIMUM_BUFFER = 64 * 1024;

/**
 * A {@link FileReader} that reads with `openSync` and `readSync` into one reused
 * buffer per role: memory stays at the largest file of each role, and a folder
 * of many small dumps allocates almost nothing per file.
 *
 * @returns The reader. Its result for a role is valid until the next read of
 * that role.
 *
 * @example Two roles, each with its own buffer
 * ```ts
 * import { reusedFileReader } from "./sync_files.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.writeFile(`${dir}/a`, new Uint8Array([1, 2, 3]));
 * await Deno.writeFile(`${dir}/b`, new Uint8Array([4]));
 * const read = reusedFileReader();
 * const a = read(`${dir}/a`, "k");
 * const b = read(`${dir}/b`, "v");
 * assertEquals([[...a], [...b]], [[1, 2, 3], [4]]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function reusedFileReader(): (path: string, role: string) => Uint8Array {
  const buffers = new Map<string, Uint8Array>();
  return (path, role) => {
    using file = Deno.openSync(path, { read: true });
    const size = file.statSync().size;
    let buffer = buffers.get(role);
    if (buffer === undefined || buffer.length < size) {
      buffer = new Uint8Array(
        Math.max(MINIMUM_BUFFER, size, 2 * (buffer?.length ?? 0)),
      );
      buffers.set(role, buffer);
    }
    const bytes = buffer.subarray(0, size);
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
  };
}

/**
 * Whether something exists at `path`, without waiting on the event loop.
 *
 * @param path The path.
 * @returns Whether it exists.
 * @throws {Error} On errors other than "not found" (e.g. permission denied).
 *
 * @example
 * ```ts
 * import { pathExistsSync } from "./sync_files.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(pathExistsSync("/nonexistent/kvbits"), false);
 * ```
 */
export function pathExistsSync(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** Distinguishes the temporary files of this module instance (one per worker). */
const INSTANCE = Math.floor(Math.random() * 0x100000000).toString(36);
let temporaryCounter = 0;

/**
 * Writes files as `writeFileAtomic` does (a temporary file in the same folder,
 * renamed into place; a failed write removes its temporary file), synchronously,
 * creating each folder once: the writer remembers the folders it made.
 *
 * @example
 * ```ts
 * import { AtomicFileWriter } from "./sync_files.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const root = await Deno.makeTempDir();
 * const writer = new AtomicFileWriter();
 * writer.write(`${root}/a/b/x.bin`, new Uint8Array([7]));
 * writer.write(`${root}/a/b/y.bin`, new Uint8Array([8]));
 * assertEquals([...await Deno.readFile(`${root}/a/b/y.bin`)], [8]);
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export class AtomicFileWriter {
  /** Folders made (or found) by this writer. */
  readonly #folders = new Set<string>();

  /**
   * Writes `bytes` to `path` through a temporary file in the same folder, which
   * is created first unless this writer made it before.
   *
   * @param path The file to write.
   * @param bytes Its new content.
   */
  write(path: string, bytes: Uint8Array): void {
    const folder = dirname(path);
    if (!this.#folders.has(folder)) {
      Deno.mkdirSync(folder, { recursive: true });
      this.#folders.add(folder);
    }
    const temporary = join(
      folder,
      `.${
        basename(path)
      }${TEMPORARY_FILE_MARK}${Deno.pid}-${INSTANCE}-${temporaryCounter++}`,
    );
    try {
      Deno.writeFileSync(temporary, bytes);
      Deno.renameSync(temporary, path);
    } catch (error) {
      try {
        Deno.removeSync(temporary);
      } catch {
        // Nothing was written, or it is gone already.
      }
      // A folder removed behind our back is made again by the next write.
      this.#folders.delete(folder);
      throw error;
    }
  }
}
