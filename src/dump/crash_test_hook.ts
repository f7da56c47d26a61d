/**
 * A test hook that stops the process at an exact point of the write protocol, so
 * that a test can kill it there with a real, external SIGKILL (see
 * `tests/crash_test.ts`). Timed kills would land anywhere or nowhere; this makes
 * each kill point of the crash test deterministic.
 *
 * The hook is off unless the process may read the environment variable
 * {@link PAUSE_AT_WRITE_VARIABLE} and it is set. The tasks in `deno.json` do not
 * grant `--allow-env`, so in normal use it costs one permission query per process
 * and nothing per write. The crash test runs `tasks/encode.ts` and
 * `tasks/decode.ts` with `--allow-env=KVBITS_TEST_PAUSE_AT_WRITE`.
 *
 * @module
 */

/**
 * Environment variable of the hook: `<n>:<stage>`, where `n` counts the writes
 * (`writeFileAtomicSync`, which every output file goes through) of the thread
 * from 1 (with `--jobs 1` every write is in the task's own thread; a worker
 * counts its own) and `stage` is `temp` (the temporary
 * file is written and synced, not yet renamed; for a file written in place,
 * `writeNewFileSync`: half its bytes are written) or `renamed` (the file is in
 * place, complete). At that point the thread prints `kvbits test hook: paused at write <n>
 * (<stage>) <path>` to stderr and blocks until the process is killed.
 */
export const PAUSE_AT_WRITE_VARIABLE = "KVBITS_TEST_PAUSE_AT_WRITE";

/** Where in one write the hook can stop. */
export type WriteStage = "temp" | "renamed";

/** The requested pause point, read once; null when the hook is off. */
let requested: { write: number; stage: WriteStage } | null | undefined;

function pausePoint(): { write: number; stage: WriteStage } | null {
  if (requested !== undefined) return requested;
  requested = null;
  const permission = Deno.permissions.querySync({
    name: "env",
    variable: PAUSE_AT_WRITE_VARIABLE,
  });
  if (permission.state !== "granted") return requested;
  const value = Deno.env.get(PAUSE_AT_WRITE_VARIABLE);
  const match = value === undefined
    ? null
    : /^(\d+):(temp|renamed)$/.exec(value);
  if (match) {
    requested = { write: Number(match[1]), stage: match[2] as WriteStage };
  }
  return requested;
}

/**
 * Blocks the process forever when the hook asks to stop at this write and stage;
 * returns at once otherwise.
 *
 * @param write Number of this write in the thread, from 1.
 * @param stage How far the write has got.
 * @param path The file being written.
 *
 * @example Without the environment permission the hook never stops
 * ```ts
 * import { pauseIfRequested } from "./crash_test_hook.ts";
 *
 * pauseIfRequested(1, "temp", "out/x.bin"); // returns at once
 * ```
 */
export function pauseIfRequested(
  write: number,
  stage: WriteStage,
  path: string,
): void {
  const point = pausePoint();
  if (point === null || point.write !== write || point.stage !== stage) return;
  Deno.stderr.writeSync(
    new TextEncoder().encode(
      `kvbits test hook: paused at write ${write} (${stage}) ${path}\n`,
    ),
  );
  // Blocks this thread for good: nothing else runs until the test kills us.
  const cell = new Int32Array(new SharedArrayBuffer(4));
  for (;;) Atomics.wait(cell, 0, 0);
}

/**
 * Whether the hook will stop at this write, at either stage: a writer that
 * would otherwise write a file in one call writes it in two halves then.
 *
 * @param write Number of the write in the thread, from 1.
 * @returns True only in a crash test that stops at this write.
 *
 * @example
 * ```ts
 * import { pauseRequestedAt } from "./crash_test_hook.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(pauseRequestedAt(1), false);
 * ```
 */
export function pauseRequestedAt(write: number): boolean {
  return pausePoint()?.write === write;
}
