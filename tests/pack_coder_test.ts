/**
 * The pack's coder: round trips of real and adversarial dumps in one block,
 * state carried from dump to dump (models, row dictionary, rotated K rows), and
 * corrupt or truncated dumps.
 */

import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertLess,
  assertThrows,
} from "@std/assert";
import { join } from "@std/path";
import { KvbitsDataError } from "../mod.ts";
import { crc32 } from "../src/codec/crc32.ts";
import {
  PackBlockDecoder,
  PackBlockEncoder,
  type PackDumpContext,
  type PackDumpShape,
} from "../src/codec/pack_coder.ts";
import {
  fp16Bits,
  predictRotatedRow,
  ROTARY_PAIRING,
  rotaryAngles,
  rotaryFrequencies,
} from "../src/codec/rotary_prediction.ts";
import {
  KV_SAMPLE,
  seededRandom,
  SHARED,
  SHARED_AVAILABLE,
} from "./_helpers.ts";

interface Dump {
  readonly shape: PackDumpShape;
  readonly k: Uint16Array;
  readonly v: Uint16Array;
  readonly context: PackDumpContext;
}

/** The dumps of a folder in the pack's order: run, layer, sequence start. */
function readDumps(root: string): Dump[] {
  const dumps: (Dump & { run: string; seqStart: number })[] = [];
  const words = (path: string) => {
    const bytes = Deno.readFileSync(path);
    return new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.length / 2);
  };
  for (const run of Deno.readDirSync(root)) {
    if (!run.isDirectory) continue;
    for (const layer of Deno.readDirSync(join(root, run.name))) {
      const folder = join(root, run.name, layer.name);
      for (const file of Deno.readDirSync(folder)) {
        if (!file.name.startsWith("meta_")) continue;
        const meta = JSON.parse(
          Deno.readTextFileSync(join(folder, file.name)),
        );
        dumps.push({
          run: run.name,
          seqStart: meta.seq_start,
          shape: {
            tokens: meta.seq_len,
            heads: meta.kv_heads,
            headDim: meta.head_dim,
          },
          k: words(join(folder, meta.k_file)),
          v: words(join(folder, meta.v_file)),
          context: {
            group: `${run.name}\u0000${meta.layer_id}`,
            layer: meta.layer_id,
            seqStart: meta.seq_start,
          },
        });
      }
    }
  }
  return dumps.sort((a, b) =>
    a.run < b.run
      ? -1
      : a.run > b.run
      ? 1
      : a.context.layer - b.context.layer || a.seqStart - b.seqStart
  );
}

/** Codes the dumps as one block, decodes them back, returns the bytes. */
function roundTrip(dumps: readonly Dump[], arenaWords?: number): Uint8Array[] {
  const encoder = new PackBlockEncoder(arenaWords);
  const coded = dumps.map((d) =>
    encoder.encodeDump(d.shape, d.k, d.v, d.context)
  );
  const decoder = new PackBlockDecoder(arenaWords);
  coded.forEach((bytes, i) => {
    const { k, v } = decoder.decodeDump(
      bytes,
      dumps[i].shape,
      dumps[i].context,
    );
    assertEquals(k, dumps[i].k, `K of dump ${i}`);
    assertEquals(v, dumps[i].v, `V of dump ${i}`);
  });
  return coded;
}

const total = (coded: readonly Uint8Array[]) =>
  coded.reduce((sum, bytes) => sum + bytes.length, 0);

function randomWords(random: () => number, count: number): Uint16Array {
  return Uint16Array.from({ length: count }, () => {
    // Bell-shaped values around 0, as FP16 words.
    const value = (random() + random() + random() - 1.5) *
      (random() < 0.1 ? 8 : 1);
    return fp16Bits(value);
  });
}

Deno.test("pack coder: the bundled dumps round-trip as one block", () => {
  const dumps = readDumps(KV_SAMPLE);
  assert(dumps.length > 40);
  const coded = roundTrip(dumps);
  const raw = dumps.reduce((sum, d) => sum + 4 * d.k.length, 0);
  assertLess(total(coded), raw);
});

Deno.test({
  name:
    "pack coder: ../shared/kv-real round-trips as one block, smaller than 1/1.25 of it",
  ignore: !SHARED_AVAILABLE,
  fn() {
    const dumps = readDumps(join(SHARED, "kv-real"));
    const coded = roundTrip(dumps);
    const raw = dumps.reduce((sum, d) => sum + 4 * d.k.length, 0);
    assertLess(total(coded) * 1.25, raw);
  },
});

