/**
 * What a bitstream layout needs from an entropy coder of symbol streams.
 *
 * The Huffman and arithmetic layouts (FORMAT.md §3 and §4) share one shape: four
 * streams per dump (`k_hi6, k_lo10, v_hi6, v_lo10`), one file each, and a static
 * model per stream that is written as a JSON table, either per dump in the dump's
 * meta or once for the folder in a global codebook file. A {@link StreamCodec}
 * supplies the parts that differ: names, how a model is made from counts, how it
 * is written and read as a table, and how symbols are coded with it.
 *
 * @module
 */

import { HI6_ALPHABET_SIZE, LO10_ALPHABET_SIZE } from "../codec/fp16_planes.ts";

/** The four coded streams of a dump, in file and table order. */
export const STREAM_NAMES = ["k_hi6", "k_lo10", "v_hi6", "v_lo10"] as const;

/** Name of one of the four coded streams. */
export type StreamName = typeof STREAM_NAMES[number];

/** One value per stream. */
export type PerStream<T> = Record<StreamName, T>;

/** Where models come from: one codebook for the folder, or one per dump. */
export type CodebookMode = "global" | "per-dump";

/**
 * Alphabet size of a stream: 64 for the `hi6` streams, 1024 for `lo10`.
 *
 * @param stream The stream.
 * @returns 64 or 1024.
 *
 * @example
 * ```ts
 * import { alphabetSizeOf } from "./stream_codec.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals([alphabetSizeOf("k_hi6"), alphabetSizeOf("v_lo10")], [64, 1024]);
 * ```
 */
export function alphabetSizeOf(stream: StreamName): number {
  return stream.endsWith("hi6") ? HI6_ALPHABET_SIZE : LO10_ALPHABET_SIZE;
}

/**
 * An entropy coder of symbol streams with a static model per stream, and the names
 * its bitstream layout uses.
 *
 * @typeParam Model What the coder needs to code one stream (a canonical code, a
 * frequency table); it may cache derived tables, since one model codes many dumps.
 */
export interface StreamCodec<Model> {
  /** Value of `--codec`, e.g. `huffman`; also the prefix of analyze's files. */
  readonly name: string;
  /** Name for people, e.g. `Huffman`. */
  readonly title: string;
  /** Value of the meta `layout` key, e.g. `bitstream_huffman`. */
  readonly layout: string;
  /** Prefix of the per-dump meta file, e.g. `bitstream_` (`bitstream_meta_X.json`). */
  readonly metaPrefix: string;
  /** Extension of the stream files, e.g. `.huff`. */
  readonly streamExtension: string;
  /** Name of the folder's global codebook file. */
  readonly globalCodebookFile: string;
  /** Suffix of the table keys, e.g. `_code_lengths` (`k_hi6_code_lengths`). */
  readonly tableKeySuffix: string;
  /** Makes kvbits' model of a stream from its symbol counts. */
  modelFromCounts(counts: Float64Array, stream: StreamName): Model;
  /** The model as the JSON table of its layout. */
  tableOf(model: Model): number[];
  /**
   * Reads a model from its JSON table (already checked to be an array of
   * `alphabetSizeOf(stream)` non-negative integers); throws `KvbitsDataError` when
   * the table cannot be a model (e.g. lengths that break Kraft's inequality).
   */
  modelFromTable(table: readonly number[], stream: StreamName): Model;
  /** Encodes a stream; throws `RangeError` naming the symbol when one has no code. */
  encode(
    symbols: Uint8Array | Uint16Array,
    model: Model,
    stream: StreamName,
  ): Uint8Array;
  /**
   * Optional: the most symbols a stream of `byteLength` bytes can hold with this
   * model (`Infinity` when the model allows symbols of no bits). Decoding refuses
   * a larger count before allocating anything, so that a corrupt count in a meta
   * file cannot make kvbits allocate gigabytes; a codec without it is still safe,
   * but only stops at the end of the stream.
   */
  symbolCapacity?(byteLength: number, model: Model): number;
  /** Decodes `count` symbols into `into`; throws `KvbitsDataError` on corrupt data. */
  decode(
    bytes: Uint8Array,
    count: number,
    model: Model,
    into: Uint8Array | Uint16Array,
    stream: StreamName,
  ): void;
  /**
   * Optional: a copy of the codec for one thread that reuses its working memory
   * from one dump to the next (a job's lane), so that coding many small dumps
   * allocates less per dump. What its `modelFromCounts` returns is valid
   * until the same stream's next call; what it codes stays valid.
   */
  reusingMemory?(): StreamCodec<Model>;
  /**
   * Optional fused path: codes both planes of FP16 words in one pass over them,
   * the `hi6` stream with `hiModel` and the `lo10` stream with `loModel`. The
   * bytes must equal those of `encode` on the split planes.
   */
  encodeFp16?(
    words: Uint16Array,
    hiModel: Model,
    loModel: Model,
    hiStream: StreamName,
    loStream: StreamName,
  ): [Uint8Array, Uint8Array];
  /**
   * Optional fused path: decodes a `hi6` and a `lo10` stream of `count` symbols
   * each straight into FP16 words; same checks and errors as `decode`.
   */
  decodeFp16?(
    hiBytes: Uint8Array,
    loBytes: Uint8Array,
    count: number,
    hiModel: Model,
    loModel: Model,
    options: FusedDecodeOptions,
  ): void;
}

/** Where {@link StreamCodec.decodeFp16} writes, and the stream names for errors. */
export interface FusedDecodeOptions {
  /** The FP16 words, at least `count`. */
  readonly into: Uint16Array;
  /** Name of the `hi6` stream, e.g. `k_hi6`. */
  readonly hiStream: StreamName;
  /** Name of the `lo10` stream, e.g. `k_lo10`. */
  readonly loStream: StreamName;
}

/**
 * A typed array's values as a plain array, the form of a JSON table. Why not
 * `Array.from`: it is an order of magnitude slower on typed arrays, and per-dump
 * codebooks turn four tables into arrays for every dump.
 *
 * @param values The values.
 * @returns A new array holding them.
 *
 * @example
 * ```ts
 * import { plainArrayOf } from "./stream_codec.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(plainArrayOf(new Uint8Array([3, 0, 1])), [3, 0, 1]);
 * ```
 */
export function plainArrayOf(values: ArrayLike<number>): number[] {
  const length = values.length;
  const array = new Array<number>(length);
  for (let i = 0; i < length; i++) array[i] = values[i];
  return array;
}
