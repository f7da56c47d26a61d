/**
 * How many lanes a job may run: `--jobs` capped by the CPUs and the memory.
 *
 * Why cap: every lane but the job's thread is a Web Worker with its own
 * JavaScript heap (tens of MB before any dump) and its own read buffers, and
 * lanes beyond the CPUs only take turns. `--jobs 1000` started a thousand
 * workers: 157 s and 12.8 GB for what one per CPU does in 4 s and 89 MB.
 *
 * @module
 */

import { availableMemoryBytes } from "../dump/available_memory.ts";

/**
 * Memory set aside per lane: a worker's heap and module graph (about 40 MB
 * measured here) and its read buffers for ordinary dumps.
 */
export const MEMORY_PER_LANE = 128 * 1024 * 1024;

/** The lanes a job runs, and why they are fewer than asked, when they are. */
export interface JobsLimit {
  /** Lanes to run: at least 1. */
  readonly jobs: number;
  /** Says the cap, when `jobs` is below the request, e.g. `--jobs 1000: using 2 (2 CPUs)`. */
  readonly note?: string;
}

/**
 * Caps a requested number of lanes at the CPUs of this machine and at the
 * available memory divided by {@link MEMORY_PER_LANE}.
 *
 * @param requested Lanes asked for (`--jobs`).
 * @param cpus CPUs of the machine (default `navigator.hardwareConcurrency`).
 * @param memory Available memory in bytes (default: read from the system; no
 * memory cap when unknown).
 * @returns The lanes to run, with a note when capped.
 *
 * @example
 * ```ts
 * import { jobsLimit } from "./jobs_limit.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(jobsLimit(3, 8, 64e9), { jobs: 3 });
 * assertEquals(jobsLimit(1000, 8, 64e9), { jobs: 8, note: "--jobs 1000: using 8 (8 CPUs)" });
 * assertEquals(jobsLimit(8, 8, 512 * 2 ** 20).jobs, 4);
 * ```
 */
export function jobsLimit(
  requested: number,
  cpus: number = navigator.hardwareConcurrency || 1,
  memory: number | undefined = availableMemoryBytes(),
): JobsLimit {
  const byMemory = memory === undefined
    ? Infinity
    : Math.max(1, Math.floor(memory / MEMORY_PER_LANE));
  const jobs = Math.max(1, Math.min(requested, cpus, byMemory));
  if (jobs >= requested) return { jobs: Math.max(1, requested) };
  const reason = jobs === byMemory && byMemory < cpus
    ? `${Math.round((memory ?? 0) / 2 ** 20)} MB of memory available, ${
      MEMORY_PER_LANE / 2 ** 20
    } MB per lane; ${cpus} CPUs`
    : `${cpus} CPU${cpus === 1 ? "" : "s"}`;
  return { jobs, note: `--jobs ${requested}: using ${jobs} (${reason})` };
}
