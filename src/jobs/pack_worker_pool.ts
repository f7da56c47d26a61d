/**
 * The lanes of the pack jobs: this thread and `jobs - 1` workers running
 * `pack_worker.ts`, each doing one block at a time (a worker costs tens of MB of
 * its own, so this thread works too: it only reads and writes the pack besides). Callers keep up to
 * one more than {@link PackWorkerPool.width} in flight and take results in the order they
 * asked, so that output never depends on the number of jobs.
 *
 * @module
 */

import { KvbitsJobError } from "./job_error.ts";
import {
  handlePackRequest,
  type PackReply,
  type PackRequest,
} from "./pack_worker.ts";
import { PackLane } from "./pack_lane.ts";

/** Runs pack work; {@link PackWorkerPool.close} stops its workers. */
export interface PackWorkerPool {
  /** Blocks worked on at once. */
  readonly width: number;
  /**
   * Does one request on a free lane.
   *
   * @param request The work (its payload buffer, if any, is transferred).
   * @returns The reply.
   */
  run(request: PackRequest): Promise<PackReply>;
  /** Stops the workers. */
  close(): void;
}

interface Job {
  readonly id: number;
  readonly request: PackRequest;
  readonly resolve: (reply: PackReply) => void;
  readonly reject: (error: Error) => void;
}

/**
 * Starts a pool.
 *
 * @param jobs Lanes: this thread and `jobs - 1` workers.
 * @param module The workers' module (tests give one that cannot load).
 * @returns The pool.
 *
 * @example
 * ```ts
 * import { packWorkerPool } from "./pack_worker_pool.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const pool = packWorkerPool(2);
 * const root = "fixtures/kv-sample/llama6L-kjv-ruth";
 * const dump = (t: number) => ({
 *   kind: "dump" as const, path: `layer_5/meta_t${t}_${t + 1}.json`,
 *   metaBytes: Deno.readFileSync(`${root}/layer_5/meta_t${t}_${t + 1}.json`),
 * });
 * try {
 *   const blocks = await Promise.all([[dump(384)], [dump(385), dump(386)], [dump(387)]].map((items) => pool.run({ kind: "encode", root, items })));
 *   assertEquals(blocks.map((block) => "body" in block && block.dumps), [1, 2, 1]);
 * } finally {
 *   pool.close();
 * }
 * ```
 */
export function packWorkerPool(
  jobs: number,
  module: URL = new URL("./pack_worker.ts", import.meta.url),
): PackWorkerPool {
  // This thread's lane, reused from block to block.
  const lane = new PackLane();
  if (jobs <= 1) {
    return {
      width: 1,
      run: async (request) => (await handlePackRequest(request, lane)).reply,
      close: () => {},
    };
  }
  const workers: Worker[] = [];
  const waiting: Job[] = [];
  // Each worker's jobs, in the order it was sent them: the one it works on,
  // and the next, queued in its inbox so that it never waits for this thread
  // (busy coding a block of its own) to hand it more.
  const sent = new Map<Worker, Job[]>();
  let nextId = 0;
  let threadIdle = true;
  // This thread's lane takes its block in a task of its own, after the
  // current one, so that replies and writes go on meanwhile: a message to
  // itself, not a timer (Deno's timers start its Node layer, about 12 ms and
  // 5 MB; measured with Deno 2.9).
  const threadTurn = new MessageChannel();
  const threadJobs: Job[] = [];
  threadTurn.port1.onmessage = async () => {
    const job = threadJobs.shift()!;
    try {
      job.resolve((await handlePackRequest(job.request, lane)).reply);
    } catch (error) {
      job.reject(error as Error);
    }
    threadIdle = true;
    dispatch();
  };
  const send = (worker: Worker, job: Job) => {
    sent.get(worker)!.push(job);
    const payload = job.request.kind === "restore"
      ? [job.request.payload.buffer as ArrayBuffer]
      : [];
    worker.postMessage({ id: job.id, request: job.request }, payload);
  };
  const leastBusy = (limit: number): Worker | undefined => {
    let best: Worker | undefined;
    for (const [worker, jobs] of sent) {
      if (
        jobs.length < limit &&
        (best === undefined || jobs.length < sent.get(best)!.length)
      ) {
        best = worker;
      }
    }
    return best;
  };
  const dispatch = () => {
    for (let worker; waiting.length > 0 && (worker = leastBusy(1));) {
      send(worker, waiting.shift()!);
    }
    if (waiting.length > 0 && threadIdle) {
      // This thread's lane: after the current task yields, so that replies
      // and writes go on meanwhile.
      threadIdle = false;
      threadJobs.push(waiting.shift()!);
      threadTurn.port2.postMessage(null);
    }
    for (let worker; waiting.length > 0 && (worker = leastBusy(2));) {
      send(worker, waiting.shift()!);
    }
  };
  for (let i = 1; i < jobs; i++) {
    const worker = new Worker(module, { type: "module" });
    worker.onmessage = (event) => {
      const { reply, error } = event.data;
      const job = sent.get(worker)!.shift()!;
      if (error !== undefined) job.reject(new KvbitsJobError(error));
      else job.resolve(reply);
      dispatch();
    };
    worker.onerror = (event) => {
      // A worker that cannot run (say, its module is not there, as in a
      // bundle) is dropped; its blocks go back to the queue for the other
      // lanes, this thread's included.
      event.preventDefault();
      const jobs = sent.get(worker) ?? [];
      sent.delete(worker);
      worker.terminate();
      waiting.unshift(...jobs);
      dispatch();
    };
    workers.push(worker);
    sent.set(worker, []);
  }
  return {
    width: jobs,
    run: (request) =>
      new Promise((resolve, reject) => {
        waiting.push({ id: nextId++, request, resolve, reject });
        dispatch();
      }),
    close() {
      for (const worker of workers) worker.terminate();
      threadTurn.port1.close();
    },
  };
}
