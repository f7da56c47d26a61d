/**
 * A dump's K and V coded against a predictor dump, with fingerprints of the
 * predictor's tensors: what a block coder (the pack's) stores for a dump coded
 * with `--predictor-dir`, and the check that refuses a predictor that is not
 * bit-identical to the encoder's before anything is decoded.
 *
 * Read me first:
 * - Layout: the first 16 bytes of the SHA-256 of the predictor's K bytes (its
 *   FP16 words, little-endian, as in the `.bin` file), the same for V, the
 *   varint length of K's payload, K's payload, then V's payload to the end
 *   (`predicted_tensor_coder.ts`). 128 bits of SHA-256 tell a changed predictor
 *   with certainty for any practical purpose (a collision by accident has
 *   probability 2^-128) at half the bytes of the whole digest: 32 bytes a dump,
 *   0.7% of kv-real's pack against 1.4%.
 * - The decoder compares both fingerprints before decoding: a predictor with
 *   one bit changed is refused with {@link KvbitsPredictorMismatchError}, which
 *   says which tensor differs. The tensors of a block decode in order, so the
 *   caller must treat the block's later dumps as lost too.
 *
 * @module
 */

import { ByteReader, ByteWriter, concatBytes, sameBytes } from "./byte_io.ts";
import type { TensorShape } from "./ctx_codec.ts";
import { KvbitsDataError } from "./errors.ts";
import {
  PredictedTensorDecoder,
  PredictedTensorEncoder,
} from "./predicted_tensor_coder.ts";
import { Sha256 } from "./sha256.ts";

/** Bytes of a tensor's fingerprint: the first 16 bytes of its SHA-256. */
export const PREDICTOR_FINGERPRINT_BYTES = 16;

const STREAM = "predicted dump";

/** A predictor dump's tensors. */
export interface PredictorTensors {
  /** K's FP16 words. */
  readonly k: Uint16Array;
  /** V's FP16 words. */
  readonly v: Uint16Array;
  /**
   * {@link predictorFingerprint} of `k`, when the caller has it already (a
   * reader that hashed the file as it read it, with a native SHA-256): it is
   * then not computed again. It must be that of exactly these words.
   */
  readonly kFingerprint?: Uint8Array;
  /** The same for `v`. */
  readonly vFingerprint?: Uint8Array;
}

/**
 * The fingerprint of a predictor tensor: the first 16 bytes of the SHA-256 of
 * its bytes as stored (little-endian FP16).
 *
 * @param words The tensor.
 * @returns 16 bytes.
 *
 * @example
 * ```ts
 * import { predictorFingerprint } from "./predicted_dump_coder.ts";
 * import { assertEquals, assertNotEquals } from "@std/assert";
 *
 * const words = Uint16Array.from([0x3c00, 0x4000]);
 * assertEquals(predictorFingerprint(words).length, 16);
 * assertNotEquals(predictorFingerprint(words), predictorFingerprint(Uint16Array.from([0x3c00, 0x4001])));
 * ```
 */
export function predictorFingerprint(words: Uint16Array): Uint8Array {
  const hash = new Sha256();
  const bytes = new Uint8Array(
    words.buffer,
    words.byteOffset,
    words.byteLength,
  );
  // The words in memory are the file's bytes on a little-endian machine; on a
  // big-endian one, hash the little-endian bytes explicitly.
  if (new Uint8Array(Uint16Array.of(1).buffer)[0] === 1) hash.update(bytes);
  else {
    const swapped = new Uint8Array(words.byteLength);
    for (let i = 0; i < words.length; i++) {
      swapped[2 * i] = words[i] & 0xff;
      swapped[2 * i + 1] = words[i] >>> 8;
    }
    hash.update(swapped);
  }
  return hash.digest().subarray(0, PREDICTOR_FINGERPRINT_BYTES);
}

/**
 * A predictor that is not the one the encoder used: decoding it would give
 * wrong words, so nothing is decoded.
 *
 * @example
 * ```ts
 * import { KvbitsPredictorMismatchError } from "./predicted_dump_coder.ts";
 * import { KvbitsDataError } from "./errors.ts";
 * import { assertEquals, assertInstanceOf } from "@std/assert";
 *
 * const error = new KvbitsPredictorMismatchError("v");
 * assertInstanceOf(error, KvbitsDataError);
 * assertEquals(error.tensor, "v");
 * ```
 */
export class KvbitsPredictorMismatchError extends KvbitsDataError {
  /** The tensor whose predictor differs. */
  readonly tensor: "k" | "v";

  /**
   * Creates the error for one tensor.
   *
   * @param tensor The tensor whose predictor differs.
   */
  constructor(tensor: "k" | "v") {
    super(
      `the ${tensor.toUpperCase()} predictor is not the one this dump was coded with (its SHA-256 differs): regenerate it exactly (same weights, tokens, chunking, software and kernels)`,
      { stream: STREAM },
    );
    this.name = "KvbitsPredictorMismatchError";
    this.tensor = tensor;
  }
}

