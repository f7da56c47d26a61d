/**
 * The `kvbits` command as a new user meets it through `deno task`: one command
 * with subcommands, its help and version, short flags, relative paths taken from
 * where the user stands, a quiet re-run, a RAM disk under /dev/shm, and plain
 * words when verify is pointed at the wrong originals.
 *
 * These run the real `deno task` of deno.json (not `deno run` of a task file):
 * what they check is what the task line gives, permissions and INIT_CWD included.
 */

import {
  assert,
  assertEquals,
  assertNotMatch,
  assertStringIncludes,
} from "@std/assert";
import { join } from "@std/path";
import {
  denoTask,
  KV_SAMPLE,
  listFiles,
  ROOT,
  runTaskScript,
  withTempDir,
} from "./_helpers.ts";

/** The version field of deno.json. */
const VERSION = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json")))
  .version as string;

Deno.test("kvbits --help lists the commands, --version prints deno.json's version, a wrong command exits 64", async () => {
  const help = await denoTask(["kvbits", "--help"], ROOT);
  assertEquals(help.code, 0, help.stderr);
  assertStringIncludes(
    help.stdout,
    "Usage: deno task kvbits <command> [flags]",
  );
  for (
    const name of [
      "encode",
      "decode",
      "verify",
      "analyze",
      "merge",
      "list",
      "bench",
    ]
  ) {
    assertStringIncludes(help.stdout, `\n  ${name} `);
  }
  for (const flag of ["--version", "-V"]) {
    const version = await denoTask(["kvbits", flag], ROOT);
    assertEquals(version.stdout, `kvbits ${VERSION}\n`);
  }
  // Every subcommand knows its version, and its help names the one command.
  const encodeVersion = await denoTask(["kvbits", "encode", "-V"], ROOT);
  assertEquals(encodeVersion.stdout, `kvbits ${VERSION}\n`);
  const encodeHelp = await denoTask(["kvbits", "help", "encode"], ROOT);
  assertStringIncludes(
    encodeHelp.stdout,
    "Usage: deno task kvbits encode [flags]",
  );
  // A folder task's help points to its pack form, which has its own help.
  assertStringIncludes(
    encodeHelp.stdout,
    "deno task kvbits encode --dump-dir D --pack FILE",
  );
  const packHelp = await denoTask(["encode", "--pack", "x", "--help"], ROOT);
  assertStringIncludes(packHelp.stdout, "--block-mb MB");
  // The old task names are aliases of the subcommands.
  const alias = await denoTask(["encode", "--help"], ROOT);
  assertEquals(alias.stdout, encodeHelp.stdout);
  const wrong = await denoTask(["kvbits", "encrypt"], ROOT);
  assertEquals(wrong.code, 64);
  assertStringIncludes(wrong.stderr, 'unknown command "encrypt"');
  const none = await denoTask(["kvbits"], ROOT);
  assertEquals(none.code, 64);
  assertStringIncludes(none.stderr, "Commands:");
});

Deno.test("relative paths are taken from where the user stands; short flags; a 'not found' names the absolute path", async () => {
  await withTempDir(async (home) => {
    const work = join(home, "work");
    await Deno.mkdir(join(work, "sub"), { recursive: true });
    // A dump folder next to the user's folder, named relatively.
    const run = await denoTask([
      "kvbits",
      "encode",
      "-d",
      KV_SAMPLE,
      "-o",
      "../bits",
      "-j",
      "1",
      "-q",
      "--codec",
      "ctx",
    ], join(work, "sub"));
    assertEquals(run.code, 0, run.stderr);
    // 51 dump files and the folder's manifest.
    assertEquals((await listFiles(join(work, "bits"))).length, 52);
    assertEquals(
      await Deno.stat(join(ROOT, "../bits")).catch(() => "none"),
      "none",
      "nothing written relative to the repository",
    );
    const missing = await denoTask(
      ["kvbits", "verify", "-b", "nope"],
      work,
    );
    assertEquals(missing.code, 3);
    assertStringIncludes(missing.stderr, join(work, "nope"));
    assertEquals(missing.stderr.trim().split("\n").length, 1, missing.stderr);
    // A bundle of short switches, and -f for --overwrite.
    const again = await denoTask(
      [
        "kvbits",
        "encode",
        "-d",
        KV_SAMPLE,
        "-o",
        "bits",
        "-fqj1",
        "--codec",
        "ctx",
      ],
      work,
    );
    assertEquals(again.code, 0, again.stderr);
    assertStringIncludes(again.stdout, "Encoded: 51, Skipped: 0");
  });
});

