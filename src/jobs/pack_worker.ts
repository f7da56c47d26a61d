/**
 * The worker of the pack jobs: codes a block for `encode --pack`, or restores one
 * for `decode`/`verify --pack`. A message `{ id, request }` in, `{ id, reply }`
 * (buffers transferred) or `{ id, error }` out; {@link handlePackRequest} is the
 * same work in the task's own thread.
 *
 * @module
 */

import { type CodedBlock, encodeBlock } from "./pack_block_task.ts";
import type { PlannedItem } from "./pack_plan.ts";
import {
  restoreBlock,
  type RestoredBlock,
  type RestoreTarget,
} from "./pack_restore_task.ts";
import type { PackEntry } from "../format/pack_table.ts";
import { PackLane, releaseBuffers } from "./pack_lane.ts";

/** Work for a lane. */
export type PackRequest =
  | {
    /** Code a block. */
    readonly kind: "encode";
    /** The tree's folder. */
    readonly root: string;
    /** The block's items. */
    readonly items: readonly PlannedItem[];
    /** The predictor folder, if any. */
    readonly predictorDir?: string;
    /** Files larger than this are read in pieces (`encodeBlock`). */
    readonly pieceBytes?: number;
  }
  | {
    /** Restore a block. */
    readonly kind: "restore";
    /** Its entries. */
    readonly entries: readonly PackEntry[];
    /** Its payload. */
    readonly payload: Uint8Array;
    /** `--only` patterns. */
    readonly only: readonly string[] | undefined;
    /** Where entries go. */
    readonly target: RestoreTarget;
    /** The predictor folder, if any. */
    readonly predictorDir?: string;
  };

/** What a lane hands back: a coded block or a restored one. */
export type PackReply = CodedBlock | RestoredBlock;

/**
 * Does one request (after the lane's earlier ones: see {@link PackLane.serially}).
 *
 * @param request The work.
 * @param lane What this lane reuses from block to block.
 * @returns The reply, and the buffers it may transfer.
 *
 * @example
 * ```ts
 * import { handlePackRequest } from "./pack_worker.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const { reply } = await handlePackRequest({ kind: "encode", root: ".", items: [{ kind: "folder", path: "x" }] });
 * assertEquals("body" in reply && reply.folders, 1);
 * ```
 */
export function handlePackRequest(
  request: PackRequest,
  lane: PackLane = new PackLane(),
): Promise<{ reply: PackReply; transfer: ArrayBuffer[] }> {
  return lane.serially(async () => {
    const dir = request.predictorDir;
    const predictors = dir !== undefined
      ? await lane.predictorFolders()
      : undefined;
    if (request.kind === "encode") {
      const reply = encodeBlock(
        request.root,
        request.items,
        predictors?.predictorDumpReader(dir!),
        lane,
        request.pieceBytes,
      );
      lane.blockDone();
      const buffers = new Set<ArrayBuffer>();
      for (const part of reply.body.parts) {
        if (part instanceof Uint8Array) buffers.add(part.buffer as ArrayBuffer);
      }
      return { reply, transfer: [...buffers] };
    }
    const reply = restoreBlock(
      request.entries,
      request.payload,
      request.only,
      request.target,
      predictors?.predictorFolderLookup(dir!),
      lane,
    );
    // The payload is this lane's (read for it, or transferred to it): its
    // memory goes back now, for the next blocks.
    releaseBuffers([request.payload]);
    lane.blockDone();
    return { reply, transfer: [] };
  });
}

// deno-lint-ignore no-explicit-any -- the worker global scope
const scope = globalThis as any;
if (typeof scope.WorkerGlobalScope !== "undefined") {
  const lane = new PackLane();
  scope.onmessage = async (
    event: MessageEvent<{ id: number; request: PackRequest }>,
  ) => {
    const { id, request } = event.data;
    try {
      const { reply, transfer } = await handlePackRequest(request, lane);
      scope.postMessage({ id, reply }, transfer);
    } catch (error) {
      scope.postMessage({
        id,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  };
}
