/**
 * Files larger than a piece are never held whole: encode reads them in pieces
 * (for their CRC-32, and again as the pack is written), decode and verify
 * restore or check them as they are read. The pack's bytes are those of a pack
 * made holding them whole, the tree comes back byte for byte, and a damaged or
 * cut file never gets its name.
 */

import { assert, assertEquals, assertRejects } from "@std/assert";
import { KvbitsFileError } from "../src/dump/file_error.ts";
import { join } from "@std/path";
import { listTree } from "../src/dump/pack_tree.ts";
import { assertSameTree, treeOf } from "./_pack_helpers.ts";
import { decodePack, verifyPack } from "../src/jobs/pack_decode_job.ts";
import { encodePack } from "../src/jobs/pack_encode_job.ts";
import { copyStreamedPart } from "../src/jobs/pack_block_task.ts";
import { crc32 } from "../src/codec/crc32.ts";
import { KV_SAMPLE, seededRandom, withTempDir } from "./_helpers.ts";

/** Pieces of the tests: 64 KiB, so that a 3 MB file is 46 of them. */
const PIECE = 64 << 10;
/** The large file: between the dumps of two runs, in the same block. */
const LARGE = "llama6L-kjv-ruth/layer_0/notes.bin";

/** kv-sample, with a large file of seeded random bytes and a small one. */
function writeTree(root: string): Uint8Array {
  for (const path of listTree(KV_SAMPLE).files) {
    Deno.mkdirSync(join(root, path, ".."), { recursive: true });
    Deno.copyFileSync(join(KV_SAMPLE, path), join(root, path));
  }
  const random = seededRandom(12);
  const large = new Uint8Array(3_000_001);
  for (let i = 0; i < large.length; i++) large[i] = random() * 256;
  Deno.writeFileSync(join(root, LARGE), large);
  Deno.writeTextFileSync(join(root, "README.md"), "a tree\n");
  return large;
}

/** Where `needle` starts in `bytes`. */
function indexOf(bytes: Uint8Array, needle: Uint8Array): number {
  search: for (let i = 0; i + needle.length <= bytes.length; i++) {
    for (let j = 0; j < needle.length; j++) {
      if (bytes[i + j] !== needle[j]) continue search;
    }
    return i;
  }
  return -1;
}

Deno.test("pack: a file larger than a piece is streamed, packs to the same bytes and round trips byte for byte", async () => {
  await withTempDir(async (dir) => {
    const source = join(dir, "src");
    writeTree(source);
    const pack = (name: string) => join(dir, `${name}.kvp`);
    // Held whole (pieces larger than the file), then streamed on one and on
    // two lanes: the same bytes.
    const whole = await encodePack({
      dumpDir: source,
      pack: pack("whole"),
      durable: false,
      pieceBytes: 1 << 30,
    });
    for (const jobs of [1, 2]) {
      const streamed = await encodePack({
        dumpDir: source,
        pack: pack(`streamed${jobs}`),
        durable: false,
        pieceBytes: PIECE,
        jobs,
      });
      assertEquals(
        [streamed.dumps, streamed.files, streamed.blocks],
        [whole.dumps, whole.files, 1],
      );
      assertEquals(
        Deno.readFileSync(pack(`streamed${jobs}`)),
        Deno.readFileSync(pack("whole")),
      );
    }
    for (const [jobs, pieceBytes] of [[1, PIECE], [2, PIECE], [2, undefined]]) {
      const out = join(dir, `out-${jobs}-${pieceBytes}`);
      const report = await decodePack({
        pack: pack("whole"),
        outDir: out,
        durable: false,
        jobs,
        pieceBytes,
      });
      assertEquals([report.failures, report.damage], [[], []]);
      assertEquals(report.files, whole.files + 3 * whole.dumps);
      assertSameTree(treeOf(out), treeOf(source));
    }
    const verified = await verifyPack({
      pack: pack("whole"),
      origDumpDir: source,
      pieceBytes: PIECE,
    });
    assertEquals([verified.failures, verified.notInPack], [[], []]);
    // Restored alone, through the index.
    const only = join(dir, "only");
    const selected = await decodePack({
      pack: pack("whole"),
      outDir: only,
      durable: false,
      only: [LARGE],
      pieceBytes: PIECE,
    });
    assertEquals([selected.entries, selected.failures], [1, []]);
    assertEquals([...treeOf(only).keys()], [LARGE]);
  });
});

