/**
 * Path functions of the system kvbits runs on: `@std/path`'s POSIX ones, or its
 * Windows ones on Windows, picked once by `Deno.build.os`.
 *
 * Why not `@std/path` itself: its functions find the system on every process
 * start through `globalThis.process`, which in Deno starts the Node
 * compatibility layer, about 30 ms and 9 MB in the main thread and again in
 * every worker (measured with Deno 2.9 on the 2-vCPU VM of
 * docs/measurements.md). Every task loads path functions, so every task paid
 * that; the pack's two lanes paid it twice. {@link resolve} likewise starts
 * from `Deno.cwd()`, not from `process.cwd()`.
 *
 * @example
 * ```ts
 * import { basename, dirname, join } from "./path.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const path = join("runs", "a", "meta_0.json");
 * assertEquals([dirname(path), basename(path)], [join("runs", "a"), "meta_0.json"]);
 * ```
 *
 * @module
 */

import * as posix from "@std/path/posix";
import * as windows from "@std/path/windows";

const system = Deno.build.os === "windows" ? windows : posix;

/**
 * Joins path segments and normalizes the result.
 *
 * @example
 * ```ts
 * import { join } from "./path.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(join("a", "b", "..", "c"), join("a", "c"));
 * ```
 */
export const join: (...paths: string[]) => string = system.join;

/**
 * The folder part of a path.
 *
 * @example
 * ```ts
 * import { dirname, join } from "./path.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(dirname(join("a", "b.bin")), "a");
 * ```
 */
export const dirname: (path: string) => string = system.dirname;

/**
 * The last part of a path.
 *
 * @example
 * ```ts
 * import { basename, join } from "./path.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(basename(join("a", "b.bin")), "b.bin");
 * ```
 */
export const basename: (path: string, suffix?: string) => string =
  system.basename;

/**
 * Whether a path is absolute.
 *
 * @example
 * ```ts
 * import { isAbsolute, join } from "./path.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(isAbsolute(join("a", "b")), false);
 * ```
 */
export const isAbsolute: (path: string) => boolean = system.isAbsolute;

/**
 * The path of a `file:` URL.
 *
 * @example
 * ```ts
 * import { fromFileUrl, isAbsolute } from "./path.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(isAbsolute(fromFileUrl(import.meta.url)), true);
 * ```
 */
export const fromFileUrl: (url: string | URL) => string = system.fromFileUrl;

/**
 * The absolute, normalized path of segments resolved from the working folder.
 *
 * @param paths Segments, each resolved against the ones before it.
 * @returns The absolute path.
 *
 * @example
 * ```ts
 * import { isAbsolute, join, resolve } from "./path.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(resolve("a", "b"), join(Deno.cwd(), "a", "b"));
 * assertEquals(isAbsolute(resolve("a")), true);
 * ```
 */
export function resolve(...paths: string[]): string {
  return system.resolve(Deno.cwd(), ...paths);
}
