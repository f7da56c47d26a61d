/**
 * CRC-32 (IEEE 802.3, the checksum of zip, gzip and PNG) of a byte array.
 *
 * kvbits records the CRC-32 of every original tensor so that a decoded dump can be
 * checked without the originals. The table-driven "slicing by 16" method consumes
 * 16 bytes per step, read as four 32-bit words, from 16 tables of 256 entries
 * built once at load (about 1.9 GB/s here, twice slicing by 8 read byte by
 * byte), so that checksumming costs little next to entropy coding.
 *
 * There is no native CRC-32 in Deno's own API: `zlib.crc32` of its Node layer is
 * 7 to 30 times faster on large arrays, but reaching it starts that layer, about
 * 45 ms and 9 MB in every thread (main and each worker) before the first byte,
 * which costs more than checksumming a folder of 100 MB here (measured on the
 * 2-vCPU VM of docs/measurements.md, Deno 2.9).
 *
 * @module
 */

/** Reflected polynomial of CRC-32/IEEE. */
const POLYNOMIAL = 0xedb88320;

/** `TABLES[k * 256 + b]`: CRC of byte `b` followed by `k` zero bytes. */
const TABLES: Int32Array = buildTables();

/** Whether 32-bit words are little-endian here (else bytes are read one by one). */
const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

/** Below this many bytes, a byte at a time (a word view costs an allocation). */
const WORDS_FROM = 64;

function buildTables(): Int32Array {
  const tables = new Int32Array(16 * 256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte;
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 1 ? (crc >>> 1) ^ POLYNOMIAL : crc >>> 1;
    }
    tables[byte] = crc;
  }
  for (let byte = 0; byte < 256; byte++) {
    let crc = tables[byte];
    for (let k = 1; k < 16; k++) {
      crc = tables[crc & 0xff] ^ (crc >>> 8);
      tables[k * 256 + byte] = crc;
    }
  }
  return tables;
}

/**
 * Computes the CRC-32 of `bytes`, continuing from `previous` when the data comes in
 * parts.
 *
 * @param bytes The data.
 * @param previous CRC-32 of the data before `bytes` (0 to start).
 * @returns The CRC-32 as an unsigned 32-bit integer.
 *
 * @example The standard check value, whole and in two parts
 * ```ts
 * import { crc32 } from "./crc32.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const data = new TextEncoder().encode("123456789");
 * assertEquals(crc32(data), 0xcbf43926);
 * assertEquals(crc32(data.subarray(4), crc32(data.subarray(0, 4))), 0xcbf43926);
 * ```
 */
export function crc32(bytes: Uint8Array, previous = 0): number {
  const t = TABLES;
  let crc = ~previous;
  let i = 0;
  const length = bytes.length;
  if (length >= WORDS_FROM && LITTLE_ENDIAN) {
    // Bytes up to a 4-byte boundary, then 16 bytes a step as 4 words.
    while (((bytes.byteOffset + i) & 3) !== 0) {
      crc = t[(crc ^ bytes[i++]) & 0xff] ^ (crc >>> 8);
    }
    const count = (length - i) >>> 4;
    const words = new Int32Array(bytes.buffer, bytes.byteOffset + i, 4 * count);
    for (let w = 0; w < 4 * count; w += 4) {
      const a = crc ^ words[w], b = words[w + 1];
      const c = words[w + 2], d = words[w + 3];
      crc = t[3840 + (a & 0xff)] ^ t[3584 + ((a >>> 8) & 0xff)] ^
        t[3328 + ((a >>> 16) & 0xff)] ^ t[3072 + (a >>> 24)] ^
        t[2816 + (b & 0xff)] ^ t[2560 + ((b >>> 8) & 0xff)] ^
        t[2304 + ((b >>> 16) & 0xff)] ^ t[2048 + (b >>> 24)] ^
        t[1792 + (c & 0xff)] ^ t[1536 + ((c >>> 8) & 0xff)] ^
        t[1280 + ((c >>> 16) & 0xff)] ^ t[1024 + (c >>> 24)] ^
        t[768 + (d & 0xff)] ^ t[512 + ((d >>> 8) & 0xff)] ^
        t[256 + ((d >>> 16) & 0xff)] ^ t[d >>> 24];
    }
    i += 16 * count;
  }
  while (i < length) crc = t[(crc ^ bytes[i++]) & 0xff] ^ (crc >>> 8);
  return ~crc >>> 0;
}

/** `x^(2^n)` modulo the polynomial, n = 0..31 (reflected), for {@link crc32Combine}. */
const POWERS: Int32Array = buildPowers();

function buildPowers(): Int32Array {
  const powers = new Int32Array(32);
  // x^1, reflected: the bit below the top.
  powers[0] = 1 << 30;
  for (let n = 1; n < 32; n++) {
    powers[n] = multiplyModP(powers[n - 1], powers[n - 1]);
  }
  return powers;
}

/** Product of two polynomials modulo the CRC polynomial (reflected). */
function multiplyModP(a: number, b: number): number {
  let product = 0;
  for (let bit = 1 << 31; bit !== 0; bit >>>= 1) {
    if ((a & bit) !== 0) product ^= b;
    b = b & 1 ? (b >>> 1) ^ POLYNOMIAL : b >>> 1;
  }
  return product;
}

/**
 * The CRC-32 of two parts of data one after the other, from the CRC-32 of each
 * and the length of the second, without their bytes (zlib's `crc32_combine`):
 * for a reader that checks a part alone and the whole as well, so that the
 * part's bytes are checksummed once.
 *
 * @param first CRC-32 of the first part.
 * @param second CRC-32 of the second part (computed from 0).
 * @param secondLength Bytes of the second part.
 * @returns The CRC-32 of both, as an unsigned 32-bit integer.
 *
 * @example
 * ```ts
 * import { crc32, crc32Combine } from "./crc32.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const data = new TextEncoder().encode("123456789");
 * const [a, b] = [data.subarray(0, 4), data.subarray(4)];
 * assertEquals(crc32Combine(crc32(a), crc32(b), b.length), 0xcbf43926);
 * ```
 */
export function crc32Combine(
  first: number,
  second: number,
  secondLength: number,
): number {
  // first * x^(8 * secondLength), taken bit by bit of the length.
  let shift = 1 << 31;
  let bits = secondLength * 8;
  for (let n = 0; bits > 0; n++, bits = Math.floor(bits / 2)) {
    if (bits % 2 === 1) shift = multiplyModP(POWERS[n & 31], shift);
  }
  return (multiplyModP(shift, first) ^ second) >>> 0;
}
