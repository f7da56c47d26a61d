/**
 * The per-dump meta JSON of a bitstream folder (FORMAT.md §3 and §4): building it
 * when encoding, reading it (kvbits' or the reference tools') when decoding.
 *
 * Read me first:
 * - The meta repeats every key of the input meta, then adds `layout`,
 *   `bytes_per_elem`, the four `*_file` names, `codebook`, `num_elements` and, for
 *   per-dump codebooks, the four tables. kvbits writes it compactly (no spaces): on
 *   small decode dumps the JSON is most of the output.
 * - kvbits adds one key of its own, `kvbits`, an object the reference tools ignore:
 *   `format` (1), `k_crc32` and `v_crc32` (CRC-32 of each original tensor; their
 *   lengths are `2 * num_elements`, which the shape keys fix as well, so they are
 *   not stored again), `meta_crc32` (CRC-32 of the original meta file, which is
 *   restored from the keys of this one), `codebook_crc32` (CRC-32 of the global
 *   codebook file the dump was coded with) and, only when needed, `meta_text`. It
 *   costs about 100 bytes per dump. Together the checksums cover every byte that
 *   decode restores: a corrupt stream, table or key cannot give a wrong dump that
 *   verify passes.
 * - Restoring the input meta: the added keys are removed and the rest is written as
 *   Python's `json.dumps` writes it, the style of the MNN dumper. When the input was
 *   in another style, or had a key of the same name as an added one, that would not
 *   give its bytes back, so the encoder stores the input text as `meta_text`.
 *
 * @module
 */

import { type DumpMeta, parseDumpMeta } from "./dump_meta.ts";
import { KvbitsFormatError } from "./format_error.ts";
import {
  parseJsonObject,
  requireCountArray,
  requireInteger,
  requireRelativePath,
  requireString,
} from "./json_fields.ts";
import { pythonJsonDumps } from "./python_json.ts";
import {
  alphabetSizeOf,
  type CodebookMode,
  type PerStream,
  STREAM_NAMES,
  type StreamCodec,
} from "./stream_codec.ts";

/** Version of the `kvbits` key's content. */
const KVBITS_KEY_FORMAT = 1;

/** What kvbits records about the original dump, under the `kvbits` key. */
export interface DumpIntegrity {
  /** CRC-32 of the original K tensor file. */
  readonly kCrc32: number;
  /** CRC-32 of the original V tensor file. */
  readonly vCrc32: number;
  /** CRC-32 of the original meta file (UTF-8 bytes of the text restored). */
  readonly metaCrc32: number;
  /** CRC-32 of the global codebook file, for `global` codebooks. */
  readonly codebookCrc32?: number;
}

/** A parsed per-dump bitstream meta. */
export interface BitstreamMeta {
  /** Where the models come from; reference files without the key are per-dump. */
  readonly codebook: CodebookMode;
  /** Elements of K (equal to V): symbols in each stream. */
  readonly numElements: number;
  /** File name of each stream, relative to the meta's folder. */
  readonly streamFiles: PerStream<string>;
  /** Per-dump tables (code lengths or frequencies); absent for `global`. */
  readonly tables?: PerStream<number[]>;
  /** The input meta as it is to be restored. */
  readonly input: DumpMeta;
  /** The exact text of the input meta file to restore. */
  readonly inputText: string;
  /** kvbits' integrity record; absent in reference outputs. */
  readonly integrity?: DumpIntegrity;
}

/** Everything {@link buildBitstreamMeta} needs. */
export interface BitstreamMetaParts {
  /** The input meta. */
  readonly input: DumpMeta;
  /** The input meta file's text. */
  readonly inputText: string;
  /** The file name of the input meta without `.json`, e.g. `meta_t0_128`. */
  readonly metaName: string;
  /** Elements of K (equal to V). */
  readonly numElements: number;
  /** Codebook mode. */
  readonly codebook: CodebookMode;
  /** Per-dump tables, required for `per-dump`. */
  readonly tables?: PerStream<number[]>;
  /** Integrity record. */
  readonly integrity: DumpIntegrity;
}

