/**
 * `encode --pack`: a whole folder tree into one pack file (or standard output).
 *
 * @module
 */

import { TREE_FILE_PIECE_BYTES } from "../dump/pack_tree.ts";
import { withHeader } from "../format/pack_block.ts";
import { PACK_CODERS, PACK_FORMAT_VERSIONS } from "../format/pack_layout.ts";
import type { DumpOutcome, ProgressListener } from "./job_report.ts";
import { type CodedBlock, copyStreamedPart } from "./pack_block_task.ts";
import { packWorkerPool } from "./pack_worker_pool.ts";
import { loadPredictorFolders, releaseBuffers } from "./pack_lane.ts";
import { planBlocks, type RefusedEntries } from "./pack_plan.ts";
import { PackWriter } from "./pack_writer.ts";

/**
 * Input bytes after which a block ends: 8 MiB. A block is the unit of parallel
 * work, of seeking and of loss; its dumps share the coder's carried models.
 */
export const PACK_BLOCK_BYTES = 8 << 20;

/** What {@link encodePack} needs. */
export interface PackEncodeOptions {
  /** The folder to pack. */
  readonly dumpDir: string;
  /** The pack to write, or `-` for standard output. */
  readonly pack: string;
  /** Flush the pack before it gets its name (default true). */
  readonly durable?: boolean;
  /** Input bytes after which a block ends (default {@link PACK_BLOCK_BYTES}). */
  readonly blockBytes?: number;
  /** Blocks coded at once, by as many workers (default 1: in this thread). */
  readonly jobs?: number;
  /** Called after each block. */
  readonly onProgress?: ProgressListener;
  /**
   * A predictor folder (the same tree made by a cheaper model on the same
   * tokens): each dump with a counterpart there is coded against it, and the
   * pack is format version 2.
   */
  readonly predictorDir?: string;
  /**
   * Files larger than this are never held whole: read in pieces of this size
   * (default `TREE_FILE_PIECE_BYTES`).
   */
  readonly pieceBytes?: number;
}

/** What {@link encodePack} did. */
export interface PackEncodeReport {
  /** Dumps coded. */
  readonly dumps: number;
  /** Dumps among them coded against a predictor dump. */
  readonly predicted: number;
  /** Files stored as they are (not part of a coded dump). */
  readonly files: number;
  /** Empty folders. */
  readonly folders: number;
  /** Blocks written. */
  readonly blocks: number;
  /** Bytes of every file packed. */
  readonly inputBytes: number;
  /** Bytes of the K and V files of the coded dumps. */
  readonly tensorBytes: number;
  /** Bytes of the pack, everything counted. */
  readonly packBytes: number;
  /** Entries left out (not regular files), as skipped outcomes. */
  readonly outcomes: DumpOutcome[];
  /** Wall time of the job. */
  readonly seconds: number;
}

/**
 * Packs a folder tree.
 *
 * @param options The folder, the pack, durability and block size.
 * @returns What was packed.
 * @throws {KvbitsFileError} When the folder or a file cannot be read, a large
 * file changes while it is packed, the predictor folder is missing or holds a
 * dump of another shape, or the pack cannot be written (nothing is left under
 * the pack's name then).
 *
 * @example
 * ```ts
 * import { encodePack } from "./pack_encode_job.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const out = await Deno.makeTempDir();
 * const report = await encodePack({ dumpDir: "fixtures/kv-sample", pack: `${out}/s.kvp`, durable: false });
 * assertEquals([report.dumps, report.files, report.blocks], [51, 0, 1]);
 * assertEquals(report.packBytes, (await Deno.stat(`${out}/s.kvp`)).size);
 * await Deno.remove(out, { recursive: true });
 * ```
 */
export async function encodePack(
  options: PackEncodeOptions,
): Promise<PackEncodeReport> {
  const started = performance.now();
  const root = options.dumpDir;
  const blockBytes = options.blockBytes ?? PACK_BLOCK_BYTES;
  const predictorDir = options.predictorDir;
  const pieceBytes = options.pieceBytes ?? TREE_FILE_PIECE_BYTES;
  if (predictorDir !== undefined) {
    (await loadPredictorFolders()).checkPredictorFolder(predictorDir);
  }
  const refused: RefusedEntries = [];
  const plan = planBlocks(root, blockBytes, {
    skip: options.pack === "-" ? [] : [options.pack],
    refused,
  });
  // The first two blocks are planned before the pack is opened, so that a folder
  // that cannot be read leaves nothing behind, and workers start only for two
  // blocks or more.
  const planned = [plan.next(), plan.next()];
  const pack = await PackWriter.open(options.pack, {
    coder: PACK_CODERS.packCoder,
    version: predictorDir !== undefined
      ? PACK_FORMAT_VERSIONS.predicted
      : PACK_FORMAT_VERSIONS.plain,
    durable: options.durable,
  });
  const counts = {
    dumps: 0,
    predicted: 0,
    files: 0,
    folders: 0,
    tensorBytes: 0,
  };
  let inputBytes = 0;
  const write = (bytes: Uint8Array) => pack.write(bytes);
  const pool = packWorkerPool(planned[1].done ? 1 : options.jobs ?? 1);
  let packBytes: number;
  try {
    // Blocks coded `jobs` at a time, written in order.
    const queue: Promise<CodedBlock>[] = [];
    const writeNext = async () => {
      const coded = await queue.shift()!;
      const number = pack.beginBlock(coded.body.entries);
      const held: Uint8Array[] = [];
      for (const part of withHeader(coded.body, number)) {
        if (part instanceof Uint8Array) {
          await write(part);
          held.push(part);
        } else await copyStreamedPart(root, part, pieceBytes, write);
      }
      // Written: their memory goes back now, for the next blocks.
      releaseBuffers(held);
      counts.dumps += coded.dumps;
      counts.predicted += coded.predicted;
      counts.files += coded.files;
      counts.folders += coded.folders;
      counts.tensorBytes += coded.tensorBytes;
      inputBytes += coded.inputBytes;
      options.onProgress?.({
        phase: "packing",
        done: pack.blocks,
        total: pack.blocks + queue.length,
        bytes: inputBytes,
      });
    };
    for (
      let next = planned.shift()!;
      !next.done;
      next = planned.shift() ?? plan.next()
    ) {
      if (queue.length > pool.width) await writeNext();
      queue.push(
        pool.run({
          kind: "encode",
          root,
          items: next.value,
          predictorDir,
          pieceBytes,
        }) as Promise<
          CodedBlock
        >,
      );
    }
    while (queue.length > 0) await writeNext();
    packBytes = await pack.finish();
  } catch (error) {
    await pack.abort();
    throw error;
  } finally {
    pool.close();
  }
  return {
    ...counts,
    blocks: pack.blocks,
    inputBytes,
    packBytes,
    outcomes: refused.map(({ path, reason }) => ({
      dump: path,
      status: "skipped",
      reason: `${path}: ${reason}`,
    })),
    seconds: (performance.now() - started) / 1000,
  };
}