Deno.test("pack coder: adversarial words round-trip (all 65,536 patterns, NaN payloads, signed zeros, subnormals, Inf, constants)", () => {
  const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
  const reversed = all.slice().reverse();
  const special = Uint16Array.from(
    { length: 4096 },
    (_, i) =>
      [0x0000, 0x8000, 0x7c00, 0xfc00, 0x7e00, 0x7c01, 0xffff, 0x0001, 0x83ff][
        i % 9
      ],
  );
  const context = { group: "adversarial", layer: -1 };
  roundTrip([
    {
      shape: { tokens: 512, heads: 2, headDim: 64 },
      k: all,
      v: reversed,
      context,
    },
    {
      shape: { tokens: 32, heads: 1, headDim: 128 },
      k: special,
      v: special,
      context,
    },
    {
      shape: { tokens: 64, heads: 4, headDim: 16 },
      k: new Uint16Array(4096).fill(0x3c00),
      v: new Uint16Array(4096),
      context,
    },
    // Odd rows and heads, and rows shorter than a hashable row.
    {
      shape: { tokens: 7, heads: 3, headDim: 5 },
      k: all.subarray(0, 105),
      v: all.subarray(7, 112),
      context,
    },
    {
      shape: { tokens: 3, heads: 1, headDim: 1 },
      k: all.subarray(0, 3),
      v: all.subarray(0, 3),
      context,
    },
  ]);
});

Deno.test("pack coder: empty tensors and shapes changing within a block and a group", () => {
  const random = seededRandom(5);
  const context = { group: "g", layer: 0 };
  const shapes: PackDumpShape[] = [
    { tokens: 0, heads: 2, headDim: 8 },
    { tokens: 4, heads: 2, headDim: 8 },
    { tokens: 3, heads: 0, headDim: 8 },
    { tokens: 2, heads: 4, headDim: 4 },
    { tokens: 5, heads: 1, headDim: 6 },
    { tokens: 1, heads: 2, headDim: 8 },
    { tokens: 0, heads: 0, headDim: 0 },
  ];
  roundTrip(shapes.map((shape) => {
    const count = shape.tokens * shape.heads * shape.headDim;
    return {
      shape,
      k: randomWords(random, count),
      v: randomWords(random, count),
      context,
    };
  }));
});

Deno.test("pack coder: models carry over, so decode steps after a prefill cost less than alone", () => {
  const random = seededRandom(7);
  const shape = { tokens: 64, heads: 2, headDim: 32 };
  const steps = Array.from({ length: 8 }, () => ({
    k: randomWords(random, 64),
    v: randomWords(random, 64),
  }));
  const prefill: Dump = {
    shape,
    k: randomWords(random, 64 * 64),
    v: randomWords(random, 64 * 64),
    context: { group: "run\u00000", layer: 0 },
  };
  const decodeSteps = steps.map((s) => ({
    ...s,
    shape: { tokens: 1, heads: 2, headDim: 32 },
    context: { group: "run\u00000", layer: 0 },
  }));
  const carried = roundTrip([prefill, ...decodeSteps]).slice(1);
  const alone = decodeSteps.map((d) => roundTrip([d])[0]);
  assertLess(total(carried), total(alone));
});

Deno.test("pack coder: rows of earlier dumps are references, and a RoPE K row of a repeated token is predicted by rotation", () => {
  const random = seededRandom(11);
  const heads = 2, headDim = 32, rowLength = heads * headDim;
  // Layer 0 of a RoPE model: V depends on the token alone, K is the token's raw
  // K turned by its position.
  const rawK = Array.from({ length: 40 }, () => randomWords(random, rowLength));
  const values = Array.from(
    { length: 40 },
    () => randomWords(random, rowLength),
  );
  const frequencies = rotaryFrequencies(headDim, 10000);
  const cos = new Float64Array(headDim / 2),
    sin = new Float64Array(headDim / 2);
  const dumpOf = (tokens: number[], seqStart: number, run: string): Dump => {
    const k = new Uint16Array(tokens.length * rowLength);
    const v = new Uint16Array(tokens.length * rowLength);
    tokens.forEach((token, t) => {
      rotaryAngles(seqStart + t, frequencies, cos, sin);
      const row = new Uint16Array(rowLength);
      predictRotatedRow(
        rawK[token],
        0,
        heads,
        headDim,
        ROTARY_PAIRING.half,
        cos,
        sin,
        row,
      );
      k.set(row, t * rowLength);
      v.set(values[token], t * rowLength);
    });
    return {
      shape: { tokens: tokens.length, heads, headDim },
      k,
      v,
      context: { group: `${run}\u00000`, layer: 0, seqStart },
    };
  };
  const first = dumpOf([0, 1, 2, 3, 4, 5], 0, "a");
  const again = dumpOf([3, 1, 4, 1, 5, 0], 6, "a");
  const otherRun = dumpOf([5, 4, 3, 2, 1, 0], 0, "b");
  const coded = roundTrip([first, again, otherRun]);
  // 60 tokens, 40 of them repeats: 80 rows of symbols (rotated K rows count),
  // over the two-lane limit of 4,096 elements; without them 40, under it.
  const twenty = Array.from({ length: 20 }, (_, t) => t);
  const tokens = [...twenty, ...twenty.map((t) => t + 20), ...twenty];
  roundTrip([dumpOf(twenty, 0, "c"), dumpOf(tokens, 20, "c")]);
  // Without the block's rows the same dumps cost about as much as the first.
  const alone = roundTrip([again])[0];
  assertLess(coded[1].length * 4, alone.length);
  assertLess(coded[2].length * 4, roundTrip([otherRun])[0].length);
  // Without seqStart, positions are counted per group: the same bytes.
  const counted = [first, again].map((d) => ({
    ...d,
    context: { group: d.context.group, layer: 0 },
  }));
  assertEquals(roundTrip(counted), coded.slice(0, 2));
});

