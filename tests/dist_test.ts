/**
 * kvbits as single files: the JavaScript bundle of `deno task bundle` runs with
 * `deno run`, no configuration and only each subcommand's permissions; the
 * executable of `deno task compile` carries exactly the permissions of
 * scripts/entry_points.ts, and runs on the fixtures when a runtime base (denort)
 * is at hand. Without one, the test that runs it is reported as ignored, with the
 * reason in its name and printed.
 */

import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { join } from "@std/path";
import {
  binaryName,
  BUNDLE_PERMISSIONS,
  bundleName,
  compileArgs,
  ENTRY_POINTS,
} from "../scripts/entry_points.ts";
import {
  KV_SAMPLE,
  listFiles,
  ROOT,
  runProgram,
  type TaskRun,
  withTempDir,
} from "./_helpers.ts";

/** Runs a program, input closed, output captured, for three minutes at most. */
function run(
  program: string,
  args: readonly string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<TaskRun> {
  return runProgram(program, args, {
    ...options,
    signal: AbortSignal.timeout(180_000),
  });
}

/** `deno run` of one of the repository's scripts, with the flags of its deno.json task. */
function runScript(
  script: string,
  permissions: readonly string[],
  args: readonly string[],
  env?: Record<string, string>,
): Promise<TaskRun> {
  return run(
    Deno.execPath(),
    ["run", ...permissions, join(ROOT, script), ...args],
    { cwd: ROOT, env },
  );
}

/** The permissions of `deno task compile` and `deno task bundle` (deno.json). */
const COMPILE_PERMISSIONS = [
  "--allow-read",
  "--allow-write",
  "--allow-run",
  "--allow-env=DENORT_BIN",
];
const BUNDLE_PERMISSIONS_OF_SCRIPT = ["--allow-read", "--allow-run"];

/**
 * Runs a task (as a bundle or a binary) on the fixtures the way a user would:
 * encode with --json, verify against the originals, decode, and analyze; checks
 * that the restored folder is the original, byte for byte.
 */
async function assertTasksWork(
  work: string,
  runTask: (
    task: string,
    writeDir: string | undefined,
    args: string[],
  ) => Promise<TaskRun>,
): Promise<void> {
  const bits = join(work, "bits");
  const encode = await runTask("encode", bits, [
    "--dump-dir",
    KV_SAMPLE,
    "--out-dir",
    bits,
    "--json",
  ]);
  assertEquals(encode.code, 0, encode.stderr);
  const summary = JSON.parse(encode.stdout);
  assertEquals(summary.dumps.done, 51);
  const verify = await runTask("verify", undefined, [
    "--bitstream-dir",
    bits,
    "--orig-dump-dir",
    KV_SAMPLE,
  ]);
  assertEquals(verify.code, 0, verify.stderr);
  assertStringIncludes(verify.stdout, "Checked: 51, Failed: 0");
  const restored = join(work, "restored");
  const decode = await runTask("decode", restored, [
    "--bitstream-dir",
    bits,
    "--out-dir",
    restored,
  ]);
  assertEquals(decode.code, 0, decode.stderr);
  const files = await listFiles(KV_SAMPLE);
  assertEquals(await listFiles(restored), files);
  for (const file of files) {
    assertEquals(
      await Deno.readFile(join(restored, file)),
      await Deno.readFile(join(KV_SAMPLE, file)),
      file,
    );
  }
  const report = join(work, "report");
  const analyze = await runTask("analyze", report, [
    "--bitstream-dir",
    bits,
    "--orig-dump-dir",
    KV_SAMPLE,
    "--out-dir",
    report,
  ]);
  assertEquals(analyze.code, 0, analyze.stderr);
  assertEquals(await listFiles(report), [
    "huffman_metrics.csv",
    "huffman_summary.md",
  ]);
}

Deno.test("deno task bundle writes kvbits.js, which runs with deno run, no config and only each subcommand's permissions, round-tripping the fixtures", async () => {
  await withTempDir(async (work) => {
    const dist = join(work, "dist");
    const built = await runScript(
      "scripts/bundle.ts",
      BUNDLE_PERMISSIONS_OF_SCRIPT,
      [
        "--out-dir",
        dist,
      ],
    );
    assertEquals(built.code, 0, built.stderr);
    assertEquals(await listFiles(dist), ENTRY_POINTS.map(bundleName).sort());
    const bundle = join(dist, bundleName(ENTRY_POINTS[0]));
    const runBundle = (task: string, writeDir: string | undefined) => [
      "run",
      "--no-config",
      ...BUNDLE_PERMISSIONS[task].map((flag) =>
        flag === "--allow-write" && writeDir ? `${flag}=${writeDir}` : flag
      ),
      bundle,
      task,
    ];
    const help = await run(Deno.execPath(), [
      ...runBundle("verify", undefined),
      "--help",
    ], { cwd: work });
    assertStringIncludes(
      help.stdout,
      "Usage: deno run [permissions] kvbits.js verify [flags]",
    );
    await assertTasksWork(work, (task, writeDir, args) =>
      // From a folder outside the repository: no deno.json, no import map.
      run(Deno.execPath(), [...runBundle(task, writeDir), ...args], {
        cwd: work,
      }));
    // Write access confined to one folder holds: another --out-dir is refused.
    const elsewhere = join(work, "elsewhere");
    const refused = await run(Deno.execPath(), [
      ...runBundle("encode", join(work, "bits")),
      "--dump-dir",
      KV_SAMPLE,
      "--out-dir",
      elsewhere,
      "--codebook",
      "per-dump",
    ], { cwd: work });
    assertEquals(refused.code, 3, refused.stderr);
    assertStringIncludes(refused.stderr, "not allowed by Deno's permissions");
    assertEquals(await Deno.stat(elsewhere).catch(() => undefined), undefined);
  });
});

/** Whether `deno compile` can make a working binary here, and if not, why. */
async function probeCompileBase(): Promise<{ reason?: string }> {
  return await withTempDir(async (dir) => {
    const source = join(dir, "probe.ts");
    await Deno.writeTextFile(
      source,
      'console.log("kvbits-probe", ...Deno.args);\n',
    );
    const binary = join(dir, "probe");
    let built: TaskRun;
    try {
      built = await run(Deno.execPath(), [
        "compile",
        "--no-config",
        "--output",
        binary,
        source,
      ], { cwd: dir });
    } catch (error) {
      return { reason: `deno compile did not finish: ${error}` };
    }
    if (built.code !== 0) {
      // Deno's causes are numbered lines ("1: error sending request for url
      // (https://.../denort-....zip): ... dns error ..."); the download's says most.
      const lines = built.stderr.split("\n").map((line) =>
        line.trim().replace(/^\d+: /, "")
      );
      const cause = lines.find((line) => /^error sending request/.test(line)) ??
        lines.find((line) => /base binary|denort/i.test(line)) ??
        lines.find((line) => line !== "");
      return {
        reason: `deno compile cannot get its runtime base (denort): ${cause}`,
      };
    }
    const ran = await run(binary, ["ok"], { cwd: dir });
    if (ran.stdout.trim() === "kvbits-probe ok") return {};
    const said = (ran.stderr || ran.stdout).trim().split("\n")[0];
    const base = Deno.env.get("DENORT_BIN");
    return {
      reason: `the runtime base ${
        base ? `DENORT_BIN=${base}` : "deno compile used"
      } is not a denort: the compiled probe ran as the deno CLI (${said})`,
    };
  });
}

const COMPILE_BASE = await probeCompileBase();
if (COMPILE_BASE.reason) {
  console.log(
    `dist_test.ts: the compiled-binary run is skipped: ${COMPILE_BASE.reason}`,
  );
}

Deno.test({
  name: COMPILE_BASE.reason
    ? `deno task compile: the executable runs on the fixtures (SKIPPED: ${COMPILE_BASE.reason})`
    : "deno task compile: the executable runs on the fixtures with its baked-in permissions",
  ignore: COMPILE_BASE.reason !== undefined,
  fn: async () => {
    await withTempDir(async (work) => {
      const dist = join(work, "dist");
      const built = await runScript("scripts/compile.ts", COMPILE_PERMISSIONS, [
        "--out-dir",
        dist,
      ]);
      assertEquals(built.code, 0, built.stderr);
      await assertTasksWork(
        work,
        (task, _writeDir, args) =>
          run(join(dist, binaryName(ENTRY_POINTS[0])), [task, ...args], {
            cwd: work,
          }),
      );
    });
  },
});

/** The `"permissions"` object of a compiled binary's embedded metadata. */
async function embeddedPermissions(
  path: string,
): Promise<Record<string, unknown>> {
  const bytes = await Deno.readFile(path);
  const key = new TextEncoder().encode('"permissions":{');
  let at = -1;
  search: for (let i = bytes.length - key.length; i >= 0; i--) {
    for (let j = 0; j < key.length; j++) {
      if (bytes[i + j] !== key[j]) continue search;
    }
    at = i;
    break;
  }
  assert(at >= 0, `${path}: no "permissions" in its metadata`);
  const start = at + key.length - 1;
  let depth = 0;
  let end = start;
  do {
    if (bytes[end] === 0x7b) depth++;
    if (bytes[end] === 0x7d) depth--;
    end++;
  } while (depth > 0);
  return JSON.parse(new TextDecoder().decode(bytes.subarray(start, end)));
}

Deno.test("deno compile bakes in exactly the executable's permissions, and no prompt (read from its metadata)", async () => {
  // The metadata is the same whatever the base: without a denort, the deno CLI
  // stands in for it (the file it gives does not run kvbits, but says what the
  // real one would be allowed).
  const env: Record<string, string> = COMPILE_BASE.reason
    ? { DENORT_BIN: Deno.execPath() }
    : {};
  const KINDS = ["env", "net", "run", "ffi", "sys", "read", "write"];
  await withTempDir(async (dist) => {
    const cases = [
      // --allow-all: every kind granted (an empty list is "everything").
      {
        writeDirs: [] as string[],
        granted: Object.fromEntries(KINDS.map((kind) => [kind, []])),
      },
      // Confined: read anywhere, write to the one folder, nothing else.
      {
        writeDirs: ["/data/kv-bits"],
        granted: Object.fromEntries(
          KINDS.map((kind) => [
            kind,
            kind === "read" ? [] : kind === "write" ? ["/data/kv-bits"] : null,
          ]),
        ),
      },
    ];
    for (const { writeDirs, granted } of cases) {
      const outDir = join(dist, String(writeDirs.length));
      const built = await run(
        Deno.execPath(),
        compileArgs(ENTRY_POINTS[0], { outDir, writeDirs }),
        { cwd: ROOT, env },
      );
      assertEquals(built.code, 0, built.stderr);
      const permissions = await embeddedPermissions(
        join(outDir, binaryName(ENTRY_POINTS[0])),
      );
      for (const kind of KINDS) {
        assertEquals(
          permissions[`allow_${kind}`],
          granted[kind],
          `${writeDirs.join(",") || "default"}: ${kind}`,
        );
      }
      assertEquals(permissions.prompt, false, "never prompts");
    }
  });
});

Deno.test("deno task compile refuses a runtime base that is not a denort, and leaves no such binary behind", async () => {
  await withTempDir(async (dist) => {
    const built = await runScript("scripts/compile.ts", COMPILE_PERMISSIONS, [
      "--out-dir",
      dist,
    ], { DENORT_BIN: Deno.execPath() });
    assertEquals(built.code, 3, built.stderr);
    assertStringIncludes(built.stderr, "does not run kvbits");
    assertStringIncludes(built.stderr, "is not a denort");
    assertEquals(await listFiles(dist), []);
  });
});

/** Why the download failure cannot be shown here, if it cannot. */
const NO_DOWNLOAD_FAILURE = Deno.env.get("DENORT_BIN") !== undefined
  ? "DENORT_BIN is set, so deno compile downloads nothing"
  : !COMPILE_BASE.reason?.includes("cannot get its runtime base")
  ? "deno compile can get its runtime base here"
  : undefined;

Deno.test({
  name:
    "deno task compile says what is missing when it cannot download its runtime base" +
    (NO_DOWNLOAD_FAILURE ? ` (SKIPPED: ${NO_DOWNLOAD_FAILURE})` : ""),
  ignore: NO_DOWNLOAD_FAILURE !== undefined,
  fn: async () => {
    await withTempDir(async (dist) => {
      const built = await runScript("scripts/compile.ts", COMPILE_PERMISSIONS, [
        "--out-dir",
        dist,
      ]);
      assertEquals(built.code, 3, built.stderr);
      assertStringIncludes(built.stderr, "could not get its runtime base");
      assertStringIncludes(built.stderr, "DENORT_BIN");
      assert(!built.stderr.includes("Stack backtrace"));
    });
  },
});
