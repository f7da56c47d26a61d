/**
 * Compatibility with the reference Python tools' arithmetic folders, both ways
 * (FORMAT.md §4): kvbits reads theirs (raw-count tables, a global total of
 * 1,150,976), with their tables writes their bytes, and writes folders that a
 * literal reading of the format decodes.
 */

import { assert, assertEquals } from "@std/assert";
import { join } from "@std/path";
import { joinFp16Planes } from "../mod.ts";
import { arithmeticEncode } from "../src/codec/arithmetic_encoder.ts";
import { arithmeticModel } from "../src/codec/arithmetic_model.ts";
import { arithStreamCodec } from "../src/format/arith_stream_codec.ts";
import { decodeFolder } from "../src/jobs/decode_job.ts";
import { encodeFolder } from "../src/jobs/encode_job.ts";
import { verifyFolder } from "../src/jobs/verify_job.ts";
import { specDecode } from "./_arithmetic_spec.ts";
import { forEachReferenceStream } from "./_reference_streams.ts";
import {
  KV_SAMPLE,
  listFiles,
  REFERENCE,
  SHARED,
  SHARED_AVAILABLE,
  withTempDir,
} from "./_helpers.ts";

type Json = Record<string, unknown>;
const STREAMS = ["k_hi6", "k_lo10", "v_hi6", "v_lo10"] as const;

/** Re-encodes every dump of a reference arithmetic folder with its own tables and compares the bytes. */
async function reencodeReference(
  referenceDir: string,
  dumpDir: string,
): Promise<{ compared: number; divided: number }> {
  let divided = 0; // streams whose table takes the float division path
  const compared = await forEachReferenceStream(
    referenceDir,
    dumpDir,
    arithStreamCodec,
    ({ metaFile, stream, symbols, table, expected }) => {
      const model = arithmeticModel(table, `${stream}_freq`);
      if (!model.scaledCumulative && !model.exact) divided++;
      assertEquals(
        arithmeticEncode(symbols, model, stream),
        expected,
        `${metaFile} ${stream}`,
      );
    },
  );
  return { compared, divided };
}

/** Verifies a reference folder against the originals: every dump compared bit for bit, none failed. */
async function assertVerifies(
  bitstreamDir: string,
  origDumpDir: string,
  dumps: number,
) {
  const report = await verifyFolder({ bitstreamDir, origDumpDir });
  assertEquals(report.layout, "bitstream_arith");
  assertEquals(report.outcomes.filter((o) => o.status !== "done"), []);
  assertEquals(report.checkedAgainstOriginals, dumps, bitstreamDir);
  assertEquals(report.checkedByChecksum, 0); // the reference records no checksums
}

Deno.test("given the reference frequency tables, kvbits writes the reference .ac files byte for byte (fixtures)", async () => {
  // The global tables are raw counts of all kv-real (total 1,150,976, not a
  // power of two): the division path; the per-dump ones total 16384 or 128.
  assertEquals(
    await reencodeReference(join(REFERENCE, "arith-global"), KV_SAMPLE),
    { compared: 19 * 4, divided: 19 * 4 },
  );
  assertEquals(
    await reencodeReference(join(REFERENCE, "arith-per-dump"), KV_SAMPLE),
    { compared: 4 * 4, divided: 0 },
  );
});

Deno.test("kvbits verifies the reference arithmetic folders against the originals (fixtures)", async () => {
  await assertVerifies(join(REFERENCE, "arith-global"), KV_SAMPLE, 19);
  await assertVerifies(join(REFERENCE, "arith-per-dump"), KV_SAMPLE, 4);
});

Deno.test("kvbits decodes a reference arithmetic folder into files equal to the original dumps", async () => {
  await withTempDir(async (outDir) => {
    const report = await decodeFolder({
      bitstreamDir: join(REFERENCE, "arith-global"),
      outDir,
      overwrite: false,
    });
    assertEquals(report.outcomes.filter((o) => o.status !== "done"), []);
    const layer = "llama6L-kjv-ruth/layer_0";
    const restored = await listFiles(outDir);
    assertEquals(
      restored,
      (await listFiles(join(KV_SAMPLE, layer))).map((f) => `${layer}/${f}`),
    );
    for (const file of restored) {
      assertEquals(
        await Deno.readFile(join(outDir, file)),
        await Deno.readFile(join(KV_SAMPLE, file)),
        file,
      );
    }
  });
});

Deno.test("kvbits' arithmetic folders have the reference layout and decode by a literal reading of FORMAT §4", async () => {
  for (const codebook of ["global", "per-dump"] as const) {
    await withTempDir(async (outDir) => {
      await encodeFolder({
        dumpDir: join(KV_SAMPLE, "llama6L-kjv-ruth/layer_5"),
        outDir,
        codec: arithStreamCodec,
        codebook,
        overwrite: false,
        stage: "both",
        minSeqLen: 0,
        maxSeqLen: 0,
      });
      const files = await listFiles(outDir);
      const global = codebook === "global"
        ? JSON.parse(
          await Deno.readTextFile(join(outDir, "global_codebook_arith.json")),
        ) as Json
        : undefined;
      if (global) {
        assertEquals(Object.keys(global), [
          "codebook",
          ...STREAMS.map((s) => `${s}_freq`),
        ]);
        assertEquals(global.codebook, "global");
      }
      const metas = files.filter((f) => f.startsWith("arith_meta_"));
      assertEquals(metas.length, 16);
      for (const file of metas) {
        const meta = JSON.parse(
          await Deno.readTextFile(join(outDir, file)),
        ) as Json;
        assertEquals(
          [meta.layout, meta.bytes_per_elem, meta.codebook],
          ["bitstream_arith", 2, codebook],
        );
        const tables = global ?? meta;
        const count = meta.num_elements as number;
        const planes = {} as Record<string, number[]>;
        for (const stream of STREAMS) {
          const name = meta[`${stream}_file`] as string;
          assert(name.endsWith(".ac") && files.includes(name), name);
          const frequencies = tables[`${stream}_freq`] as number[];
          assertEquals(frequencies.length, stream.endsWith("hi6") ? 64 : 1024);
          planes[stream] = specDecode(
            await Deno.readFile(join(outDir, name)),
            count,
            frequencies,
          );
        }
        const original = await Deno.readFile(
          join(KV_SAMPLE, "llama6L-kjv-ruth/layer_5", meta.k_file as string),
        );
        assertEquals(
          joinFp16Planes(
            Uint8Array.from(planes.k_hi6),
            Uint16Array.from(planes.k_lo10),
          ),
          new Uint16Array(original.buffer),
          file,
        );
      }
    });
  }
});

Deno.test({
  name:
    "all of ../shared: kvbits verifies both reference arithmetic folders and re-encodes their 384 + 114 dumps byte for byte",
  ignore: !SHARED_AVAILABLE,
  fn: async () => {
    const kvReal = join(SHARED, "kv-real");
    const outputs = join(SHARED, "reference-outputs");
    for (
      const [folder, dumps] of [
        ["arith-global", 384],
        ["arith-per-dump", 114],
      ] as const
    ) {
      await assertVerifies(join(outputs, folder), kvReal, dumps);
      const { compared } = await reencodeReference(
        join(outputs, folder),
        kvReal,
      );
      assertEquals(compared, dumps * 4);
    }
  },
});
