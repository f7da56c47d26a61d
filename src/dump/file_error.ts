/**
 * Errors about one file, with the path in front: what the tasks print.
 *
 * @module
 */

/**
 * A problem with one file: `message` is `<path>: <detail>`, one line, ready to
 * print.
 *
 * @example
 * ```ts
 * import { KvbitsFileError } from "./file_error.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const error = new KvbitsFileError("out/k.bin", "size is odd (3 bytes): not FP16 data");
 * assertEquals(error.message, "out/k.bin: size is odd (3 bytes): not FP16 data");
 * ```
 */
export class KvbitsFileError extends Error {
  /** The file at fault. */
  readonly path: string;
  /** What is wrong with it. */
  readonly detail: string;

  /**
   * @param path The file at fault.
   * @param detail What is wrong, one line.
   * @param cause The original error, if any.
   */
  constructor(path: string, detail: string, cause?: unknown) {
    super(`${path}: ${detail}`, { cause });
    this.name = "KvbitsFileError";
    this.path = path;
    this.detail = detail;
  }
}

/**
 * Wraps any error met while handling `path` into a {@link KvbitsFileError} with a
 * short, stack-free description: system errors become "not found", "permission
 * denied" and so on; kvbits' own errors keep their message.
 *
 * @param path The file being handled.
 * @param error What was thrown.
 * @returns The wrapped error (the same one when it already is a file error).
 *
 * @example
 * ```ts
 * import { fileErrorOf } from "./file_error.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const missing = await Deno.readFile("/nonexistent/k.bin").catch((e) => e);
 * assertEquals(fileErrorOf("/nonexistent/k.bin", missing).message, "/nonexistent/k.bin: file not found");
 * ```
 */
export function fileErrorOf(path: string, error: unknown): KvbitsFileError {
  if (error instanceof KvbitsFileError) return error;
  if (error instanceof Deno.errors.NotADirectory) {
    // "Not a directory" names no folder: name the file that is in the way.
    const blocker = fileInTheWayOf(path);
    if (blocker !== undefined) {
      return new KvbitsFileError(
        blocker,
        `is a file, not a folder (in the way of ${path})`,
        error,
      );
    }
  }
  return new KvbitsFileError(path, describeError(error), error);
}

/** The nearest ancestor of `path` that exists and is not a folder. */
function fileInTheWayOf(path: string): string | undefined {
  for (
    let end = path.lastIndexOf("/");
    end > 0;
    end = path.lastIndexOf("/", end - 1)
  ) {
    const ancestor = path.slice(0, end);
    try {
      // The nearest ancestor that exists: its own parents are folders.
      return Deno.statSync(ancestor).isDirectory ? undefined : ancestor;
    } catch {
      // Not there, or not reachable: look further up.
    }
  }
  return undefined;
}

function describeError(error: unknown): string {
  if (error instanceof Deno.errors.NotFound) return "file not found";
  if (error instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (error instanceof Deno.errors.NotCapable) {
    // Deno's own text says which permission (e.g. "Requires write access to
    // "out", run again with the --allow-write flag"; paths under /dev need
    // --allow-all), without its path prefix, which the caller gives.
    const detail = error.message.split("\n")[0].replace(
      /^.*?: (?=Requires)/,
      "",
    );
    return `not allowed by Deno's permissions: ${detail}`;
  }
  if (error instanceof Deno.errors.IsADirectory) {
    return "is a folder, not a file";
  }
  if (error instanceof Deno.errors.NotADirectory) {
    return "a part of the path is a file, not a folder";
  }
  if (error instanceof Error) {
    // Deno's system errors read "<reason> (os error N): <call> '<path>'".
    const system = /^(.*?) \(os error \d+\)/.exec(error.message);
    return (system ? system[1] : error.message).split("\n")[0];
  }
  return String(error);
}
