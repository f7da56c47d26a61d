/**
 * The worker that codes blocks for `encode --pack`: a message
 * `{ id, root, items }` in, `{ id, block }` (buffers transferred) or
 * `{ id, error }` out.
 *
 * @module
 */

import { encodeBlock } from "./pack_block_task.ts";
import type { PlannedItem } from "./pack_plan.ts";

/** A request to the worker. */
export interface PackWorkerRequest {
  /** Echoed in the reply. */
  readonly id: number;
  /** The tree's folder. */
  readonly root: string;
  /** The block's items. */
  readonly items: readonly PlannedItem[];
}

// deno-lint-ignore no-explicit-any -- the worker global scope
const scope = globalThis as any;
if (typeof scope.WorkerGlobalScope !== "undefined") {
  scope.onmessage = (event: MessageEvent<PackWorkerRequest>) => {
    const { id, root, items } = event.data;
    try {
      const block = encodeBlock(root, items);
      const buffers = new Set(block.body.parts.map((part) => part.buffer));
      scope.postMessage({ id, block }, [...buffers]);
    } catch (error) {
      scope.postMessage({
        id,
        error: error instanceof Error
          ? { name: error.name, message: error.message }
          : { name: "Error", message: String(error) },
      });
    }
  };
}
