/**
 * The public API of `mod.ts`: round trips per codec on the bundled real dumps
 * and on adversarial tensors, reading what the CLI writes (a `.kvc`, the
 * reference layouts' JSON, streams and global codebooks), every error path, and
 * the export list itself (small, named, no internals).
 */

import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertThrows,
} from "@std/assert";
import { join } from "@std/path";
import * as kvbits from "../mod.ts";
import {
  arithDecodeTensor,
  arithEncodeTensor,
  CODEC_NAMES,
  ctxDecodeTensor,
  ctxEncodeTensor,
  decodeDump,
  encodeDump,
  encodeDumps,
  huffmanDecodeTensor,
  huffmanEncodeTensor,
  KvbitsDataError,
  KvbitsFormatError,
  MAX_TENSOR_ELEMENTS,
} from "../mod.ts";
import { encodeFolder } from "../src/jobs/encode_job.ts";
import { codecNamed } from "../src/format/codecs.ts";
import {
  KV_SAMPLE,
  listFiles,
  REFERENCE,
  ROOT,
  seededRandom,
  withTempDir,
} from "./_helpers.ts";

/** A dump of the bundled fixtures: its meta text and tensors. */
interface FixtureDump {
  readonly path: string;
  readonly metaName: string;
  readonly metaText: string;
  readonly k: Uint16Array;
  readonly v: Uint16Array;
  readonly shape: { tokens: number; heads: number; headDim: number };
}

async function fixtureDumps(): Promise<FixtureDump[]> {
  const metas = (await listFiles(KV_SAMPLE)).filter((path) =>
    /(^|\/)meta_[^/]+\.json$/.test(path)
  );
  const dumps: FixtureDump[] = [];
  for (const path of metas) {
    const folder = path.slice(0, path.lastIndexOf("/") + 1);
    const metaText = await Deno.readTextFile(join(KV_SAMPLE, path));
    const meta = JSON.parse(metaText);
    const words = async (file: string) =>
      new Uint16Array(
        (await Deno.readFile(join(KV_SAMPLE, folder, file))).buffer,
      );
    dumps.push({
      path,
      metaName: path.slice(folder.length, -".json".length),
      metaText,
      k: await words(meta.k_file),
      v: await words(meta.v_file),
      shape: {
        tokens: meta.seq_len,
        heads: meta.kv_heads,
        headDim: meta.head_dim,
      },
    });
  }
  return dumps;
}

/** Tensors that break careless coders. */
function adversarialTensors(): Record<string, Uint16Array> {
  const random = seededRandom(11);
  return {
    empty: new Uint16Array(0),
    one: Uint16Array.of(0x7e00),
    constant: new Uint16Array(4096).fill(0x3c00),
    "every word": Uint16Array.from({ length: 65536 }, (_, i) => i),
    specials: Uint16Array.from(
      { length: 4096 },
      (_, i) => [0x0000, 0x8000, 0x0001, 0x7c00, 0xfc00, 0x7e00, 0xffff][i % 7],
    ),
    "uniform noise": Uint16Array.from(
      { length: 8192 },
      () => Math.floor(random() * 65536),
    ),
  };
}

const TENSOR_CODECS = {
  huffman: (words: Uint16Array) =>
    huffmanDecodeTensor(huffmanEncodeTensor(words)),
  arith: (words: Uint16Array) => arithDecodeTensor(arithEncodeTensor(words)),
  ctx: (words: Uint16Array) => {
    const shape = { tokens: 1, heads: 1, headDim: words.length };
    return ctxDecodeTensor(ctxEncodeTensor(words, shape), shape);
  },
} as const;

Deno.test("mod.ts exports a small named API: no internals, every value with an example", async () => {
  const names = Object.keys(kvbits).sort();
  assertEquals(names, [
    "CODEC_NAMES",
    "KvbitsDataError",
    "KvbitsFormatError",
    "MAX_TENSOR_ELEMENTS",
    "arithDecodeTensor",
    "arithEncodeTensor",
    "ctxDecodeTensor",
    "ctxEncodeTensor",
    "decodeDump",
    "encodeDump",
    "encodeDumps",
    "huffmanDecodeTensor",
    "huffmanEncodeTensor",
    "joinFp16Planes",
    "splitFp16Planes",
  ]);
  const text = await Deno.readTextFile(join(ROOT, "mod.ts"));
  assert(!/export \*/.test(text), "mod.ts re-exports nothing wholesale");
  // At most two positional arguments plus an options object.
  for (const value of Object.values(kvbits)) {
    if (typeof value === "function" && !/^class /.test(String(value))) {
      assert(value.length <= 2, `${value.name} takes ${value.length}`);
    }
  }
});

