/**
 * One dump through any codec, in memory: the library's dump-level API
 * (`mod.ts`). Encoding gives the files the CLI would write for the dump (named,
 * the marker last); decoding takes such files, recognises their layout by the
 * marker's name and restores the meta text and both tensors, checked against
 * the checksums kvbits recorded. It reads what kvbits writes: a `.kvc` file, a
 * reference layout's JSON meta with its four streams (and the folder's global
 * codebook when the dump uses one).
 *
 * @module
 */

import { KvbitsDataError } from "../codec/errors.ts";
import { countFp16Symbols, newFp16Histograms } from "../codec/histogram.ts";
import { type Codec, codecOfMarkerFile, CODECS } from "./codecs.ts";
import { parseDumpMeta } from "./dump_meta.ts";
import type { DumpMeta } from "./dump_meta.ts";
import type { DumpOutputs, NamedFile } from "./layout.ts";
import type { CodebookMode } from "./stream_codec.ts";

/** The `--codec` names: `huffman`, `arith`, `ctx`. */
export type CodecName = "huffman" | "arith" | "ctx";

/**
 * The names of the codecs, in the order the CLI lists them.
 *
 * @example Every codec codes a dump that decodes back
 * ```ts
 * import { CODEC_NAMES, decodeDump, encodeDump } from "@kvbits/kvbits";
 * import { assertEquals } from "@std/assert";
 *
 * const metaText = '{"layer_id": 0, "seq_len": 1, "kv_heads": 1, "head_dim": 2, "bytes_per_elem": 2, "stage": "decode", "k_file": "k.bin", "v_file": "v.bin"}';
 * const k = Uint16Array.from([0x3c00, 0x3c01]);
 * assertEquals(CODEC_NAMES, ["huffman", "arith", "ctx"]);
 * for (const codec of CODEC_NAMES) {
 *   assertEquals(decodeDump(encodeDump({ metaText, k, v: k }, { codec }).files).v, k);
 * }
 * ```
 */
export const CODEC_NAMES: readonly CodecName[] = CODECS.map((codec) =>
  codec.name as CodecName
);

/** A dump to encode. */
export interface DumpInput {
  /** The text of the dump's meta file (`meta_*.json` of the MNN dumper). */
  readonly metaText: string;
  /** K as FP16 words. */
  readonly k: Uint16Array;
  /** V as FP16 words, as many as K. */
  readonly v: Uint16Array;
}

/** How to encode a dump. */
export interface EncodeDumpOptions {
  /** The codec; `ctx` (the smallest) by default. */
  readonly codec?: CodecName;
  /**
   * The meta file's name without `.json`, `meta_<something>` (default
   * `meta_dump`); the output files are named after it, and `ctx` predicts the
   * tensor file names in the meta from it.
   */
  readonly metaName?: string;
}

/** A dump decoded from its files. */
export interface Dump {
  /** The name of the meta file to restore, e.g. `meta_t0_128.json`. */
  readonly metaFileName: string;
  /** The meta file's exact text. */
  readonly metaText: string;
  /** The meta, parsed. */
  readonly meta: DumpMeta;
  /** K as FP16 words. */
  readonly k: Uint16Array;
  /** V as FP16 words. */
  readonly v: Uint16Array;
  /** The codec whose files they were. */
  readonly codec: CodecName;
  /** True when kvbits' checksums confirmed all three (reference files have none). */
  readonly integrityChecked: boolean;
}

function codecOf(name: string | undefined): Codec {
  const codec = CODECS.find((candidate) => candidate.name === (name ?? "ctx"));
  if (!codec) {
    throw new RangeError(
      `Cannot encode: no codec ${name}; use one of ${CODEC_NAMES.join(", ")}`,
    );
  }
  return codec;
}

