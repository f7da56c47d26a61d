/**
 * A worker module for tests of the pool: it answers like dump_worker.ts, but
 * dies (an uncaught error, as a bug or an exhausted heap would end it) on any
 * task that holds a dump whose path contains `crash`.
 */

import { serveDumpTasks, type WorkerScope } from "../src/jobs/dump_tasks.ts";

if ("WorkerGlobalScope" in globalThis) {
  serveDumpTasks(globalThis as unknown as WorkerScope, (task) => {
    const paths = task.kind === "count" || task.kind === "encode"
      ? task.dumps.map((dump) => dump.relativePath)
      : task.kind === "decode"
      ? task.metaFiles
      : [];
    if (paths.some((path) => path.includes("crash"))) {
      throw new Error(`crashed on purpose in ${paths.join(", ")}`);
    }
  });
}