Deno.test("every codec's tensor pair round-trips the bundled real dumps", async () => {
  for (const dump of await fixtureDumps()) {
    for (const tensor of [dump.k, dump.v]) {
      assertEquals(huffmanDecodeTensor(huffmanEncodeTensor(tensor)), tensor);
      assertEquals(arithDecodeTensor(arithEncodeTensor(tensor)), tensor);
      const payload = ctxEncodeTensor(tensor, dump.shape);
      assert(payload.length < tensor.byteLength, dump.path);
      assertEquals(ctxDecodeTensor(payload, dump.shape), tensor);
    }
  }
});

for (const [name, roundTrip] of Object.entries(TENSOR_CODECS)) {
  Deno.test(`${name}: adversarial tensors round-trip`, () => {
    for (const [label, words] of Object.entries(adversarialTensors())) {
      assertEquals(roundTrip(words), words, label);
    }
  });
}

Deno.test("every codec's dump pair round-trips the bundled real dumps, with the bytes the CLI writes", async () => {
  const dumps = await fixtureDumps();
  for (const codec of CODEC_NAMES) {
    await withTempDir(async (outDir) => {
      await encodeFolder({
        dumpDir: KV_SAMPLE,
        outDir,
        codec: codecNamed(codec)!,
        codebook: "per-dump",
        overwrite: false,
        stage: "both",
        minSeqLen: 0,
        maxSeqLen: 0,
        durable: false,
        jobs: 1,
      });
      for (const dump of dumps) {
        const { files } = encodeDump(dump, {
          codec,
          metaName: dump.metaName,
        });
        const folder = dump.path.slice(0, dump.path.lastIndexOf("/") + 1);
        for (const file of files) {
          assertEquals(
            await Deno.readFile(join(outDir, folder, file.name)),
            file.bytes,
            `${codec} ${file.name}`,
          );
        }
        const back = decodeDump(files);
        assertEquals(back.codec, codec);
        assertEquals(back.metaFileName, `${dump.metaName}.json`);
        assertEquals(back.metaText, dump.metaText);
        assertEquals([back.k, back.v], [dump.k, dump.v]);
        assert(back.integrityChecked);
      }
    });
  }
});

Deno.test("decodeDump reads the reference tools' outputs: per-dump tables and global codebooks", async () => {
  const originals = new Map(
    (await fixtureDumps()).map((dump) => [dump.path, dump]),
  );
  for (
    const folder of [
      "huffman-global",
      "huffman-per-dump",
      "arith-global",
      "arith-per-dump",
    ]
  ) {
    const root = join(REFERENCE, folder);
    const paths = await listFiles(root);
    const shared = paths.filter((path) => path.startsWith("global_codebook"));
    const markers = paths.filter((path) =>
      /(bitstream|arith)_meta_[^/]+\.json$/.test(path)
    );
    assertEquals(markers.length > 0, true, folder);
    for (const marker of markers) {
      const dir = marker.slice(0, marker.lastIndexOf("/") + 1);
      // The dump's marker, every stream file of its folder (decodeDump takes
      // the four its marker names) and the folder's codebook.
      const files: Record<string, Uint8Array> = {};
      for (const path of paths) {
        const name = path.slice(dir.length);
        const inFolder = path.startsWith(dir) && !name.includes("/");
        if (path === marker || (inFolder && !name.endsWith(".json"))) {
          files[name] = await Deno.readFile(join(root, path));
        }
      }
      for (const path of shared) {
        files[path] = await Deno.readFile(join(root, path));
      }
      const back = decodeDump(files);
      const original = originals.get(
        join(dir, back.metaFileName),
      )!;
      assertEquals([back.k, back.v], [original.k, original.v], marker);
      assertEquals(
        back.integrityChecked,
        false,
        "reference outputs carry no checksums",
      );
    }
  }
});

Deno.test("encodeDumps writes a folder's global codebook, and decodeDump needs it", async () => {
  const dumps = await fixtureDumps();
  const seen = new Set<string>();
  const unique = dumps.filter((dump) =>
    !seen.has(dump.metaName) && seen.add(dump.metaName)
  );
  for (const codec of ["huffman", "arith"] as const) {
    const { files, shared } = encodeDumps(unique, {
      codec,
      codebook: "global",
    });
    assert(shared !== undefined);
    const dump = unique[0];
    const own = files.filter((file) =>
      file.name.includes(dump.metaName.slice(4) + ".")
    );
    assertEquals(decodeDump([...own, shared]).k, dump.k);
    assertThrows(() => decodeDump(own), KvbitsDataError, "global codebook");
  }
  const ctx = encodeDumps(unique, { codec: "ctx", codebook: "global" });
  assertEquals(ctx.shared, undefined, "ctx has no codebook");
  assertEquals(ctx.files.length, unique.length);
});

