/**
 * The `ctx` layout: compact meta restored byte for byte, and every corruption of a
 * `.kvc` file detected; on ../shared/kv-real, the compression the codec exists for.
 */

import {
  assert,
  assertEquals,
  assertGreater,
  assertLess,
  assertThrows,
} from "@std/assert";
import { join } from "@std/path";
import { KvbitsDataError } from "../src/codec/errors.ts";
import {
  decodeCompactMeta,
  encodeCompactMeta,
} from "../src/format/compact_meta.ts";
import {
  decodeCtxDumpFile,
  encodeCtxDumpFile,
} from "../src/format/ctx_dump_file.ts";
import { parseDumpMeta } from "../src/format/dump_meta.ts";
import { pythonJsonDumps } from "../src/format/python_json.ts";
import { findFiles } from "../src/dump/find_files.ts";
import { readInputTensors } from "../src/dump/input_dump.ts";
import { SHARED, SHARED_AVAILABLE } from "./_helpers.ts";

const KV_REAL = join(SHARED, "kv-real");

Deno.test("compact meta restores metas outside the dumper's style byte for byte", () => {
  const context = { metaName: "meta_t3_4", tokens: 1, heads: 2, headDim: 8 };
  const texts = [
    pythonJsonDumps({
      layer_id: 1,
      seq_start: 3,
      seq_len: 1,
      run_id: "café ☕",
      note: "tab\there",
      nested: { a: [1, 2.5, null] },
      ratio: 0.1,
      big: 2 ** 60,
      negative: -7,
      __proto__: "a key like any other",
      stage: "prefill",
    }),
    '{"layer_id": 1.0, "seq_len": 1}',
    '{"a": 1, "a": 2}',
    '{\n  "layer_id": 1\n}\n',
    '{"seq_len": -0}',
    "[1, 2]",
    "not json at all \u0000",
    "",
  ];
  for (const text of texts) {
    assertEquals(
      decodeCompactMeta(encodeCompactMeta(text, context), context),
      text,
    );
  }
});

Deno.test("a corrupt compact meta record is a data error, not a wrong meta", () => {
  const context = { metaName: "meta_t0_1", tokens: 1, heads: 1, headDim: 2 };
  const record = encodeCompactMeta(
    '{"layer_id": 0, "seq_start": 0, "run_id": "r"}',
    context,
  );
  assertThrows(
    () => decodeCompactMeta(record.subarray(0, record.length - 1), context),
    KvbitsDataError,
  );
  assertThrows(
    () => decodeCompactMeta(Uint8Array.of(9), context),
    KvbitsDataError,
    "unknown meta mode 9",
  );
});

function sampleDump() {
  const metaText = pythonJsonDumps({
    layer_id: 0,
    seq_start: 0,
    seq_len: 3,
    seq_end_exclusive: 3,
    kv_heads: 1,
    head_dim: 4,
    bytes_per_elem: 2,
    stage: "prefill",
    run_id: "r",
    k_file: "k_t0_3.bin",
    v_file: "v_t0_3.bin",
  });
  const k = Uint16Array.from([
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    0x3c00,
    0x8000,
    0x7e01,
    9,
  ]);
  const v = Uint16Array.from([1, 2, 3, 4, 1, 2, 3, 4, 5, 6, 7, 8]);
  return {
    metaName: "meta_t0_3",
    metaText,
    meta: parseDumpMeta(metaText),
    k,
    v,
  };
}

Deno.test("every single-bit flip of a .kvc file is detected", () => {
  const dump = sampleDump();
  const { bytes } = encodeCtxDumpFile(dump);
  const back = decodeCtxDumpFile(bytes, dump.metaName);
  assertEquals([back.inputText, back.k, back.v], [
    dump.metaText,
    dump.k,
    dump.v,
  ]);
  for (let bit = 0; bit < 8 * bytes.length; bit++) {
    const copy = bytes.slice();
    copy[bit >> 3] ^= 1 << (bit & 7);
    assertThrows(
      () => decodeCtxDumpFile(copy, dump.metaName),
      KvbitsDataError,
      undefined,
      `bit ${bit} of ${8 * bytes.length}`,
    );
  }
});

