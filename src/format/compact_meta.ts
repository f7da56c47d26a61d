/**
 * A dump's meta JSON in a few bytes, restored byte for byte: the meta section of the
 * `ctx` layout.
 *
 * Read me first:
 * - The MNN dumper writes about 400 bytes of JSON per dump, in Python's
 *   `json.dumps` style, with the same 19 keys in the same order, most of whose
 *   values follow from the dump's file name and shape. On ../shared/kv-real that
 *   text is 3.4% of the tensor bytes (6% of a good coder's output), and on a
 *   single-token decode dump it is as large as the data. This section stores it in
 *   about 36 bytes: key order against the dumper's, one 4-bit tag per value, and only
 *   the values that cannot be predicted (`layer_id`, `run_id`).
 * - Predictions come from the file name `meta_t<S>_<E>` and the shape in the file
 *   header, never from other dumps or the folder path: `seq_start` = S,
 *   `seq_len` = `tensor_seq_len` = `add` = tokens, `seq_end_exclusive` =
 *   `seq_start + seq_len`, `kv_heads`, `head_dim`, `bytes_per_elem` 2, `dtype`
 *   "fp16", `stage` "prefill" (more than one token) or "decode", `k_file`
 *   `k_t<S>_<E>.bin`, `v_file` likewise, `source_bytes_per_elem` 4, `converted_from`
 *   "fp32". A value that differs is simply stored.
 * - The encoder only writes a record when writing the parsed fields back in Python's
 *   style gives the original text exactly; otherwise (another JSON style, duplicate
 *   keys, numbers Python would write differently, `-0`) the text is stored
 *   verbatim (mode 0).
 *
 * Layout (varints are unsigned LEB128):
 *
 * | part | content |
 * | --- | --- |
 * | mode | 1 byte: 0 = the rest is the meta text in UTF-8; 1 = fields as below |
 * | key count `n` | varint |
 * | dumper prefix `m` | varint: the first `m` keys are the dumper's first `m` keys, in order |
 * | other keys | `n - m` times: varint `i + 1` for the dumper's key `i`, or 0 then varint length and UTF-8 |
 * | tags | `n` 4-bit tags, two per byte, low nibble first, last high nibble 0 when `n` is odd |
 * | values | per key in order, what its tag needs |
 *
 * Tags: 0 predicted, 1 false, 2 true, 3 null, 4 non-negative integer (varint),
 * 5 negative integer (varint of its absolute value, at least 1), 6 string (varint length and
 * UTF-8), 7 any other JSON value (varint length and its JSON text).
 *
 * @module
 */

import { ByteReader, ByteWriter } from "../codec/byte_io.ts";
import { KvbitsDataError } from "../codec/errors.ts";
import { pythonJsonDumps } from "./python_json.ts";

/** The keys the MNN dumper writes, in its order (FORMAT.md §1). */
export const DUMPER_META_KEYS: readonly string[] = [
  "layer_id",
  "seq_start",
  "seq_len",
  "seq_end_exclusive",
  "kv_heads",
  "head_dim",
  "bytes_per_elem",
  "dtype",
  "add",
  "tensor_seq_len",
  "quant_key",
  "quant_value",
  "flash_attention",
  "stage",
  "run_id",
  "k_file",
  "v_file",
  "source_bytes_per_elem",
  "converted_from",
];

/** What the predictions may use: the dump's file name and its shape. */
export interface MetaContext {
  /** The input meta's file name without `.json`, e.g. `meta_t0_128`. */
  readonly metaName: string;
  /** Token rows. */
  readonly tokens: number;
  /** KV heads. */
  readonly heads: number;
  /** Channels per head. */
  readonly headDim: number;
}

const MODE_TEXT = 0;
const MODE_FIELDS = 1;

const TAG_PREDICTED = 0;
const TAG_FALSE = 1;
const TAG_TRUE = 2;
const TAG_NULL = 3;
const TAG_UINT = 4;
const TAG_NEGATIVE = 5;
const TAG_STRING = 6;
const TAG_JSON = 7;

const STREAM = "ctx meta";
/** Shared coders: both are stateless between whole-buffer calls. */
const TEXT_ENCODER = new TextEncoder();
const TEXT_DECODER = new TextDecoder("utf-8", { fatal: true });

/** The predictions of a dump: a function of a key and the fields decoded before it. */
type Predictor = (
  key: string,
  fields: Readonly<Record<string, unknown>>,
) => unknown;

