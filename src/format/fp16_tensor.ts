/**
 * FP16 tensor files as words: raw little-endian IEEE binary16 (FORMAT.md §1).
 *
 * @module
 */

import { KvbitsFormatError } from "./format_error.ts";

/** True when this machine stores a `Uint16Array` little-endian, as the files do. */
const HOST_IS_LITTLE_ENDIAN =
  new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * The FP16 words of a tensor file's bytes, without copying when the bytes are
 * aligned and the host is little-endian.
 *
 * @param bytes The file's content.
 * @param expectedElements Elements the meta shape promises.
 * @returns One word per element.
 * @throws {KvbitsFormatError} When the byte count is odd or does not match the
 * shape.
 *
 * @example
 * ```ts
 * import { fp16WordsOfBytes } from "./fp16_tensor.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals([...fp16WordsOfBytes(new Uint8Array([0x00, 0x3c, 0x01, 0x80]), 2)], [0x3c00, 0x8001]);
 * ```
 */
export function fp16WordsOfBytes(
  bytes: Uint8Array,
  expectedElements: number,
): Uint16Array {
  const problem = fp16SizeProblem(bytes.length, expectedElements);
  if (problem !== undefined) throw new KvbitsFormatError(problem);
  const count = bytes.length >>> 1;
  if (HOST_IS_LITTLE_ENDIAN && bytes.byteOffset % 2 === 0) {
    return new Uint16Array(bytes.buffer, bytes.byteOffset, count);
  }
  const words = new Uint16Array(count);
  for (let i = 0; i < count; i++) {
    words[i] = bytes[2 * i] | (bytes[2 * i + 1] << 8);
  }
  return words;
}

/**
 * What is wrong with the size of an FP16 tensor file, if anything: checked from
 * the file's size alone, before it is read.
 *
 * @param byteLength The file's size.
 * @param expectedElements The elements the meta shape gives.
 * @returns The problem, or undefined when the size fits.
 *
 * @example
 * ```ts
 * import { fp16SizeProblem } from "./fp16_tensor.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(fp16SizeProblem(8, 4), undefined);
 * assertEquals(fp16SizeProblem(7, 4), "size is odd (7 bytes): not FP16 data");
 * ```
 */
export function fp16SizeProblem(
  byteLength: number,
  expectedElements: number,
): string | undefined {
  if (byteLength % 2 !== 0) {
    return `size is odd (${byteLength} bytes): not FP16 data`;
  }
  if (byteLength !== expectedElements * 2) {
    return `size is ${byteLength} bytes but the meta shape needs ${
      expectedElements * 2
    } (${expectedElements} FP16 elements)`;
  }
  return undefined;
}

/**
 * The bytes of FP16 words as a tensor file stores them (little-endian), without
 * copying on a little-endian host.
 *
 * @param words The words.
 * @returns Two bytes per word, low byte first.
 *
 * @example
 * ```ts
 * import { fp16BytesOfWords } from "./fp16_tensor.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals([...fp16BytesOfWords(new Uint16Array([0x3c00]))], [0x00, 0x3c]);
 * ```
 */
export function fp16BytesOfWords(words: Uint16Array): Uint8Array {
  if (HOST_IS_LITTLE_ENDIAN) {
    return new Uint8Array(words.buffer, words.byteOffset, words.byteLength);
  }
  const bytes = new Uint8Array(words.length * 2);
  for (let i = 0; i < words.length; i++) {
    bytes[2 * i] = words[i];
    bytes[2 * i + 1] = words[i] >>> 8;
  }
  return bytes;
}
