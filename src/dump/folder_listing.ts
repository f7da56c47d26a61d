/**
 * Whether output files exist, from one listing per folder: a folder job asks
 * this for every dump it writes, and asking the file system for a missing file
 * costs a failed system call and an exception each (a tenth of the per-file work
 * of a folder of small dumps).
 *
 * @module
 */

import { basename, dirname } from "./path.ts";
import { pathExistsSync } from "./path_exists.ts";

/**
 * Answers "does this path exist" from a listing of its folder taken the first
 * time the folder is asked about. Right for the files a lane is about to write:
 * nothing else creates them while the job holds the output folder's lock (each
 * dump is written by one lane). A name that is listed is confirmed with `stat`
 * (a link may lead nowhere).
 *
 * @example
 * ```ts
 * import { FolderListing } from "./folder_listing.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/a.json`, "{}");
 * const listing = new FolderListing();
 * assertEquals([listing.exists(`${dir}/a.json`), listing.exists(`${dir}/b.json`)], [true, false]);
 * assertEquals(listing.exists(`${dir}/none/c.json`), false);
 * await Deno.writeTextFile(`${dir}/b.json`, "{}");
 * listing.wrote([`${dir}/b.json`]);
 * assertEquals(listing.exists(`${dir}/b.json`), true);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class FolderListing {
  /** Names in each folder listed; empty for a folder that does not exist. */
  readonly #names = new Map<string, Set<string>>();

  /**
   * Whether something exists at `path`.
   *
   * @param path The path.
   * @returns Whether it exists.
   * @throws {KvbitsFileError} When the folder cannot be listed for another
   * reason than not existing (e.g. a file in the way), naming the path.
   */
  exists(path: string): boolean {
    const folder = dirname(path);
    let names = this.#names.get(folder);
    if (names === undefined) {
      names = new Set();
      try {
        for (const entry of Deno.readDirSync(folder)) names.add(entry.name);
      } catch (error) {
        // A missing folder holds nothing; anything else is asked directly
        // (and reported, naming the path).
        if (!(error instanceof Deno.errors.NotFound)) {
          return pathExistsSync(path);
        }
      }
      this.#names.set(folder, names);
    }
    return names.has(basename(path)) && pathExistsSync(path);
  }

  /**
   * Records files this lane wrote, in folders already listed, so that a later
   * question about them (another dump naming the same file) sees them.
   *
   * @param paths The files written.
   */
  wrote(paths: Iterable<string>): void {
    for (const path of paths) {
      this.#names.get(dirname(path))?.add(basename(path));
    }
  }
}
