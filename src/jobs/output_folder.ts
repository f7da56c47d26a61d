/**
 * Opening a job's output folder: checks before anything is written, the folder's
 * lock, and the clean-up of what an interrupted run left in it.
 *
 * @module
 */

import { resolve } from "@std/path";
import { fileErrorOf } from "../dump/file_error.ts";
import { lockFolder } from "../dump/folder_lock.ts";
import { removeStaleTemporaryFiles } from "../dump/temporary_files.ts";
import { KvbitsJobError } from "./job_error.ts";

/**
 * The real path of a folder, or its absolute path when it does not exist yet: what
 * two folder flags are compared by, so that links and `./x` versus `x` cannot
 * make an output folder pass for another folder than an input.
 *
 * @param path A folder.
 * @returns Its real or absolute path.
 *
 * @example
 * ```ts
 * import { realOrResolved } from "./output_folder.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(await realOrResolved("/nonexistent/kvbits/out"), "/nonexistent/kvbits/out");
 * ```
 */
export async function realOrResolved(path: string): Promise<string> {
  return await Deno.realPath(path).catch(() => resolve(path));
}

/**
 * Refuses an output folder that is one of the job's input folders (by real
 * path): no job writes into its inputs.
 *
 * @param outDir The output folder (`--out-dir`).
 * @param inputs The input folders with their flag names; undefined ones are
 * left out.
 * @returns The real paths of the inputs.
 * @throws {KvbitsJobError} When `outDir` is one of them.
 *
 * @example
 * ```ts
 * import { checkOutputApart } from "./output_folder.ts";
 * import { assertRejects } from "@std/assert";
 *
 * await assertRejects(
 *   () => checkOutputApart("/tmp/x/.", [["--bitstream-dir", "/tmp/x"]]),
 *   Error,
 *   "is the --bitstream-dir folder",
 * );
 * ```
 */
export async function checkOutputApart(
  outDir: string,
  inputs: readonly (readonly [string, string | undefined])[],
): Promise<string[]> {
  const out = await realOrResolved(outDir);
  const inputPaths: string[] = [];
  for (const [flag, dir] of inputs) {
    if (dir === undefined) continue;
    const input = await realOrResolved(dir);
    if (input === out) {
      throw new KvbitsJobError(
        `--out-dir ${outDir} is the ${flag} folder: choose another folder so that inputs and outputs stay apart`,
      );
    }
    inputPaths.push(input);
  }
  return inputPaths;
}

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
 * @param outDir The output folder (`--out-dir`); created when missing.
 * @param inputs The job's input folders by flag name, e.g. `{"--dump-dir": "d"}`.
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
 *   () => openOutputFolder(dir, { "--dump-dir": dir }),
 *   Error,
 *   "is the --dump-dir folder",
 * );
 * await using output = await openOutputFolder(`${dir}/out`, { "--dump-dir": dir });
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
  const inputPaths = await checkOutputApart(outDir, Object.entries(inputs));
  const info = await Deno.stat(outDir).catch((error) => {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw new KvbitsJobError(`--out-dir ${fileErrorOf(outDir, error).message}`);
  });
  if (info !== undefined && !info.isDirectory) {
    throw new KvbitsJobError(`--out-dir ${outDir}: not a folder`);
  }
  const lock = await lockFolder(outDir).catch((error) => {
    throw new KvbitsJobError(`--out-dir ${fileErrorOf(outDir, error).message}`);
  });
  if (!("release" in lock)) {
    throw new KvbitsJobError(
      `--out-dir ${outDir}: another kvbits run${
        lock.holderPid === undefined ? "" : ` (pid ${lock.holderPid})`
      } is writing into it; wait for it to end`,
    );
  }
  try {
    const temporaryFilesRemoved = lock.held
      ? await removeStaleTemporaryFiles(outDir, inputPaths)
      : [];
    // A folder made only for the lock goes again when nothing was written to it.
    const release = async () => {
      await lock.release();
      if (info === undefined) await Deno.remove(outDir).catch(() => {});
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
