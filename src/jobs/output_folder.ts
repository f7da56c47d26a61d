/**
 * Opening a job's output folder: checks before anything is written, the folder's
 * lock, and the clean-up of what an interrupted run left in it.
 *
 * @module
 */

import { fileErrorOf } from "../dump/file_error.ts";
import {
  pathKind,
  realOrResolved,
  removeIfEmpty,
} from "../dump/folder_info.ts";
import { lockFolder } from "../dump/folder_lock.ts";
import { removeStaleTemporaryFiles } from "../dump/temporary_files.ts";
import { KvbitsJobError, mentionOption } from "./job_error.ts";

/** An output folder opened for a job; release it (or `await using`) at the end. */
export interface OutputFolder extends AsyncDisposable {
  /** Temporary files of interrupted earlier runs that were removed. */
  readonly temporaryFilesRemoved: readonly string[];
  /** Releases the folder's lock. */
  release(): Promise<void>;
}

/**
 * Opens a job's output folder: refuses one that is an input folder or a file,
 * creates it, takes its lock (one writing job per folder at a time) and removes
 * the temporary files that killed runs left in it (input folders inside it are
 * not entered). Releasing it removes the lock file, and the folder too when this
 * call created it and nothing was written into it.
 *
 * @param outDir The output folder (the job's `outDir`); created when missing.
 * @param inputs The job's input folders by option name, e.g. `{ dumpDir: "d" }`.
 * @returns The opened folder, to release when the job ends.
 * @throws {KvbitsJobError} When `outDir` is one of the inputs, is not a folder,
 * cannot be created, or another running kvbits job is writing into it.
 *
 * @example
 * ```ts
 * import { openOutputFolder } from "./output_folder.ts";
 * import { assertEquals, assertRejects } from "@std/assert";
 *
 * const dir = await Deno.makeTempDir();
 * await assertRejects(
 *   () => openOutputFolder(dir, { dumpDir: dir }),
 *   Error,
 *   "is the dump folder",
 * );
 * await using output = await openOutputFolder(`${dir}/out`, { dumpDir: dir });
 * assertEquals(output.temporaryFilesRemoved, []);
 * await assertRejects(() => openOutputFolder(`${dir}/out`, {}), Error, "another kvbits run");
 * await output.release();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function openOutputFolder(
  outDir: string,
  inputs: Readonly<Record<string, string | undefined>>,
): Promise<OutputFolder> {
  const out = await realOrResolved(outDir);
  const inputPaths: string[] = [];
  for (const [option, dir] of Object.entries(inputs)) {
    if (dir === undefined) continue;
    const input = await realOrResolved(dir);
    if (input === out) {
      throw new KvbitsJobError(
        `${outDir} is the ${
          mentionOption(option)
        }: choose another folder so that inputs and outputs stay apart`,
        "outDir",
      );
    }
    inputPaths.push(input);
  }
  const kind = await pathKind(outDir).catch((error) => {
    throw new KvbitsJobError(error.message, "outDir");
  });
  if (kind === "other") {
    throw new KvbitsJobError(`${outDir}: not a folder`, "outDir");
  }
  const lock = await lockFolder(outDir).catch((error) => {
    throw new KvbitsJobError(fileErrorOf(outDir, error).message, "outDir");
  });
  if (!("release" in lock)) {
    throw new KvbitsJobError(
      `${outDir}: another kvbits run${
        lock.holderPid === undefined ? "" : ` (pid ${lock.holderPid})`
      } is writing into it; wait for it to end`,
      "outDir",
    );
  }
  try {
    const temporaryFilesRemoved = lock.held
      ? await removeStaleTemporaryFiles(outDir, inputPaths)
      : [];
    // A folder made only for the lock goes again when nothing was written to it.
    const release = async () => {
      await lock.release();
      if (kind === "missing") await removeIfEmpty(outDir);
    };
    return {
      temporaryFilesRemoved,
      release,
      [Symbol.asyncDispose]: release,
    };
  } catch (error) {
    await lock.release();
    throw error;
  }
}