Deno.test("pack coder: a dump repeated whole, or in part, is a few runs of references", () => {
  const random = seededRandom(19);
  const shape = { tokens: 64, heads: 2, headDim: 16 };
  const k = randomWords(random, 64 * 32), v = randomWords(random, 64 * 32);
  const partK = k.slice(), partV = v.slice();
  // Rows 20..39 new, the rest as in the first run (a shared prefix and suffix).
  partK.set(randomWords(random, 20 * 32), 20 * 32);
  partV.set(randomWords(random, 20 * 32), 20 * 32);
  const dump = (run: string, kk: Uint16Array, vv: Uint16Array): Dump => ({
    shape,
    k: kk,
    v: vv,
    context: { group: `${run}\u00003`, layer: 3, seqStart: 0 },
  });
  const coded = roundTrip([
    dump("a", k, v),
    dump("b", k, v),
    dump("c", partK, partV),
  ]);
  assertLess(coded[1].length, 16);
  assertLess(coded[2].length, coded[0].length / 2);
  assertLess(coded[0].length / 4, coded[2].length);
});

Deno.test("pack coder: a small dictionary ring drops old rows and stays in step", () => {
  const random = seededRandom(13);
  const shape = { tokens: 8, heads: 1, headDim: 16 };
  const rows = Array.from({ length: 12 }, () => randomWords(random, 16));
  const dumps: Dump[] = Array.from({ length: 40 }, (_, n) => {
    const k = new Uint16Array(8 * 16), v = new Uint16Array(8 * 16);
    for (let t = 0; t < 8; t++) {
      k.set(rows[(n * 5 + t * 3) % 12], t * 16);
      v.set(rows[(n * 7 + t) % 12], t * 16);
    }
    return { shape, k, v, context: { group: `r${n % 3}`, layer: n % 2 } };
  });
  const small = total(roundTrip(dumps, 600));
  // In a ring of 256 words no dump fits: all are coded without the dictionary.
  const without = total(roundTrip(dumps, 256));
  assertLess(small, without);
  assertLess(total(roundTrip(dumps)), small);
});

Deno.test("pack coder: a coder reset between blocks codes and decodes each block as a fresh one does", () => {
  const random = seededRandom(29);
  const shape = { tokens: 8, heads: 1, headDim: 16 };
  const rows = Array.from({ length: 12 }, () => randomWords(random, 16));
  const small: Dump[] = Array.from({ length: 30 }, (_, n) => {
    const k = new Uint16Array(8 * 16), v = new Uint16Array(8 * 16);
    for (let t = 0; t < 8; t++) {
      k.set(rows[(n * 5 + t * 3) % 12], t * 16);
      v.set(rows[(n * 7 + t) % 12], t * 16);
    }
    return { shape, k, v, context: { group: `r${n % 3}`, layer: n % 2 } };
  });
  const sample = readDumps(KV_SAMPLE);
  // Blocks of rows short and long (copied by loop and by view), in rings
  // that wrap and that do not, of one chunk size and another; each ring size
  // has one coder pair that lives through every block of that size.
  const blocks: [readonly Dump[], number | undefined][] = [
    [sample, undefined],
    [small, 600],
    [small.slice(0, 12), 600],
    [sample.slice(0, 20), undefined],
    [small, 4096],
    [small, 600],
    [sample, undefined],
  ];
  const kept = new Map<
    number | undefined,
    { encoder: PackBlockEncoder; decoder: PackBlockDecoder }
  >();
  for (const [dumps, arenaWords] of blocks) {
    const fresh = new PackBlockEncoder(arenaWords);
    const pair = kept.get(arenaWords) ?? {
      encoder: new PackBlockEncoder(arenaWords),
      decoder: new PackBlockDecoder(arenaWords, true),
    };
    kept.set(arenaWords, pair);
    pair.encoder.reset();
    pair.decoder.reset();
    const coded = dumps.map((d) =>
      pair.encoder.encodeDump(d.shape, d.k, d.v, d.context)
    );
    assertEquals(
      coded,
      dumps.map((d) => fresh.encodeDump(d.shape, d.k, d.v, d.context)),
    );
    coded.forEach((bytes, i) => {
      const { k, v } = pair.decoder.decodeDump(
        bytes,
        dumps[i].shape,
        dumps[i].context,
      );
      assertEquals([k, v], [dumps[i].k, dumps[i].v], `dump ${i}`);
    });
  }
});

