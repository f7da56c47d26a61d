/**
 * Crash safety of `encode --pack` with a real SIGKILL: the task runs in a
 * subprocess, the test hook (`src/dump/crash_test_hook.ts`) stops it at a chosen
 * write of the pack (the header, inside the block, the index, just before and
 * just after the rename that names the pack) and the test kills it. Whatever the
 * moment, nothing that looks like a complete pack is left under the pack's name:
 * either nothing is there, or the whole pack, byte for byte the one an
 * uninterrupted encode writes. What a kill leaves is a temporary file whose name
 * starts with a dot, which is not a complete pack, and a new encode writes the
 * same pack beside it.
 */

import { assert, assertEquals } from "@std/assert";
import { join } from "@std/path";
import { TEMPORARY_FILE_MARK } from "../src/dump/write_file_atomic.ts";
import { verifyPack } from "../src/jobs/pack_decode_job.ts";
import { encodePack } from "../src/jobs/pack_encode_job.ts";
import { KV_SAMPLE, ROOT, runScriptAndKillAt } from "./_helpers.ts";

const KVBITS = join(ROOT, "tasks", "kvbits.ts");

/** Runs `encode --pack` until the hook stops it at `pause`, then kills it. */
async function encodeAndKillAt(pack: string, pause: string): Promise<void> {
  await runScriptAndKillAt(
    KVBITS,
    [
      "encode",
      "--dump-dir",
      KV_SAMPLE,
      "--pack",
      pack,
      "--quiet",
      "--jobs",
      "1",
    ],
    pause,
    ["-A"],
  );
}

function temporaryFiles(folder: string): string[] {
  return [...Deno.readDirSync(folder)].map((entry) => entry.name).filter((
    name,
  ) => name.includes(TEMPORARY_FILE_MARK)).sort();
}

Deno.test("pack encode killed at any write leaves no complete-looking pack under its name", async () => {
  const folder = await Deno.makeTempDir({ prefix: "kvbits-pack-crash-" });
  try {
    const reference = join(folder, "reference.kvp");
    const report = await encodePack({
      dumpDir: KV_SAMPLE,
      pack: reference,
      durable: false,
    });
    const expected = Deno.readFileSync(reference);
    // The pack's writes: its header; per block a header, the table, its
    // CRC, one part per dump or non-empty file, the payload's CRC; the index;
    // the trailer. The commit is one write more.
    const writes = 1 + 4 * report.blocks + report.dumps + report.files + 2;
    const commit = writes + 1;
    for (const write of [1, 2, 3, 20, writes - 1, writes, commit]) {
      const pack = join(folder, `killed-${write}.kvp`);
      await encodeAndKillAt(pack, `${write}:temp`);
      const names = [...Deno.readDirSync(folder)].map((entry) => entry.name);
      assert(!names.includes(`killed-${write}.kvp`), `write ${write}`);
      const left = temporaryFiles(folder);
      assertEquals(left.length, 1, `write ${write}: ${left}`);
      assert(left[0].startsWith(`.killed-${write}.kvp`), left[0]);
      if (write < writes) {
        // Cut short of its trailer: never read as a complete pack.
        const complete = await verifyPack({ pack: join(folder, left[0]) })
          .then((checked) => checked.ending?.complete, () => false);
        assertEquals(complete, false, `write ${write}`);
      }
      // A new encode writes the whole pack beside what the kill left.
      await encodePack({ dumpDir: KV_SAMPLE, pack, durable: false });
      assertEquals(Deno.readFileSync(pack), expected, `write ${write}`);
      Deno.removeSync(pack);
      Deno.removeSync(join(folder, left[0]));
    }
    // Killed just after the rename: the pack is there, whole.
    const pack = join(folder, "renamed.kvp");
    await encodeAndKillAt(pack, `${commit}:renamed`);
    assertEquals(Deno.readFileSync(pack), expected);
    assertEquals(temporaryFiles(folder), []);
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
});
