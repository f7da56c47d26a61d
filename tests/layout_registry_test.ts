/**
 * The layout registry: every codec of `CODECS` keeps the {@link Layout} contract
 * the jobs, the tasks and the bench rely on. The tests iterate the registry, so a
 * codec added to it (one line) is checked here with nothing else to write; a toy
 * layout defined below shows that the interface alone is enough for a codec of a
 * new shape.
 */

import { MANIFEST_FILE_NAME } from "../src/format/manifest.ts";
import {
  assert,
  assertEquals,
  assertNotEquals,
  assertThrows,
} from "@std/assert";
import { join } from "@std/path";
import { KvbitsDataError } from "../src/codec/errors.ts";
import { countFp16Symbols, newFp16Histograms } from "../src/codec/histogram.ts";
import { codecNamed, codecOfMarkerFile, CODECS } from "../src/format/codecs.ts";
import { parseDumpMeta } from "../src/format/dump_meta.ts";
import type { DumpToEncode, Layout, NamedFile } from "../src/format/layout.ts";
import { encodeFolder } from "../src/jobs/encode_job.ts";
import { KV_SAMPLE, listFiles, withTempDir } from "./_helpers.ts";

function dumpOf(
  metaName: string,
  k: Uint16Array,
  v: Uint16Array,
  seqLen: number,
  headDim: number,
): DumpToEncode {
  const metaText = JSON.stringify({
    layer_id: 3,
    seq_start: 7,
    seq_len: seqLen,
    kv_heads: 1,
    head_dim: headDim,
    bytes_per_elem: 2,
    stage: "prefill",
    k_file: `k_${metaName.slice(5)}.bin`,
    v_file: `v_${metaName.slice(5)}.bin`,
  });
  return { metaName, metaText, meta: parseDumpMeta(metaText), k, v };
}

/** Dumps that break careless coders: empty, constant, every word, specials. */
function adversarialDumps(): DumpToEncode[] {
  const every = Uint16Array.from({ length: 65536 }, (_, i) => i);
  const specials = Uint16Array.from(
    { length: 1024 },
    (_, i) => [0x0000, 0x8000, 0x0001, 0x7c00, 0xfc00, 0x7e00, 0xffff][i % 7],
  );
  return [
    dumpOf("meta_t0_0", new Uint16Array(0), new Uint16Array(0), 0, 64),
    dumpOf(
      "meta_t0_1",
      new Uint16Array(64).fill(0x3c00),
      new Uint16Array(64),
      1,
      64,
    ),
    dumpOf("meta_t1_257", every, every.slice().reverse(), 256, 256),
    dumpOf("meta_t0_16", specials, specials.slice().reverse(), 16, 64),
  ];
}

/** The shared data a `global` run of the dumps codes with, if the mode has any. */
function sharedOf(
  layout: Layout,
  mode: "global" | "per-dump",
  dumps: readonly DumpToEncode[],
): { bytes?: Uint8Array; opened?: unknown } {
  const file = mode === "global" ? layout.sharedFile : undefined;
  if (!file) return {};
  const k = newFp16Histograms();
  const v = newFp16Histograms();
  for (const dump of dumps) {
    countFp16Symbols(dump.k, k);
    countFp16Symbols(dump.v, v);
  }
  const bytes = file.fromCounts(k, v);
  return { bytes, opened: file.open(bytes) };
}

