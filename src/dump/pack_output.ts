/**
 * Writing a pack: to a file through a temporary name, flushed once and renamed
 * at the end, or to standard output.
 *
 * Read me first:
 * - A file pack is written to `.<name>.kvbits-tmp-<pid>-<n>` beside its target;
 *   `commit` flushes it (when durable), renames it onto the target and flushes
 *   the folder. An interrupted or failed encode leaves no file under the
 *   target's name (`abort` removes the temporary file; a killed process leaves
 *   one that the readers of kvbits ignore, its name starting with a dot).
 * - Standard output is written as it comes: a reader at the other end of the pipe
 *   knows a pack is complete by its trailer.
 *
 * @module
 */

import { basename, dirname, join } from "./path.ts";
import { pauseIfRequested, pauseRequestedAt } from "./crash_test_hook.ts";
import { fileErrorOf } from "./file_error.ts";
import { syncFolderSync, TEMPORARY_FILE_MARK } from "./write_file_atomic.ts";

/** A pack being written. */
export interface PackOutput {
  /** The target's path, or `standard output`. */
  readonly name: string;
  /**
   * Appends bytes.
   *
   * @param bytes The bytes.
   */
  write(bytes: Uint8Array): Promise<void>;
  /** Makes the pack appear complete under its name (flush and rename). */
  commit(): Promise<void>;
  /** Removes what was written (a file's temporary file); safe to call twice. */
  abort(): Promise<void>;
}

/** Bytes gathered before a write to the pack file: 1 MiB. */
const WRITE_BUFFER_BYTES = 1 << 20;

/**
 * Opens a pack for writing: `-` is standard output.
 *
 * @param path The pack's path, or `-`.
 * @param options `durable` (default true): flush before the rename.
 * @returns The output.
 * @throws {KvbitsFileError} When the temporary file cannot be created.
 *
 * @example Nothing appears under the name before `commit`
 * ```ts
 * import { openPackOutput } from "./pack_output.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const folder = await Deno.makeTempDir();
 * const output = openPackOutput(`${folder}/a.kvp`);
 * await output.write(Uint8Array.of(1, 2));
 * assertEquals([...Deno.readDirSync(folder)].length, 1);
 * await output.commit();
 * assertEquals([...await Deno.readFile(`${folder}/a.kvp`)], [1, 2]);
 * await Deno.remove(folder, { recursive: true });
 * ```
 */
export function openPackOutput(
  path: string,
  options: { readonly durable?: boolean } = {},
): PackOutput {
  if (path === "-") return streamOutput();
  const durable = options.durable ?? true;
  const folder = dirname(path);
  let temporary = "";
  let file: Deno.FsFile | undefined;
  for (let attempt = 0; file === undefined; attempt++) {
    temporary = join(
      folder,
      `.${basename(path)}${TEMPORARY_FILE_MARK}${Deno.pid}-${attempt}`,
    );
    try {
      file = Deno.openSync(temporary, { write: true, createNew: true });
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists) || attempt >= 100) {
        throw fileErrorOf(path, error);
      }
    }
  }
  const open = file;
  let done = false;
  // Writes so far, for the crash tests' hook: write n pauses after the nth
  // write ("temp"); the commit is one more write, paused before the rename
  // ("temp") and after it ("renamed").
  let writes = 0;
  // Small writes (a block's dumps, a few KB each) are gathered into one
  // system call per WRITE_BUFFER_BYTES.
  const buffer = new Uint8Array(WRITE_BUFFER_BYTES);
  let buffered = 0;
  const writeAll = (bytes: Uint8Array) => {
    let written = 0;
    while (written < bytes.length) {
      written += open.writeSync(bytes.subarray(written));
    }
  };
  const flush = () => {
    writeAll(buffer.subarray(0, buffered));
    buffered = 0;
  };
  return {
    name: path,
    // deno-lint-ignore require-await -- one shape for files and streams
    async write(bytes) {
      try {
        if (2 * bytes.length >= buffer.length) {
          flush();
          writeAll(bytes);
        } else {
          if (buffered + bytes.length > buffer.length) flush();
          buffer.set(bytes, buffered);
          buffered += bytes.length;
        }
        // Where the crash tests stop, the file holds every write so far.
        if (pauseRequestedAt(writes + 1)) flush();
      } catch (error) {
        throw fileErrorOf(path, error);
      }
      pauseIfRequested(++writes, "temp", temporary);
    },
    // deno-lint-ignore require-await -- one shape for files and streams
    async commit() {
      try {
        flush();
        if (durable) open.syncDataSync();
        open.close();
        done = true;
        pauseIfRequested(++writes, "temp", temporary);
        Deno.renameSync(temporary, path);
        pauseIfRequested(writes, "renamed", path);
        if (durable) syncFolderSync(folder);
      } catch (error) {
        throw fileErrorOf(path, error);
      }
    },
    // deno-lint-ignore require-await -- one shape for files and streams
    async abort() {
      if (!done) {
        done = true;
        open.close();
      }
      try {
        Deno.removeSync(temporary);
      } catch {
        // Renamed or removed already.
      }
    },
  };
}

function streamOutput(): PackOutput {
  const name = "standard output";
  return {
    name,
    async write(bytes) {
      try {
        let written = 0;
        while (written < bytes.length) {
          written += await Deno.stdout.write(bytes.subarray(written));
        }
      } catch (error) {
        throw fileErrorOf(name, error);
      }
    },
    commit: () => Promise.resolve(),
    abort: () => Promise.resolve(),
  };
}
