/** Reading a dump's counterpart in a predictor folder, and every way it fails. */

import { assertEquals, assertInstanceOf, assertThrows } from "@std/assert";
import { join } from "@std/path";
import { type DumpMeta, parseDumpMeta } from "../src/format/dump_meta.ts";
import { KvbitsFileError } from "../src/dump/file_error.ts";
import {
  checkPredictorFolder,
  predictorDumpReader,
  readPredictorDump,
} from "../src/dump/predictor_dump.ts";
import { predictorFingerprint } from "../src/codec/predicted_dump_coder.ts";
import { FIXTURES, KV_SAMPLE, withTempDir } from "./_helpers.ts";

const PREDICTORS = join(FIXTURES, "predictor-sample", "int8");
const DUMP = "llama6L-kjv-ruth/layer_0/meta_t0_128.json";

function metaOf(path: string): DumpMeta {
  return parseDumpMeta(Deno.readTextFileSync(join(KV_SAMPLE, path)));
}

/** A copy of the predictor folder's one dump, for breaking it. */
async function copyDump(dir: string): Promise<string> {
  const folder = join(dir, "llama6L-kjv-ruth", "layer_0");
  await Deno.mkdir(folder, { recursive: true });
  for (const name of ["meta_t0_128.json", "k_t0_128.bin", "v_t0_128.bin"]) {
    await Deno.copyFile(
      join(PREDICTORS, "llama6L-kjv-ruth", "layer_0", name),
      join(folder, name),
    );
  }
  return folder;
}

Deno.test("predictor dump: the counterpart of a fixture dump, its files named", () => {
  const predictor = readPredictorDump(PREDICTORS, DUMP, metaOf(DUMP))!;
  assertEquals([predictor.k.length, predictor.v.length], [16384, 16384]);
  assertEquals(
    predictor.kPath,
    join(PREDICTORS, "llama6L-kjv-ruth", "layer_0", "k_t0_128.bin"),
  );
  const bytes = Deno.readFileSync(predictor.vPath);
  assertEquals(
    new Uint8Array(
      predictor.v.buffer,
      predictor.v.byteOffset,
      predictor.v.byteLength,
    ),
    bytes,
  );
  // Hashed natively from the file: the coder's fingerprint of the words.
  assertEquals(predictor.kFingerprint, predictorFingerprint(predictor.k));
  assertEquals(predictor.vFingerprint, predictorFingerprint(predictor.v));
});

Deno.test("predictor dump: a dump the predictor folder lacks is undefined, not an error", () => {
  assertEquals(
    readPredictorDump(
      PREDICTORS,
      "llama6L-kjv-ruth/layer_3/meta_t0_128.json",
      metaOf(DUMP),
    ),
    undefined,
  );
});

Deno.test("predictor dump: a missing predictor folder, or a file in its place, is named", async () => {
  assertThrows(
    () => checkPredictorFolder(join(FIXTURES, "nothing-here")),
    KvbitsFileError,
    "nothing-here: predictor folder does not exist",
  );
  assertThrows(
    () => checkPredictorFolder(join(FIXTURES, "README.md")),
    KvbitsFileError,
    "README.md: predictor folder is not a folder",
  );
  checkPredictorFolder(PREDICTORS);
  await withTempDir(async (dir) => {
    const file = join(dir, "p");
    await Deno.writeTextFile(file, "x");
    assertThrows(
      () => checkPredictorFolder(file),
      KvbitsFileError,
      "is not a folder",
    );
  });
});

Deno.test("predictor dump: another shape, a broken meta, a short or missing tensor: errors naming the predictor file", async () => {
  await withTempDir(async (dir) => {
    const folder = await copyDump(dir);
    const metaPath = join(folder, "meta_t0_128.json");
    const text = await Deno.readTextFile(metaPath);
    const meta = metaOf(DUMP);

    await Deno.writeTextFile(
      metaPath,
      text.replace('"seq_len": 128', '"seq_len": 64'),
    );
    const error = assertThrows(
      () => readPredictorDump(dir, DUMP, meta),
      KvbitsFileError,
    );
    assertEquals(error.path, metaPath);
    assertEquals(
      error.detail,
      "predictor shape 64 x 2 x 64 differs from the dump's 128 x 2 x 64",
    );

    await Deno.writeTextFile(metaPath, "{not json");
    assertThrows(
      () => readPredictorDump(dir, DUMP, meta),
      KvbitsFileError,
      metaPath,
    );

    await Deno.writeTextFile(metaPath, text);
    await Deno.writeFile(join(folder, "v_t0_128.bin"), new Uint8Array(100));
    assertThrows(
      () => readPredictorDump(dir, DUMP, meta),
      KvbitsFileError,
      `${join(folder, "v_t0_128.bin")}: size`,
    );

    await Deno.remove(join(folder, "k_t0_128.bin"));
    const missing = assertThrows(() => readPredictorDump(dir, DUMP, meta));
    assertInstanceOf(missing, KvbitsFileError);
    assertEquals(missing.path, join(folder, "k_t0_128.bin"));
  });
});