/**
 * Encodes one dump into the files the CLI would write for it (per-dump models:
 * each dump decodes alone).
 *
 * @param dump The meta text and both tensors.
 * @param options The codec and the meta's name.
 * @returns The files, the one that marks the dump complete last, and how many
 * bytes are coded tensors and how many meta.
 * @throws {KvbitsFormatError} When the meta text is not a dump meta.
 * @throws {RangeError} When K or V do not have the meta shape's element count,
 * or the codec is unknown.
 *
 * @example A dump into a `.kvc` file and back
 * ```ts
 * import { decodeDump, encodeDump } from "@kvbits/kvbits";
 * import { assertEquals } from "@std/assert";
 *
 * const metaText = '{"layer_id": 0, "seq_len": 1, "kv_heads": 1, "head_dim": 4, "bytes_per_elem": 2, "stage": "decode", "k_file": "k_t4_5.bin", "v_file": "v_t4_5.bin"}';
 * const k = Uint16Array.from([0x3c00, 0xbc00, 1, 2]), v = Uint16Array.from([5, 6, 7, 8]);
 * const { files } = encodeDump({ metaText, k, v }, { metaName: "meta_t4_5" });
 * assertEquals(files.map((file) => file.name), ["meta_t4_5.kvc"]);
 * const back = decodeDump(files);
 * assertEquals([back.metaFileName, back.metaText, back.k, back.v], ["meta_t4_5.json", metaText, k, v]);
 * ```
 */
export function encodeDump(
  dump: DumpInput,
  options: EncodeDumpOptions = {},
): DumpOutputs {
  const codec = codecOf(options.codec);
  const metaName = checkMetaName(options.metaName ?? "meta_dump");
  return codec.encodeDump({
    metaName,
    metaText: dump.metaText,
    meta: parseDumpMeta(dump.metaText),
    k: dump.k,
    v: dump.v,
  });
}

/**
 * Decodes one dump from its files: the marker (a `.kvc` file, or a reference
 * layout's `bitstream_meta_*.json` / `arith_meta_*.json`), the files it names,
 * and the folder's global codebook file when the dump was coded with one.
 * Files are matched by name (paths relative to the marker's folder).
 *
 * @param files The dump's files, as `NamedFile`s or a name-to-bytes record.
 * @returns The meta text, both tensors and whether checksums confirmed them.
 * @throws {RangeError} When no file, or more than one, marks a dump.
 * @throws {KvbitsFormatError} When a meta or codebook breaks its format.
 * @throws {KvbitsDataError} When a file the marker names is missing, data is
 * corrupt, or a restored part fails its checksum.
 *
 * @example A reference Huffman dump given its JSON and streams
 * ```ts
 * import { decodeDump, encodeDump } from "@kvbits/kvbits";
 * import { assertEquals } from "@std/assert";
 *
 * const metaText = '{"layer_id": 2, "seq_len": 1, "kv_heads": 1, "head_dim": 2, "bytes_per_elem": 2, "stage": "decode", "k_file": "k.bin", "v_file": "v.bin"}';
 * const k = Uint16Array.from([0x3c00, 0x3c01]), v = Uint16Array.from([0, 0x8000]);
 * const { files } = encodeDump({ metaText, k, v }, { codec: "huffman", metaName: "meta_t0_1" });
 * const byName = Object.fromEntries(files.map((file) => [file.name, file.bytes]));
 * const back = decodeDump(byName);
 * assertEquals([back.codec, back.k, back.v, back.integrityChecked], ["huffman", k, v, true]);
 * ```
 */
export function decodeDump(
  files: readonly NamedFile[] | Readonly<Record<string, Uint8Array>>,
): Dump {
  const byName = new Map<string, Uint8Array>(
    Array.isArray(files)
      ? (files as readonly NamedFile[]).map((file) => [file.name, file.bytes])
      : Object.entries(files as Record<string, Uint8Array>),
  );
  const markers = [...byName.keys()].filter((name) =>
    codecOfMarkerFile(baseName(name)) !== undefined
  );
  if (markers.length !== 1) {
    throw new RangeError(
      `Cannot decode a dump: ${
        markers.length === 0 ? "no file" : `${markers.length} files`
      } among ${
        [...byName.keys()].join(", ") || "none"
      } mark a dump (one .kvc file, or one *meta_*.json of a reference layout)`,
    );
  }
  const [markerName] = markers;
  const codec = codecOfMarkerFile(baseName(markerName))!;
  const metaName = codec.metaNameOfMarker(baseName(markerName))!;
  const opened = codec.openDump(metaName, byName.get(markerName)!);
  const folder = markerName.slice(
    0,
    markerName.length - baseName(markerName).length,
  );
  const companions = opened.companions.map(({ name, role }) => {
    const bytes = byName.get(folder + name);
    if (!bytes) {
      throw new KvbitsDataError(`${name} is missing`, { stream: role });
    }
    return bytes;
  });
  let shared: unknown;
  if (opened.needsShared) {
    const file = codec.sharedFile!;
    const bytes = byName.get(folder + file.fileName);
    if (!bytes) {
      throw new KvbitsDataError(
        `the dump uses the ${file.title} but ${file.fileName} is missing`,
      );
    }
    shared = file.open(bytes);
  }
  const decoded = opened.decode(companions, shared);
  return {
    metaFileName: `${metaName}.json`,
    metaText: decoded.inputText,
    meta: decoded.input,
    k: decoded.k,
    v: decoded.v,
    codec: codec.name as CodecName,
    integrityChecked: decoded.integrityChecked,
  };
}

