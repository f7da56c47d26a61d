/**
 * kvbits as a single file: the one `kvbits` command (tasks/kvbits.ts, every
 * subcommand) as a compiled executable or a JavaScript bundle, with the
 * permissions it needs and the command lines that build it. `deno task compile`,
 * `deno task bundle` and the tests share this table.
 *
 * Why the executable gets `--allow-all`: Deno opens paths under /dev, /proc and
 * /sys (a RAM disk at /dev/shm, say) only for a program started with
 * `--allow-all`, whatever else it is allowed: `--allow-write=/dev/shm` is not
 * enough, `--allow-all` with `--deny-net` and the like loses it, and so does
 * revoking permissions once running. A binary's permissions are fixed when it is
 * built, so an executable that is to write to a RAM disk must have it. kvbits
 * itself reads its input folders and writes only below its output folder
 * (a dump's meta through a temporary file in the same folder, renamed); it
 * makes no network request and runs one program, `sync -f`, once at the end of
 * an encode when it may (without `--allow-run` it flushes file by file), and
 * `bench` runs the peers (zstd, xz).
 * Whoever always writes to one folder can build an executable confined to it
 * (`deno task compile --write-dir /data/bits`: read anywhere, write only there,
 * nothing else; no /dev paths then).
 *
 * The bundle is run by `deno run` with the permissions its user gives: read and
 * write for encode, decode and analyze, read for verify
 * (`deno run --allow-read --allow-write=BITS dist/kvbits.js encode ...`).
 *
 * @module
 */

import { fromFileUrl, join } from "@std/path";

/** The repository root. */
export const ROOT: string = fromFileUrl(new URL("../", import.meta.url));

/** The module each worker of encode, decode and verify runs (src/jobs/worker_pool.ts). */
export const WORKER_MODULE = "src/jobs/dump_worker.ts";

/** The pack's listing task, embedded when present (the umbrella loads it by URL). */
export const OPTIONAL_MODULES: readonly string[] = ["tasks/list.ts"];

/** kvbits as a single file. */
export interface EntryPoint {
  /** The command, `kvbits`. */
  readonly task: string;
  /** Its source, relative to the repository root. */
  readonly source: string;
  /** Permission flags baked into the executable, without paths. */
  readonly permissions: readonly string[];
  /** Permission flags when writes are confined to folders (`--write-dir`). */
  readonly confinedPermissions: readonly string[];
}

/** The single files kvbits ships: the one command. */
export const ENTRY_POINTS: readonly EntryPoint[] = [
  {
    task: "kvbits",
    source: "tasks/kvbits.ts",
    permissions: ["--allow-all"],
    confinedPermissions: ["--allow-read", "--allow-write"],
  },
];

/** The permission flags a bundle's subcommand needs under `deno run`. */
export const BUNDLE_PERMISSIONS: Readonly<Record<string, readonly string[]>> = {
  encode: ["--allow-read", "--allow-write"],
  decode: ["--allow-read", "--allow-write"],
  verify: ["--allow-read"],
  analyze: ["--allow-read", "--allow-write"],
};

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
 * The permission flags of an entry point: all of them, or with `writeDirs` read
 * anywhere and write only to those folders.
 *
 * @param entry The entry point.
 * @param writeDirs Folders to confine writes to.
 * @returns The flags.
 *
 * @example
 * ```ts
 * import { ENTRY_POINTS, permissionFlags } from "./entry_points.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const [kvbits] = ENTRY_POINTS;
 * assertEquals(permissionFlags(kvbits), ["--allow-all"]);
 * assertEquals(permissionFlags(kvbits, ["/data/bits"]), ["--allow-read", "--allow-write=/data/bits"]);
 * ```
 */
export function permissionFlags(
  entry: EntryPoint,
  writeDirs: readonly string[] = [],
): string[] {
  if (writeDirs.length === 0) return [...entry.permissions];
  return entry.confinedPermissions.map((flag) =>
    flag === "--allow-write" ? `--allow-write=${writeDirs.join(",")}` : flag
  );
}

/**
 * The file name of a compiled binary: `kvbits`, with the target appended when
 * cross-compiling and `.exe` for Windows.
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
 * assertEquals(binaryName(ENTRY_POINTS[0]), "kvbits");
 * assertEquals(binaryName(ENTRY_POINTS[0], "x86_64-pc-windows-msvc"), "kvbits-x86_64-pc-windows-msvc.exe");
 * ```
 */
export function binaryName(entry: EntryPoint, target?: string): string {
  const name = target ? `${entry.task}-${target}` : entry.task;
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
  /** More modules to embed, relative to the repository root (those that exist of {@link OPTIONAL_MODULES}). */
  readonly include?: readonly string[];
}

/**
 * V8 flags the folder tasks run with (in deno.json and baked into executables).
 *
 * Why: V8's default young generation (16 MiB semi-spaces per isolate) lets the
 * garbage of thousands of small dumps pile up before a scavenge, in the job's
 * thread and in every worker; 1 MiB keeps a whole-folder encode of 271 MB (12,288
 * dumps) at about 120 MB peak RSS with two lanes, against about 190 MB, at no
 * measurable cost in speed (the hot loops allocate nothing per symbol). And
 * TurboFan compiles in the thread that runs the code, not in a thread of its
 * own: that thread's memory is 3-10 MB of a pack job's peak at two jobs (x32,
 * 3 runs each: decode 142-150 MB -> 134-140 MB, verify 140-148 -> 135-142,
 * encode 147-149 -> 140-146), at no measurable cost in speed.
 */
export const V8_FLAGS =
  "--v8-flags=--max-semi-space-size=1,--no-concurrent-recompilation";

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
 * const args = compileArgs(ENTRY_POINTS[0], { outDir: "dist", writeDirs: ["/data"] });
 * assertEquals(args.slice(0, 1), ["compile"]);
 * assertEquals(args.includes("--allow-write=/data") && args.includes("--no-prompt"), true);
 * assertEquals(args.includes("--allow-all"), false);
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
    // The folder tasks' workers load this module by URL, and the umbrella the
    // pack's listing: deno compile embeds only what is imported, so they are
    // named here (without the worker the executable still works, in one thread).
    "--include",
    join(ROOT, WORKER_MODULE),
    ...(options.include ?? []).flatMap((
      path,
    ) => ["--include", join(ROOT, path)]),
    ...permissionFlags(entry, options.writeDirs),
    ...(options.target ? ["--target", options.target] : []),
    "--output",
    join(options.outDir, binaryName(entry, options.target)),
    join(ROOT, entry.source),
  ];
}

/**
 * The file name of a bundle: `kvbits.js`.
 *
 * @param entry The entry point.
 * @returns The file name.
 *
 * @example
 * ```ts
 * import { bundleName, ENTRY_POINTS } from "./entry_points.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(bundleName(ENTRY_POINTS[0]), "kvbits.js");
 * ```
 */
export function bundleName(entry: EntryPoint): string {
  return `${entry.task}.js`;
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
 * assertEquals(bundleArgs(ENTRY_POINTS[0], "dist", false).includes("dist/kvbits.js"), true);
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
