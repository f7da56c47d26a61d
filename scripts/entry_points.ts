/**
 * The four tasks kvbits ships as single files (compiled binaries and JavaScript
 * bundles), each with the permissions it needs, and the command lines that build
 * them. `deno task compile`, `deno task bundle` and the tests share this table.
 *
 * Why these permissions: every task reads its input folders; encode and decode
 * write the folder given as `--out-dir`, analyze writes its two report files to
 * `--out-dir`; verify only reads. Nothing needs the network, the environment,
 * subprocesses or FFI.
 *
 * Why write access is not limited to `--out-dir` in the binaries: Deno fixes a
 * binary's permissions when it is built (`deno compile --allow-write=PATH` stores
 * PATH as given), and the output folder is only known when it runs. A binary built
 * without write access cannot write at all (with `--no-prompt` it fails instead of
 * asking), so encode, decode and analyze get `--allow-write`; kvbits itself writes
 * only below `--out-dir` (through a temporary file in the same folder, renamed).
 * Whoever always writes to one folder can build binaries confined to it
 * (`deno task compile --write-dir /data/bits`); `deno run` users confine each run
 * (`deno run --allow-read --allow-write=BITS dist/kvbits-encode.js --out-dir BITS`).
 *
 * @module
 */

import { fromFileUrl, join } from "@std/path";

/** The repository root. */
export const ROOT: string = fromFileUrl(new URL("../", import.meta.url));

/** The module each worker of encode, decode and verify runs (src/jobs/worker_pool.ts). */
export const WORKER_MODULE = "src/jobs/dump_worker.ts";

/** A task shipped as a single file. */
export interface EntryPoint {
  /** The task, e.g. `encode`. */
  readonly task: string;
  /** Its source, relative to the repository root. */
  readonly source: string;
  /** Permission flags it needs, without paths. */
  readonly permissions: readonly string[];
  /** Whether it writes (to `--out-dir`). */
  readonly writes: boolean;
}

/** The shipped tasks, with their permissions. */
export const ENTRY_POINTS: readonly EntryPoint[] = [
  {
    task: "encode",
    source: "tasks/encode.ts",
    permissions: ["--allow-read", "--allow-write"],
    writes: true,
  },
  {
    task: "decode",
    source: "tasks/decode.ts",
    permissions: ["--allow-read", "--allow-write"],
    writes: true,
  },
  {
    task: "verify",
    source: "tasks/verify.ts",
    permissions: ["--allow-read"],
    writes: false,
  },
  {
    task: "analyze",
    source: "tasks/analyze.ts",
    permissions: ["--allow-read", "--allow-write"],
    writes: true,
  },
];

/** `deno compile --target` values, for the README and `--target` checking. */
export const COMPILE_TARGETS: readonly string[] = [
  "x86_64-unknown-linux-gnu",
  "aarch64-unknown-linux-gnu",
  "x86_64-apple-darwin",
  "aarch64-apple-darwin",
  "x86_64-pc-windows-msvc",
  "aarch64-pc-windows-msvc",
];

/**
 * The permission flags of an entry point, with write access confined to
 * `writeDirs` when given.
 *
 * @param entry The entry point.
 * @param writeDirs Folders to allow writes to, instead of everywhere.
 * @returns The flags.
 *
 * @example
 * ```ts
 * import { ENTRY_POINTS, permissionFlags } from "./entry_points.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const [encode, , verify] = ENTRY_POINTS;
 * assertEquals(permissionFlags(encode, ["/data/bits"]), ["--allow-read", "--allow-write=/data/bits"]);
 * assertEquals(permissionFlags(verify, ["/data/bits"]), ["--allow-read"]);
 * ```
 */
export function permissionFlags(
  entry: EntryPoint,
  writeDirs: readonly string[] = [],
): string[] {
  return entry.permissions.map((flag) =>
    flag === "--allow-write" && writeDirs.length > 0
      ? `--allow-write=${writeDirs.join(",")}`
      : flag
  );
}

