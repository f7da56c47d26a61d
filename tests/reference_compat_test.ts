/**
 * Compatibility with the reference Python tools, both ways (FORMAT.md §3): kvbits
 * reads their Huffman folders, and with their code lengths writes their bytes.
 */

import { assertEquals } from "@std/assert";
import { join } from "@std/path";
import { canonicalCode } from "../src/codec/canonical_code.ts";
import { huffmanEncode } from "../src/codec/huffman_encoder.ts";
import { huffmanStreamCodec } from "../src/format/huffman_stream_codec.ts";
import { decodeFolder } from "../src/jobs/decode_job.ts";
import { verifyFolder } from "../src/jobs/verify_job.ts";
import { forEachReferenceStream } from "./_reference_streams.ts";
import {
  KV_SAMPLE,
  listFiles,
  REFERENCE,
  SHARED,
  SHARED_AVAILABLE,
  withTempDir,
} from "./_helpers.ts";

/** Re-encodes every dump of a reference Huffman folder with its own code lengths and compares the bytes. */
function reencodeReference(
  referenceDir: string,
  dumpDir: string,
): Promise<number> {
  return forEachReferenceStream(
    referenceDir,
    dumpDir,
    huffmanStreamCodec,
    ({ metaFile, stream, symbols, table, expected }) => {
      assertEquals(
        huffmanEncode(symbols, canonicalCode(table), stream),
        expected,
        `${metaFile} ${stream}`,
      );
    },
  );
}

Deno.test("given the reference code lengths, kvbits writes the reference .huff files byte for byte (fixtures)", async () => {
  assertEquals(
    await reencodeReference(join(REFERENCE, "huffman-global"), KV_SAMPLE),
    19 * 4,
  );
  assertEquals(
    await reencodeReference(join(REFERENCE, "huffman-per-dump"), KV_SAMPLE),
    4 * 4,
  );
});

Deno.test("kvbits verifies the reference Huffman folders against the originals (fixtures)", async () => {
  for (
    const [folder, dumps] of [["huffman-global", 19], [
      "huffman-per-dump",
      4,
    ]] as const
  ) {
    const report = await verifyFolder({
      bitstreamDir: join(REFERENCE, folder),
      origDumpDir: KV_SAMPLE,
    });
    assertEquals(report.layout, "bitstream_huffman");
    assertEquals(report.checkedAgainstOriginals, dumps, folder);
    assertEquals(
      report.outcomes.filter((o) => o.status !== "done"),
      [],
      folder,
    );
    assertEquals(report.checkedByChecksum, 0); // the reference records no checksums
  }
});

Deno.test("kvbits decodes a reference Huffman folder into files equal to the original dumps", async () => {
  await withTempDir(async (outDir) => {
    const report = await decodeFolder({
      bitstreamDir: join(REFERENCE, "huffman-global"),
      outDir,
      overwrite: false,
    });
    assertEquals(report.outcomes.length, 19);
    const restored = await listFiles(outDir);
    const layer = "llama6L-kjv-ruth/layer_0";
    const originals = (await listFiles(join(KV_SAMPLE, layer))).map((f) =>
      `${layer}/${f}`
    );
    assertEquals(restored, originals);
    for (const file of restored) {
      assertEquals(
        await Deno.readFile(join(outDir, file)),
        await Deno.readFile(join(KV_SAMPLE, file)),
        file,
      );
    }
  });
});

Deno.test({
  name:
    "all of ../shared: kvbits verifies both reference Huffman folders and re-encodes their 384 + 114 dumps byte for byte",
  ignore: !SHARED_AVAILABLE,
  fn: async () => {
    const kvReal = join(SHARED, "kv-real");
    const outputs = join(SHARED, "reference-outputs");
    for (
      const [folder, dumps] of [["huffman-global", 384], [
        "huffman-per-dump",
        114,
      ]] as const
    ) {
      const report = await verifyFolder({
        bitstreamDir: join(outputs, folder),
        origDumpDir: kvReal,
      });
      assertEquals(report.checkedAgainstOriginals, dumps, folder);
      assertEquals(
        await reencodeReference(join(outputs, folder), kvReal),
        dumps * 4,
      );
    }
  },
});