function checkMetaName(metaName: string): string {
  if (!/^meta_[^/]+$/.test(metaName)) {
    throw new RangeError(
      `Cannot encode ${metaName}: a meta name is meta_<something>, without a folder or .json`,
    );
  }
  return metaName;
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** What {@link encodeDumps} writes besides each dump's files. */
export interface EncodedDumps {
  /** Every file, dumps in the order given (each marker after its files). */
  readonly files: readonly NamedFile[];
  /** The folder's shared file (a global codebook), when the run has one. */
  readonly shared?: NamedFile;
}

/**
 * Encodes several dumps as one folder would hold them, with one global codebook
 * for all (`huffman`, `arith`) or each on its own (`per-dump`, and always `ctx`).
 *
 * @param dumps The dumps, each with its meta name.
 * @param options The codec and codebook mode.
 * @returns The files, and the shared codebook file first when there is one.
 * @throws {RangeError} As {@link encodeDump}; also when two dumps share a name.
 *
 * @example Two dumps with a global Huffman codebook
 * ```ts
 * import { decodeDump, encodeDumps } from "@kvbits/kvbits";
 * import { assertEquals } from "@std/assert";
 *
 * const metaText = '{"layer_id": 0, "seq_len": 1, "kv_heads": 1, "head_dim": 2, "bytes_per_elem": 2, "stage": "decode", "k_file": "k.bin", "v_file": "v.bin"}';
 * const k = Uint16Array.from([0x3c00, 0x3c01]);
 * const { files, shared } = encodeDumps(
 *   [{ metaName: "meta_t0_1", metaText, k, v: k }, { metaName: "meta_t1_2", metaText, k, v: k }],
 *   { codec: "huffman", codebook: "global" },
 * );
 * assertEquals(shared?.name, "global_codebook.json");
 * const one = files.filter((file) => file.name.includes("meta_t1_2"));
 * assertEquals(decodeDump([...one, shared!]).k, k);
 * ```
 */
export function encodeDumps(
  dumps: readonly (DumpInput & { readonly metaName: string })[],
  options: { readonly codec?: CodecName; readonly codebook?: CodebookMode } =
    {},
): EncodedDumps {
  const codec = codecOf(options.codec);
  const names = new Set(dumps.map((dump) => checkMetaName(dump.metaName)));
  if (names.size !== dumps.length) {
    throw new RangeError("Cannot encode dumps: two have the same meta name");
  }
  const parsed = dumps.map((dump) => ({
    ...dump,
    meta: parseDumpMeta(dump.metaText),
  }));
  const sharedFile = options.codebook === "global"
    ? codec.sharedFile
    : undefined;
  let shared: NamedFile | undefined;
  let models: unknown;
  if (sharedFile) {
    const k = newFp16Histograms();
    const v = newFp16Histograms();
    for (const dump of parsed) {
      countFp16Symbols(dump.k, k);
      countFp16Symbols(dump.v, v);
    }
    const bytes = sharedFile.fromCounts(k, v);
    shared = { name: sharedFile.fileName, bytes };
    models = sharedFile.open(bytes);
  }
  const files = parsed.flatMap((dump) => codec.encodeDump(dump, models).files);
  return { files, shared };
}