Deno.test("merge takes its packs and -o from where the user stands, and names what is missing", async () => {
  await withTempDir(async (home) => {
    for (const run of ["llama6L-kjv-ruth", "gpt2L4-fortune-wisdom"]) {
      const packed = await denoTask(
        ["encode", "-d", join(KV_SAMPLE, run), "--pack", `${run}.kvp`, "-q"],
        home,
      );
      assertEquals(packed.code, 0, packed.stderr);
    }
    const merged = await denoTask([
      "merge",
      "llama6L-kjv-ruth.kvp",
      "gpt2L4-fortune-wisdom.kvp",
      "-o",
      "both.kvp",
    ], home);
    assertEquals(merged.code, 0, merged.stderr);
    assertStringIncludes(
      merged.stdout,
      "Merged: 2 packs, 2 blocks, 51 entries",
    );
    const verified = await denoTask(
      ["verify", "--pack", "both.kvp", "-q"],
      home,
    );
    assertEquals(verified.code, 0, verified.stderr);
    assertEquals(
      await Deno.stat(join(ROOT, "both.kvp")).catch(() => "none"),
      "none",
      "nothing written relative to the repository",
    );
    const missing = await denoTask([
      "kvbits",
      "merge",
      "nope.kvp",
      "-o",
      "x.kvp",
    ], home);
    assertEquals(missing.code, 3);
    assertStringIncludes(missing.stderr, join(home, "nope.kvp"));
    const noInput = await denoTask(["merge", "-o", "x.kvp"], home);
    assertEquals(noInput.code, 64);
    assertStringIncludes(noInput.stderr, "give at least one PACK");
    assertEquals(
      await Deno.stat(join(home, "x.kvp")).catch(() => "none"),
      "none",
    );
  });
});

Deno.test("each --help lists only the exit codes its task can end with", async () => {
  const codes = async (task: string, script?: string) => {
    const run = script
      ? await new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-read", join(ROOT, script), "--help"],
        stdout: "piped",
      }).output().then((output) => new TextDecoder().decode(output.stdout))
      : (await runTaskScript(task, ["--help"])).stdout;
    const table = codes_of(run);
    return table;
  };
  const codes_of = (help: string) =>
    [...help.split("Exit codes:")[1].matchAll(/^ {2}(\d+) /gm)].map((m) =>
      Number(m[1])
    );
  assertEquals(await codes("encode"), [0, 1, 2, 3, 64, 70]);
  assertEquals(await codes("bench"), [0, 3, 64, 70]);
  assertEquals(await codes("demo"), [0, 2, 3, 64, 70]);
  assertEquals(await codes("compile", "scripts/compile.ts"), [0, 3, 64, 70]);
  assertEquals(await codes("bundle", "scripts/bundle.ts"), [0, 3, 64, 70]);
  const verify = await runTaskScript("verify", ["--help"]);
  assertStringIncludes(verify.stdout, "has no original in --orig-dump-dir");
  // The default of --jobs is said once, with this machine's figure.
  const encode = await runTaskScript("encode", ["--help"]);
  assertEquals(encode.stdout.match(/default/g)?.length, 6);
  assertNotMatch(encode.stdout, /\(default: one per CPU\) \(default/);
  assertStringIncludes(encode.stdout, "(default: one per CPU, ");
});

