/**
 * The coding core of one dump: K and V words in, the four coded streams out, and
 * back. This is the codec work of a dump and nothing else (no checksums, no JSON,
 * no files): `encodeDump` and `decodeDump` wrap it with the meta and the integrity
 * record, and `deno task bench` times it alone.
 *
 * A {@link StreamCodec} that has the fused FP16 entry points (`encodeFp16`,
 * `decodeFp16`) codes both planes of a tensor in one pass over its words; any
 * other codec gets its planes split first and coded one stream at a time.
 *
 * @module
 */

import { joinFp16Planes, splitFp16Planes } from "../codec/fp16_planes.ts";
import { KvbitsDataError } from "../codec/errors.ts";
import { countFp16Symbols } from "../codec/histogram.ts";
import type { DumpWords } from "./layout.ts";
import {
  type PerStream,
  STREAM_NAMES,
  type StreamCodec,
  type StreamName,
} from "./stream_codec.ts";

/** The coded streams of one dump, and the tables of its models when they are its own. */
export interface DumpStreams {
  /** The coded bytes of each stream. */
  readonly streams: PerStream<Uint8Array>;
  /** Per-dump models only: each stream's table, as the meta records it. */
  readonly tables?: PerStream<number[]>;
}

/**
 * Codes both tensors of a dump: with `models` (a folder's global codebook) when
 * given, else with models made from the dump's own symbol counts, whose tables
 * are returned.
 *
 * @param words K and V, as many words each.
 * @param codec The stream codec.
 * @param models The global codebook's models; per-dump models when omitted.
 * @returns The four streams, and the tables of per-dump models.
 * @throws {RangeError} When K and V differ in length, or a symbol has no code in
 * `models`.
 *
 * @example Per-dump models, then the same dump with those models given
 * ```ts
 * import { encodeDumpStreams } from "./dump_streams.ts";
 * import { huffmanStreamCodec } from "./huffman_stream_codec.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const words = new Uint16Array([0x3c00, 0x3c01, 0xbc00, 0x3c00]);
 * const own = encodeDumpStreams({ k: words, v: words }, huffmanStreamCodec);
 * assertEquals(own.tables?.k_hi6[0x0f], 1);
 * assertEquals(own.streams.k_hi6, own.streams.v_hi6);
 * ```
 */
export function encodeDumpStreams<Model>(
  words: DumpWords,
  codec: StreamCodec<Model>,
  models?: PerStream<Model>,
): DumpStreams {
  const { k, v } = words;
  if (k.length !== v.length) {
    throw new RangeError(
      `Cannot encode a dump: K has ${k.length} words and V ${v.length}`,
    );
  }
  let tables: PerStream<number[]> | undefined;
  let own = models;
  if (own === undefined) {
    const kCounts = countFp16Symbols(k);
    const vCounts = countFp16Symbols(v);
    own = {
      k_hi6: codec.modelFromCounts(kCounts.hi6, "k_hi6"),
      k_lo10: codec.modelFromCounts(kCounts.lo10, "k_lo10"),
      v_hi6: codec.modelFromCounts(vCounts.hi6, "v_hi6"),
      v_lo10: codec.modelFromCounts(vCounts.lo10, "v_lo10"),
    };
    tables = {
      k_hi6: codec.tableOf(own.k_hi6),
      k_lo10: codec.tableOf(own.k_lo10),
      v_hi6: codec.tableOf(own.v_hi6),
      v_lo10: codec.tableOf(own.v_lo10),
    };
  }
  const [kHi, kLo] = encodeTensor(k, codec, own, "k_hi6", "k_lo10");
  const [vHi, vLo] = encodeTensor(v, codec, own, "v_hi6", "v_lo10");
  return {
    streams: { k_hi6: kHi, k_lo10: kLo, v_hi6: vHi, v_lo10: vLo },
    tables,
  };
}

function encodeTensor<Model>(
  words: Uint16Array,
  codec: StreamCodec<Model>,
  models: PerStream<Model>,
  hi: StreamName,
  lo: StreamName,
): [Uint8Array, Uint8Array] {
  if (codec.encodeFp16) {
    return codec.encodeFp16(words, models[hi], models[lo], hi, lo);
  }
  const planes = splitFp16Planes(words);
  return [
    codec.encode(planes.hi6, models[hi], hi),
    codec.encode(planes.lo10, models[lo], lo),
  ];
}

