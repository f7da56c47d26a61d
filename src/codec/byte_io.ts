/**
 * Little-endian byte writing and bounds-checked reading: unsigned LEB128 varints,
 * 32-bit words and byte runs, for the headers of kvbits' own binary layouts.
 *
 * Read me first:
 * - Varints are unsigned LEB128: 7 bits per byte, least significant group first,
 *   the high bit set on every byte but the last. kvbits reads at most 7 bytes
 *   (values up to 2^49) and refuses larger or overlong encodings, so a corrupt
 *   length can neither loop nor lose precision.
 * - Every read checks the remaining length first and throws `KvbitsDataError` with
 *   the stream name and the bit offset of the failed read; nothing reads past the
 *   end.
 *
 * @module
 */

import { KvbitsDataError } from "./errors.ts";

/** Largest value a kvbits varint may hold: 2^49 - 1 (7 bytes of 7 bits). */
export const VARINT_MAX = 2 ** 49 - 1;

/**
 * Bytes of the unsigned LEB128 varint of `value` (what {@link putVarint} writes).
 *
 * @param value An integer in `0..VARINT_MAX`.
 * @returns 1 to 7.
 *
 * @example
 * ```ts
 * import { varintLength } from "./byte_io.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals([varintLength(0), varintLength(127), varintLength(128), varintLength(2 ** 49 - 1)], [1, 1, 2, 7]);
 * ```
 */
export function varintLength(value: number): number {
  let bytes = 1;
  for (; value >= 0x80; value = Math.floor(value / 0x80)) bytes++;
  return bytes;
}

/**
 * Writes the unsigned LEB128 varint of `value` at `at` (the one loop of every
 * varint kvbits writes; {@link ByteWriter.varint} checks and appends with it).
 *
 * @param out Where to write; it must have {@link varintLength} bytes from `at`.
 * @param at Where the varint starts.
 * @param value An integer in `0..VARINT_MAX` (not checked).
 * @returns Where it ends.
 *
 * @example
 * ```ts
 * import { putVarint } from "./byte_io.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const out = new Uint8Array(4);
 * assertEquals(putVarint(out, 1, 300), 3);
 * assertEquals([...out], [0, 0xac, 0x02, 0]);
 * ```
 */
export function putVarint(out: Uint8Array, at: number, value: number): number {
  while (value >= 0x80) {
    out[at++] = (value % 0x80) | 0x80;
    value = Math.floor(value / 0x80);
  }
  out[at++] = value;
  return at;
}

/**
 * An append-only byte buffer that grows by doubling.
 *
 * @example
 * ```ts
 * import { ByteReader, ByteWriter } from "./byte_io.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const writer = new ByteWriter();
 * writer.varint(300);
 * writer.uint32(0xdeadbeef);
 * writer.bytes(new Uint8Array([7, 8]));
 * const bytes = writer.finish();
 * assertEquals([...bytes.subarray(0, 2)], [0xac, 0x02]);
 * const reader = new ByteReader(bytes, "example");
 * assertEquals([reader.varint(), reader.uint32(), [...reader.bytes(2)]], [300, 0xdeadbeef, [7, 8]]);
 * assertEquals(reader.remaining, 0);
 * ```
 */
export class ByteWriter {
  #buffer: Uint8Array;
  #length = 0;

  /**
   * Creates an empty writer.
   *
   * @param capacity Initial capacity in bytes.
   */
  constructor(capacity = 64) {
    this.#buffer = new Uint8Array(Math.max(16, capacity));
  }

  /** Bytes written so far. */
  get length(): number {
    return this.#length;
  }

