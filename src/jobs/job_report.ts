/**
 * What jobs report: the outcome of each dump and progress while they run.
 *
 * @module
 */

/** What happened to one dump. */
export interface DumpOutcome {
  /** The dump's meta file, relative to the job's input folder. */
  readonly dump: string;
  /** Done, left out on purpose (with the reason), or failed (with the error). */
  readonly status: "done" | "skipped" | "failed";
  /** For `skipped` and `failed`: one line saying why, naming the file at fault. */
  readonly reason?: string;
}

/** Progress of a job, reported after each dump. */
export interface JobProgress {
  /** What the job is doing, e.g. "counting symbols", "encoding". */
  readonly phase: string;
  /** Dumps finished in this phase. */
  readonly done: number;
  /** Dumps in this phase. */
  readonly total: number;
  /** Input bytes handled so far in this phase. */
  readonly bytes: number;
}

/** Receives progress; jobs never print, the tasks decide what to show. */
export type ProgressListener = (progress: JobProgress) => void;

/**
 * Counts outcomes by status.
 *
 * @param outcomes Outcomes of a job's dumps.
 * @returns How many were done, skipped and failed.
 *
 * @example
 * ```ts
 * import { countOutcomes } from "./job_report.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(
 *   countOutcomes([{ dump: "a", status: "done" }, { dump: "b", status: "failed", reason: "x" }]),
 *   { done: 1, skipped: 0, failed: 1 },
 * );
 * ```
 */
export function countOutcomes(
  outcomes: readonly DumpOutcome[],
): { done: number; skipped: number; failed: number } {
  const counts = { done: 0, skipped: 0, failed: 0 };
  for (const outcome of outcomes) counts[outcome.status]++;
  return counts;
}