/** A dumper's meta file name, without `.json`: `meta_t<S>_<E>`. */
const META_NAME = /^meta_t(\d+)_(\d+)$/;

/** The predictions of one dump (the file name is parsed once). */
function predictorOf(context: MetaContext): Predictor {
  const name = META_NAME.exec(context.metaName);
  const seqStart = name ? Number(name[1]) : undefined;
  const suffix = context.metaName.startsWith("meta_")
    ? context.metaName.slice(5)
    : context.metaName;
  return (key, fields) => predict(key, context, fields, seqStart, suffix);
}

/** The predicted value of a key, or undefined when there is none. */
function predict(
  key: string,
  context: MetaContext,
  fields: Readonly<Record<string, unknown>>,
  seqStart: number | undefined,
  suffix: string,
): unknown {
  const seqLen = typeof fields.seq_len === "number"
    ? fields.seq_len
    : context.tokens;
  switch (key) {
    case "seq_start":
      return seqStart;
    case "seq_len":
      return context.tokens;
    case "seq_end_exclusive":
      return typeof fields.seq_start === "number"
        ? fields.seq_start + seqLen
        : undefined;
    case "kv_heads":
      return context.heads;
    case "head_dim":
      return context.headDim;
    case "bytes_per_elem":
      return 2;
    case "dtype":
      return "fp16";
    case "add":
    case "tensor_seq_len":
      return seqLen;
    case "stage":
      return context.tokens > 1 ? "prefill" : "decode";
    case "k_file":
      return `k_${suffix}.bin`;
    case "v_file":
      return `v_${suffix}.bin`;
    case "source_bytes_per_elem":
      return 4;
    case "converted_from":
      return "fp32";
    default:
      return undefined;
  }
}

/**
 * Encodes a meta file's text compactly (layout in the module notes).
 *
 * @param text The meta file's text.
 * @param context The dump's file name and shape, which the predictions use.
 * @returns The meta section.
 *
 * @example A dumper meta takes a few dozen bytes
 * ```ts
 * import { decodeCompactMeta, encodeCompactMeta } from "./compact_meta.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const text = '{"layer_id": 3, "seq_start": 0, "seq_len": 128, "seq_end_exclusive": 128, "kv_heads": 2, "head_dim": 64, "bytes_per_elem": 2, "dtype": "fp16", "add": 128, "tensor_seq_len": 128, "quant_key": false, "quant_value": false, "flash_attention": false, "stage": "prefill", "run_id": "llama6L-kjv-ruth", "k_file": "k_t0_128.bin", "v_file": "v_t0_128.bin", "source_bytes_per_elem": 4, "converted_from": "fp32"}';
 * const context = { metaName: "meta_t0_128", tokens: 128, heads: 2, headDim: 64 };
 * const bytes = encodeCompactMeta(text, context);
 * assertEquals(bytes.length, 31);
 * assertEquals(decodeCompactMeta(bytes, context), text);
 * ```
 */
export function encodeCompactMeta(
  text: string,
  context: MetaContext,
): Uint8Array {
  const fields = fieldsOf(text);
  // The record holds the parsed fields exactly (each value's tag round-trips it),
  // and decoding writes them back with pythonJsonDumps: so it restores the text
  // exactly when the text is pythonJsonDumps of its own fields. (The tests check
  // the record against the decoder on every kv-real meta and on odd ones.)
  if (fields && pythonJsonDumps(fields) === text) {
    const record = encodeFields(fields, context);
    // Strings are stored as UTF-8, which cannot hold a lone surrogate
    // ("\udc80", as Python writes surrogate-escaped names): such a record
    // would decode to another text, so the text is stored instead.
    try {
      if (decodeCompactMeta(record, context) === text) return record;
    } catch {
      // A record the decoder refuses is never written: the text is.
    }
  }
  const utf8 = TEXT_ENCODER.encode(text);
  const out = new Uint8Array(1 + utf8.length);
  out[0] = MODE_TEXT;
  out.set(utf8, 1);
  return out;
}

function fieldsOf(text: string): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(text);
    if (typeof value === "object" && value !== null && !Array.isArray(value)) {
      return value as Record<string, unknown>;
    }
  } catch {
    // Not JSON: stored as text.
  }
  return undefined;
}