/**
 * File name of a stream of a dump: `<stream>_<metaName><extension>`.
 *
 * @param stream The stream.
 * @param metaName Input meta file name without `.json`.
 * @param codec The stream codec (gives the extension).
 * @returns E.g. `k_hi6_meta_t0_128.huff`.
 *
 * @example
 * ```ts
 * import { streamFileName } from "./bitstream_meta.ts";
 * import { huffmanStreamCodec } from "./huffman_stream_codec.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(streamFileName("v_lo10", "meta_t0_128", huffmanStreamCodec), "v_lo10_meta_t0_128.huff");
 * ```
 */
export function streamFileName(
  stream: string,
  metaName: string,
  codec: StreamCodec<unknown>,
): string {
  return `${stream}_${metaName}${codec.streamExtension}`;
}

/**
 * Keys a bitstream meta adds to the input meta.
 *
 * @param codec The stream codec (gives the table key suffix).
 * @returns The set of added keys.
 *
 * @example
 * ```ts
 * import { addedMetaKeys } from "./bitstream_meta.ts";
 * import { huffmanStreamCodec } from "./huffman_stream_codec.ts";
 * import { assert } from "@std/assert";
 *
 * assert(addedMetaKeys(huffmanStreamCodec).has("k_hi6_code_lengths"));
 * ```
 */
export function addedMetaKeys(codec: StreamCodec<unknown>): Set<string> {
  const keys = new Set(["layout", "codebook", "num_elements", "kvbits"]);
  for (const stream of STREAM_NAMES) {
    keys.add(`${stream}_file`);
    keys.add(`${stream}${codec.tableKeySuffix}`);
  }
  return keys;
}

/**
 * Builds the compact JSON text of a dump's bitstream meta.
 *
 * @param codec The stream codec.
 * @param parts The input meta, counts, tables and integrity record.
 * @returns The JSON text.
 * @throws {RangeError} When a `per-dump` meta has no tables.
 *
 * @example
 * ```ts
 * import { buildBitstreamMeta, parseBitstreamMeta } from "./bitstream_meta.ts";
 * import { parseDumpMeta } from "./dump_meta.ts";
 * import { huffmanStreamCodec } from "./huffman_stream_codec.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const inputText = '{"layer_id": 0, "seq_len": 1, "kv_heads": 1, "head_dim": 2, "bytes_per_elem": 2, "stage": "decode", "k_file": "k.bin", "v_file": "v.bin"}';
 * const text = buildBitstreamMeta(huffmanStreamCodec, {
 *   input: parseDumpMeta(inputText), inputText, metaName: "meta_t0_1", numElements: 2,
 *   codebook: "global", integrity: { kCrc32: 1, vCrc32: 2, metaCrc32: 4, codebookCrc32: 3 },
 * });
 * const meta = parseBitstreamMeta(text, huffmanStreamCodec);
 * assertEquals(meta.inputText, inputText);
 * assertEquals(meta.streamFiles.k_hi6, "k_hi6_meta_t0_1.huff");
 * ```
 */
export function buildBitstreamMeta(
  codec: StreamCodec<unknown>,
  parts: BitstreamMetaParts,
): string {
  const { input, inputText, metaName, numElements, codebook, tables } = parts;
  const added = addedMetaKeys(codec);
  const fields: Record<string, unknown> = { ...input.fields };
  const restoresExactly = pythonJsonDumps(input.fields) === inputText &&
    Object.keys(input.fields).every((key) => !added.has(key));
  fields.layout = codec.layout;
  fields.bytes_per_elem = 2;
  for (const stream of STREAM_NAMES) {
    fields[`${stream}_file`] = streamFileName(stream, metaName, codec);
  }
  fields.codebook = codebook;
  fields.num_elements = numElements;
  // The tables' JSON, written apart (JSON.stringify of 1,024 numbers costs
  // more than the rest of the meta): the same text.
  const tableTexts = new Map<string, string>();
  if (codebook === "per-dump") {
    if (!tables) {
      throw new RangeError(
        "Cannot build a per-dump bitstream meta without tables",
      );
    }
    const texts = tablesJson(STREAM_NAMES.map((stream) => tables[stream]));
    STREAM_NAMES.forEach((stream, index) => {
      const key = `${stream}${codec.tableKeySuffix}`;
      fields[key] = tables[stream];
      tableTexts.set(key, texts[index]);
    });
  }
  const { integrity } = parts;
  const kvbits: Record<string, unknown> = {
    format: KVBITS_KEY_FORMAT,
    k_crc32: integrity.kCrc32,
    v_crc32: integrity.vCrc32,
    meta_crc32: integrity.metaCrc32,
  };
  if (integrity.codebookCrc32 !== undefined) {
    kvbits.codebook_crc32 = integrity.codebookCrc32;
  }
  if (!restoresExactly) kvbits.meta_text = inputText;
  fields.kvbits = kvbits;
  if (tableTexts.size === 0) return JSON.stringify(fields);
  // As JSON.stringify writes an object: its keys in order, `"key":value`.
  let json = "";
  for (const key of Object.keys(fields)) {
    const value = tableTexts.get(key) ?? JSON.stringify(fields[key]);
    if (value === undefined) continue;
    json += `${json === "" ? "{" : ","}${JSON.stringify(key)}:${value}`;
  }
  return json === "" ? "{}" : `${json}}`;
}

