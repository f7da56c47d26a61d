/**
 * What a lane of the pack jobs (the task's thread, or a worker) keeps from one
 * block to the next: the dump coders and the read buffers. Each block reuses
 * the memory of the one before instead of allocating its own and leaving it to
 * the collector, so that a lane's memory stays that of one block (freed blocks
 * that wait for a full collection, and the allocator's fragmentation, are what
 * made the resident size grow from block to block).
 *
 * @module
 */

import { PackBlockDecoder, PackBlockEncoder } from "../codec/pack_coder.ts";
import { treeFileReader } from "../dump/pack_tree.ts";

/**
 * The predictor folder's functions (`predictor_dump.ts`). That module hashes
 * with `node:crypto`, whose loading costs every thread several MB: the pack
 * jobs load it only when given a predictor folder.
 */
export type PredictorFolders = typeof import("../dump/predictor_dump.ts");

/**
 * Loads the predictor folder's functions.
 *
 * @returns The module.
 *
 * @example
 * ```ts
 * import { loadPredictorFolders } from "./pack_lane.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(typeof (await loadPredictorFolders()).checkPredictorFolder, "function");
 * ```
 */
export function loadPredictorFolders(): Promise<PredictorFolders> {
  return import("../dump/predictor_dump.ts");
}

/**
 * Blocks a lane does between prompts to a full collection (see
 * {@link PackLane.blockDone}).
 */
const BLOCKS_PER_COLLECTION = 2;

/**
 * Bytes of the buffer that prompts it: V8 starts a full collection when the
 * bytes of array buffers grow by 64 MiB since the last one.
 */
const COLLECTION_PROMPT_BYTES = 64 << 20;

/** A tree's file reader, reusing one buffer per role (`treeFileReader`). */
export type TreeReader = (path: string, role: string) => Uint8Array;

/**
 * One lane's reused state, made as first needed.
 *
 * @example
 * ```ts
 * import { PackLane } from "./pack_lane.ts";
 * import { assertStrictEquals } from "@std/assert";
 *
 * const lane = new PackLane();
 * assertStrictEquals(lane.encoder, lane.encoder);
 * assertStrictEquals(lane.reader("fixtures"), lane.reader("fixtures"));
 * ```
 */
export class PackLane {
  #encoder: PackBlockEncoder | undefined;
  #decoder: PackBlockDecoder | undefined;
  readonly #readers = new Map<string, TreeReader>();
  #predictors: Promise<PredictorFolders> | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #blocks = 0;

  /**
   * Call after each block. Every {@link BLOCKS_PER_COLLECTION} blocks, prompts
   * V8 to collect the garbage of the blocks before: a buffer of 64 MiB, made
   * and dropped at once, counts towards the array buffer bytes that start a
   * full collection, and costs no memory (zeroed pages are not touched).
   * Otherwise nothing prompts one before the heap reaches a limit V8 sets at
   * up to four times the live heap, since blocks free their buffers at once:
   * on kv-real copied 128 times (49,152 dumps) the threads' heaps grew to
   * 20-37 MB, mostly garbage, and a two-lane encode peaked at 175-195 MB
   * resident instead of about 150 (the collections cost about 0.6% of its CPU
   * time).
   */
  blockDone(): void {
    if (++this.#blocks % BLOCKS_PER_COLLECTION !== 0) return;
    try {
      new ArrayBuffer(COLLECTION_PROMPT_BYTES);
    } catch {
      // No room to map it: no prompt.
    }
  }

  /**
   * Runs lane work one piece at a time, in the order asked (work that waits
   * for a module to load must not let the next start on the same coders).
   *
   * @param work The work.
   * @returns Its result.
   */
  serially<T>(work: () => Promise<T>): Promise<T> {
    const result = this.#queue.then(work);
    this.#queue = result.catch(() => {});
    return result;
  }

  /**
   * The predictor folder's functions, loaded the first time.
   *
   * @returns The module.
   */
  predictorFolders(): Promise<PredictorFolders> {
    return this.#predictors ??= loadPredictorFolders();
  }

  /** The dump encoder (a block builder resets it). */
  get encoder(): PackBlockEncoder {
    return this.#encoder ??= new PackBlockEncoder();
  }

  /**
   * The dump decoder, decoding every dump into the same buffers (each result
   * valid until the next).
   */
  get decoder(): PackBlockDecoder {
    return this.#decoder ??= new PackBlockDecoder(undefined, true);
  }

  /**
   * The file reader of a tree.
   *
   * @param root The tree's folder.
   * @returns Its reader, the same for every block.
   */
  reader(root: string): TreeReader {
    let read = this.#readers.get(root);
    if (read === undefined) {
      read = treeFileReader(root);
      this.#readers.set(root, read);
    }
    return read;
  }
}

/**
 * Frees the memory of arrays the caller is done with now rather than at the
 * collector's next full collection (their buffers are detached: any other view
 * of them reads as empty afterwards). A lane's blocks are large and live long
 * enough to reach the old generation, where dead ones would wait for a full
 * collection; freed at once, the next block reuses their memory.
 *
 * @param arrays Views whose whole buffers are no longer used by anyone.
 *
 * @example
 * ```ts
 * import { releaseBuffers } from "./pack_lane.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const bytes = new Uint8Array(1 << 20);
 * releaseBuffers([bytes, bytes.subarray(4)]);
 * assertEquals(bytes.length, 0);
 * ```
 */
export function releaseBuffers(arrays: readonly Uint8Array[]): void {
  for (const array of arrays) {
    const buffer = array.buffer;
    if (buffer instanceof ArrayBuffer && !buffer.detached) buffer.transfer(0);
  }
}