Deno.test("every truncation and extension of a .kvc file is a data error", () => {
  const dump = sampleDump();
  const { bytes } = encodeCtxDumpFile(dump);
  for (let length = 0; length < bytes.length; length++) {
    assertThrows(
      () => decodeCtxDumpFile(bytes.subarray(0, length), dump.metaName),
      KvbitsDataError,
    );
  }
  const longer = new Uint8Array(bytes.length + 1);
  longer.set(bytes);
  assertThrows(() => decodeCtxDumpFile(longer, dump.metaName), KvbitsDataError);
});

Deno.test("a .kvc file is refused by name when it is of another version or model, or was renamed", () => {
  const dump = sampleDump();
  const { bytes } = encodeCtxDumpFile(dump);
  const cases: [number, number, string][] = [
    [0, 0x4a, "not a kvbits ctx file"],
    [3, 3, "format version 3; this kvbits reads versions 1 and 2"],
    [4, 14, "rANS probability bits is 14; this kvbits decodes 12"],
    [5, 4, "channel average shift is 4; this kvbits decodes 3"],
    [6, 3, "top mantissa bits is 3; this kvbits decodes 2"],
    [7, 17, "chunk size (log2 of elements) is 17; this kvbits decodes 18"],
  ];
  for (const [offset, value, message] of cases) {
    const copy = bytes.slice();
    copy[offset] = value;
    assertThrows(
      () => decodeCtxDumpFile(copy, dump.metaName),
      KvbitsDataError,
      message,
    );
  }
  assertThrows(
    () => decodeCtxDumpFile(bytes, "meta_t5_8"),
    KvbitsDataError,
    "or the file was renamed",
  );
});

/** H(symbols) in bits, times their count. */
function entropyBits(counts: Float64Array): number {
  let total = 0, bits = 0;
  for (const c of counts) total += c;
  for (const c of counts) if (c > 0) bits -= c * Math.log2(c / total);
  return bits;
}

Deno.test({
  name:
    "kv-real: every meta restores byte for byte from its compact record, and each run beats the order-0 bound with every byte counted",
  ignore: !SHARED_AVAILABLE,
  fn: async () => {
    const metaFiles = await findFiles(
      KV_REAL,
      (name) => /^meta_.*\.json$/.test(name),
    );
    const runs = new Map<string, {
      raw: number;
      file: number;
      meta: number;
      dumps: number;
      counts: Float64Array[];
    }>();
    for (const relative of metaFiles) {
      const path = join(KV_REAL, relative);
      const metaText = await Deno.readTextFile(path);
      const meta = parseDumpMeta(metaText);
      const { k, v } = await readInputTensors(join(path, ".."), meta);
      const metaName = relative.split("/").pop()!.replace(/\.json$/, "");
      const file = encodeCtxDumpFile({ metaName, metaText, meta, k, v });
      const back = decodeCtxDumpFile(file.bytes, metaName);
      assertEquals(back.inputText, metaText, relative);
      const run = runs.get(meta.runId) ?? {
        raw: 0,
        file: 0,
        meta: 0,
        dumps: 0,
        counts: [0, 1, 2, 3].map((i) => new Float64Array(i % 2 ? 1024 : 64)),
      };
      run.raw += k.byteLength + v.byteLength;
      run.file += file.bytes.length;
      run.meta += file.metaBytes;
      run.dumps++;
      [k, v].forEach((tensor, t) => {
        for (const word of tensor) {
          run.counts[2 * t][word >>> 10]++;
          run.counts[2 * t + 1][word & 0x3ff]++;
        }
      });
      runs.set(meta.runId, run);
    }
    assertEquals(runs.size, 3);
    for (const [runId, run] of runs) {
      const elements = run.raw / 2;
      const order0 = 16 * elements /
        run.counts.reduce((sum, counts) => sum + entropyBits(counts), 0);
      const ratio = run.raw / run.file;
      assertGreater(ratio, 1.01 * order0, `${runId}: ${ratio} vs ${order0}`);
      // The header and compact meta: about 60 bytes a dump, not the JSON's 400.
      assertLess(run.meta / run.dumps, 64, runId);
      assert(ratio > 1.18, `${runId}: ${ratio}`);
    }
  },
});
