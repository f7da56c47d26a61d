/**
 * The package as a registry would get it: `deno publish --dry-run` passes (it
 * checks name, version, license, exports and slow types, offline) and ships the
 * library only: mod.ts, the codec layer, the file formats as data (pure, so
 * that `decodeDump` reads what the CLI writes), README, LICENSE and deno.json.
 */

import { assertEquals, assertStringIncludes } from "@std/assert";
import { join } from "@std/path";
import { listFiles, ROOT } from "./_helpers.ts";

Deno.test("deno publish --dry-run passes and would publish mod.ts, src/codec/, src/format/, README, LICENSE and deno.json only", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    // --allow-dirty: the check is about the package, not about uncommitted work.
    args: ["publish", "--dry-run", "--allow-dirty"],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(output.stdout) +
    new TextDecoder().decode(output.stderr);
  assertEquals(output.code, 0, text);
  assertStringIncludes(text, "Simulating publish of @kvbits/kvbits@");
  assertStringIncludes(text, "Dry run complete");
  const root = new URL(`file://${ROOT}`).href.replace(/\/?$/, "/");
  const published = [...text.matchAll(/(file:\/\/\S+) \(/g)]
    .map((match) => match[1].slice(root.length)).sort();
  const codec = (await listFiles(join(ROOT, "src", "codec")))
    .map((file) => `src/codec/${file}`);
  const format = (await listFiles(join(ROOT, "src", "format")))
    .map((file) => `src/format/${file}`);
  assertEquals(
    published,
    ["LICENSE", "README.md", "deno.json", "mod.ts", ...codec, ...format]
      .sort(),
  );
});
