/**
 * The progress bar of encode, decode and verify: one line on stderr, redrawn in
 * place while a job runs, only when stderr is a terminal.
 *
 * Why not a progress bar library: the line needs five numbers the jobs already
 * report (dumps done and total, bytes, rate, ETA), and {@link progressLine} builds
 * it as a pure function that the tests check exactly. A library such as
 * cli-progress would add npm packages (and Node compatibility) to every bundle and
 * compiled binary for the same line, and decide by itself what a terminal is.
 *
 * @module
 */

import type { JobProgress, ProgressListener } from "../src/jobs/job_report.ts";

/**
 * Megabytes for progress lines: `1.44 MB`.
 *
 * @param bytes A byte count.
 * @returns The count in MB (10^6 bytes), two decimals.
 *
 * @example
 * ```ts
 * import { formatMegabytes } from "./_progress.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(formatMegabytes(1_436_000), "1.44 MB");
 * ```
 */
export function formatMegabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(2)} MB`;
}

/** A phase of a job as the bar shows it. */
export interface ProgressState extends JobProgress {
  /** Seconds since the phase started. */
  readonly seconds: number;
}

/** Fewest and most cells of the bar itself. */
const BAR_CELLS = { min: 10, max: 30 } as const;
/** Phase names are padded to this width, so that the bars of successive phases align. */
const PHASE_WIDTH = "counting symbols".length;
/** Redraw at most this often (milliseconds): drawing costs more than a small dump. */
const REDRAW_INTERVAL_MS = 100;

/**
 * Seconds for people: `42s`, `3m07s`, `2h05m`.
 *
 * @param seconds A duration.
 * @returns The duration, rounded to whole seconds (minutes past an hour).
 *
 * @example
 * ```ts
 * import { formatDuration } from "./_progress.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals([formatDuration(4.4), formatDuration(187), formatDuration(7500)], ["4s", "3m07s", "2h05m"]);
 * ```
 */
export function formatDuration(seconds: number): string {
  const whole = Math.max(0, Math.round(seconds));
  if (whole < 60) return `${whole}s`;
  const minutes = Math.floor(whole / 60);
  if (minutes < 60) return `${minutes}m${String(whole % 60).padStart(2, "0")}s`;
  return `${Math.floor(minutes / 60)}h${
    String(minutes % 60).padStart(2, "0")
  }m`;
}

/**
 * One line of the progress bar: phase, bar, dumps done of total, bytes handled,
 * rate and time left (or the time taken, once the phase is complete), cut to the
 * terminal width so that it never wraps.
 *
 * The time left assumes the remaining dumps take as long on average as the ones
 * done; the jobs report dumps, not the bytes still to come.
 *
 * @param state The phase's progress and its running time.
 * @param width Columns of the terminal.
 * @returns The line, without line breaks or escape codes.
 *
 * @example
 * ```ts
 * import { progressLine } from "./_progress.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const line = progressLine({ phase: "encoding", done: 96, total: 384, bytes: 1.2e6, seconds: 2 }, 100);
 * assertEquals(line, "encoding          ███████░░░░░░░░░░░░░░░░░░░░░░░   96/384 dumps  1.20 MB  0.6 MB/s  ETA 6s");
 * ```
 */
export function progressLine(state: ProgressState, width: number): string {
  const { phase, done, total, bytes, seconds } = state;
  const fraction = total > 0 ? Math.min(1, done / total) : 1;
  const rate = seconds > 0 ? bytes / 1e6 / seconds : 0;
  const time = done >= total
    ? `in ${formatDuration(seconds)}`
    : done > 0
    ? `ETA ${formatDuration(seconds * (total - done) / done)}`
    : "ETA --";
  const counts = `${
    String(done).padStart(String(total).length)
  }/${total} dumps`;
  const tail = `${counts}  ${formatMegabytes(bytes)}  ${
    rate.toFixed(1)
  } MB/s  ${time}`;
  const cells = Math.max(
    BAR_CELLS.min,
    Math.min(BAR_CELLS.max, width - PHASE_WIDTH - tail.length - 5),
  );
  const filled = Math.floor(fraction * cells);
  const bar = "█".repeat(filled) + "░".repeat(cells - filled);
  const line = `${phase.padEnd(PHASE_WIDTH)}  ${bar}  ${tail}`;
  return line.length < width ? line : line.slice(0, Math.max(0, width - 1));
}

/** A progress display: the listener to give a job, and what to call when it ends. */
export interface ProgressDisplay {
  /** Give this to the job; undefined when nothing is shown. */
  readonly listener?: ProgressListener;
  /** Ends the last line, so that what follows starts on a line of its own. */
  finish(): void;
}

/**
 * A progress bar on stderr when `enabled` and stderr is a terminal; otherwise a
 * display that shows nothing. Each phase of a job gets a line of its own, redrawn
 * in place at most ten times a second and left in place, complete, when the phase
 * ends.
 *
 * @param enabled False for `--quiet`; true when omitted.
 * @returns The display.
 *
 * @example Off a terminal nothing is shown
 * ```ts
 * import { terminalProgress } from "./_progress.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const progress = terminalProgress(false);
 * assertEquals(progress.listener, undefined);
 * progress.finish();
 * ```
 */
export function terminalProgress(enabled = true): ProgressDisplay {
  if (!enabled || !Deno.stderr.isTerminal()) return { finish: () => {} };
  const encoder = new TextEncoder();
  const write = (text: string) => Deno.stderr.writeSync(encoder.encode(text));
  // A terminal that does not know its size (0 columns) gets the usual 80.
  const columns = () => {
    try {
      return Deno.consoleSize().columns || 80;
    } catch {
      return 80;
    }
  };
  let phase: string | undefined;
  let phaseStarted = performance.now();
  let lastDrawn = -Infinity;
  let lastReport = phaseStarted;
  let lineOpen = false;
  return {
    listener: (progress) => {
      const now = performance.now();
      if (progress.phase !== phase) {
        // A phase starts when the one before ends: at its last report.
        if (lineOpen) phaseStarted = lastReport;
        if (lineOpen) write("\n");
        lineOpen = false;
        phase = progress.phase;
        lastDrawn = -Infinity;
      }
      lastReport = now;
      const complete = progress.done >= progress.total;
      if (!complete && now - lastDrawn < REDRAW_INTERVAL_MS) return;
      lastDrawn = now;
      const seconds = (now - phaseStarted) / 1000;
      write(`\r\x1b[2K${progressLine({ ...progress, seconds }, columns())}`);
      lineOpen = true;
      if (complete) {
        write("\n");
        lineOpen = false;
        phaseStarted = now;
      }
    },
    finish: () => {
      if (lineOpen) write("\n");
      lineOpen = false;
    },
  };
}
