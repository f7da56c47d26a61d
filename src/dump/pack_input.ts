/**
 * Reading a pack: from a file (which can seek, for the index and `--only`) or from
 * standard input (which streams: skipping reads and drops).
 *
 * @module
 */

import { concatBytes } from "../codec/byte_io.ts";
import { fileErrorOf } from "./file_error.ts";

const CHUNK = 1 << 20;

/** A pack being read, front to back, with seeks when it is a file. */
export interface PackInput extends Disposable {
  /** The file's path, or `standard input`. */
  readonly name: string;
  /** The file's size; undefined for a stream. */
  readonly size: number | undefined;
  /** Offset of the next byte read. */
  readonly position: number;
  /**
   * Reads `length` bytes (fewer only at the end of the pack) into a new array.
   *
   * @param length Bytes wanted.
   * @returns The bytes.
   */
  read(length: number): Promise<Uint8Array>;
  /**
   * Moves to `offset`: a seek in a file; in a stream, forward only, by reading.
   *
   * @param offset The new position.
   * @returns Whether the pack reaches that far.
   */
  moveTo(offset: number): Promise<boolean>;
  /**
   * Returns up to `length` bytes at `offset` without moving (a file only).
   *
   * @param offset Where to read.
   * @param length Bytes wanted.
   * @returns The bytes.
   */
  readAt(offset: number, length: number): Uint8Array;
  /**
   * Puts back the last bytes read, to be read again.
   *
   * @param bytes The bytes, the last that {@link PackInput.read} returned.
   */
  unread(bytes: Uint8Array): void;
}

/**
 * Opens a pack for reading: `-` is standard input.
 *
 * @param path The pack's path, or `-`.
 * @returns The input.
 * @throws {KvbitsFileError} When the file cannot be opened or is not a file.
 *
 * @example
 * ```ts
 * import { openPackInput } from "./pack_input.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const path = await Deno.makeTempFile();
 * await Deno.writeFile(path, Uint8Array.of(1, 2, 3, 4, 5));
 * using input = openPackInput(path);
 * assertEquals([...await input.read(2)], [1, 2]);
 * assertEquals(await input.moveTo(4), true);
 * assertEquals([...await input.read(9)], [5]);
 * assertEquals([...input.readAt(1, 2)], [2, 3]);
 * input.unread(Uint8Array.of(5));
 * assertEquals([...await input.read(1)], [5]);
 * await Deno.remove(path);
 * ```
 */
export function openPackInput(path: string): PackInput {
  return path === "-" ? streamInput() : fileInput(path);
}

function fileInput(path: string): PackInput {
  let file: Deno.FsFile;
  let size: number;
  try {
    file = Deno.openSync(path, { read: true });
    const info = file.statSync();
    if (!info.isFile) {
      file.close();
      throw new Error("not a regular file");
    }
    size = info.size;
  } catch (error) {
    throw fileErrorOf(path, error);
  }
  let position = 0;
  const readInto = (bytes: Uint8Array, at: number): number => {
    file.seekSync(at, Deno.SeekMode.Start);
    let filled = 0;
    while (filled < bytes.length) {
      const got = file.readSync(bytes.subarray(filled));
      if (got === null || got === 0) break;
      filled += got;
    }
    return filled;
  };
  return {
    name: path,
    size,
    get position() {
      return position;
    },
    // deno-lint-ignore require-await -- one shape for files and streams
    async read(length) {
      const bytes = new Uint8Array(
        Math.max(0, Math.min(length, size - position)),
      );
      try {
        const filled = readInto(bytes, position);
        position += filled;
        return bytes.subarray(0, filled);
      } catch (error) {
        throw fileErrorOf(path, error);
      }
    },
    // deno-lint-ignore require-await -- one shape for files and streams
    async moveTo(offset) {
      position = Math.min(offset, size);
      return offset <= size;
    },
    unread(bytes) {
      position -= bytes.length;
    },
    readAt(offset, length) {
      const bytes = new Uint8Array(
        Math.max(0, Math.min(length, size - offset)),
      );
      try {
        return bytes.subarray(0, readInto(bytes, offset));
      } catch (error) {
        throw fileErrorOf(path, error);
      }
    },
    [Symbol.dispose]() {
      file.close();
    },
  };
}

function streamInput(): PackInput {
  const name = "standard input";
  let position = 0;
  let buffered: Uint8Array = new Uint8Array(0);
  let ended = false;
  // Reads go into one buffer, reused: a pipe gives tens of KB a read, and a
  // new buffer for each would leave garbage many times what is read.
  const chunk = new Uint8Array(CHUNK);
  const fill = async (): Promise<boolean> => {
    if (ended) return false;
    let got: number | null;
    try {
      got = await Deno.stdin.read(chunk);
    } catch (error) {
      throw fileErrorOf(name, error);
    }
    if (got === null) {
      ended = true;
      return false;
    }
    buffered = chunk.subarray(0, got);
    return true;
  };
  const take = async (length: number, keep: boolean) => {
    const parts: Uint8Array<ArrayBuffer>[] = [];
    let left = length;
    while (left > 0) {
      if (buffered.length === 0 && !await fill()) break;
      const part = buffered.subarray(0, Math.min(left, buffered.length));
      // A copy: the next read reuses the buffer.
      if (keep) parts.push(part.slice());
      buffered = buffered.subarray(part.length);
      left -= part.length;
      position += part.length;
    }
    if (parts.length === 1) return parts[0];
    const bytes = concatBytes(parts);
    // Copied: their memory goes back now, not at a full collection.
    for (const part of parts) part.buffer.transfer(0);
    return bytes;
  };
  return {
    name,
    size: undefined,
    get position() {
      return position;
    },
    read: (length) => take(length, true),
    async moveTo(offset) {
      if (offset < position) {
        throw new RangeError(`${name} cannot go back to byte ${offset}`);
      }
      await take(offset - position, false);
      return position === offset;
    },
    unread(bytes) {
      buffered = buffered.length === 0
        ? bytes.slice()
        : concatBytes([bytes, buffered]);
      position -= bytes.length;
    },
    readAt() {
      throw new RangeError(`${name} cannot seek`);
    },
    [Symbol.dispose]() {},
  };
}
