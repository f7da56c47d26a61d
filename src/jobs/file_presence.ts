/**
 * Whether files exist, from one listing per folder instead of one `stat` per
 * file: selecting the dumps of a folder checks two tensor files per dump, and
 * the dumps of a folder share it.
 *
 * @module
 */

import { basename, dirname } from "@std/path";
import { entryNamesSync } from "../dump/folder_info.ts";
import { pathExistsSync } from "../dump/path_exists.ts";

/**
 * Answers "does this path exist?" like `pathExists`, listing each folder once.
 * Symbolic links (whose target may be missing) and listings that fail are
 * checked with `stat`, as `pathExists` would.
 *
 * @example
 * ```ts
 * import { FilePresence } from "./file_presence.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/k.bin`, "");
 * const presence = new FilePresence();
 * assertEquals([presence.exists(`${dir}/k.bin`), presence.exists(`${dir}/v.bin`)], [true, false]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class FilePresence {
  /** Names of the entries of each folder listed (links left out), or null when it cannot be listed. */
  readonly #listings = new Map<string, Set<string> | null>();

  /**
   * Whether something exists at `path` (a file, a folder or a link's target).
   *
   * @param path The path.
   * @returns Whether it exists.
   */
  exists(path: string): boolean {
    const folder = dirname(path);
    let names = this.#listings.get(folder);
    if (names === undefined) {
      names = entryNamesSync(folder);
      this.#listings.set(folder, names);
    }
    if (names !== null && names.has(basename(path))) return true;
    // Not listed: missing, a link, or a name with a folder part (`a/../k.bin`).
    return pathExistsSync(path);
  }
}
