/**
 * `--jobs N`, shared by the tasks that run over a folder: how many dumps are
 * handled at once (this thread and N - 1 workers).
 *
 * @module
 */

import { jobsLimit } from "../src/jobs/jobs_limit.ts";
import { defaultJobs } from "../src/jobs/worker_pool.ts";
import { type FlagDefinition, type FlagValues, UsageError } from "./_cli.ts";

/** The `--jobs` flag; its default is the number of CPUs of this machine. */
export const JOBS_FLAG = {
  jobs: {
    type: "integer",
    short: "j",
    default: defaultJobs(),
    defaultText: `one per CPU, ${defaultJobs()} here`,
    value: "N",
    help:
      "dumps handled at once: this thread and N - 1 workers; the output is the same for any N",
  },
} as const satisfies Record<string, FlagDefinition>;

/**
 * The `--jobs` value, checked.
 *
 * @param flags The parsed flags.
 * @returns The number of jobs, at least 1, capped by the CPUs and the memory
 * (see `jobsLimit`; the cap is printed on stderr).
 * @throws {UsageError} When it is 0.
 *
 * @example
 * ```ts
 * import { jobsOf } from "./_jobs_flag.ts";
 * import { assertEquals, assertThrows } from "@std/assert";
 *
 * assertEquals(jobsOf({ jobs: 1 }), 1);
 * assertThrows(() => jobsOf({ jobs: 0 }), Error, "--jobs must be at least 1");
 * ```
 */
export function jobsOf(flags: FlagValues): number {
  const jobs = flags.jobs as number;
  if (jobs < 1) throw new UsageError("--jobs must be at least 1, got 0");
  // Capped by the CPUs and the memory; the cap is said, on stderr.
  const limit = jobsLimit(jobs);
  if (limit.note !== undefined) console.error(limit.note);
  return limit.jobs;
}
