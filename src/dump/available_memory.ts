/**
 * How much memory this machine has free for a job.
 *
 * @module
 */

/**
 * The memory available to new work, in bytes: `Deno.systemMemoryInfo()` when
 * allowed (`--allow-sys`), else `MemAvailable` of `/proc/meminfo` (Linux,
 * `--allow-read`); undefined when neither can be read.
 *
 * @returns Available bytes, or undefined.
 *
 * @example
 * ```ts
 * import { availableMemoryBytes } from "./available_memory.ts";
 * import { assert } from "@std/assert";
 *
 * const bytes = availableMemoryBytes();
 * assert(bytes === undefined || bytes > 0);
 * ```
 */
export function availableMemoryBytes(): number | undefined {
  try {
    return Deno.systemMemoryInfo().available;
  } catch {
    // Not allowed: try the kernel's own account.
  }
  try {
    const text = Deno.readTextFileSync("/proc/meminfo");
    const kilobytes = /^MemAvailable:\s+(\d+) kB/m.exec(text)?.[1];
    return kilobytes === undefined ? undefined : Number(kilobytes) * 1024;
  } catch {
    return undefined;
  }
}
