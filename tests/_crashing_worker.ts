/**
 * A worker module for tests of the pool: it answers like dump_worker.ts, but
 * dies (an uncaught error, as a bug or an exhausted heap would end it) on any
 * task that holds a dump whose path contains `crash`.
 */

import {
  type DumpTask,
  DumpTaskLane,
  transferablesOf,
} from "../src/jobs/dump_tasks.ts";

interface WorkerScope {
  postMessage(message: unknown, options?: { transfer?: Transferable[] }): void;
  onmessage:
    | ((event: MessageEvent<{ id: number; task: DumpTask }>) => void)
    | null;
}

if ("WorkerGlobalScope" in globalThis) {
  const scope = globalThis as unknown as WorkerScope;
  const lane = new DumpTaskLane();
  let queue: Promise<void> = Promise.resolve();
  scope.onmessage = (event) => {
    const { id, task } = event.data;
    const paths = task.kind === "count" || task.kind === "encode"
      ? task.dumps.map((dump) => dump.relativePath)
      : task.kind === "decode"
      ? task.metaFiles
      : [];
    if (paths.some((path) => path.includes("crash"))) {
      throw new Error(`crashed on purpose in ${paths.join(", ")}`);
    }
    queue = queue.then(async () => {
      const reply = await lane.run(task);
      scope.postMessage({ id, reply }, { transfer: transferablesOf(reply) });
    });
  };
  scope.postMessage({ ready: true });
}
