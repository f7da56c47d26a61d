/**
 * Shared test helpers: paths of the fixtures, synthetic dump folders, and running
 * a task as a user would (a `deno run` subprocess).
 *
 * @module
 */

import { assertEquals, assertStringIncludes } from "@std/assert";
import { fromFileUrl, join } from "@std/path";
import { PAUSE_AT_WRITE_VARIABLE } from "../src/dump/crash_test_hook.ts";
import { pythonJsonDumps } from "../src/format/python_json.ts";

/** The repository root. */
export const ROOT = fromFileUrl(new URL("../", import.meta.url));
/** `fixtures/`. */
export const FIXTURES = join(ROOT, "fixtures");
/** The bundled real dumps. */
export const KV_SAMPLE = join(FIXTURES, "kv-sample");
/** Copies of reference outputs. */
export const REFERENCE = join(FIXTURES, "reference");
/** The shared data of this machine, when present (not on a fresh clone). */
export const SHARED = join(ROOT, "..", "shared");
/** Whether `../shared/kv-real` and the reference outputs are present. */
export const SHARED_AVAILABLE = (() => {
  try {
    return Deno.statSync(join(SHARED, "kv-real")).isDirectory &&
      Deno.statSync(join(SHARED, "reference-outputs")).isDirectory;
  } catch {
    return false;
  }
})();

/** A dump to write into a synthetic dump folder. */
export interface SyntheticDump {
  /** Folder below the root, e.g. `run/layer_0`. */
  readonly folder: string;
  /** Meta name without `.json`, e.g. `meta_t0_4`. */
  readonly name: string;
  /** K words. */
  readonly k: Uint16Array;
  /** V words; K when omitted. */
  readonly v?: Uint16Array;
  /** Tokens; the meta shape is `[seqLen, 1, k.length / seqLen]`. */
  readonly seqLen?: number;
  /** Meta keys to add or replace. */
  readonly meta?: Record<string, unknown>;
  /** Meta text to write instead of the generated one. */
  readonly metaText?: string;
}

/**
 * Writes dumps in the MNN layout below `root` (meta in Python `json.dumps` style,
 * as the dumper writes it).
 */
export async function writeDumpFolder(
  root: string,
  dumps: readonly SyntheticDump[],
): Promise<void> {
  for (const dump of dumps) {
    const folder = join(root, dump.folder);
    await Deno.mkdir(folder, { recursive: true });
    const seqLen = dump.seqLen ?? (dump.k.length > 0 ? 1 : 0);
    const suffix = dump.name.replace(/^meta_/, "");
    const meta: Record<string, unknown> = {
      layer_id: 0,
      seq_start: 0,
      seq_len: seqLen,
      seq_end_exclusive: seqLen,
      kv_heads: 1,
      head_dim: seqLen > 0 ? dump.k.length / seqLen : 1,
      bytes_per_elem: 2,
      dtype: "fp16",
      stage: seqLen === 1 ? "decode" : "prefill",
      run_id: "synthetic",
      k_file: `k_${suffix}.bin`,
      v_file: `v_${suffix}.bin`,
      ...dump.meta,
    };
    const text = dump.metaText ?? pythonJsonDumps(meta);
    await Deno.writeTextFile(join(folder, `${dump.name}.json`), text);
    const bytes = (words: Uint16Array) =>
      new Uint8Array(words.buffer, words.byteOffset, words.byteLength);
    await Deno.writeFile(join(folder, `k_${suffix}.bin`), bytes(dump.k));
    await Deno.writeFile(
      join(folder, `v_${suffix}.bin`),
      bytes(dump.v ?? dump.k),
    );
  }
}

/** What a task run printed and returned. */
export interface TaskRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `tasks/<name>.ts` in a subprocess with the permissions its `deno.json` task
 * has, as `deno task <name>` would, in `cwd` (the repository by default).
 */