Deno.test("pack verify: a large file that differs from its original, or is shorter or longer, is named", async () => {
  await withTempDir(async (dir) => {
    const source = join(dir, "src");
    const large = writeTree(source);
    const pack = join(dir, "t.kvp");
    await encodePack({ dumpDir: source, pack, durable: false });
    const changed = large.slice();
    changed[2_000_000] ^= 1;
    const longer = new Uint8Array(large.length + 1);
    longer.set(large);
    const cases: [string, Uint8Array, boolean][] = [
      ["changed", changed, false],
      ["shorter", large.subarray(1), false],
      ["longer", longer, false],
      ["the same", large, true],
    ];
    for (const [name, original, same] of cases) {
      Deno.writeFileSync(join(source, LARGE), original);
      const report = await verifyPack({
        pack,
        origDumpDir: source,
        pieceBytes: PIECE,
      });
      assertEquals(
        report.failures.map((failure) => failure.reason),
        same ? [] : [`${LARGE}: ${LARGE} differs from the original`],
        name,
      );
    }
  });
});

Deno.test("pack decode: a damaged or cut large file is not written; the block's other entries are", async () => {
  await withTempDir(async (dir) => {
    const source = join(dir, "src");
    const large = writeTree(source);
    const pack = join(dir, "t.kvp");
    const encoded = await encodePack({ dumpDir: source, pack, durable: false });
    const bytes = Deno.readFileSync(pack);
    const start = indexOf(bytes, large.subarray(0, 64));
    assert(start > 0);
    const flipped = bytes.slice();
    flipped[start + 1_500_000] ^= 0x10;
    const cases: [string, Uint8Array, string][] = [
      [
        "flipped",
        flipped,
        `${LARGE}: CRC-32 mismatch: the pack is damaged here`,
      ],
      [
        "cut",
        bytes.subarray(0, start + 1_000_000),
        `${LARGE}: its bytes are missing: the pack ends 2000001 bytes early`,
      ],
    ];
    for (const [name, damaged, reason] of cases) {
      const path = join(dir, `${name}.kvp`);
      Deno.writeFileSync(path, damaged);
      const out = join(dir, `out-${name}`);
      const report = await decodePack({
        pack: path,
        outDir: out,
        durable: false,
        pieceBytes: PIECE,
      });
      assertEquals(
        report.failures.map((failure) => failure.reason).filter((reason) =>
          reason?.startsWith(LARGE)
        ),
        [reason],
        name,
      );
      assert(report.damage.length > 0, name);
      const restored = treeOf(out);
      assert(!restored.has(LARGE), name);
      // Nothing else is left beside where it would be.
      for (const path of listTree(out).files) {
        assert(!path.includes("notes.bin"), `${name}: ${path}`);
      }
      const written = Deno.readDirSync(join(out, LARGE, "..")).toArray();
      assert(written.every((entry) => !entry.name.includes("notes")), name);
      if (name === "flipped") {
        // Every other entry's own CRC-32 holds: all of them are restored.
        assertEquals(report.dumps, encoded.dumps);
        const expected = treeOf(source);
        expected.delete(LARGE);
        assertSameTree(restored, expected);
      }
    }
  });
});

Deno.test("pack encode: a large file that changed since its block was coded fails the copy", async () => {
  await withTempDir(async (dir) => {
    const large = writeTree(dir);
    const part = { path: LARGE, size: large.length, crc: crc32(large) };
    let copied = 0;
    await copyStreamedPart(dir, part, PIECE, (bytes) => {
      copied += bytes.length;
      return Promise.resolve();
    });
    assertEquals(copied, large.length);
    const message =
      `${dir}/${LARGE}: changed while it was packed (pack the folder again)`;
    const changed = large.slice();
    changed[2_999_999] ^= 1;
    for (const bytes of [changed, large.subarray(1), new Uint8Array(4e6)]) {
      Deno.writeFileSync(join(dir, LARGE), bytes);
      await assertRejects(
        () => copyStreamedPart(dir, part, PIECE, () => Promise.resolve()),
        KvbitsFileError,
        message,
      );
    }
    Deno.removeSync(join(dir, LARGE));
    await assertRejects(
      () => copyStreamedPart(dir, part, PIECE, () => Promise.resolve()),
      KvbitsFileError,
    );
  });
});