Deno.test("pack coder: misuse is a RangeError", () => {
  const encoder = new PackBlockEncoder();
  const context = { group: "g", layer: 0 };
  assertThrows(
    () =>
      encoder.encodeDump(
        { tokens: 2, heads: 1, headDim: 4 },
        new Uint16Array(8),
        new Uint16Array(7),
        context,
      ),
    RangeError,
    "V has 7 elements",
  );
  assertThrows(
    () =>
      encoder.encodeDump(
        { tokens: -1, heads: 1, headDim: 4 },
        new Uint16Array(0),
        new Uint16Array(0),
        context,
      ),
    RangeError,
  );
  assertThrows(
    () =>
      new PackBlockDecoder().decodeDump(new Uint8Array(4), {
        tokens: 2 ** 20,
        heads: 2 ** 10,
        headDim: 2,
      }, context),
    RangeError,
    "2^30",
  );
  assertThrows(
    () =>
      encoder.encodeDump(
        { tokens: 1, heads: 1, headDim: 4 },
        new Uint16Array(4),
        new Uint16Array(4),
        { ...context, seqStart: 1.5 },
      ),
    RangeError,
    "seqStart 1.5",
  );
  assertThrows(
    () =>
      new PackBlockDecoder().decodeDump(new Uint8Array(4), {
        tokens: 2 ** 40,
        heads: 0,
        headDim: 2,
      }, context),
    RangeError,
    "2^30",
  );
});

Deno.test("pack coder: truncated and bit-flipped dumps end in KvbitsDataError or words the CRC refuses", () => {
  const random = seededRandom(17);
  const dumps = readDumps(KV_SAMPLE).slice(0, 6);
  // Repeats and rotations in the corrupted dump too.
  dumps.push({ ...dumps[0], context: { ...dumps[0].context, seqStart: 900 } });
  const encoder = new PackBlockEncoder();
  const coded = dumps.map((d) =>
    encoder.encodeDump(d.shape, d.k, d.v, d.context)
  );
  const crcs = dumps.map((d) =>
    crc32(
      new Uint8Array(d.v.buffer, d.v.byteOffset, d.v.byteLength),
      crc32(new Uint8Array(d.k.buffer, d.k.byteOffset, d.k.byteLength)),
    )
  );
  let errors = 0, caught = 0;
  const attempt = (target: number, bytes: Uint8Array) => {
    const decoder = new PackBlockDecoder();
    for (let i = 0; i < target; i++) {
      decoder.decodeDump(coded[i], dumps[i].shape, dumps[i].context);
    }
    try {
      const { k, v } = decoder.decodeDump(
        bytes,
        dumps[target].shape,
        dumps[target].context,
      );
      const crc = crc32(
        new Uint8Array(v.buffer),
        crc32(new Uint8Array(k.buffer)),
      );
      if (crc !== crcs[target]) caught++;
      // Either the words are right (a flip in a spare bit) or the CRC refuses them.
    } catch (error) {
      assertInstanceOf(error, KvbitsDataError);
      errors++;
    }
  };
  for (let target = 0; target < coded.length; target++) {
    const bytes = coded[target];
    for (
      let cut = 0;
      cut < bytes.length;
      cut += 1 + Math.floor(bytes.length / 97)
    ) {
      attempt(target, bytes.subarray(0, cut));
    }
    for (let n = 0; n < 60; n++) {
      const flipped = bytes.slice();
      const at = n < 20
        ? n % bytes.length
        : Math.floor(random() * bytes.length);
      flipped[at] ^= 1 << Math.floor(random() * 8);
      attempt(target, flipped);
    }
    // Appended garbage.
    const longer = new Uint8Array(bytes.length + 3);
    longer.set(bytes);
    attempt(target, longer);
  }
  assert(errors > 100);
  assert(caught > 0);
});
