/**
 * One FP16 tensor through each codec, in one call each way: the library's
 * tensor-level API (`mod.ts`). The static-model coders (Huffman, arithmetic)
 * return both planes' streams with the tables a decoder needs; `ctx` returns one
 * payload for a tensor of a known shape.
 *
 * @module
 */

import {
  ctxDecode,
  ctxEncode,
  type TensorShape as CtxShape,
} from "../codec/ctx_codec.ts";
import { KvbitsDataError } from "../codec/errors.ts";
import { countFp16Symbols } from "../codec/histogram.ts";
import { arithStreamCodec } from "./arith_stream_codec.ts";
import { huffmanStreamCodec } from "./huffman_stream_codec.ts";
import type { StreamFilesCodec } from "./stream_files_layout.ts";
import { MAX_TENSOR_ELEMENTS } from "./dump_meta.ts";

/** The shape of a tensor: token rows, KV heads per row, channels per head. */
export type TensorShape = CtxShape;

/** A tensor coded by a static-model coder: two streams and their tables. */
export interface CodedTensor {
  /** Elements of the tensor. */
  readonly count: number;
  /** The coded `hi6` plane (sign and exponent). */
  readonly hi6: Uint8Array;
  /** The coded `lo10` plane (mantissa). */
  readonly lo10: Uint8Array;
  /** The `hi6` model as its table (64 code lengths, or 64 frequencies). */
  readonly hi6Table: readonly number[];
  /** The `lo10` model as its table (1024 entries). */
  readonly lo10Table: readonly number[];
}

function encodeWith(
  codec: StreamFilesCodec<unknown>,
  words: Uint16Array,
): CodedTensor {
  if (!(words instanceof Uint16Array)) {
    throw new TypeError("Cannot encode a tensor: words must be a Uint16Array");
  }
  const counts = countFp16Symbols(words);
  const hiModel = codec.modelFromCounts(counts.hi6, "k_hi6");
  const loModel = codec.modelFromCounts(counts.lo10, "k_lo10");
  const [hi6, lo10] = codec.encodeFp16!(
    words,
    hiModel,
    loModel,
    "k_hi6",
    "k_lo10",
  );
  return {
    count: words.length,
    hi6,
    lo10,
    hi6Table: codec.tableOf(hiModel),
    lo10Table: codec.tableOf(loModel),
  };
}

function checkTable(table: unknown, size: number, name: string): number[] {
  if (
    !Array.isArray(table) || table.length !== size ||
    !table.every((value) => Number.isInteger(value) && value >= 0)
  ) {
    throw new KvbitsDataError(
      `the ${name} table must be ${size} non-negative integers`,
      { stream: name },
    );
  }
  return table;
}

function decodeWith(
  codec: StreamFilesCodec<unknown>,
  coded: CodedTensor,
): Uint16Array {
  const { count } = coded;
  if (!Number.isInteger(count) || count < 0 || count > MAX_TENSOR_ELEMENTS) {
    throw new KvbitsDataError(
      `count ${count} is not a tensor size (0 to ${MAX_TENSOR_ELEMENTS})`,
    );
  }
  const hiModel = codec.modelFromTable(
    checkTable(coded.hi6Table, 64, "hi6"),
    "k_hi6",
  );
  const loModel = codec.modelFromTable(
    checkTable(coded.lo10Table, 1024, "lo10"),
    "k_lo10",
  );
  // A corrupt count must not make us allocate gigabytes.
  for (
    const [bytes, model, name] of [
      [coded.hi6, hiModel, "hi6"],
      [coded.lo10, loModel, "lo10"],
    ] as const
  ) {
    const capacity = codec.symbolCapacity?.(bytes.length, model) ?? Infinity;
    if (count > capacity) {
      throw new KvbitsDataError(
        `${bytes.length} bytes cannot hold ${count} symbols (at most ${capacity})`,
        { stream: name },
      );
    }
  }
  const into = new Uint16Array(count);
  codec.decodeFp16!(coded.hi6, coded.lo10, count, hiModel, loModel, {
    into,
    hiStream: "k_hi6",
    loStream: "k_lo10",
  });
  return into;
}

/**
 * Codes an FP16 tensor with canonical Huffman codes made from its own counts.
 *
 * @param words The tensor as FP16 words.
 * @returns Both planes' streams and code-length tables.
 * @throws {TypeError} When `words` is not a `Uint16Array`.
 *
 * @example
 * ```ts
 * import { huffmanDecodeTensor, huffmanEncodeTensor } from "@kvbits/kvbits";
 * import { assertEquals } from "@std/assert";
 *
 * const words = Uint16Array.from([0x3c00, 0x3c01, 0xbc00, 0x0001, 0x7e00, 0x3c00]);
 * assertEquals(huffmanDecodeTensor(huffmanEncodeTensor(words)), words);
 * ```
 */
