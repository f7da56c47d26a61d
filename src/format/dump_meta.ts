/**
 * The meta JSON of one MNN KV dump (FORMAT.md §1), parsed and checked.
 *
 * @module
 */

import { KvbitsFormatError } from "./format_error.ts";
import {
  parseJsonObject,
  requireInteger,
  requireRelativePath,
  requireString,
} from "./json_fields.ts";

/**
 * Most elements a tensor may have: 2^30, 2 GiB of FP16 per tensor. Decoding needs
 * about 10 bytes of memory per element (both tensors and their planes), so a
 * meta announcing more is refused when read, before anything is allocated:
 * without a limit a corrupt shape could make a decoder whose streams do not
 * bound the count (a one-symbol arithmetic model codes any count in a few bits)
 * exhaust the memory. A long-context layer of 128k tokens, 8 KV heads of 128
 * has 2^27 elements.
 *
 * @example A tensor count a decoder refuses before allocating
 * ```ts
 * import { huffmanDecodeTensor, huffmanEncodeTensor, MAX_TENSOR_ELEMENTS } from "@kvbits/kvbits";
 * import { assertThrows } from "@std/assert";
 *
 * const coded = huffmanEncodeTensor(Uint16Array.from([1, 2]));
 * assertThrows(() => huffmanDecodeTensor({ ...coded, count: MAX_TENSOR_ELEMENTS + 1 }), Error, "not a tensor size");
 * ```
 */
export const MAX_TENSOR_ELEMENTS = 2 ** 30;

/** The meta of one dump: the keys kvbits relies on, and every key as written. */
export interface DumpMeta {
  /** Every key of the meta file, in file order, with its value. */
  readonly fields: Readonly<Record<string, unknown>>;
  /** `layer_id`. */
  readonly layerId: number;
  /** `seq_len`: tokens in the dump. */
  readonly seqLen: number;
  /** `kv_heads`. */
  readonly kvHeads: number;
  /** `head_dim`. */
  readonly headDim: number;
  /** `bytes_per_elem`: 2 for FP16; other values are skipped by the encoder. */
  readonly bytesPerElem: number;
  /** `stage`, "prefill" or "decode" in dumper output. */
  readonly stage: string;
  /** `run_id`, or "" when the dump has none. */
  readonly runId: string;
  /** `k_file`, relative to the meta file's folder. */
  readonly kFile: string;
  /** `v_file`, relative to the meta file's folder. */
  readonly vFile: string;
}

/** A dump's input meta as decoding restores it: parsed, and its exact text. */
export interface RestoredMeta {
  /** The parsed meta. */
  readonly input: DumpMeta;
  /** The exact text of the meta file to restore. */
  readonly inputText: string;
}

/**
 * Parses the text of a dump's meta file and checks the keys kvbits needs.
 *
 * Required: `layer_id`, `seq_len`, `kv_heads`, `head_dim`, `bytes_per_elem`
 * (non-negative integers; heads and head size above zero), `stage`, `k_file`,
 * `v_file` (strings). `run_id` is optional. Other keys are kept as they are. The
 * shape may give at most {@link MAX_TENSOR_ELEMENTS} elements per tensor.
 *
 * @param text The JSON text of the meta file.
 * @returns The parsed meta.
 * @throws {KvbitsFormatError} When the text is not a JSON object, a required key
 * is missing or of the wrong type (the message names the key), or the shape is
 * too large.
 *
 * @example
 * ```ts
 * import { parseDumpMeta } from "./dump_meta.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const meta = parseDumpMeta(JSON.stringify({
 *   layer_id: 3, seq_len: 2, kv_heads: 2, head_dim: 64, bytes_per_elem: 2,
 *   stage: "prefill", run_id: "r", k_file: "k.bin", v_file: "v.bin",
 * }));
 * assertEquals([meta.layerId, meta.seqLen, meta.kFile], [3, 2, "k.bin"]);
 * ```
 */
export function parseDumpMeta(text: string): DumpMeta {
  const fields = parseJsonObject(text, "meta");
  const seqLen = requireInteger(fields, "seq_len", 0);
  const kvHeads = requireInteger(fields, "kv_heads", 1);
  const headDim = requireInteger(fields, "head_dim", 1);
  const elements = seqLen * kvHeads * headDim;
  if (elements > MAX_TENSOR_ELEMENTS) {
    throw new KvbitsFormatError(
      `seq_len * kv_heads * head_dim is ${elements}, above kvbits' limit of 2^30 elements per tensor`,
      "seq_len",
    );
  }
  return {
    fields,
    layerId: requireInteger(fields, "layer_id", 0),
    seqLen,
    kvHeads,
    headDim,
    bytesPerElem: requireInteger(fields, "bytes_per_elem", 1),
    stage: requireString(fields, "stage"),
    runId: fields.run_id === undefined ? "" : requireString(fields, "run_id"),
    kFile: requireRelativePath(fields, "k_file"),
    vFile: requireRelativePath(fields, "v_file"),
  };
}

/**
 * Number of elements of each of the dump's K and V tensors:
 * `seq_len * kv_heads * head_dim`.
 *
 * @param meta The dump's meta.
 * @returns The element count of K (equal to that of V).
 *
 * @example
 * ```ts
 * import { dumpElementCount, parseDumpMeta } from "./dump_meta.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const meta = parseDumpMeta('{"layer_id": 0, "seq_len": 3, "kv_heads": 2, "head_dim": 4, "bytes_per_elem": 2, "stage": "prefill", "k_file": "k", "v_file": "v"}');
 * assertEquals(dumpElementCount(meta), 24);
 * ```
 */
export function dumpElementCount(meta: DumpMeta): number {
  return meta.seqLen * meta.kvHeads * meta.headDim;
}
