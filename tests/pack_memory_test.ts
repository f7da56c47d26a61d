/**
 * Peak memory of encode, decode and verify --pack on a folder of at least 1 GB
 * (copies of ../shared/kv-real): at most 3 times the largest dump plus 150 MB.
 *
 * Slow (minutes) and needs ../shared, GNU time and about 3 GB of free disk, so it
 * runs only when asked:
 *
 *   KVBITS_PACK_MEMORY_TEST=1 npx -y deno@2.9.6 test -A tests/pack_memory_test.ts
 *
 * Set TMPDIR to a RAM disk to make it faster.
 */

import { assert } from "@std/assert";
import { join } from "@std/path";
import { ROOT, SHARED, SHARED_AVAILABLE } from "./_helpers.ts";

const ASKED = (() => {
  const variable = "KVBITS_PACK_MEMORY_TEST";
  if (
    Deno.permissions.querySync({ name: "env", variable }).state !== "granted"
  ) return false;
  return Deno.env.get(variable) === "1";
})();

/** Runs a task under GNU time; returns its peak resident set in bytes. */
async function peakRss(task: string, args: string[]): Promise<number> {
  const output = await new Deno.Command("/usr/bin/time", {
    args: [
      "-f",
      "%M",
      Deno.execPath(),
      "run",
      "--v8-flags=--max-semi-space-size=1,--no-concurrent-recompilation",
      "-A",
      join(ROOT, "tasks", `${task}.ts`),
      ...args,
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  const lines = new TextDecoder().decode(output.stderr).trim().split("\n");
  assert(output.code === 0, lines.join("\n"));
  return Number(lines[lines.length - 1]) * 1024;
}

Deno.test({
  name:
    "pack memory: a 1 GB folder packs, restores and verifies in 3x the largest dump + 150 MB",
  ignore: !ASKED || !SHARED_AVAILABLE,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "kvbits-memory-" });
    try {
      const kvReal = join(SHARED, "kv-real");
      const source = join(dir, "big");
      await Deno.mkdir(source);
      let bytes = 0, largest = 0;
      const copy = async (from: string, to: string) => {
        await Deno.mkdir(to, { recursive: true });
        for await (const entry of Deno.readDir(from)) {
          const path = join(from, entry.name);
          if (entry.isDirectory) await copy(path, join(to, entry.name));
          else {
            await Deno.copyFile(path, join(to, entry.name));
            const size = (await Deno.stat(path)).size;
            bytes += size;
            largest = Math.max(largest, size);
          }
        }
      };
      for (let i = 0; bytes < 1e9; i++) {
        await copy(kvReal, join(source, `copy_${i}`));
      }
      const bound = 3 * 2 * largest + 150e6;
      const pack = join(dir, "big.kvp");
      const peaks = {
        encode: await peakRss("encode", [
          "--dump-dir",
          source,
          "--pack",
          pack,
          "--no-fsync",
          "--quiet",
        ]),
        decode: await peakRss("decode", [
          "--pack",
          pack,
          "--out-dir",
          join(dir, "out"),
          "--no-fsync",
          "--quiet",
        ]),
        verify: await peakRss("verify", ["--pack", pack, "--quiet"]),
      };
      for (const [task, peak] of Object.entries(peaks)) {
        assert(
          peak <= bound,
          `${task}: ${(peak / 1e6).toFixed(0)} MB peak, bound ${
            (bound / 1e6).toFixed(0)
          } MB`,
        );
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
