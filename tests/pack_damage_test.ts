/**
 * A damaged pack never restores wrong bytes: truncations and bit flips at and
 * around every block boundary, the index and the trailer, read front to back and
 * through the index. What is intact is restored; what is lost is named.
 */

import { assert, assertEquals, assertRejects } from "@std/assert";
import { join } from "@std/path";
import { KvbitsDataError } from "../src/codec/errors.ts";
import { decodePack, verifyPack } from "../src/jobs/pack_decode_job.ts";
import { encodePack } from "../src/jobs/pack_encode_job.ts";
import { listPack } from "../src/jobs/pack_list_job.ts";
import { readPackIndex } from "../src/jobs/pack_reader.ts";
import { openPackInput } from "../src/dump/pack_input.ts";
import { decodePack as decodePackBytes } from "../mod.ts";
import { KV_SAMPLE, withTempDir } from "./_helpers.ts";
import { equalBytes, treeOf } from "./_pack_helpers.ts";

/** The offsets where a pack's parts start: blocks, index, trailer, end. */
/** Packs the sample folder into `dir/s.kvp` in blocks of 48 KiB (several blocks). */
async function packSample(dir: string): Promise<string> {
  const pack = join(dir, "s.kvp");
  await encodePack({
    dumpDir: KV_SAMPLE,
    pack,
    durable: false,
    blockBytes: 48 << 10,
  });
  return pack;
}

function boundariesOf(path: string): number[] {
  using input = openPackInput(path);
  const index = readPackIndex(input);
  if (typeof index === "string") throw new Error(index);
  const size = index.packBytes;
  const indexOffset = size - 28 - (8 + 12 * index.blocks.length + 4);
  return [
    8,
    ...index.blocks.map((block) => block.offset),
    indexOffset,
    size - 28,
    size,
  ];
}

/**
 * Checks one damaged pack: decoding never throws anything but a data error on
 * its header, every file it restores is the original, and the damage is reported.
 */
async function checkDamaged(
  dir: string,
  bytes: Uint8Array,
  label: string,
  original: Map<string, Uint8Array>,
  only?: string[],
): Promise<void> {
  const pack = join(dir, "damaged.kvp");
  await Deno.writeFile(pack, bytes);
  let report;
  try {
    report = await verifyPack({ pack, only, origDumpDir: KV_SAMPLE });
  } catch (error) {
    // Only a pack whose own header is gone may be refused as a whole.
    assert(error instanceof KvbitsDataError, `${label}: ${error}`);
    assert(/pack header/.test(error.message), `${label}: ${error.message}`);
    return;
  }
  for (const outcome of report.failures) {
    assert(
      !/differs from the original|cannot be read/.test(outcome.reason ?? ""),
      `${label}: ${outcome.reason}`,
    );
  }
  // Read front to back, every damage is found (through the index, a damaged
  // block that is not selected is not read).
  const failed = report.failures.length;
  const restored = report.entries;
  assert(
    only !== undefined || report.damage.length > 0 || failed > 0 ||
      restored < 51,
    `${label}: damage went unreported`,
  );
  // What a decode writes is exactly the originals.
  const out = join(dir, "out");
  await Deno.remove(out, { recursive: true }).catch(() => {});
  await decodePack({ pack, outDir: out, durable: false, only });
  for (const [path, content] of treeOf(out)) {
    assert(equalBytes(content, original.get(path)!), `${label}: ${path}`);
  }
}

Deno.test("pack damage: truncations at and around every boundary never restore wrong bytes", async () => {
  await withTempDir(async (dir) => {
    const pack = await packSample(dir);
    const bytes = Deno.readFileSync(pack);
    const original = treeOf(KV_SAMPLE);
    const boundaries = boundariesOf(pack);
    assert(boundaries.length >= 6, `${boundaries.length} boundaries`);
    for (const boundary of boundaries) {
      for (const delta of [-5, -4, -1, 0, 1, 3, 4, 5, 27, 28, 29]) {
        const length = boundary + delta;
        if (length < 0 || length >= bytes.length) continue;
        await checkDamaged(
          dir,
          bytes.subarray(0, length),
          `cut at ${length}`,
          original,
        );
      }
    }
  });
});

Deno.test("pack damage: bit flips at and around every boundary never restore wrong bytes, front to back or by index", async () => {
  await withTempDir(async (dir) => {
    const pack = await packSample(dir);
    const bytes = Deno.readFileSync(pack);
    const original = treeOf(KV_SAMPLE);
    for (const boundary of boundariesOf(pack)) {
      for (const delta of [-6, -2, -1, 0, 1, 2, 5, 9, 13, 17, 25, 30, 40]) {
        const at = boundary + delta;
        if (at < 0 || at >= bytes.length) continue;
        for (const only of [undefined, ["llama6L-kjv-ruth/**"]]) {
          const flipped = bytes.slice();
          flipped[at] ^= 1 << (at % 8);
          await checkDamaged(
            dir,
            flipped,
            `bit ${at % 8} of byte ${at}${only ? " with --only" : ""}`,
            original,
            only,
          );
        }
      }
    }
  });
});

Deno.test("pack damage: a damaged block costs its own entries only, and they are named", async () => {
  await withTempDir(async (dir) => {
    const pack = await packSample(dir);
    const bytes = Deno.readFileSync(pack);
    const [first, second] = boundariesOf(pack).slice(1);
    // A byte in the middle of the first block's payload.
    const flipped = bytes.slice();
    flipped[Math.floor((first + second) / 2)] ^= 0x10;
    await Deno.writeFile(pack, flipped);
    const report = await verifyPack({ pack });
    const failed = report.failures;
    assert(failed.length >= 1, "the damaged dump is named");
    assert(failed.every((o) => o.reason?.startsWith(o.dump)));
    assertEquals(report.entries + failed.length, 51);
    assert(report.damage.some((d) => /payload is damaged/.test(d.detail)));
    assertEquals(report.ending?.complete, false);
  });
});

Deno.test("pack damage: a pack cut before its index says where it ends; list still reads what is there", async () => {
  await withTempDir(async (dir) => {
    const pack = await packSample(dir);
    const boundaries = boundariesOf(pack);
    const cut = boundaries[boundaries.length - 4];
    await Deno.writeFile(pack, Deno.readFileSync(pack).subarray(0, cut));
    const listed = await listPack({ pack });
    assert(listed.entries.length > 0 && listed.entries.length < 51);
    assert(
      listed.damage.some((d) =>
        /ends at byte \d+ without its index/.test(d.detail)
      ),
      JSON.stringify(listed.damage),
    );
  });
});

Deno.test("pack damage: what is not a pack is refused by name", async () => {
  await withTempDir(async (dir) => {
    const pack = join(dir, "x.kvp");
    await Deno.writeTextFile(pack, "hello, not a pack");
    await assertRejects(
      () => verifyPack({ pack }),
      KvbitsDataError,
      "not a kvbits pack",
    );
  });
});

Deno.test("pack damage: decodePack in memory returns only checked files and names what it lost", async () => {
  await withTempDir(async (dir) => {
    const pack = await packSample(dir);
    const bytes = Deno.readFileSync(pack);
    const original = treeOf(KV_SAMPLE);
    assertEquals(decodePackBytes(bytes).files.length, 153);
    for (const cut of [bytes.length - 100, Math.floor(bytes.length / 2), 40]) {
      const decoded = decodePackBytes(bytes.subarray(0, cut));
      assert(decoded.problems.length > 0, `cut at ${cut}`);
      for (const file of decoded.files) {
        assert(equalBytes(file.bytes, original.get(file.path)!), file.path);
      }
    }
  });
});