Deno.test("errors: misuse throws TypeError or RangeError, corrupt data KvbitsDataError, bad meta KvbitsFormatError", () => {
  const metaText =
    '{"layer_id": 0, "seq_len": 1, "kv_heads": 1, "head_dim": 4, "bytes_per_elem": 2, "stage": "decode", "k_file": "k.bin", "v_file": "v.bin"}';
  const k = Uint16Array.from([1, 2, 3, 4]);
  // Misuse.
  assertThrows(
    () => huffmanEncodeTensor([1, 2] as unknown as Uint16Array),
    TypeError,
  );
  assertThrows(
    () => encodeDump({ metaText, k, v: k }, { codec: "zip" as "ctx" }),
    RangeError,
    "huffman, arith, ctx",
  );
  assertThrows(
    () => encodeDump({ metaText, k, v: k }, { metaName: "dump" }),
    RangeError,
    "meta_",
  );
  assertThrows(
    () => encodeDump({ metaText, k: k.subarray(1), v: k }),
    RangeError,
    "elements",
  );
  assertThrows(
    () => ctxEncodeTensor(k, { tokens: 2, heads: 1, headDim: 4 }),
    RangeError,
  );
  assertThrows(
    () =>
      encodeDumps([{ metaName: "meta_a", metaText, k, v: k }, {
        metaName: "meta_a",
        metaText,
        k,
        v: k,
      }]),
    RangeError,
    "same meta name",
  );
  assertThrows(() => decodeDump([]), RangeError, "no file");
  const kvc =
    encodeDump({ metaText, k, v: k }, { metaName: "meta_t0_1" }).files;
  const kvc2 =
    encodeDump({ metaText, k, v: k }, { metaName: "meta_t1_2" }).files;
  assertThrows(() => decodeDump([...kvc, ...kvc2]), RangeError, "2 files");
  // A bad meta.
  assertThrows(() => encodeDump({ metaText: "{", k, v: k }), KvbitsFormatError);
  assertThrows(
    () => encodeDump({ metaText: '{"layer_id": 0}', k, v: k }),
    KvbitsFormatError,
    "seq_len",
  );
  // Corrupt data, every codec.
  for (const codec of CODEC_NAMES) {
    const { files } = encodeDump({ metaText, k, v: k }, {
      codec,
      metaName: "meta_t0_1",
    });
    const marker = files.at(-1)!;
    const bytes = marker.bytes.slice();
    bytes[bytes.length - 1] ^= 0x20;
    const error = assertThrows(() =>
      decodeDump([...files.slice(0, -1), { name: marker.name, bytes }])
    );
    assert(
      error instanceof KvbitsDataError || error instanceof KvbitsFormatError,
      `${codec}: ${error}`,
    );
    if (files.length > 1) {
      assertThrows(
        () => decodeDump(files.slice(1)),
        KvbitsDataError,
        "missing",
      );
      const stream = files[0].bytes.slice();
      stream[0] ^= 0xff;
      assertThrows(
        () =>
          decodeDump([
            { name: files[0].name, bytes: stream },
            ...files.slice(1),
          ]),
        KvbitsDataError,
      );
    }
  }
  // Tensors: tables, counts and payloads that cannot be.
  const coded = huffmanEncodeTensor(Uint16Array.from([1, 2, 3, 4, 5]));
  assertThrows(
    () => huffmanDecodeTensor({ ...coded, hi6Table: [1, 2] }),
    KvbitsDataError,
    "64",
  );
  assertThrows(
    () =>
      huffmanDecodeTensor({ ...coded, lo10Table: new Array(1024).fill(-1) }),
    KvbitsDataError,
  );
  assertThrows(
    () => huffmanDecodeTensor({ ...coded, count: 1e6 }),
    KvbitsDataError,
    "cannot hold",
  );
  assertThrows(
    () => huffmanDecodeTensor({ ...coded, count: MAX_TENSOR_ELEMENTS * 2 }),
    KvbitsDataError,
    "not a tensor size",
  );
  assertThrows(
    () =>
      arithDecodeTensor({
        ...arithEncodeTensor(k),
        lo10Table: new Array(1024).fill(0),
      }),
    KvbitsDataError,
  );
  const payload = ctxEncodeTensor(k, { tokens: 1, heads: 1, headDim: 4 });
  assertThrows(
    () =>
      ctxDecodeTensor(payload.subarray(0, 2), {
        tokens: 1,
        heads: 1,
        headDim: 4,
      }),
    KvbitsDataError,
  );
  const error = assertThrows(() =>
    decodeDump([{ name: "meta_t0_1.kvc", bytes: new Uint8Array(8) }])
  );
  assertInstanceOf(error, KvbitsDataError);
  assertEquals(error.stream, "ctx header");
});