export function runTaskScript(
  name: string,
  args: readonly string[],
  permissions: readonly string[] = ["--allow-read", "--allow-write"],
  cwd: string = ROOT,
): Promise<TaskRun> {
  return runProgram(
    Deno.execPath(),
    ["run", ...permissions, join(ROOT, "tasks", `${name}.ts`), ...args],
    { cwd, stdin: "inherit" },
  );
}

/**
 * Runs a program in `cwd` with `NO_COLOR=1` added to the environment (and
 * `env`), its output captured and decoded; input closed unless `stdin` says.
 */
export async function runProgram(
  program: string,
  args: readonly string[],
  options: {
    readonly cwd?: string;
    readonly env?: Record<string, string>;
    readonly stdin?: "null" | "inherit";
    readonly signal?: AbortSignal;
  } = {},
): Promise<TaskRun> {
  const output = await new Deno.Command(program, {
    args: [...args],
    cwd: options.cwd,
    env: { NO_COLOR: "1", ...options.env },
    stdin: options.stdin ?? "null",
    stdout: "piped",
    stderr: "piped",
    signal: options.signal,
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** Every file below `root`, relative, sorted. */
export async function listFiles(root: string): Promise<string[]> {
  const found: string[] = [];
  const visit = async (folder: string, prefix: string) => {
    for await (const entry of Deno.readDir(folder)) {
      const relative = prefix ? `${prefix}/${entry.name}` : entry.name;
      if (entry.isDirectory) await visit(join(folder, entry.name), relative);
      else found.push(relative);
    }
  };
  await visit(root, "");
  return found.sort();
}

/** A temporary folder removed after `body`, even when it throws. */
export async function withTempDir<T>(
  body: (dir: string) => Promise<T>,
): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "kvbits-test-" });
  try {
    return await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Deterministic pseudo-random numbers (mulberry32) for reproducible tests. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Peak resident memory (VmHWM) of a job run by `tests/_peak_memory.ts` in a
 * process of its own, in bytes, and what else the script printed (the job's
 * failures, one a line).
 */
export async function peakMemoryOf(job: string, options: unknown): Promise<{
  readonly peak: number;
  readonly output: string;
}> {
  const script = new URL("./_peak_memory.ts", import.meta.url).pathname;
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script, job, JSON.stringify(options)],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(output.stdout);
  const match = /^peak (\d+)$/m.exec(text);
  if (!match) {
    throw new Error(text + new TextDecoder().decode(output.stderr));
  }
  return { peak: Number(match[1]), output: text.replace(match[0], "").trim() };
}

/**
 * Runs a script with `permissions` until the crash test hook stops it at
 * `pause`, then kills it with SIGKILL; returns what it printed on stderr.
 */
export async function runScriptAndKillAt(
  script: string,
  args: readonly string[],
  pause: string,
  permissions: readonly string[],
): Promise<string> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...permissions, script, ...args],
    env: { [PAUSE_AT_WRITE_VARIABLE]: pause, NO_COLOR: "1" },
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const reader = child.stderr.getReader();
  const decoder = new TextDecoder();
  let stderr = "";
  while (!stderr.includes("kvbits test hook: paused")) {
    const { value, done } = await reader.read();
    if (done) break;
    stderr += decoder.decode(value, { stream: true });
  }
  assertStringIncludes(stderr, `paused at write ${pause.replace(":", " (")})`);
  child.kill("SIGKILL");
  const status = await child.status;
  assertEquals(status.signal, "SIGKILL");
  await reader.cancel();
  return stderr;
}

/**
 * `deno task <args>` started in `cwd`, as a user types it there. The test runner
 * may itself run under `deno task` or `npx`, which set INIT_CWD: it is removed so
 * that deno task sets it from `cwd`, as in a fresh shell.
 */
export function denoTask(
  args: readonly string[],
  cwd: string = ROOT,
): Promise<TaskRun> {
  return runProgram("env", [
    "-u",
    "INIT_CWD",
    Deno.execPath(),
    "task",
    "--quiet",
    "--config",
    join(ROOT, "deno.json"),
    ...args,
  ], { cwd });
}
