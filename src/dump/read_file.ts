/**
 * Reading whole files into memory quickly.
 *
 * @module
 */

/**
 * Reads a whole file with one presized buffer (faster than `Deno.readFile`, see
 * ../shared/DENO-HERE.md), checking that it did not change size while read.
 *
 * @param path The file.
 * @returns Its bytes.
 * @throws {Deno.errors.NotFound} When the file does not exist.
 * @throws {Error} When the file is shorter than its size said (it changed).
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
export async function readWholeFile(path: string): Promise<Uint8Array> {
  using file = await Deno.open(path, { read: true });
  const { size } = await file.stat();
  const bytes = new Uint8Array(size);
  let filled = 0;
  while (filled < size) {
    const read = await file.read(bytes.subarray(filled));
    if (read === null) {
      throw new Error(
        `file ended after ${filled} of ${size} bytes (it changed while being read)`,
      );
    }
    filled += read;
  }
  return bytes;
}