/**
 * The file name of a compiled binary: `kvbits-<task>`, with the target appended
 * when cross-compiling and `.exe` for Windows.
 *
 * @param entry The entry point.
 * @param target A `deno compile --target`, or undefined for this machine.
 * @returns The file name.
 *
 * @example
 * ```ts
 * import { binaryName, ENTRY_POINTS } from "./entry_points.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(binaryName(ENTRY_POINTS[0]), "kvbits-encode");
 * assertEquals(binaryName(ENTRY_POINTS[0], "x86_64-pc-windows-msvc"), "kvbits-encode-x86_64-pc-windows-msvc.exe");
 * ```
 */
export function binaryName(entry: EntryPoint, target?: string): string {
  const name = target
    ? `kvbits-${entry.task}-${target}`
    : `kvbits-${entry.task}`;
  return target?.includes("windows") ? `${name}.exe` : name;
}

/** Options of {@link compileArgs}. */
export interface CompileOptions {
  /** Folder for the binary. */
  readonly outDir: string;
  /** Cross-compile target; this machine's when undefined. */
  readonly target?: string;
  /** Confine writes to these folders. */
  readonly writeDirs?: readonly string[];
}

/**
 * V8 flags the folder tasks run with (in deno.json and baked into executables).
 *
 * Why: V8's default young generation (16 MiB semi-spaces per isolate) lets the
 * garbage of thousands of small dumps pile up before a scavenge, in the job's
 * thread and in every worker; 1 MiB keeps a whole-folder encode of 271 MB (12,288
 * dumps) at about 120 MB peak RSS with two lanes, against about 190 MB, at no
 * measurable cost in speed (the hot loops allocate nothing per symbol).
 */
export const V8_FLAGS = "--v8-flags=--max-semi-space-size=1";

/**
 * The `deno compile` arguments for an entry point: its permissions baked in, no
 * permission prompts (a missing permission fails), the project's import map.
 *
 * @param entry The entry point.
 * @param options Output folder, target and write folders.
 * @returns The arguments after `deno`.
 *
 * @example
 * ```ts
 * import { compileArgs, ENTRY_POINTS } from "./entry_points.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const args = compileArgs(ENTRY_POINTS[2], { outDir: "dist" });
 * assertEquals(args.slice(0, 1), ["compile"]);
 * assertEquals(args.includes("--allow-read") && args.includes("--no-prompt"), true);
 * assertEquals(args.some((arg) => arg.startsWith("--allow-write")), false);
 * ```
 */
export function compileArgs(
  entry: EntryPoint,
  options: CompileOptions,
): string[] {
  return [
    "compile",
    "--config",
    join(ROOT, "deno.json"),
    "--no-prompt",
    V8_FLAGS,
    // The folder tasks' workers load this module by URL: deno compile embeds
    // only what is imported, so it is named here (without it the executables
    // still work, in one thread).
    ...(entry.task === "analyze"
      ? []
      : ["--include", join(ROOT, WORKER_MODULE)]),
    ...permissionFlags(entry, options.writeDirs),
    ...(options.target ? ["--target", options.target] : []),
    "--output",
    join(options.outDir, binaryName(entry, options.target)),
    join(ROOT, entry.source),
  ];
}

/**
 * The file name of a bundle: `kvbits-<task>.js`.
 *
 * @param entry The entry point.
 * @returns The file name.
 *
 * @example
 * ```ts
 * import { bundleName, ENTRY_POINTS } from "./entry_points.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(bundleName(ENTRY_POINTS[3]), "kvbits-analyze.js");
 * ```
 */
export function bundleName(entry: EntryPoint): string {
  return `kvbits-${entry.task}.js`;
}

/**
 * The `deno bundle` arguments for an entry point.
 *
 * @param entry The entry point.
 * @param outDir Folder for the bundle.
 * @param minify Minify the JavaScript.
 * @returns The arguments after `deno`.
 *
 * @example
 * ```ts
 * import { bundleArgs, ENTRY_POINTS } from "./entry_points.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(bundleArgs(ENTRY_POINTS[0], "dist", false).includes("dist/kvbits-encode.js"), true);
 * ```
 */
export function bundleArgs(
  entry: EntryPoint,
  outDir: string,
  minify: boolean,
): string[] {
  return [
    "bundle",
    "--config",
    join(ROOT, "deno.json"),
    ...(minify ? ["--minify"] : []),
    "--output",
    join(outDir, bundleName(entry)),
    join(ROOT, entry.source),
  ];
}
