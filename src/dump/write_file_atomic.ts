/**
 * Writing files so that a reader never sees a partial one.
 *
 * @module
 */

import { basename, dirname, join } from "@std/path";

/** Marks kvbits' temporary files: `.<name>.kvbits-tmp-<pid>-<n>`. */
export const TEMPORARY_FILE_MARK = ".kvbits-tmp-";

let temporaryCounter = 0;

/**
 * Writes `bytes` to `path` through a temporary file in the same folder that is
 * renamed into place, creating missing folders. A crash leaves either the old file
 * (or none) or the complete new one, plus at most a temporary file whose name
 * contains {@link TEMPORARY_FILE_MARK}; a failed write removes its temporary file.
 *
 * @param path The file to write.
 * @param bytes Its new content.
 *
 * @example
 * ```ts
 * import { writeFileAtomic } from "./write_file_atomic.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const root = await Deno.makeTempDir();
 * await writeFileAtomic(`${root}/a/b/x.bin`, new Uint8Array([7]));
 * assertEquals([...await Deno.readFile(`${root}/a/b/x.bin`)], [7]);
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export async function writeFileAtomic(
  path: string,
  bytes: Uint8Array,
): Promise<void> {
  const folder = dirname(path);
  await Deno.mkdir(folder, { recursive: true });
  const temporary = join(
    folder,
    `.${basename(path)}${TEMPORARY_FILE_MARK}${Deno.pid}-${temporaryCounter++}`,
  );
  try {
    await Deno.writeFile(temporary, bytes);
    await Deno.rename(temporary, path);
  } catch (error) {
    await Deno.remove(temporary).catch(() => {});
    throw error;
  }
}