export function huffmanEncodeTensor(words: Uint16Array): CodedTensor {
  return encodeWith(huffmanStreamCodec as StreamFilesCodec<unknown>, words);
}

/**
 * Decodes a tensor coded by {@link huffmanEncodeTensor}.
 *
 * @param coded The streams and tables.
 * @returns The FP16 words.
 * @throws {KvbitsDataError} When a table is not a code, a stream is corrupt, or
 * a stream is too short for `count` (checked before allocating).
 *
 * @example A corrupt table is refused
 * ```ts
 * import { huffmanDecodeTensor, huffmanEncodeTensor, KvbitsDataError } from "@kvbits/kvbits";
 * import { assertThrows } from "@std/assert";
 *
 * const coded = huffmanEncodeTensor(Uint16Array.from([1, 2, 3]));
 * assertThrows(() => huffmanDecodeTensor({ ...coded, hi6Table: [1] }), KvbitsDataError);
 * ```
 */
export function huffmanDecodeTensor(coded: CodedTensor): Uint16Array {
  return decodeWith(huffmanStreamCodec as StreamFilesCodec<unknown>, coded);
}

/**
 * Codes an FP16 tensor with 32-bit arithmetic coding and frequency tables made
 * from its own counts.
 *
 * @param words The tensor as FP16 words.
 * @returns Both planes' streams and frequency tables.
 * @throws {TypeError} When `words` is not a `Uint16Array`.
 *
 * @example
 * ```ts
 * import { arithDecodeTensor, arithEncodeTensor } from "@kvbits/kvbits";
 * import { assertEquals } from "@std/assert";
 *
 * const words = Uint16Array.from([0x3c00, 0x3c01, 0xbc00, 0x0001, 0x7e00, 0x3c00]);
 * assertEquals(arithDecodeTensor(arithEncodeTensor(words)), words);
 * ```
 */
export function arithEncodeTensor(words: Uint16Array): CodedTensor {
  return encodeWith(arithStreamCodec as StreamFilesCodec<unknown>, words);
}

/**
 * Decodes a tensor coded by {@link arithEncodeTensor}.
 *
 * @param coded The streams and tables.
 * @returns The FP16 words.
 * @throws {KvbitsDataError} When a table is not a model, or a stream is corrupt.
 *
 * @example
 * ```ts
 * import { arithDecodeTensor, arithEncodeTensor } from "@kvbits/kvbits";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(arithDecodeTensor(arithEncodeTensor(new Uint16Array(0))), new Uint16Array(0));
 * ```
 */
export function arithDecodeTensor(coded: CodedTensor): Uint16Array {
  return decodeWith(arithStreamCodec as StreamFilesCodec<unknown>, coded);
}

/**
 * Codes an FP16 tensor with the `ctx` context-model coder (adaptive models, row
 * repeats and rotations found in the tensor itself).
 *
 * @param words The tensor as FP16 words, `tokens * heads * headDim` of them.
 * @param shape Its shape.
 * @returns The payload.
 * @throws {RangeError} When `words` does not have the shape's element count.
 *
 * @example
 * ```ts
 * import { ctxDecodeTensor, ctxEncodeTensor } from "@kvbits/kvbits";
 * import { assertEquals } from "@std/assert";
 *
 * const shape = { tokens: 2, heads: 1, headDim: 4 };
 * const words = Uint16Array.from([0x3c00, 0x3c01, 0xbc00, 1, 0x3c00, 0x3c01, 0xbc00, 1]);
 * assertEquals(ctxDecodeTensor(ctxEncodeTensor(words, shape), shape), words);
 * ```
 */
export function ctxEncodeTensor(
  words: Uint16Array,
  shape: TensorShape,
): Uint8Array {
  return ctxEncode([words], shape);
}

/**
 * Decodes a payload of {@link ctxEncodeTensor}.
 *
 * @param payload The payload.
 * @param shape The tensor's shape, as given to the encoder.
 * @returns The FP16 words.
 * @throws {KvbitsDataError} When the payload is corrupt or truncated.
 *
 * @example
 * ```ts
 * import { ctxDecodeTensor, KvbitsDataError } from "@kvbits/kvbits";
 * import { assertThrows } from "@std/assert";
 *
 * assertThrows(() => ctxDecodeTensor(new Uint8Array(3), { tokens: 1, heads: 1, headDim: 8 }), KvbitsDataError);
 * ```
 */
export function ctxDecodeTensor(
  payload: Uint8Array,
  shape: TensorShape,
): Uint16Array {
  return ctxDecode(payload, 1, shape)[0];
}