/**
 * Codes the dumps of a block against their predictors, in order (one encoder
 * per block).
 *
 * @example A changed predictor is refused
 * ```ts
 * import { KvbitsPredictorMismatchError, PredictedDumpDecoder, PredictedDumpEncoder } from "./predicted_dump_coder.ts";
 * import { assertEquals, assertThrows } from "@std/assert";
 *
 * const shape = { tokens: 1, heads: 1, headDim: 4 };
 * const k = Uint16Array.from([0x3c00, 0x3c01, 0xbc00, 0x0001]);
 * const v = Uint16Array.from([0x4000, 0x4001, 0xc000, 0x8001]);
 * const predictor = { k: k.map((w) => w + 1), v: v.map((w) => w - 1) };
 * const bytes = new PredictedDumpEncoder().encodeDump(shape, k, v, "run\u00000", predictor);
 * assertEquals(new PredictedDumpDecoder().decodeDump(bytes, shape, "run\u00000", predictor), { k, v });
 * const changed = { k: predictor.k, v: predictor.v.map((w, i) => i === 2 ? w + 1 : w) };
 * assertThrows(() => new PredictedDumpDecoder().decodeDump(bytes, shape, "run\u00000", changed), KvbitsPredictorMismatchError, "V predictor");
 * ```
 */
export class PredictedDumpEncoder {
  readonly #tensors = new PredictedTensorEncoder();
  #k = new Uint8Array(0);

  /**
   * Codes one dump.
   *
   * @param shape The shape of K and V (and of the predictor's).
   * @param k K's FP16 words.
   * @param v V's FP16 words.
   * @param group The dump's group in the block (a run's layer).
   * @param predictor The predictor dump's tensors.
   * @returns Fresh bytes.
   * @throws {RangeError} When a tensor does not have the shape's length.
   */
  encodeDump(
    shape: TensorShape,
    k: Uint16Array,
    v: Uint16Array,
    group: string,
    predictor: PredictorTensors,
  ): Uint8Array {
    const codedK = this.#tensors.encodeView(k, predictor.k, shape, {
      group,
      tensor: "k",
    });
    const kLength = codedK.length;
    // K's payload kept while V is coded (the coder reuses its memory): one
    // copy of K here and one of each into the result, where joining copies
    // of whole payloads copied each twice and made two arrays more a dump.
    if (this.#k.length < kLength) this.#k = new Uint8Array(2 * kLength);
    this.#k.set(codedK);
    const codedV = this.#tensors.encodeView(v, predictor.v, shape, {
      group,
      tensor: "v",
    });
    const header = new ByteWriter(2 * PREDICTOR_FINGERPRINT_BYTES + 8);
    header.bytes(predictor.kFingerprint ?? predictorFingerprint(predictor.k));
    header.bytes(predictor.vFingerprint ?? predictorFingerprint(predictor.v));
    header.varint(kLength);
    return concatBytes([
      header.finish(),
      this.#k.subarray(0, kLength),
      codedV,
    ]);
  }
}

/**
 * Decodes what a {@link PredictedDumpEncoder} coded, dump by dump in the same
 * order, after checking each predictor's fingerprints.
 *
 * @example
 * ```ts
 * import { PredictedDumpDecoder } from "./predicted_dump_coder.ts";
 * import { KvbitsDataError } from "./errors.ts";
 * import { assertThrows } from "@std/assert";
 *
 * const predictor = { k: new Uint16Array(2), v: new Uint16Array(2) };
 * const shape = { tokens: 1, heads: 1, headDim: 2 };
 * assertThrows(() => new PredictedDumpDecoder().decodeDump(new Uint8Array(10), shape, "", predictor), KvbitsDataError);
 * ```
 */
export class PredictedDumpDecoder {
  readonly #tensors = new PredictedTensorDecoder();

  /**
   * Decodes one dump.
   *
   * @param bytes What {@link PredictedDumpEncoder.encodeDump} returned.
   * @param shape The dump's shape.
   * @param group The dump's group, as at encode time.
   * @param predictor The predictor dump's tensors.
   * @param output Gives the space to decode K (`kind` 0) or V (1) into, `count`
   * words; new arrays when omitted.
   * @returns K and V.
   * @throws {KvbitsPredictorMismatchError} When a predictor tensor's fingerprint
   * differs (before anything is decoded).
   * @throws {KvbitsDataError} When the bytes are corrupt.
   * @throws {RangeError} When a predictor tensor does not have the shape's length.
   */
  decodeDump(
    bytes: Uint8Array,
    shape: TensorShape,
    group: string,
    predictor: PredictorTensors,
    output?: (kind: number, count: number) => Uint16Array,
  ): { k: Uint16Array; v: Uint16Array } {
    const reader = new ByteReader(bytes, STREAM);
    const storedK = reader.bytes(PREDICTOR_FINGERPRINT_BYTES);
    const storedV = reader.bytes(PREDICTOR_FINGERPRINT_BYTES);
    const fingerprintK = predictor.kFingerprint ??
      predictorFingerprint(predictor.k);
    if (!sameBytes(storedK, fingerprintK)) {
      throw new KvbitsPredictorMismatchError("k");
    }
    const fingerprintV = predictor.vFingerprint ??
      predictorFingerprint(predictor.v);
    if (!sameBytes(storedV, fingerprintV)) {
      throw new KvbitsPredictorMismatchError("v");
    }
    const lengthK = reader.varintAtMost(reader.remaining, "K payload length");
    const codedK = reader.bytes(lengthK);
    const codedV = bytes.subarray(reader.offset);
    const k = this.#tensors.decode(
      codedK,
      predictor.k,
      shape,
      { group, tensor: "k" },
      output && ((count) => output(0, count)),
    );
    const v = this.#tensors.decode(
      codedV,
      predictor.v,
      shape,
      { group, tensor: "v" },
      output && ((count) => output(1, count)),
    );
    return { k, v };
  }
}
