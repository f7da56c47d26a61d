/**
 * Whether a path exists.
 *
 * @module
 */

import { fileErrorOf } from "./file_error.ts";

/**
 * True when something exists at `path` (a file, folder or link target), without
 * waiting on the event loop.
 *
 * @param path The path.
 * @returns Whether it exists.
 * @throws {KvbitsFileError} On errors other than "not found" (e.g. permission
 * denied, or a file in the way), naming the path at fault.
 *
 * @example
 * ```ts
 * import { pathExistsSync } from "./path_exists.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(pathExistsSync("/nonexistent/kvbits"), false);
 * assertEquals(pathExistsSync(Deno.cwd()), true);
 * ```
 */
export function pathExistsSync(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw fileErrorOf(path, error);
  }
}

/**
 * {@link pathExistsSync} for callers that await.
 *
 * @param path The path.
 * @returns Whether it exists.
 * @throws {Error} On errors other than "not found" (e.g. permission denied).
 *
 * @example
 * ```ts
 * import { pathExists } from "./path_exists.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(await pathExists("/nonexistent/kvbits"), false);
 * assertEquals(await pathExists(Deno.cwd()), true);
 * ```
 */
// deno-lint-ignore require-await -- async, so that errors reject
export async function pathExists(path: string): Promise<boolean> {
  return pathExistsSync(path);
}
