/**
 * Blocks coded in parallel: this thread alone (one job), or `jobs`
 * workers running `pack_worker.ts`, each coding one block at a time. Results come
 * back in the order asked, so the pack does not depend on the number of jobs.
 *
 * @module
 */

import { KvbitsJobError } from "./job_error.ts";
import { type CodedBlock, encodeBlock } from "./pack_block_task.ts";
import type { PlannedItem } from "./pack_plan.ts";
import type { PackWorkerRequest } from "./pack_worker.ts";

/** Codes blocks; {@link BlockCoderPool.close} stops its workers. */
export interface BlockCoderPool {
  /** Blocks that may be in flight at once (what the caller should keep queued). */
  readonly width: number;
  /**
   * Codes one block.
   *
   * @param items The block's items.
   * @returns The coded block.
   */
  code(items: readonly PlannedItem[]): Promise<CodedBlock>;
  /** Stops the workers. */
  close(): void;
}

/**
 * Starts a pool.
 *
 * @param root The tree's folder.
 * @param jobs Workers to start; 1 codes in this thread.
 * @returns The pool.
 *
 * @example
 * ```ts
 * import { blockCoderPool } from "./pack_block_pool.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const pool = blockCoderPool("fixtures/kv-sample/llama6L-kjv-ruth", 2);
 * const dump = (t: number) => ({ kind: "dump" as const, path: `layer_5/meta_t${t}_${t + 1}.json`, kPath: `layer_5/k_t${t}_${t + 1}.bin`, vPath: `layer_5/v_t${t}_${t + 1}.bin` });
 * try {
 *   const blocks = await Promise.all([pool.code([dump(384)]), pool.code([dump(385), dump(386)]), pool.code([dump(387)])]);
 *   assertEquals(blocks.map((block) => block.dumps), [1, 2, 1]);
 * } finally {
 *   pool.close();
 * }
 * ```
 */
export function blockCoderPool(root: string, jobs: number): BlockCoderPool {
  if (jobs <= 1) {
    return {
      width: 1,
      code: (items) => Promise.resolve(encodeBlock(root, items)),
      close: () => {},
    };
  }
  const waiting: {
    request: PackWorkerRequest;
    resolve: (block: CodedBlock) => void;
    reject: (error: Error) => void;
  }[] = [];
  const idle: Worker[] = [];
  const busy = new Map<number, {
    worker: Worker;
    resolve: (block: CodedBlock) => void;
    reject: (error: Error) => void;
  }>();
  const workers: Worker[] = [];
  let nextId = 0;
  const dispatch = () => {
    while (idle.length > 0 && waiting.length > 0) {
      const worker = idle.pop()!;
      const job = waiting.shift()!;
      busy.set(job.request.id, { worker, ...job });
      worker.postMessage(job.request);
    }
  };
  for (let i = 0; i < jobs; i++) {
    const worker = new Worker(new URL("./pack_worker.ts", import.meta.url), {
      type: "module",
    });
    worker.onmessage = (event) => {
      const { id, block, error } = event.data;
      const job = busy.get(id)!;
      busy.delete(id);
      idle.push(worker);
      if (error !== undefined) {
        job.reject(new KvbitsJobError(error.message));
      } else job.resolve(block);
      dispatch();
    };
    worker.onerror = (event) => {
      event.preventDefault();
      for (const [id, job] of busy) {
        if (job.worker === worker) {
          busy.delete(id);
          job.reject(
            new KvbitsJobError(`a worker failed: ${event.message}`),
          );
        }
      }
    };
    workers.push(worker);
    idle.push(worker);
  }
  return {
    width: jobs,
    code: (items) =>
      new Promise((resolve, reject) => {
        waiting.push({
          request: { id: nextId++, root, items },
          resolve,
          reject,
        });
        dispatch();
      }),
    close() {
      for (const worker of workers) worker.terminate();
    },
  };
}