function encodeFields(
  fields: Record<string, unknown>,
  context: MetaContext,
): Uint8Array {
  const keys = Object.keys(fields);
  const writer = new ByteWriter(64);
  writer.byte(MODE_FIELDS);
  writer.varint(keys.length);
  let prefix = 0;
  while (
    prefix < keys.length && prefix < DUMPER_META_KEYS.length &&
    keys[prefix] === DUMPER_META_KEYS[prefix]
  ) {
    prefix++;
  }
  writer.varint(prefix);
  const encoder = TEXT_ENCODER;
  for (const key of keys.slice(prefix)) {
    const known = DUMPER_META_KEYS.indexOf(key);
    writer.varint(known + 1);
    if (known < 0) {
      const utf8 = encoder.encode(key);
      writer.varint(utf8.length);
      writer.bytes(utf8);
    }
  }
  const tags: number[] = [];
  const values = new ByteWriter(64);
  const decodedSoFar: Record<string, unknown> = Object.create(null);
  const predict = predictorOf(context);
  for (const key of keys) {
    const value = fields[key];
    const tag = tagOf(value, predict(key, decodedSoFar));
    tags.push(tag);
    writeValue(values, tag, value, encoder);
    decodedSoFar[key] = value;
  }
  for (let i = 0; i < tags.length; i += 2) {
    writer.byte(tags[i] | ((tags[i + 1] ?? 0) << 4));
  }
  writer.bytes(values.finish());
  return writer.finish().slice();
}

function tagOf(value: unknown, predicted: unknown): number {
  if (predicted !== undefined && value === predicted) return TAG_PREDICTED;
  if (value === false) return TAG_FALSE;
  if (value === true) return TAG_TRUE;
  if (value === null) return TAG_NULL;
  if (typeof value === "number" && Number.isSafeInteger(value)) {
    return value >= 0 ? TAG_UINT : TAG_NEGATIVE;
  }
  if (typeof value === "string") return TAG_STRING;
  return TAG_JSON;
}

function writeValue(
  writer: ByteWriter,
  tag: number,
  value: unknown,
  encoder: TextEncoder,
): void {
  switch (tag) {
    case TAG_UINT:
      writer.varint(value as number);
      return;
    case TAG_NEGATIVE:
      writer.varint(-(value as number));
      return;
    case TAG_STRING:
    case TAG_JSON: {
      const utf8 = encoder.encode(
        tag === TAG_STRING ? value as string : JSON.stringify(value),
      );
      writer.varint(utf8.length);
      writer.bytes(utf8);
      return;
    }
  }
}

/**
 * A meta section read apart from its dump's context, by {@link readCompactMeta}:
 * every stored value with its text, so that {@link compactMetaText} restores a
 * dump's text from it without reading the bytes again (the pack checks a section
 * against many dumps' metas).
 */
export interface CompactMetaRecord {
  /** The meta text itself, for a section of mode 0. */
  readonly text?: string;
  /** The keys, in order. */
  readonly keys: readonly string[];
  /** Each key as Python writes it, with `": "`. */
  readonly keyTexts: readonly string[];
  /** Each stored value; undefined for a predicted one. */
  readonly values: readonly unknown[];
  /** Each stored value as Python writes it; undefined for a predicted one. */
  readonly valueTexts: readonly (string | undefined)[];
  /** The byte offset of each key's value, for errors. */
  readonly offsets: readonly number[];
  /**
   * The first problem of the bytes that does not depend on the context, with the
   * key it stops at (`keys.length` for bytes left over): thrown when the text
   * is restored that far, so that errors come in the order of the keys.
   */
  readonly failure?: { readonly index: number; readonly error: Error };
  /**
   * Whether a key is an array index ("0", "12"): Python's order is the keys'
   * but `pythonJsonDumps` of an object puts those first, so the text is made
   * from the object as before.
   */
  readonly indexKeys: boolean;
}

/** Each dumper key as Python writes it, with `": "` (none is an array index). */
const DUMPER_KEY_TEXTS: ReadonlyMap<string, string> = new Map(
  DUMPER_META_KEYS.map((key) => [key, pythonJsonDumps(key) + ": "]),
);

/** Keys that objects enumerate first: array indices, below 2^32 - 1. */
const INDEX_KEY = /^(?:0|[1-9][0-9]{0,9})$/;

/**
 * The record of a section of mode 0 (the meta text itself, no fields).
 *
 * @param text The meta text.
 * @returns The record.
 *
 * @example
 * ```ts
 * import { compactMetaText, textMetaRecord } from "./compact_meta.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const context = { metaName: "meta_t0_1", tokens: 1, heads: 1, headDim: 2 };
 * assertEquals(compactMetaText(textMetaRecord("{}"), context), "{}");
 * ```
 */