Deno.test("verify against the wrong originals says so in one line, and never that it compared them", async () => {
  await withTempDir(async (dir) => {
    const bits = join(dir, "bits");
    await Deno.mkdir(join(dir, "elsewhere"));
    let run = await runTaskScript("encode", ["-d", KV_SAMPLE, "-o", bits]);
    assertEquals(run.code, 0, run.stderr);
    run = await runTaskScript("verify", [
      "-b",
      bits,
      "--orig-dump-dir",
      join(dir, "elsewhere"),
    ]);
    assertEquals(run.code, 2);
    assertEquals(run.stderr.trim().split("\n").length, 1, run.stderr);
    assertStringIncludes(
      run.stderr,
      `failed  51 dumps have no original in ${join(dir, "elsewhere")} (first: ${
        join(dir, "elsewhere")
      }/`,
    );
    assertStringIncludes(run.stdout, "Checked: 0, Failed: 51");
    assertNotMatch(run.stdout, /Compared bit for bit/);
    run = await runTaskScript("verify", [
      "-b",
      bits,
      "--orig-dump-dir",
      join(dir, "elsewhere"),
      "-v",
    ]);
    assertEquals(run.stderr.trim().split("\n").length, 51);
    // decode --verify without --out-dir writes nothing and says so.
    run = await runTaskScript("decode", [
      "-b",
      bits,
      "--verify",
      "--orig-dump-dir",
      KV_SAMPLE,
    ]);
    assertEquals(run.code, 0, run.stderr);
    assertStringIncludes(run.stdout, "nothing written (no --out-dir)");
    assertNotMatch(run.stdout, /Restored/);
  });
});

/** A RAM disk to try, when this machine has one. */
const SHM = await Deno.stat("/dev/shm").then(
  (info) => info.isDirectory ? "/dev/shm" : undefined,
  () => undefined,
);

Deno.test({
  name: SHM
    ? "deno task kvbits writes to and reads from a RAM disk under /dev/shm"
    : "deno task kvbits writes to and reads from a RAM disk under /dev/shm (SKIPPED: no /dev/shm here)",
  ignore: SHM === undefined,
  fn: async () => {
    const ram = await Deno.makeTempDir({ dir: SHM, prefix: "kvbits-test-" })
      .catch(() => undefined);
    // The test runner itself lacks --allow-all: make the folder from outside.
    const folder = ram ?? join(SHM!, `kvbits-test-${crypto.randomUUID()}`);
    if (ram === undefined) {
      await new Deno.Command("mkdir", { args: [folder] }).output();
    }
    try {
      const bits = join(folder, "bits");
      let run = await denoTask(
        ["kvbits", "encode", "-d", KV_SAMPLE, "-o", bits, "-q"],
        ROOT,
      );
      assertEquals(run.code, 0, run.stderr);
      const restored = join(folder, "restored");
      run = await denoTask(
        ["kvbits", "decode", "-b", bits, "-o", restored, "-q"],
        ROOT,
      );
      assertEquals(run.code, 0, run.stderr);
      run = await denoTask(
        ["kvbits", "verify", "-b", bits, "--orig-dump-dir", KV_SAMPLE],
        ROOT,
      );
      assertEquals(run.code, 0, run.stderr);
      assertStringIncludes(run.stdout, "Checked: 51, Failed: 0");
      // Byte for byte, read back by a process allowed to (cmp).
      const compare = await new Deno.Command("diff", {
        args: ["-r", KV_SAMPLE, restored],
      }).output();
      assert(compare.success, new TextDecoder().decode(compare.stdout));
      // Without --allow-all, Deno refuses /dev paths: the error says what works.
      const narrow = await runTaskScript("decode", [
        "-b",
        bits,
        "-o",
        join(folder, "narrow"),
      ]);
      assertEquals(narrow.code, 3);
      assertStringIncludes(narrow.stderr, "run with --allow-all");
    } finally {
      await new Deno.Command("rm", { args: ["-rf", folder] }).output();
    }
  },
});