/** Decodes the ASCII of {@link tablesJson}; stateless. */
const ASCII = new TextDecoder();
/** Characters of `[`, `,`, `]` and the digit 0. */
const OPEN = 0x5b;
const COMMA = 0x2c;
const CLOSE = 0x5d;
const ZERO = 0x30;

/**
 * `JSON.stringify` of each table, written as ASCII bytes into one buffer
 * (several times faster for tables of small integers, as code lengths are);
 * a table holding anything but integers in 0..99 goes to `JSON.stringify`.
 */
function tablesJson(tables: readonly (readonly number[])[]): string[] {
  let size = 0;
  for (const table of tables) size += 3 * table.length + 2;
  const bytes = new Uint8Array(size);
  const texts: string[] = [];
  let at = 0;
  for (const table of tables) {
    const start = at;
    const count = table.length;
    bytes[at++] = OPEN;
    let i = 0;
    for (; i < count; i++) {
      const value = table[i];
      if (!(value >= 0 && value < 100 && Number.isInteger(value))) break;
      if (i > 0) bytes[at++] = COMMA;
      if (value >= 10) {
        const tens = (value / 10) | 0;
        bytes[at++] = ZERO + tens;
        bytes[at++] = ZERO + value - 10 * tens;
      } else {
        bytes[at++] = ZERO + value;
      }
    }
    if (i < count) {
      texts.push(JSON.stringify(table));
      at = start;
      continue;
    }
    bytes[at++] = CLOSE;
    texts.push(ASCII.decode(bytes.subarray(start, at)));
  }
  return texts;
}

/**
 * Parses a per-dump bitstream meta of the codec's layout, written by kvbits or by
 * the reference tools.
 *
 * @param text The JSON text.
 * @param codec The stream codec of the folder's layout.
 * @returns The parsed meta.
 * @throws {KvbitsFormatError} When the JSON is invalid or a key is missing or
 * mistyped; the message names the key.
 *
 * @example A reference-style meta without the `codebook` key reads as per-dump
 * ```ts
 * import { parseBitstreamMeta } from "./bitstream_meta.ts";
 * import { huffmanStreamCodec } from "./huffman_stream_codec.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const lengths = (n: number) => Array.from({ length: n }, (_, i) => (i === 0 ? 1 : 0));
 * const meta = parseBitstreamMeta(JSON.stringify({
 *   layer_id: 0, seq_len: 1, kv_heads: 1, head_dim: 1, bytes_per_elem: 2, stage: "decode",
 *   k_file: "k.bin", v_file: "v.bin", layout: "bitstream_huffman", num_elements: 1,
 *   k_hi6_file: "a.huff", k_lo10_file: "b.huff", v_hi6_file: "c.huff", v_lo10_file: "d.huff",
 *   k_hi6_code_lengths: lengths(64), k_lo10_code_lengths: lengths(1024),
 *   v_hi6_code_lengths: lengths(64), v_lo10_code_lengths: lengths(1024),
 * }), huffmanStreamCodec);
 * assertEquals(meta.codebook, "per-dump");
 * assertEquals(meta.input.fields.layout, undefined);
 * ```
 */
