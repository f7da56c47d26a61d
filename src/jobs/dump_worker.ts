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

import { serveDumpTasks, type WorkerScope } from "./dump_tasks.ts";

// Only in a worker: loaded anywhere else (a type check, a doc test) it does nothing.
if ("WorkerGlobalScope" in globalThis) {
  serveDumpTasks(globalThis as unknown as WorkerScope);
}