  #reserve(extra: number): void {
    const needed = this.#length + extra;
    if (needed <= this.#buffer.length) return;
    let capacity = this.#buffer.length * 2;
    while (capacity < needed) capacity *= 2;
    const grown = new Uint8Array(capacity);
    grown.set(this.#buffer.subarray(0, this.#length));
    this.#buffer = grown;
  }

  /**
   * Appends one byte.
   *
   * @param value `0..255`.
   */
  byte(value: number): void {
    this.#reserve(1);
    this.#buffer[this.#length++] = value;
  }

  /**
   * Appends an unsigned LEB128 varint.
   *
   * @param value An integer in `0..VARINT_MAX`.
   * @throws {RangeError} When the value is not such an integer.
   */
  varint(value: number): void {
    if (!Number.isInteger(value) || value < 0 || value > VARINT_MAX) {
      throw new RangeError(
        `Cannot write varint ${value}: it must be an integer in 0..2^49-1`,
      );
    }
    this.#reserve(7);
    this.#length = putVarint(this.#buffer, this.#length, value);
  }

  /**
   * Appends a 32-bit unsigned integer, little-endian.
   *
   * @param value An integer in `0..2^32-1`.
   */
  uint32(value: number): void {
    this.#reserve(4);
    const b = this.#buffer;
    const at = this.#length;
    b[at] = value & 0xff;
    b[at + 1] = (value >>> 8) & 0xff;
    b[at + 2] = (value >>> 16) & 0xff;
    b[at + 3] = (value >>> 24) & 0xff;
    this.#length += 4;
  }

  /**
   * Appends bytes.
   *
   * @param bytes The bytes to copy.
   */
  bytes(bytes: Uint8Array): void {
    this.#reserve(bytes.length);
    this.#buffer.set(bytes, this.#length);
    this.#length += bytes.length;
  }

  /**
   * The bytes written, as a view of the internal buffer (valid until the next write).
   *
   * @returns `length` bytes.
   */
  finish(): Uint8Array {
    return this.#buffer.subarray(0, this.#length);
  }
}

/**
 * A cursor over bytes whose reads are checked against the end.
 *
 * @example A truncated varint is a data error, with the offset
 * ```ts
 * import { ByteReader } from "./byte_io.ts";
 * import { KvbitsDataError } from "./errors.ts";
 * import { assertThrows } from "@std/assert";
 *
 * const reader = new ByteReader(new Uint8Array([0x80]), "header");
 * assertThrows(() => reader.varint(), KvbitsDataError, "Cannot decode header at bit 8: ends inside a varint");
 * ```
 */
export class ByteReader {
  /** The bytes read. */
  readonly source: Uint8Array;
  /** Stream name for error messages. */
  readonly stream: string;
  /** Offset of the next byte to read. */
  offset = 0;

  /**
   * Creates a reader at offset 0.
   *
   * @param source The bytes.
   * @param stream Name of what they are, for error messages (e.g. `ctx header`).
   */
  constructor(source: Uint8Array, stream: string) {
    this.source = source;
    this.stream = stream;
  }

  /** Bytes left after the cursor. */
  get remaining(): number {
    return this.source.length - this.offset;
  }

  /**
   * Builds a data error located at the cursor (or at `offset`).
   *
   * @param detail What is wrong.
   * @param offset Byte offset of the problem; the cursor when omitted.
   * @returns The error, to throw.
   */
  error(detail: string, offset: number = this.offset): KvbitsDataError {
    return new KvbitsDataError(detail, {
      stream: this.stream,
      bitOffset: 8 * offset,
    });
  }

  /**
   * Reads one byte.
   *
   * @returns `0..255`.
   * @throws {KvbitsDataError} At the end of the bytes.
   */
  byte(): number {
    if (this.offset >= this.source.length) {
      throw this.error("ends early: one more byte expected");
    }
    return this.source[this.offset++];
  }

