/**
 * Timing for benchmarks: a warm-up, then the best of several runs.
 *
 * Why the best and not the mean: on a shared machine other processes only ever
 * make a run slower, so the fastest run is the closest to what the code costs.
 *
 * @module
 */

/** The times of a measured piece of work. */
export interface Timing {
  /** The fastest run, in seconds. */
  readonly best: number;
  /** The median run, in seconds. */
  readonly median: number;
  /** Every timed run, in seconds, in the order run. */
  readonly runs: readonly number[];
}

/**
 * Runs `work` once untimed (so that the JIT compiles it), then `runs` times
 * timed.
 *
 * @param runs Timed runs, at least 1.
 * @param work The work; its result is ignored.
 * @returns The best and median times.
 *
 * @example
 * ```ts
 * import { bestOf } from "./timing.ts";
 * import { assertEquals } from "@std/assert";
 *
 * let calls = 0;
 * const timing = bestOf(3, () => calls++);
 * assertEquals([calls, timing.runs.length], [4, 3]);
 * assertEquals(timing.best <= timing.median, true);
 * ```
 */
export function bestOf(runs: number, work: () => unknown): Timing {
  work();
  const times: number[] = [];
  for (let i = 0; i < Math.max(1, runs); i++) {
    const started = performance.now();
    work();
    times.push((performance.now() - started) / 1000);
  }
  return timingOf(times);
}

/**
 * The best and median of measured times.
 *
 * @param times Seconds, at least one.
 * @returns The timing.
 *
 * @example
 * ```ts
 * import { timingOf } from "./timing.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(timingOf([3, 1, 2]), { best: 1, median: 2, runs: [3, 1, 2] });
 * ```
 */
export function timingOf(times: readonly number[]): Timing {
  const sorted = [...times].sort((a, b) => a - b);
  return {
    best: sorted[0],
    median: sorted[Math.floor((sorted.length - 1) / 2)],
    runs: times,
  };
}