export function textMetaRecord(text: string): CompactMetaRecord {
  return {
    text,
    keys: [],
    keyTexts: [],
    values: [],
    valueTexts: [],
    offsets: [],
    indexKeys: false,
  };
}

/**
 * Reads a meta section as far as it can be without the dump's context (layout
 * in the module notes).
 *
 * @param bytes The meta section.
 * @returns The record, for {@link compactMetaText}.
 * @throws {KvbitsDataError} When the mode, the keys or the tags are corrupt
 * (later problems are thrown by {@link compactMetaText}, in key order).
 *
 * @example One read, the text of two dumps
 * ```ts
 * import { compactMetaText, encodeCompactMeta, readCompactMeta } from "./compact_meta.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const text = (start: number) => `{"layer_id": 1, "seq_start": ${start}}`;
 * const context = (start: number) => ({ metaName: `meta_t${start}_${start + 1}`, tokens: 1, heads: 1, headDim: 2 });
 * const record = readCompactMeta(encodeCompactMeta(text(4), context(4)));
 * assertEquals(compactMetaText(record, context(5)), text(5));
 * ```
 */
export function readCompactMeta(bytes: Uint8Array): CompactMetaRecord {
  const reader = new ByteReader(bytes, STREAM);
  const decoder = TEXT_DECODER;
  const utf8 = (length: number, what: string): string => {
    const at = reader.offset;
    const bytes = reader.bytes(length);
    // Short ASCII (every dumper value) without the decoder's per-call cost.
    if (length <= 64 && isAscii(bytes)) {
      return String.fromCharCode(...bytes);
    }
    try {
      return decoder.decode(bytes);
    } catch (error) {
      if (error instanceof KvbitsDataError) throw error;
      throw reader.error(`${what} is not valid UTF-8`, at);
    }
  };
  const mode = reader.byte();
  if (mode === MODE_TEXT) {
    return textMetaRecord(utf8(reader.remaining, "meta text"));
  }
  if (mode !== MODE_FIELDS) {
    throw reader.error(`unknown meta mode ${mode}`, 0);
  }
  // Each key takes at least its 4-bit tag: two keys a byte.
  const count = reader.varintAtMost(2 * bytes.length, "key count");
  const prefix = reader.varintAtMost(
    Math.min(count, DUMPER_META_KEYS.length),
    "dumper key prefix",
  );
  const keys = DUMPER_META_KEYS.slice(0, prefix);
  for (let i = prefix; i < count; i++) {
    const known = reader.varintAtMost(DUMPER_META_KEYS.length, "key index");
    keys.push(
      known > 0 ? DUMPER_META_KEYS[known - 1] : utf8(reader.varint(), "key"),
    );
  }
  const tags = reader.bytes(Math.ceil(count / 2));
  if (count % 2 === 1 && tags[tags.length - 1] >> 4 !== 0) {
    throw reader.error("non-zero padding after the last tag");
  }
  const keyTexts: string[] = [];
  const values: unknown[] = [];
  const valueTexts: (string | undefined)[] = [];
  const offsets: number[] = [];
  const seen = new Set<string>();
  let indexKeys = false;
  let failure: { index: number; error: Error } | undefined;
  for (let i = 0; i < count && failure === undefined; i++) {
    const key = keys[i];
    const at = reader.offset;
    const dumperKey = DUMPER_KEY_TEXTS.get(key);
    keyTexts.push(dumperKey ?? pythonJsonDumps(key) + ": ");
    offsets.push(at);
    indexKeys ||= dumperKey === undefined && INDEX_KEY.test(key) &&
      Number(key) < 0xffffffff;
    try {
      if (seen.has(key)) throw reader.error(`key "${key}" appears twice`);
      seen.add(key);
      const value = readValue(
        reader,
        (tags[i >> 1] >> (4 * (i & 1))) & 0xf,
        key,
        at,
        utf8,
      );
      values.push(value);
      valueTexts.push(value === undefined ? undefined : pythonJsonDumps(value));
    } catch (error) {
      if (!(error instanceof KvbitsDataError)) throw error;
      failure = { index: i, error };
    }
  }
  if (failure === undefined && reader.remaining !== 0) {
    failure = {
      index: count,
      error: reader.error(
        `${reader.remaining} bytes left after the meta record`,
      ),
    };
  }
  return {
    keys,
    keyTexts,
    values,
    valueTexts,
    offsets,
    indexKeys,
    ...(failure !== undefined ? { failure } : {}),
  };
}

