/**
 * The module every worker of a folder job runs: one {@link DumpTaskLane} that
 * answers the tasks the job posts, in the order posted (see worker_pool.ts for
 * the protocol). It posts `{ ready: true }` once loaded; then, for each
 * `{ id, task }`, `{ id, reply }`, handing histogram buffers over instead of
 * copying them.
 *
 * A bug that escapes the lane ends the worker with an error event; the pool
 * reports the dump it was handling as failed and starts another worker.
 *
 * @module
 */

import { type DumpTask, DumpTaskLane, transferablesOf } from "./dump_tasks.ts";

/** The parts of a dedicated worker's global scope used here. */
interface WorkerScope {
  postMessage(message: unknown, options?: { transfer?: Transferable[] }): void;
  onmessage:
    | ((event: MessageEvent<{ id: number; task: DumpTask }>) => void)
    | null;
}

// Only in a worker: loaded anywhere else (a type check, a doc test) it does nothing.
if ("WorkerGlobalScope" in globalThis) {
  const scope = globalThis as unknown as WorkerScope;
  const lane = new DumpTaskLane();
  let queue: Promise<void> = Promise.resolve();
  scope.onmessage = (event) => {
    const { id, task } = event.data;
    // One task at a time: a lane's read buffers serve one dump.
    queue = queue.then(async () => {
      const reply = await lane.run(task);
      scope.postMessage({ id, reply }, { transfer: transferablesOf(reply) });
    });
  };
  scope.postMessage({ ready: true });
}
