/**
 * The file system calls a predicted pack job cannot do without, timed alone:
 * what `encode --pack --predictor-dir` and `decode --pack --predictor-dir`
 * would take if they did nothing but list, read and write the files. Beside the
 * coder's time in memory it bounds the job's speed from above: on a folder of
 * many small dumps the calls, not the coding, set the pace.
 *
 * - Encode: list both trees, then open, read and close every file of the dump
 *   folder and of the predictor folder.
 * - Decode: list the predictor folder, read every file of it, then make the
 *   dump folder's tree again in a fresh folder (each folder made, each file
 *   created, written and closed, none flushed: the job flushes once at the end,
 *   or not at all without `durable`).
 *
 * A file is read into a buffer kept for the next, in one read when it leaves
 * room in it (as the job's predictor reader does), else until a read returns
 * nothing.
 *
 * @module
 */

import { join } from "@std/path";

/** What {@link benchFileCalls} measured, best runs. */
export interface FileCallFigures {
  /** Bytes of the dump folder's files (what the job's MB/s divide). */
  readonly bytes: number;
  /** Files read to encode: the dump folder's and the predictor folder's. */
  readonly encodeFiles: number;
  /** Milliseconds of the encode side's calls. */
  readonly encodeMs: number;
  /** Files read to decode (the predictor folder's). */
  readonly decodeReads: number;
  /** Files made to decode (the dump folder's). */
  readonly decodeWrites: number;
  /** Milliseconds of the decode side's calls. */
  readonly decodeMs: number;
}

interface Tree {
  /** Folders below the root, parents first, relative. */
  readonly folders: string[];
  /** Regular files, relative. */
  readonly files: string[];
}

function listTree(root: string): Tree {
  const tree: Tree = { folders: [], files: [] };
  const visit = (folder: string) => {
    for (const entry of Deno.readDirSync(inTree(root, folder))) {
      const path = folder === "" ? entry.name : `${folder}/${entry.name}`;
      if (entry.isDirectory) {
        tree.folders.push(path);
        visit(path);
      } else if (entry.isFile) tree.files.push(path);
    }
  };
  visit("");
  return tree;
}

/**
 * A path of a tree, joined without normalizing (what `join` costs, 1-2 µs, is
 * the job's own work, not a call it cannot do without).
 */
function inTree(root: string, path: string): string {
  return path === "" ? root : `${root}/${path}`;
}

/** Reads every file of a tree; returns the bytes read. */
function readTree(root: string, tree: Tree, space: { buffer: Uint8Array }) {
  let total = 0;
  for (const path of tree.files) {
    const file = Deno.openSync(inTree(root, path), { read: true });
    try {
      let filled = 0;
      for (;;) {
        if (filled === space.buffer.length) {
          const larger = new Uint8Array(2 * space.buffer.length);
          larger.set(space.buffer);
          space.buffer = larger;
        }
        const read = file.readSync(
          filled === 0 ? space.buffer : space.buffer.subarray(filled),
        ) ?? 0;
        filled += read;
        // Room left: the file ended (a regular file reads short only there).
        if (read === 0 || filled < space.buffer.length) break;
      }
      total += filled;
    } finally {
      file.close();
    }
  }
  return total;
}

/**
 * Times the file system calls of a predicted pack job on a dump folder and its
 * predictor folder.
 *
 * @param dumpDir The dump folder.
 * @param predictorDir Its predictor folder.
 * @param workDir Where the decode side makes its trees (each removed after).
 * @param runs Timed runs of each side (the best counts).
 * @returns The figures.
 *
 * @example
 * ```ts
 * import { benchFileCalls } from "./file_calls_bench.ts";
 * import { assertEquals, assertGreater } from "@std/assert";
 *
 * const fixtures = new URL("../fixtures/", import.meta.url).pathname;
 * const work = await Deno.makeTempDir();
 * const figures = await benchFileCalls(`${fixtures}kv-sample`, `${fixtures}predictor-sample/int8`, work, 1);
 * assertEquals([figures.encodeFiles, figures.decodeReads, figures.decodeWrites], [306, 153, 153]);
 * assertGreater(figures.decodeMs, 0);
 * await Deno.remove(work, { recursive: true });
 * ```
 */
export async function benchFileCalls(
  dumpDir: string,
  predictorDir: string,
  workDir: string,
  runs: number,
): Promise<FileCallFigures> {
  const dumps = listTree(dumpDir);
  const predictors = listTree(predictorDir);
  const contents = dumps.files.map((path) =>
    Deno.readFileSync(join(dumpDir, path))
  );
  const space = { buffer: new Uint8Array(64 * 1024) };
  let encodeMs = Infinity, decodeMs = Infinity;
  // One untimed run of each side first, as the job's figures have.
  for (let run = 0; run <= Math.max(1, runs); run++) {
    let started = performance.now();
    readTree(dumpDir, listTree(dumpDir), space);
    readTree(predictorDir, listTree(predictorDir), space);
    if (run > 0) encodeMs = Math.min(encodeMs, performance.now() - started);
    const out = join(workDir, `file-calls-${run}`);
    started = performance.now();
    readTree(predictorDir, listTree(predictorDir), space);
    Deno.mkdirSync(out);
    for (const folder of dumps.folders) Deno.mkdirSync(inTree(out, folder));
    dumps.files.forEach((path, n) =>
      Deno.writeFileSync(inTree(out, path), contents[n], { createNew: true })
    );
    if (run > 0) decodeMs = Math.min(decodeMs, performance.now() - started);
    await Deno.remove(out, { recursive: true });
  }
  return {
    bytes: contents.reduce((sum, bytes) => sum + bytes.length, 0),
    encodeFiles: dumps.files.length + predictors.files.length,
    encodeMs,
    decodeReads: predictors.files.length,
    decodeWrites: dumps.files.length,
    decodeMs,
  };
}