/** What reading a predictor dump gives: its tensors and files, or its error. */
function outcome(read: () => unknown): unknown {
  try {
    const found = read() as Record<string, unknown> | undefined;
    if (found === undefined) return undefined;
    const copy: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(found)) {
      copy[key] = value instanceof Uint16Array || value instanceof Uint8Array
        ? [...value]
        : value;
    }
    return copy;
  } catch (error) {
    return { error: (error as Error).constructor.name, message: String(error) };
  }
}

Deno.test("predictor dump reader: the same tensors, misses and errors as readPredictorDump, however the folder is broken", async () => {
  await withTempDir(async (dir) => {
    const folder = await copyDump(dir);
    const metaPath = join(folder, "meta_t0_128.json");
    const text = await Deno.readTextFile(metaPath);
    const meta = metaOf(DUMP);
    const cases: string[] = [];
    const same = (name: string, path = DUMP) => {
      const expected = outcome(() => readPredictorDump(dir, path, meta));
      // A new reader: it lists each folder once, before this case's changes.
      assertEquals(
        outcome(() => predictorDumpReader(dir)(path, meta)),
        expected,
        name,
      );
      cases.push(name);
    };
    same("whole");
    same(
      "absent from a listed folder",
      "llama6L-kjv-ruth/layer_0/meta_t1_2.json",
    );
    same(
      "in a missing folder",
      "llama6L-kjv-ruth/layer_9/meta_t0_128.json",
    );
    same(
      "under a file",
      "llama6L-kjv-ruth/layer_0/meta_t0_128.json/meta.json",
    );
    await Deno.writeTextFile(
      metaPath,
      text.replace('"seq_len": 128', '"seq_len": 64'),
    );
    same("another shape");
    await Deno.writeTextFile(metaPath, "{not json");
    same("a broken meta");
    await Deno.writeTextFile(metaPath, text);
    const vPath = join(folder, "v_t0_128.bin");
    const v = await Deno.readFile(vPath);
    await Deno.writeFile(vPath, v.subarray(0, 100));
    same("a short tensor");
    await Deno.writeFile(vPath, Uint8Array.of(...v, 1, 2));
    same("a long tensor");
    await Deno.writeFile(vPath, Uint8Array.of(...v, 1));
    same("a tensor one byte long");
    // Longer than the reader's buffer: not whole after one read.
    await Deno.writeFile(vPath, new Uint8Array(3 * 65536));
    same("a tensor longer than the buffer");
    await Deno.writeFile(vPath, new Uint8Array(0));
    same("an empty tensor");
    await Deno.writeFile(vPath, v);
    // A meta longer than the reader's first buffer (4 KB) is read whole.
    await Deno.writeTextFile(metaPath, text + " ".repeat(5000));
    same("a long meta");
    await Deno.writeTextFile(metaPath, text);
    await Deno.rename(metaPath, join(folder, "real.json"));
    await Deno.symlink("real.json", metaPath);
    same("a linked meta");
    await Deno.remove(metaPath);
    await Deno.rename(join(folder, "real.json"), metaPath);
    await Deno.mkdir(join(folder, "sub"));
    await Deno.rename(vPath, join(folder, "sub", "v_t0_128.bin"));
    await Deno.writeTextFile(
      metaPath,
      text.replace('"v_t0_128.bin"', '"sub/v_t0_128.bin"'),
    );
    same("a tensor in a subfolder");
    await Deno.remove(join(folder, "k_t0_128.bin"));
    same("a missing tensor");
    assertEquals(cases.length, 15);
  });
});

Deno.test("predictor dump reader: one dump after another, each valid until the next", () => {
  const read = predictorDumpReader(PREDICTORS);
  const first = read(DUMP, metaOf(DUMP))!;
  const words = first.k.slice();
  assertEquals(first.kFingerprint, predictorFingerprint(words));
  assertEquals(
    read("llama6L-kjv-ruth/layer_3/meta_t0_128.json", metaOf(DUMP)),
    undefined,
  );
  const again = read(DUMP, metaOf(DUMP))!;
  assertEquals(again.k, words);
  assertEquals(again.kPath, first.kPath);
});
