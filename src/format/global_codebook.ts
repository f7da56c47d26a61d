/**
 * The global codebook file of a bitstream folder: one table per stream, built from
 * the counts of all selected dumps (FORMAT.md §3 and §4).
 *
 * @module
 */

import {
  parseJsonObject,
  requireCountArray,
  requireString,
} from "./json_fields.ts";
import { KvbitsFormatError } from "./format_error.ts";
import {
  alphabetSizeOf,
  type PerStream,
  STREAM_NAMES,
  type StreamCodec,
} from "./stream_codec.ts";

/**
 * The compact JSON text of a global codebook:
 * `{"codebook":"global","k_hi6<suffix>":[...],...}`.
 *
 * @param codec The stream codec (gives the table keys).
 * @param models One model per stream.
 * @returns The JSON text.
 *
 * @example
 * ```ts
 * import { globalCodebookText, parseGlobalCodebook } from "./global_codebook.ts";
 * import { huffmanStreamCodec } from "./huffman_stream_codec.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const counts = (n: number) => Float64Array.from({ length: n }, (_, i) => i % 3);
 * const models = {
 *   k_hi6: huffmanStreamCodec.modelFromCounts(counts(64), "k_hi6"),
 *   k_lo10: huffmanStreamCodec.modelFromCounts(counts(1024), "k_lo10"),
 *   v_hi6: huffmanStreamCodec.modelFromCounts(counts(64), "v_hi6"),
 *   v_lo10: huffmanStreamCodec.modelFromCounts(counts(1024), "v_lo10"),
 * };
 * const text = globalCodebookText(huffmanStreamCodec, models);
 * const back = parseGlobalCodebook(text, huffmanStreamCodec);
 * assertEquals(huffmanStreamCodec.tableOf(back.v_lo10), huffmanStreamCodec.tableOf(models.v_lo10));
 * ```
 */
export function globalCodebookText<Model>(
  codec: StreamCodec<Model>,
  models: PerStream<Model>,
): string {
  const fields: Record<string, unknown> = { codebook: "global" };
  for (const stream of STREAM_NAMES) {
    fields[`${stream}${codec.tableKeySuffix}`] = codec.tableOf(models[stream]);
  }
  return JSON.stringify(fields);
}

/**
 * Reads a global codebook file (kvbits' or the reference tools') into models.
 *
 * @param text The JSON text.
 * @param codec The stream codec of the folder's layout.
 * @returns One model per stream.
 * @throws {KvbitsFormatError} When the JSON is invalid or a table is missing or
 * mistyped.
 * @throws {KvbitsDataError} When a table cannot be a model of the codec.
 *
 * @example
 * ```ts
 * import { parseGlobalCodebook } from "./global_codebook.ts";
 * import { huffmanStreamCodec } from "./huffman_stream_codec.ts";
 * import { assertThrows } from "@std/assert";
 *
 * assertThrows(() => parseGlobalCodebook('{"codebook": "global"}', huffmanStreamCodec), Error, "k_hi6_code_lengths");
 * ```
 */
export function parseGlobalCodebook<Model>(
  text: string,
  codec: StreamCodec<Model>,
): PerStream<Model> {
  const fields = parseJsonObject(text, "global codebook");
  if (fields.codebook !== undefined) {
    const mode = requireString(fields, "codebook");
    if (mode !== "global") {
      throw new KvbitsFormatError(
        `key "codebook" is ${JSON.stringify(mode)}, expected "global"`,
        "codebook",
      );
    }
  }
  const models = {} as PerStream<Model>;
  for (const stream of STREAM_NAMES) {
    const table = requireCountArray(
      fields,
      `${stream}${codec.tableKeySuffix}`,
      alphabetSizeOf(stream),
    );
    models[stream] = codec.modelFromTable(table, stream);
  }
  return models;
}
