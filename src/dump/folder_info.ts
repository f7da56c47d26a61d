/**
 * What the jobs ask of a path: is it a folder or a file, how large is a file,
 * what is its real path, which entries a folder has. The one place jobs reach
 * `Deno.stat`, `Deno.realPath`, `Deno.remove` (of an empty folder) and
 * `Deno.readDirSync`.
 *
 * @module
 */

import { resolve } from "./path.ts";
import { fileErrorOf, KvbitsFileError } from "./file_error.ts";

/**
 * Checks that a path is an existing folder.
 *
 * @param path The folder.
 * @throws {KvbitsFileError} `path: not a folder`, or why it cannot be read
 * (`file not found`, ...).
 *
 * @example
 * ```ts
 * import { requireFolder } from "./folder_info.ts";
 * import { assertRejects } from "@std/assert";
 *
 * await requireFolder(new URL(".", import.meta.url).pathname);
 * await assertRejects(() => requireFolder(new URL(import.meta.url).pathname), Error, "not a folder");
 * ```
 */
export async function requireFolder(path: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (error) {
    throw fileErrorOf(path, error);
  }
  if (!info.isDirectory) throw new KvbitsFileError(path, "not a folder");
}

/**
 * Whether a path is missing, a folder, or something else (a file, a device).
 *
 * @param path The path.
 * @returns `missing`, `folder` or `other`.
 * @throws {KvbitsFileError} When it cannot be examined for another reason than
 * being missing (permissions).
 *
 * @example
 * ```ts
 * import { pathKind } from "./folder_info.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(await pathKind(new URL(".", import.meta.url).pathname), "folder");
 * assertEquals(await pathKind("/nonexistent/kvbits"), "missing");
 * ```
 */
export async function pathKind(
  path: string,
): Promise<"missing" | "folder" | "other"> {
  try {
    return (await Deno.stat(path)).isDirectory ? "folder" : "other";
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return "missing";
    throw fileErrorOf(path, error);
  }
}

/**
 * The size of a file in bytes.
 *
 * @param path The file.
 * @returns Its size.
 * @throws {KvbitsFileError} When it cannot be examined.
 *
 * @example
 * ```ts
 * import { fileSize } from "./folder_info.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const path = await Deno.makeTempFile();
 * await Deno.writeFile(path, new Uint8Array(5));
 * assertEquals(await fileSize(path), 5);
 * await Deno.remove(path);
 * ```
 */
export async function fileSize(path: string): Promise<number> {
  try {
    return (await Deno.stat(path)).size;
  } catch (error) {
    throw fileErrorOf(path, error);
  }
}

/**
 * The real path of a folder, or its absolute path when it does not exist yet:
 * what two folders are compared by, so that links and `./x` versus `x` cannot
 * make an output folder pass for another folder than an input.
 *
 * @param path A folder.
 * @returns Its real or absolute path.
 *
 * @example
 * ```ts
 * import { realOrResolved } from "./folder_info.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(await realOrResolved("/nonexistent/kvbits/out"), "/nonexistent/kvbits/out");
 * ```
 */
export async function realOrResolved(path: string): Promise<string> {
  return await Deno.realPath(path).catch(() => resolve(path));
}

/**
 * Removes an empty folder, if it is empty; anything else is left as it is.
 *
 * @param path The folder.
 *
 * @example
 * ```ts
 * import { removeIfEmpty } from "./folder_info.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const dir = await Deno.makeTempDir();
 * await removeIfEmpty(dir);
 * assertEquals(await Deno.stat(dir).then(() => true, () => false), false);
 * ```
 */
export async function removeIfEmpty(path: string): Promise<void> {
  await Deno.remove(path).catch(() => {});
}

/**
 * The names of a folder's entries, links left out, or null when it cannot be
 * listed.
 *
 * @param folder The folder.
 * @returns The names, or null.
 *
 * @example
 * ```ts
 * import { entryNamesSync } from "./folder_info.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(entryNamesSync(new URL(".", import.meta.url).pathname)?.has("folder_info.ts"), true);
 * assertEquals(entryNamesSync("/nonexistent/kvbits"), null);
 * ```
 */
export function entryNamesSync(folder: string): Set<string> | null {
  try {
    const names = new Set<string>();
    for (const entry of Deno.readDirSync(folder)) {
      if (!entry.isSymlink) names.add(entry.name);
    }
    return names;
  } catch {
    return null;
  }
}

/**
 * Whether a path is an existing file (false for anything else or anything that
 * cannot be examined).
 *
 * @param path The path.
 * @returns Whether it is a file.
 *
 * @example
 * ```ts
 * import { isFileSync } from "./folder_info.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(isFileSync(new URL(import.meta.url).pathname), true);
 * assertEquals(isFileSync(new URL(".", import.meta.url).pathname), false);
 * ```
 */
export function isFileSync(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}