  /**
   * Reads an unsigned LEB128 varint of at most 7 bytes.
   *
   * @returns The value.
   * @throws {KvbitsDataError} When the bytes end inside it, or it is longer than 7
   * bytes or has a redundant final zero byte.
   */
  varint(): number {
    const start = this.offset;
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 7; i++) {
      if (this.offset >= this.source.length) {
        throw this.error("ends inside a varint");
      }
      const byte = this.source[this.offset++];
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) {
        if (byte === 0 && i > 0) {
          throw this.error("overlong varint (redundant zero byte)", start);
        }
        return value;
      }
      scale *= 0x80;
    }
    throw this.error("varint longer than 7 bytes", start);
  }

  /**
   * Reads a varint that must not exceed `maximum`.
   *
   * @param maximum Largest allowed value.
   * @param what What the value is, for the message.
   * @returns The value.
   * @throws {KvbitsDataError} When it is larger.
   */
  varintAtMost(maximum: number, what: string): number {
    const start = this.offset;
    const value = this.varint();
    if (value > maximum) {
      throw this.error(`${what} is ${value}, more than ${maximum}`, start);
    }
    return value;
  }

  /**
   * Reads a 32-bit unsigned little-endian integer.
   *
   * @returns The value.
   * @throws {KvbitsDataError} When fewer than 4 bytes remain.
   */
  uint32(): number {
    if (this.remaining < 4) {
      throw this.error("ends early: a 4-byte word expected");
    }
    const b = this.source;
    const at = this.offset;
    this.offset += 4;
    return (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) |
      (b[at + 3] << 24)) >>>
      0;
  }

  /**
   * Reads `length` bytes as a view (no copy).
   *
   * @param length How many.
   * @returns The bytes.
   * @throws {KvbitsDataError} When fewer remain.
   */
  bytes(length: number): Uint8Array {
    if (length > this.remaining) {
      throw this.error(
        `ends early: ${length} bytes expected, ${this.remaining} left`,
      );
    }
    const view = this.source.subarray(this.offset, this.offset + length);
    this.offset += length;
    return view;
  }

  /**
   * Reads a varint length, then that many bytes (a length-prefixed part).
   *
   * @param what The part's name for the message, e.g. `rANS stream`.
   * @returns A view of the part's bytes.
   * @throws {KvbitsDataError} When the length exceeds the bytes left (at the
   * length's offset).
   *
   * @example
   * ```ts
   * import { ByteReader } from "./byte_io.ts";
   * import { assertEquals, assertThrows } from "@std/assert";
   *
   * assertEquals([...new ByteReader(Uint8Array.of(2, 7, 8, 9), "s").sized("part")], [7, 8]);
   * assertThrows(() => new ByteReader(Uint8Array.of(5, 7), "s").sized("part"), Error, "part of 5 bytes is longer than the 1 bytes left");
   * ```
   */
  sized(what: string): Uint8Array {
    const at = this.offset;
    const length = this.varint();
    if (length > this.remaining) {
      throw this.error(
        `${what} of ${length} bytes is longer than the ${this.remaining} bytes left`,
        at,
      );
    }
    return this.bytes(length);
  }
}

/**
 * The bytes of `parts` one after another, in a new array.
 *
 * @param parts The arrays.
 * @returns Their concatenation (a fresh array, even of one part).
 *
 * @example
 * ```ts
 * import { concatBytes } from "./byte_io.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(concatBytes([Uint8Array.of(1, 2), Uint8Array.of(), Uint8Array.of(3)]), Uint8Array.of(1, 2, 3));
 * ```
 */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/**
 * Whether two arrays hold the same bytes (four a step where both start on a
 * 4-byte boundary).
 *
 * @param a One array.
 * @param b The other.
 * @returns True when their lengths and bytes are equal.
 *
 * @example
 * ```ts
 * import { sameBytes } from "./byte_io.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const bytes = Uint8Array.of(1, 2, 3, 4, 5);
 * assertEquals(sameBytes(bytes, Uint8Array.of(1, 2, 3, 4, 5)), true);
 * assertEquals(sameBytes(bytes, Uint8Array.of(1, 2, 3, 4, 6)), false);
 * assertEquals(sameBytes(bytes.subarray(1), Uint8Array.of(2, 3, 4, 5)), true);
 * assertEquals(sameBytes(bytes, bytes.subarray(0, 4)), false);
 * ```
 */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let i = 0;
  if (((a.byteOffset | b.byteOffset) & 3) === 0) {
    const words = a.length >>> 2;
    const x = new Int32Array(a.buffer, a.byteOffset, words);
    const y = new Int32Array(b.buffer, b.byteOffset, words);
    for (; i < words; i++) if (x[i] !== y[i]) return false;
    i = words << 2;
  }
  for (; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
