/**
 * The file-system layer's guarantees that the crash and bad-input tests do not
 * reach one by one: folder scans, the clean-up of temporary files, the folder
 * lock, and what a write does when something is in its way.
 */

import { assert, assertEquals, assertRejects } from "@std/assert";
import { join, relative } from "@std/path";
import { findFiles } from "../src/dump/find_files.ts";
import { lockFolder } from "../src/dump/folder_lock.ts";
import { removeStaleTemporaryFiles } from "../src/dump/temporary_files.ts";
import { writeFileAtomic } from "../src/dump/write_file_atomic.ts";
import { huffmanStreamCodec } from "../src/format/huffman_stream_codec.ts";
import { encodeFolder } from "../src/jobs/encode_job.ts";
import { listFiles, withTempDir, writeDumpFolder } from "./_helpers.ts";

const META = (name: string) => /^meta_.+\.json$/.test(name);

Deno.test("a folder to skip is recognised by real path, also when the root is given relative", async () => {
  await withTempDir(async (dir) => {
    await writeDumpFolder(join(dir, "dumps"), [
      { folder: "l0", name: "meta_a", k: new Uint16Array(2) },
      { folder: "out/l0", name: "meta_b", k: new Uint16Array(2) },
    ]);
    const root = relative(Deno.cwd(), join(dir, "dumps"));
    assertEquals(await findFiles(root, META, join(root, "out")), [
      "l0/meta_a.json",
    ]);
    assertEquals(await findFiles(root, META, join(dir, "dumps/out")), [
      "l0/meta_a.json",
    ]);
  });
});

Deno.test("a scan skips dot names and lists a dangling meta link, so that reading it reports the dump", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(join(dir, ".hidden"));
    await Deno.writeTextFile(join(dir, ".hidden/meta_x.json"), "{}");
    await Deno.writeTextFile(join(dir, ".meta_y.json.kvbits-tmp-1-1"), "{");
    await Deno.symlink("gone.json", join(dir, "meta_z.json"));
    await Deno.mkdir(join(dir, "folder"));
    await Deno.symlink("folder", join(dir, "meta_w.json"));
    assertEquals(await findFiles(dir, META), ["meta_z.json"]);
  });
});

Deno.test("temporary files are removed under the lock, except below a folder another run holds and in input folders", async () => {
  await withTempDir(async (dir) => {
    const temp = (folder: string) =>
      join(dir, folder, ".k_hi6_meta_t0_1.huff.kvbits-tmp-1234-5");
    for (const folder of ["", "a", "held", "input"]) {
      await Deno.mkdir(join(dir, folder), { recursive: true });
      await Deno.writeFile(temp(folder), new Uint8Array(1));
    }
    await Deno.writeTextFile(join(dir, "a/not-a-temp.huff"), "");
    const outer = await lockFolder(dir);
    const held = await lockFolder(join(dir, "held"));
    assert("release" in outer && "release" in held);
    assertEquals(
      await removeStaleTemporaryFiles(dir, [
        await Deno.realPath(join(dir, "input")),
      ]),
      [temp(""), temp("a")].sort(),
    );
    await held.release();
    assertEquals(await removeStaleTemporaryFiles(dir), [
      temp("held"),
      temp("input"),
    ]);
    await outer.release();
    assertEquals(await listFiles(dir), ["a/not-a-temp.huff"]);
  });
});

Deno.test("encode into a folder that holds the dump folder leaves the inputs alone, temporary-looking files included", async () => {
  await withTempDir(async (dir) => {
    await writeDumpFolder(join(dir, "out/dumps"), [
      { folder: "l0", name: "meta_t0_1", k: new Uint16Array([1, 2]) },
    ]);
    const lookalike = join(dir, "out/dumps/l0/.v.bin.kvbits-tmp-1-1");
    await Deno.writeTextFile(lookalike, "not ours");
    const report = await encodeFolder({
      dumpDir: join(dir, "out/dumps"),
      outDir: join(dir, "out"),
      codec: huffmanStreamCodec,
      codebook: "per-dump",
      overwrite: false,
      stage: "both",
      minSeqLen: 0,
      maxSeqLen: 0,
    });
    assertEquals(report.temporaryFilesRemoved, 0);
    assertEquals(await Deno.readTextFile(lookalike), "not ours");
    assertEquals(report.outcomes.map((o) => o.status), ["done"]);
  });
});

Deno.test("a write whose folder is blocked by a file says so, and leaves no temporary file", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(join(dir, "l0"), "a file");
    await assertRejects(
      () => writeFileAtomic(join(dir, "l0/sub/x.bin"), new Uint8Array(1)),
      Error,
      `cannot create folder ${join(dir, "l0")}: a file is in the way`,
    );
    assertEquals(await listFiles(dir), ["l0"]);
  });
});

Deno.test("a failed rename removes its temporary file", async () => {
  await withTempDir(async (dir) => {
    // A folder where the file should go: the rename fails.
    await Deno.mkdir(join(dir, "x.bin/inside"), { recursive: true });
    await assertRejects(() =>
      writeFileAtomic(join(dir, "x.bin"), new Uint8Array([1, 2]))
    );
    assertEquals(await listFiles(dir), []);
    assertEquals(
      (await Deno.stat(join(dir, "x.bin/inside"))).isDirectory,
      true,
    );
  });
});
