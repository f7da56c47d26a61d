/**
 * Whether a path exists.
 *
 * @module
 */

/**
 * True when something exists at `path` (a file, folder or link target).
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
export async function pathExists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}