function isAscii(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] >= 0x80) return false;
  return true;
}

/** A stored value of a tag (undefined for a predicted one). */
function readValue(
  reader: ByteReader,
  tag: number,
  key: string,
  at: number,
  utf8: (length: number, what: string) => string,
): unknown {
  switch (tag) {
    case TAG_PREDICTED:
      return undefined;
    case TAG_FALSE:
      return false;
    case TAG_TRUE:
      return true;
    case TAG_NULL:
      return null;
    case TAG_UINT:
      return reader.varint();
    case TAG_NEGATIVE: {
      const magnitude = reader.varint();
      if (magnitude === 0) {
        throw reader.error(`value of "${key}" is a negative zero integer`, at);
      }
      return -magnitude;
    }
    case TAG_STRING:
      return utf8(reader.varint(), `value of "${key}"`);
    case TAG_JSON: {
      const json = utf8(reader.varint(), `value of "${key}"`);
      try {
        return JSON.parse(json);
      } catch {
        throw reader.error(`value of "${key}" is not valid JSON`, at);
      }
    }
    default:
      throw reader.error(`unknown tag ${tag} for key "${key}"`, at);
  }
}

/**
 * Restores a meta file's text from a record of {@link readCompactMeta}.
 *
 * @param record The section's record.
 * @param context The dump's file name and shape, as given to the encoder.
 * @returns The original text.
 * @throws {KvbitsDataError} When the record is corrupt, as
 * {@link decodeCompactMeta} says.
 *
 * @example
 * ```ts
 * import { compactMetaText, readCompactMeta } from "./compact_meta.ts";
 * import { assertThrows } from "@std/assert";
 *
 * // One key, layer_id, predicted: there is no prediction for it.
 * const record = readCompactMeta(Uint8Array.of(1, 1, 1, 0));
 * assertThrows(() => compactMetaText(record, { metaName: "meta_t0_1", tokens: 1, heads: 1, headDim: 2 }), Error, "no predicted value");
 * ```
 */
export function compactMetaText(
  record: CompactMetaRecord,
  context: MetaContext,
): string {
  if (record.text !== undefined) return record.text;
  const { keys, keyTexts, values, valueTexts, offsets, failure } = record;
  // No prototype: a key named "__proto__" is an ordinary key here.
  const fields: Record<string, unknown> | undefined = record.indexKeys
    ? Object.create(null)
    : undefined;
  let predict: Predictor | undefined;
  // What the predictions read of the fields before them.
  const known: Record<string, unknown> = Object.create(null);
  let text = "{";
  for (let i = 0; i < keys.length; i++) {
    if (failure !== undefined && failure.index === i) throw failure.error;
    const key = keys[i];
    let value = values[i];
    let valueText = valueTexts[i];
    if (valueText === undefined) {
      predict ??= predictorOf(context);
      value = predict(key, known);
      if (value === undefined) {
        throw new KvbitsDataError(`key "${key}" has no predicted value`, {
          stream: STREAM,
          bitOffset: 8 * offsets[i],
        });
      }
      valueText = pythonJsonDumps(value);
    }
    if (key === "seq_start" || key === "seq_len") known[key] = value;
    if (fields !== undefined) fields[key] = value;
    text += (i === 0 ? "" : ", ") + keyTexts[i] + valueText;
  }
  if (failure !== undefined) throw failure.error;
  return fields !== undefined ? pythonJsonDumps(fields) : text + "}";
}

/**
 * Restores a meta file's text from its compact record.
 *
 * @param bytes The meta section.
 * @param context The dump's file name and shape, as given to the encoder.
 * @returns The original text.
 * @throws {KvbitsDataError} When the record is corrupt (stream `ctx meta`, with the
 * bit offset): truncated, an unknown mode, tag or key index, invalid UTF-8 or JSON,
 * a predicted value without a prediction, or bytes left over.
 *
 * @example A meta in another style is kept verbatim
 * ```ts
 * import { decodeCompactMeta, encodeCompactMeta } from "./compact_meta.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const text = '{\n  "layer_id": 1\n}\n';
 * const context = { metaName: "meta_x", tokens: 1, heads: 1, headDim: 1 };
 * const bytes = encodeCompactMeta(text, context);
 * assertEquals(bytes[0], 0);
 * assertEquals(decodeCompactMeta(bytes, context), text);
 * ```
 */
export function decodeCompactMeta(
  bytes: Uint8Array,
  context: MetaContext,
): string {
  return compactMetaText(readCompactMeta(bytes), context);
}