export function parseBitstreamMeta(
  text: string,
  codec: StreamCodec<unknown>,
): BitstreamMeta {
  const fields = parseJsonObject(text, "bitstream meta");
  if (fields.layout !== undefined) {
    const layout = requireString(fields, "layout");
    if (layout !== codec.layout) {
      throw new KvbitsFormatError(
        `key "layout" is ${JSON.stringify(layout)}, expected "${codec.layout}"`,
        "layout",
      );
    }
  }
  let codebook: CodebookMode = "per-dump";
  if (fields.codebook !== undefined) {
    const value = requireString(fields, "codebook");
    if (value !== "global" && value !== "per-dump") {
      throw new KvbitsFormatError(
        `key "codebook" must be "global" or "per-dump", got ${
          JSON.stringify(value)
        }`,
        "codebook",
      );
    }
    codebook = value;
  }
  const numElements = requireInteger(fields, "num_elements", 0);
  const streamFiles = {} as PerStream<string>;
  for (const stream of STREAM_NAMES) {
    streamFiles[stream] = requireRelativePath(fields, `${stream}_file`);
  }
  let tables: PerStream<number[]> | undefined;
  if (codebook === "per-dump") {
    tables = {} as PerStream<number[]>;
    for (const stream of STREAM_NAMES) {
      tables[stream] = requireCountArray(
        fields,
        `${stream}${codec.tableKeySuffix}`,
        alphabetSizeOf(stream),
      );
    }
  }
  const integrity = parseIntegrity(fields);
  const storedText = integrity?.metaText;
  let inputText: string;
  if (storedText !== undefined) {
    inputText = storedText;
  } else {
    const added = addedMetaKeys(codec);
    const inputFields: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(fields)) {
      if (!added.has(key)) inputFields[key] = value;
    }
    inputText = pythonJsonDumps(inputFields);
  }
  let input: DumpMeta;
  try {
    input = parseDumpMeta(inputText);
  } catch (error) {
    if (!(error instanceof KvbitsFormatError)) throw error;
    throw new KvbitsFormatError(
      `the input meta it carries is invalid: ${error.message}`,
      error.key,
    );
  }
  const shapeElements = input.seqLen * input.kvHeads * input.headDim;
  if (shapeElements !== numElements) {
    throw new KvbitsFormatError(
      `key "num_elements" is ${numElements} but seq_len * kv_heads * head_dim is ${shapeElements}`,
      "num_elements",
    );
  }
  return {
    codebook,
    numElements,
    streamFiles,
    tables,
    input,
    inputText,
    integrity: integrity?.record,
  };
}

function parseIntegrity(
  fields: Record<string, unknown>,
): { record: DumpIntegrity; metaText?: string } | undefined {
  if (fields.kvbits === undefined) return undefined;
  const kvbits = fields.kvbits;
  if (typeof kvbits !== "object" || kvbits === null || Array.isArray(kvbits)) {
    throw new KvbitsFormatError('key "kvbits" must be an object', "kvbits");
  }
  const own = kvbits as Record<string, unknown>;
  const field = (key: string) => {
    try {
      return requireInteger(own, key, 0);
    } catch (error) {
      throw new KvbitsFormatError(
        `key "kvbits": ${(error as Error).message}`,
        "kvbits",
      );
    }
  };
  const format = field("format");
  if (format !== KVBITS_KEY_FORMAT) {
    throw new KvbitsFormatError(
      `key "kvbits" has format ${format}; this kvbits reads format ${KVBITS_KEY_FORMAT}`,
      "kvbits",
    );
  }
  const record: DumpIntegrity = {
    kCrc32: field("k_crc32"),
    vCrc32: field("v_crc32"),
    metaCrc32: field("meta_crc32"),
    codebookCrc32: own.codebook_crc32 === undefined
      ? undefined
      : field("codebook_crc32"),
  };
  if (own.meta_text !== undefined && typeof own.meta_text !== "string") {
    throw new KvbitsFormatError(
      'key "kvbits": key "meta_text" must be a string',
      "kvbits",
    );
  }
  return { record, metaText: own.meta_text as string | undefined };
}