/** Everything the jobs and the bench rely on, for one layout and mode. */
function assertLayoutContract(
  layout: Layout,
  mode: "global" | "per-dump",
  dumps: readonly DumpToEncode[],
): void {
  const shared = sharedOf(layout, mode, dumps);
  for (const dump of dumps) {
    const outputs = layout.encodeDump(dump, shared.opened);
    const marker = outputs.files.at(-1)!;
    // The marker is last, named by the layout, and maps back to the meta name.
    assertEquals(marker.name, layout.markerFileName(dump.metaName));
    assertEquals(layout.metaNameOfMarker(marker.name), dump.metaName);
    for (const file of outputs.files.slice(0, -1)) {
      assertEquals(layout.metaNameOfMarker(file.name), undefined, file.name);
    }
    let total = 0;
    for (const file of outputs.files) total += file.bytes.length;
    assertEquals(outputs.streamBytes + outputs.metaBytes, total);

    // Read back: the marker names its companions; decoding restores all.
    const opened = layout.openDump(dump.metaName, marker.bytes);
    assertEquals(opened.input, dump.meta);
    assertEquals(opened.needsShared, shared.opened !== undefined);
    const byName = new Map(outputs.files.map((file) => [file.name, file]));
    const companions = opened.companions.map((c) => byName.get(c.name)!.bytes);
    assertEquals(
      opened.companions.length + 1,
      outputs.files.length,
      "every file but the marker is a companion",
    );
    const decoded = opened.decode(companions, shared.opened);
    assertEquals(decoded.inputText, dump.metaText);
    assertEquals(decoded.k, dump.k);
    assertEquals(decoded.v, dump.v);
    assert(decoded.integrityChecked);
    assertEquals(decoded.streamBytes, outputs.streamBytes);
    assertEquals(decoded.metaBytes, outputs.metaBytes);

    // Measured, the four columns and the meta add up to the dump's bytes.
    const measure = opened.measure(companions.map((bytes) => bytes.length));
    assertEquals(measure.numElements, dump.k.length);
    assertEquals(
      measure.kHi6 + measure.kLo10 + measure.vHi6 + measure.vLo10 +
        measure.metaBytes,
      total,
    );

    // An existing output of this very run is not a problem.
    assertEquals(
      layout.existingDumpDifference(() => marker.bytes, mode, shared.opened),
      undefined,
    );

    // The coding core the bench times round-trips too, and its bytes are the
    // coded data of the files.
    const core = layout.encodeWords(dump, shared.opened);
    assertEquals(core.bytes, outputs.streamBytes);
    const into = {
      k: new Uint16Array(dump.k.length),
      v: new Uint16Array(dump.v.length),
    };
    layout.decodeWords(core.coded, into, shared.opened);
    assertEquals(into, { k: dump.k, v: dump.v });
    const planes = layout.planeBits(dump, shared.opened);
    assertEquals([planes.k.elements, planes.v.elements], [
      dump.k.length,
      dump.v.length,
    ]);
  }
}

for (const layout of CODECS) {
  for (const mode of layout.codebookModes) {
    Deno.test(`registry: ${layout.name} ${mode} keeps the layout contract on adversarial dumps`, () => {
      assertLayoutContract(layout, mode, adversarialDumps());
    });
  }

  Deno.test(`registry: ${layout.name} is found by name and by its marker, and by nothing else`, () => {
    assertEquals(codecNamed(layout.name), layout);
    assertEquals(codecOfMarkerFile(layout.markerFileName("meta_t0_1")), layout);
    assertEquals(codecOfMarkerFile("meta_t0_1.json"), undefined);
    for (const mode of layout.codebookModes) {
      const used = layout.modelsUsed(mode);
      assert(used.codebook === mode || used.codebook === null);
      assert(used.description.length > 0);
    }
    // A layout with a shared file offers a global run, and only then.
    assertEquals(
      layout.codebookModes.includes("global"),
      layout.sharedFile !== undefined,
    );
  });

  Deno.test(`registry: a corrupt ${layout.name} marker is refused with a kvbits error`, () => {
    const [dump] = adversarialDumps().slice(2);
    const marker = layout.encodeDump(dump).files.at(-1)!;
    const cut = marker.bytes.subarray(0, marker.bytes.length >> 1);
    const error = assertThrows(() => {
      const opened = layout.openDump(dump.metaName, cut);
      opened.decode(opened.companions.map(() => new Uint8Array(0)));
    });
    assert(
      error instanceof KvbitsDataError ||
        (error as Error).name === "KvbitsFormatError",
      String(error),
    );
  });
}

Deno.test("registry: codec names and markers are unique, so a folder's layout is never ambiguous", () => {
  assertEquals(new Set(CODECS.map((c) => c.name)).size, CODECS.length);
  assertEquals(new Set(CODECS.map((c) => c.layout)).size, CODECS.length);
  for (const layout of CODECS) {
    const marker = layout.markerFileName("meta_t0_1");
    const claimed = CODECS.filter((c) =>
      c.metaNameOfMarker(marker) !== undefined
    );
    assertEquals(claimed, [layout], marker);
  }
});

