/**
 * How much memory this machine has free for a job.
 *
 * @module
 */

/**
 * The memory available to new work, in bytes: `Deno.systemMemoryInfo()` when
 * allowed (`--allow-sys`), else `MemAvailable` of `/proc/meminfo` (Linux,
 * `--allow-read`); undefined when neither can be read. Never asks for a
 * permission (on a terminal Deno would prompt).
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
  // Asked only when granted: on a terminal, asking would prompt the user.
  const sys = { name: "sys", kind: "systemMemoryInfo" } as const;
  if (Deno.permissions.querySync(sys).state === "granted") {
    return Deno.systemMemoryInfo().available;
  }
  const meminfo = { name: "read", path: "/proc/meminfo" } as const;
  if (Deno.permissions.querySync(meminfo).state !== "granted") return undefined;
  try {
    const text = Deno.readTextFileSync("/proc/meminfo");
    const kilobytes = /^MemAvailable:\s+(\d+) kB/m.exec(text)?.[1];
    return kilobytes === undefined ? undefined : Number(kilobytes) * 1024;
  } catch {
    return undefined;
  }
}