/**
 * The models of a dump that carries its own tables (a per-dump codebook).
 *
 * @param codec The stream codec.
 * @param tables The four tables, as the meta holds them.
 * @returns One model per stream.
 * @throws {KvbitsDataError} When a table cannot be a model.
 *
 * @example
 * ```ts
 * import { dumpModelsFromTables, encodeDumpStreams } from "./dump_streams.ts";
 * import { arithStreamCodec } from "./arith_stream_codec.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const words = new Uint16Array([0x3c00, 0x3c01]);
 * const { tables } = encodeDumpStreams({ k: words, v: words }, arithStreamCodec);
 * assertEquals(dumpModelsFromTables(arithStreamCodec, tables!).k_lo10.total, 2);
 * ```
 */
export function dumpModelsFromTables<Model>(
  codec: StreamCodec<Model>,
  tables: PerStream<readonly number[]>,
): PerStream<Model> {
  return {
    k_hi6: codec.modelFromTable(tables.k_hi6, "k_hi6"),
    k_lo10: codec.modelFromTable(tables.k_lo10, "k_lo10"),
    v_hi6: codec.modelFromTable(tables.v_hi6, "v_hi6"),
    v_lo10: codec.modelFromTable(tables.v_lo10, "v_lo10"),
  };
}

/**
 * Decodes the four streams of a dump back into K and V.
 *
 * @param streams The coded bytes of each stream.
 * @param count Words in each tensor.
 * @param codec The stream codec.
 * @param models The model of each stream.
 * @param into Where to write K and V (each at least `count` words); new arrays
 * when omitted.
 * @returns K and V (`into` when given, cut to `count` words).
 * @throws {KvbitsDataError} When a stream is corrupt, naming it, or too short
 * for `count` symbols (checked before anything is allocated, when the codec
 * has a `symbolCapacity`).
 *
 * @example A round trip
 * ```ts
 * import { decodeDumpStreams, dumpModelsFromTables, encodeDumpStreams } from "./dump_streams.ts";
 * import { huffmanStreamCodec } from "./huffman_stream_codec.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const k = new Uint16Array([0x3c00, 0x3c01, 0xbc00, 0x0001]);
 * const v = new Uint16Array([0x7e00, 0x7e00, 0x0000, 0x8000]);
 * const { streams, tables } = encodeDumpStreams({ k, v }, huffmanStreamCodec);
 * const models = dumpModelsFromTables(huffmanStreamCodec, tables!);
 * assertEquals(decodeDumpStreams(streams, 4, huffmanStreamCodec, models), { k, v });
 * ```
 */
export function decodeDumpStreams<Model>(
  streams: PerStream<Uint8Array>,
  count: number,
  codec: StreamCodec<Model>,
  models: PerStream<Model>,
  into?: DumpWords,
): DumpWords {
  // A corrupt count must not make us allocate gigabytes: refuse it when a stream
  // cannot hold that many symbols.
  if (codec.symbolCapacity) {
    for (const stream of STREAM_NAMES) {
      const capacity = codec.symbolCapacity(
        streams[stream].length,
        models[stream],
      );
      if (count > capacity) {
        throw new KvbitsDataError(
          `${
            streams[stream].length
          } bytes cannot hold the ${count} symbols the meta announces (at most ${capacity})`,
          { stream },
        );
      }
    }
  }
  return {
    k: decodeTensor(streams, count, codec, models, "k_hi6", "k_lo10", into?.k),
    v: decodeTensor(streams, count, codec, models, "v_hi6", "v_lo10", into?.v),
  };
}

function decodeTensor<Model>(
  streams: PerStream<Uint8Array>,
  count: number,
  codec: StreamCodec<Model>,
  models: PerStream<Model>,
  hi: StreamName,
  lo: StreamName,
  into: Uint16Array | undefined,
): Uint16Array {
  if (codec.decodeFp16) {
    const words = into ? into.subarray(0, count) : new Uint16Array(count);
    codec.decodeFp16(streams[hi], streams[lo], count, models[hi], models[lo], {
      into: words,
      hiStream: hi,
      loStream: lo,
    });
    return words;
  }
  const hiPlane = new Uint8Array(count);
  const loPlane = new Uint16Array(count);
  codec.decode(streams[hi], count, models[hi], hiPlane, hi);
  codec.decode(streams[lo], count, models[lo], loPlane, lo);
  const joined = joinFp16Planes(hiPlane, loPlane);
  if (!into) return joined;
  const words = into.subarray(0, count);
  words.set(joined);
  return words;
}