Deno.test("registry: each layout's files equal what the encode job writes for the fixtures", async () => {
  for (const layout of CODECS) {
    for (const mode of layout.codebookModes) {
      await withTempDir(async (outDir) => {
        await encodeFolder({
          dumpDir: KV_SAMPLE,
          outDir,
          codec: layout,
          codebook: mode,
          overwrite: false,
          stage: "both",
          minSeqLen: 0,
          maxSeqLen: 0,
          durable: false,
          jobs: 1,
        });
        const metas = (await listFiles(KV_SAMPLE)).filter((path) =>
          /(^|\/)meta_[^/]+\.json$/.test(path)
        );
        const dumps: (DumpToEncode & { folder: string })[] = [];
        for (const path of metas) {
          const metaText = await Deno.readTextFile(join(KV_SAMPLE, path));
          const meta = parseDumpMeta(metaText);
          const folder = path.slice(0, path.lastIndexOf("/") + 1);
          const words = async (file: string) =>
            new Uint16Array(
              (await Deno.readFile(join(KV_SAMPLE, folder, file))).buffer,
            );
          dumps.push({
            folder,
            metaName: path.slice(folder.length, -".json".length),
            metaText,
            meta,
            k: await words(meta.kFile),
            v: await words(meta.vFile),
          });
        }
        const shared = sharedOf(layout, mode, dumps);
        const written: NamedFile[] = [];
        if (shared.bytes) {
          written.push({
            name: layout.sharedFile!.fileName,
            bytes: shared.bytes,
          });
        }
        for (const dump of dumps) {
          for (const file of layout.encodeDump(dump, shared.opened).files) {
            written.push({ name: dump.folder + file.name, bytes: file.bytes });
          }
        }
        // The folder's manifest is the encode job's, written whatever the layout.
        const onDisk = (await listFiles(outDir))
          .filter((name) => name !== MANIFEST_FILE_NAME).sort();
        assertEquals(written.map((file) => file.name).sort(), onDisk);
        for (const file of written) {
          assertEquals(
            await Deno.readFile(join(outDir, file.name)),
            file.bytes,
            `${layout.name} ${mode} ${file.name}`,
          );
        }
      });
    }
  }
});

/**
 * A layout of a new shape, written against the interface alone: each dump in
 * one file, `<meta name>.raw`, holding the meta text and the raw words. It is
 * not in the registry (the CLI must not offer it); it shows that the contract
 * above is all a codec has to meet.
 */
function rawLayout(): Layout<undefined> {
  const encoder = new TextEncoder();
  const split = (marker: Uint8Array) => {
    const view = new DataView(marker.buffer, marker.byteOffset);
    const textLength = view.getUint32(0, true);
    if (marker.length < 4 + textLength) {
      throw new KvbitsDataError("the file is truncated", { stream: "raw" });
    }
    const inputText = new TextDecoder().decode(
      marker.subarray(4, 4 + textLength),
    );
    const words = new Uint16Array(
      marker.slice(4 + textLength).buffer,
    );
    return { inputText, words, metaBytes: 4 + textLength };
  };
  const layout: Layout<undefined> = {
    name: "raw",
    title: "Raw",
    layout: "test_raw",
    codebookModes: ["per-dump"],
    metaKind: "text",
    modelsUsed: () => ({ codebook: null, description: "no model" }),
    markerFileName: (metaName) => `${metaName}.raw`,
    metaNameOfMarker: (fileName) => /^(meta_.+)\.raw$/.exec(fileName)?.[1],
    encodeDump(dump) {
      const text = encoder.encode(dump.metaText);
      const bytes = new Uint8Array(4 + text.length + 2 * 2 * dump.k.length);
      new DataView(bytes.buffer).setUint32(0, text.length, true);
      bytes.set(text, 4);
      const words = new Uint16Array(2 * dump.k.length);
      words.set(dump.k);
      words.set(dump.v, dump.k.length);
      bytes.set(new Uint8Array(words.buffer), 4 + text.length);
      return {
        files: [{ name: `${dump.metaName}.raw`, bytes }],
        streamBytes: 4 * dump.k.length,
        metaBytes: 4 + text.length,
      };
    },
    openDump(_metaName, marker) {
      const { inputText, words, metaBytes } = split(marker);
      const input = parseDumpMeta(inputText);
      const half = words.length / 2;
      const decoded = {
        input,
        inputText,
        k: words.slice(0, half),
        v: words.slice(half),
        integrityChecked: true,
        streamBytes: 2 * words.length,
        metaBytes,
      };
      return {
        input,
        companions: [],
        needsShared: false,
        decode: () => decoded,
        measure: () => ({
          input,
          numElements: half,
          kHi6: half,
          kLo10: half,
          vHi6: half,
          vLo10: half,
          metaBytes,
        }),
      };
    },
    existingDumpDifference: () => undefined,
    encodeWords: (dump) => ({
      bytes: 4 * dump.k.length,
      coded: [dump.k.slice(), dump.v.slice()],
    }),
    decodeWords(coded, into) {
      const [k, v] = coded as Uint16Array[];
      into.k.set(k);
      into.v.set(v);
    },
    planeBits: (dump) => {
      const bits = {
        elements: dump.k.length,
        hi6: 8 * dump.k.length,
        lo10: 8 * dump.k.length,
        other: 0,
      };
      return { k: bits, v: bits };
    },
  };
  return layout;
}

Deno.test("a layout of a new shape needs only the interface: the contract holds for a toy raw layout", () => {
  const layout = rawLayout();
  assertLayoutContract(layout, "per-dump", adversarialDumps());
  assertNotEquals(codecNamed(layout.name), layout);
});
