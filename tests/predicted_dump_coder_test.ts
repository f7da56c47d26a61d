/**
 * Dumps coded against predictor dumps (`predicted_dump_coder.ts`): fixture round
 * trips, and the fingerprint check that refuses a predictor one FP16 step off.
 */

import {
  assertEquals,
  assertGreater,
  assertInstanceOf,
  assertThrows,
} from "@std/assert";
import { join } from "@std/path";
import { KvbitsDataError } from "../src/codec/errors.ts";
import { PackBlockDecoder, PackBlockEncoder } from "../src/codec/pack_coder.ts";
import {
  KvbitsPredictorMismatchError,
  PredictedDumpDecoder,
  PredictedDumpEncoder,
  predictorFingerprint,
} from "../src/codec/predicted_dump_coder.ts";
import { sha256 } from "../src/codec/sha256.ts";
import { parseDumpMeta } from "../src/format/dump_meta.ts";
import { readPredictorDump } from "../src/dump/predictor_dump.ts";
import { FIXTURES, KV_SAMPLE } from "./_helpers.ts";

const PREDICTORS = join(FIXTURES, "predictor-sample", "int8");
const RUN = "llama6L-kjv-ruth";

/** The run's dumps in layer and sequence order, with their predictors. */
function runDumps() {
  const dumps = [];
  for (const layer of ["layer_0", "layer_5"]) {
    for (const entry of Deno.readDirSync(join(KV_SAMPLE, RUN, layer))) {
      if (!entry.name.startsWith("meta_")) continue;
      const path = join(RUN, layer, entry.name);
      const meta = parseDumpMeta(Deno.readTextFileSync(join(KV_SAMPLE, path)));
      const read = (file: string) => {
        const bytes = Deno.readFileSync(join(KV_SAMPLE, RUN, layer, file));
        return new Uint16Array(
          bytes.buffer,
          bytes.byteOffset,
          bytes.length / 2,
        );
      };
      dumps.push({
        path,
        group: `${meta.runId}\u0000${meta.layerId}`,
        start: Number(meta.fields.seq_start),
        layer: meta.layerId,
        shape: {
          tokens: meta.seqLen,
          heads: meta.kvHeads,
          headDim: meta.headDim,
        },
        k: read(meta.kFile),
        v: read(meta.vFile),
        predictor: readPredictorDump(PREDICTORS, path, meta)!,
      });
    }
  }
  return dumps.sort((a, b) => a.layer - b.layer || a.start - b.start);
}

Deno.test("predicted dump: a run of the fixture round-trips, 32 bytes of fingerprints a dump", () => {
  const dumps = runDumps();
  assertEquals(dumps.length, 35);
  const encoder = new PredictedDumpEncoder();
  const coded = dumps.map((d) =>
    encoder.encodeDump(d.shape, d.k, d.v, d.group, d.predictor)
  );
  const decoder = new PredictedDumpDecoder();
  let elements = 0;
  dumps.forEach((d, n) => {
    assertEquals(decoder.decodeDump(coded[n], d.shape, d.group, d.predictor), {
      k: d.k,
      v: d.v,
    }, d.path);
    assertEquals(
      coded[n].subarray(0, 16),
      sha256(
        new Uint8Array(
          d.predictor.k.buffer,
          d.predictor.k.byteOffset,
          d.predictor.k.byteLength,
        ),
      ).subarray(0, 16),
    );
    assertEquals(
      coded[n].subarray(16, 32),
      predictorFingerprint(d.predictor.v),
    );
    elements += 2 * d.k.length;
  });
  const bytes = coded.reduce((sum, c) => sum + c.length, 0);
  assertGreater(2 * elements / bytes, 2.2);
});

Deno.test("predicted dump: one FP16 step changed in a predictor refuses that dump, naming the tensor, before decoding anything", () => {
  const dumps = runDumps();
  const encoder = new PredictedDumpEncoder();
  const coded = dumps.map((d) =>
    encoder.encodeDump(d.shape, d.k, d.v, d.group, d.predictor)
  );
  for (const tensor of ["k", "v"] as const) {
    const decoder = new PredictedDumpDecoder();
    for (let n = 0; n < 3; n++) {
      const d = dumps[n];
      if (n < 2) {
        decoder.decodeDump(coded[n], d.shape, d.group, d.predictor);
        continue;
      }
      // Words of another predictor (so no fingerprint read with the file).
      const changed = {
        k: d.predictor.k,
        v: d.predictor.v,
        [tensor]: d.predictor[tensor].slice(),
      };
      changed[tensor][5000] += 1;
      const error = assertThrows(() =>
        decoder.decodeDump(coded[n], d.shape, d.group, changed)
      );
      assertInstanceOf(error, KvbitsPredictorMismatchError);
      assertInstanceOf(error, KvbitsDataError);
      assertEquals(error.tensor, tensor);
      // Nothing was decoded: the right predictor still decodes the dump.
      assertEquals(
        decoder.decodeDump(coded[n], d.shape, d.group, d.predictor),
        { k: d.k, v: d.v },
      );
    }
  }
});

Deno.test("predicted dump: truncated bytes are a KvbitsDataError", () => {
  const d = runDumps()[3];
  const bytes = new PredictedDumpEncoder().encodeDump(
    d.shape,
    d.k,
    d.v,
    d.group,
    d.predictor,
  );
  for (const cut of [0, 10, 31, 32, 33, 40, bytes.length - 1]) {
    assertThrows(
      () =>
        new PredictedDumpDecoder().decodeDump(
          bytes.subarray(0, cut),
          d.shape,
          d.group,
          d.predictor,
        ),
      KvbitsDataError,
    );
  }
});

Deno.test("predicted dump: the pack's block coder codes dumps with a predictor by it, the others as before, in one block", () => {
  const dumps = runDumps();
  const encoder = new PackBlockEncoder();
  // Every third dump without its predictor (a predictor folder missing it).
  const withPredictor = (n: number) => n % 3 !== 1;
  const coded = dumps.map((d, n) =>
    encoder.encodeDump(
      d.shape,
      d.k,
      d.v,
      { group: d.group, layer: d.layer, seqStart: d.start },
      withPredictor(n) ? d.predictor : undefined,
    )
  );
  const decoder = new PackBlockDecoder();
  dumps.forEach((d, n) => {
    const context = { group: d.group, layer: d.layer, seqStart: d.start };
    const predictor = withPredictor(n) ? d.predictor : undefined;
    if (n === 4) {
      // A predictor one step off is refused, and the right one still decodes.
      const changed = {
        k: d.predictor.k.map((w, i) => i === 7 ? w + 1 : w),
        v: d.predictor.v,
      };
      assertThrows(
        () => decoder.decodeDump(coded[n], d.shape, context, changed),
        KvbitsPredictorMismatchError,
        "K predictor",
      );
    }
    assertEquals(decoder.decodeDump(coded[n], d.shape, context, predictor), {
      k: d.k,
      v: d.v,
    }, d.path);
  });
  // The first prefill chunk (layer 0, 128 tokens): smaller predicted (6.9 bits
  // an element) than by the pack's coder (8.4, which finds repeated rows).
  const alone = new PackBlockEncoder().encodeDump(
    dumps[0].shape,
    dumps[0].k,
    dumps[0].v,
    { group: dumps[0].group, layer: 0 },
  );
  assertGreater(alone.length, 1.15 * coded[0].length);
});
