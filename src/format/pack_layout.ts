/**
 * The pack's framing as data: the file header, each block's header, the index
 * and the trailer (docs/FORMAT.md, "Pack"). What the blocks hold is in
 * `pack_table.ts`.
 *
 * Read me first:
 * - A pack is `header, block*, index, trailer`. Each part starts with a magic of
 *   four ASCII letters, so a reader that meets damage can look for the next one.
 * - Every part has its own CRC-32: a block's header (its 24 first bytes), its
 *   entry table, its payload; the index; the trailer. The trailer also holds the
 *   CRC-32 of every byte before it (the whole pack).
 * - Integers are little-endian; 64-bit fields are read as numbers and refused
 *   above 2^53.
 * - A reader of a stream (a pipe) reads header, blocks and index in order; a
 *   reader of a file may start at the trailer, which points to the index, which
 *   points to every block.
 *
 * @module
 */

import { crc32 } from "../codec/crc32.ts";
import { KvbitsDataError } from "../codec/errors.ts";

/**
 * Format versions this kvbits writes and reads: 1, and 2 for a pack made with a
 * predictor folder (its dump entries may be coded against predictor dumps; a
 * reader of version 1 alone would decode them wrongly, so it must refuse them).
 */
export const PACK_FORMAT_VERSIONS = { plain: 1, predicted: 2 } as const;
/** Bytes of the file header. */
export const PACK_HEADER_BYTES = 8;
/** Bytes of a block header (the part before the entry table). */
export const BLOCK_HEADER_BYTES = 28;
/** Bytes of the trailer. */
export const PACK_TRAILER_BYTES = 28;
/** Bytes of a CRC-32 that closes a table or a payload. */
export const CRC_BYTES = 4;
/** Largest entry table a reader accepts: 64 MiB. */
export const MAX_TABLE_BYTES = 64 * 1024 * 1024;

/** The magics, as little-endian 32-bit words of their four letters. */
export const PACK_MAGIC = {
  /** `KVPK`: the file header. */
  header: magicOf("KVPK"),
  /** `KVBK`: a block. */
  block: magicOf("KVBK"),
  /** `KVIX`: the index. */
  index: magicOf("KVIX"),
  /** `KVPE`: the trailer, the last four bytes of the pack. */
  trailer: magicOf("KVPE"),
} as const;

/** The dump coders a pack may name in its header. */
export const PACK_CODERS = {
  /**
   * The pack coder (`src/codec/pack_coder.ts`): models and a row dictionary
   * carried from dump to dump through a block. (1 was each dump coded alone by
   * `ctx`, in development only: refused.)
   */
  packCoder: 2,
} as const;

function magicOf(letters: string): number {
  let word = 0;
  for (let i = 3; i >= 0; i--) word = (word << 8) | letters.charCodeAt(i);
  return word >>> 0;
}

/**
 * Reads the little-endian 32-bit word at `offset`.
 *
 * @param bytes The bytes.
 * @param offset Where the word starts.
 * @returns The word, unsigned.
 *
 * @example
 * ```ts
 * import { PACK_MAGIC, readUint32 } from "./pack_layout.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(readUint32(new TextEncoder().encode("KVBK"), 0), PACK_MAGIC.block);
 * ```
 */
export function readUint32(bytes: Uint8Array, offset: number): number {
  return (bytes[offset] | (bytes[offset + 1] << 8) |
    (bytes[offset + 2] << 16) | (bytes[offset + 3] << 24)) >>> 0;
}

function writeUint32(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = value & 0xff;
  bytes[offset + 1] = (value >>> 8) & 0xff;
  bytes[offset + 2] = (value >>> 16) & 0xff;
  bytes[offset + 3] = (value >>> 24) & 0xff;
}

function writeUint64(bytes: Uint8Array, offset: number, value: number): void {
  writeUint32(bytes, offset, value >>> 0);
  writeUint32(bytes, offset + 4, Math.floor(value / 2 ** 32));
}

function readUint64(bytes: Uint8Array, offset: number): number {
  return readUint32(bytes, offset) + readUint32(bytes, offset + 4) * 2 ** 32;
}

/**
 * The file header: magic, format version, the dump coder, two zero bytes.
 *
 * @param coder The dump coder of every block ({@link PACK_CODERS}).
 * @param version The format version ({@link PACK_FORMAT_VERSIONS}; default 1).
 * @returns The 8 bytes.
 *
 * @example
 * ```ts
 * import { packHeader, PACK_CODERS, parsePackHeader } from "./pack_layout.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(parsePackHeader(packHeader(PACK_CODERS.packCoder)), { coder: 2, version: 1 });
 * assertEquals(parsePackHeader(packHeader(PACK_CODERS.packCoder, 2)).version, 2);
 * ```
 */
export function packHeader(
  coder: number,
  version: number = PACK_FORMAT_VERSIONS.plain,
): Uint8Array {
  const bytes = new Uint8Array(PACK_HEADER_BYTES);
  writeUint32(bytes, 0, PACK_MAGIC.header);
  bytes[4] = version;
  bytes[5] = coder;
  return bytes;
}

/**
 * Checks a file header.
 *
 * @param bytes The first 8 bytes of the pack.
 * @returns The dump coder it names and the format version.
 * @throws {KvbitsDataError} When it is not a pack, or a version or coder this
 * kvbits does not know.
 */
export function parsePackHeader(
  bytes: Uint8Array,
): { coder: number; version: number } {
  const fail = (detail: string) =>
    new KvbitsDataError(detail, { stream: "pack header", bitOffset: 0 });
  if (bytes.length < PACK_HEADER_BYTES) {
    throw fail(`${bytes.length} bytes, a pack starts with 8`);
  }
  if (readUint32(bytes, 0) !== PACK_MAGIC.header) {
    throw fail("not a kvbits pack (no KVPK magic)");
  }
  const version = bytes[4];
  if (
    version !== PACK_FORMAT_VERSIONS.plain &&
    version !== PACK_FORMAT_VERSIONS.predicted
  ) {
    throw fail(`format version ${version}; this kvbits reads versions 1 and 2`);
  }
  if (!Object.values(PACK_CODERS).includes(bytes[5] as 2)) {
    throw fail(`dump coder ${bytes[5]} is unknown to this kvbits`);
  }
  if (bytes[6] !== 0 || bytes[7] !== 0) {
    throw fail("reserved bytes are not zero");
  }
  return { coder: bytes[5], version };
}

/** What a block header says. */
export interface BlockHeader {
  /** The block's number, from 0, in pack order. */
  readonly number: number;
  /** Entries in its table. */
  readonly entries: number;
  /** Bytes of its entry table (without its CRC). */
  readonly tableBytes: number;
  /** Bytes of its payload (without its CRC). */
  readonly payloadBytes: number;
}

/**
 * A block's header: magic, number, entry count, table and payload lengths, and
 * the CRC-32 of those 24 bytes.
 *
 * @param header The fields.
 * @returns The 28 bytes.
 *
 * @example
 * ```ts
 * import { blockHeaderBytes, parseBlockHeader } from "./pack_layout.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const header = { number: 3, entries: 2, tableBytes: 40, payloadBytes: 2 ** 33 };
 * assertEquals(parseBlockHeader(blockHeaderBytes(header), 0), header);
 * ```
 */
export function blockHeaderBytes(header: BlockHeader): Uint8Array {
  const bytes = new Uint8Array(BLOCK_HEADER_BYTES);
  writeUint32(bytes, 0, PACK_MAGIC.block);
  writeUint32(bytes, 4, header.number);
  writeUint32(bytes, 8, header.entries);
  writeUint32(bytes, 12, header.tableBytes);
  writeUint64(bytes, 16, header.payloadBytes);
  writeUint32(bytes, 24, crc32(bytes.subarray(0, 24)));
  return bytes;
}

/**
 * Checks a block header.
 *
 * @param bytes Its 28 bytes.
 * @param at Its offset in the pack, for messages.
 * @returns The fields.
 * @throws {KvbitsDataError} When the magic or the CRC is wrong, or a length is
 * impossible.
 */
export function parseBlockHeader(bytes: Uint8Array, at: number): BlockHeader {
  const fail = (detail: string) =>
    new KvbitsDataError(`${detail} (block header at byte ${at})`, {
      stream: "pack block header",
      bitOffset: 0,
    });
  if (bytes.length < BLOCK_HEADER_BYTES) throw fail("ends early");
  if (readUint32(bytes, 0) !== PACK_MAGIC.block) throw fail("no KVBK magic");
  if (readUint32(bytes, 24) !== crc32(bytes.subarray(0, 24))) {
    throw fail("CRC-32 mismatch");
  }
  const tableBytes = readUint32(bytes, 12);
  const payloadBytes = readUint64(bytes, 16);
  if (tableBytes > MAX_TABLE_BYTES || payloadBytes > Number.MAX_SAFE_INTEGER) {
    throw fail(`impossible lengths ${tableBytes} and ${payloadBytes}`);
  }
  return {
    number: readUint32(bytes, 4),
    entries: readUint32(bytes, 8),
    tableBytes,
    payloadBytes,
  };
}

/** Where a block starts, as the index lists it. */
export interface IndexedBlock {
  /** Offset of its header in the pack. */
  readonly offset: number;
  /** Entries in its table. */
  readonly entries: number;
}

/**
 * The index: magic, block count, each block's offset and entry count, and the
 * CRC-32 of all that.
 *
 * @param blocks The blocks, in pack order.
 * @returns The index bytes.
 *
 * @example
 * ```ts
 * import { indexBytes, parseIndex } from "./pack_layout.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const blocks = [{ offset: 8, entries: 3 }, { offset: 900, entries: 1 }];
 * assertEquals(parseIndex(indexBytes(blocks)), blocks);
 * ```
 */
export function indexBytes(blocks: readonly IndexedBlock[]): Uint8Array {
  const bytes = new Uint8Array(indexLength(blocks.length));
  writeUint32(bytes, 0, PACK_MAGIC.index);
  writeUint32(bytes, 4, blocks.length);
  blocks.forEach((block, i) => {
    writeUint64(bytes, 8 + 12 * i, block.offset);
    writeUint32(bytes, 16 + 12 * i, block.entries);
  });
  const end = bytes.length - CRC_BYTES;
  writeUint32(bytes, end, crc32(bytes.subarray(0, end)));
  return bytes;
}

/**
 * Bytes of an index of `blocks` blocks.
 *
 * @param blocks The block count.
 * @returns `8 + 12 * blocks + 4`.
 *
 * @example
 * ```ts
 * import { indexLength } from "./pack_layout.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(indexLength(2), 36);
 * ```
 */
export function indexLength(blocks: number): number {
  return 8 + 12 * blocks + CRC_BYTES;
}

/**
 * Checks and reads an index.
 *
 * @param bytes The index bytes (exactly).
 * @returns The blocks.
 * @throws {KvbitsDataError} When the magic, the length or the CRC is wrong.
 */
export function parseIndex(bytes: Uint8Array): IndexedBlock[] {
  const fail = (detail: string) =>
    new KvbitsDataError(detail, { stream: "pack index", bitOffset: 0 });
  if (bytes.length < indexLength(0)) throw fail("ends early");
  if (readUint32(bytes, 0) !== PACK_MAGIC.index) throw fail("no KVIX magic");
  const count = readUint32(bytes, 4);
  if (bytes.length !== indexLength(count)) {
    throw fail(`${bytes.length} bytes for ${count} blocks`);
  }
  const end = bytes.length - CRC_BYTES;
  if (readUint32(bytes, end) !== crc32(bytes.subarray(0, end))) {
    throw fail("CRC-32 mismatch");
  }
  const blocks: IndexedBlock[] = [];
  for (let i = 0; i < count; i++) {
    blocks.push({
      offset: readUint64(bytes, 8 + 12 * i),
      entries: readUint32(bytes, 16 + 12 * i),
    });
  }
  return blocks;
}

/** What the trailer says. */
export interface PackTrailer {
  /** Offset of the index. */
  readonly indexOffset: number;
  /** Bytes of the whole pack, trailer included. */
  readonly packBytes: number;
  /** CRC-32 of every byte of the pack before the trailer. */
  readonly packCrc: number;
}

/**
 * The trailer: index offset, pack length, the CRC-32 of the pack before it, the
 * CRC-32 of those 20 bytes, and the magic `KVPE` as the last four bytes.
 *
 * @param trailer The fields.
 * @returns The 28 bytes.
 *
 * @example
 * ```ts
 * import { parseTrailer, trailerBytes } from "./pack_layout.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const trailer = { indexOffset: 100, packBytes: 140, packCrc: 0xdeadbeef };
 * assertEquals(parseTrailer(trailerBytes(trailer)), trailer);
 * ```
 */
export function trailerBytes(trailer: PackTrailer): Uint8Array {
  const bytes = new Uint8Array(PACK_TRAILER_BYTES);
  writeUint64(bytes, 0, trailer.indexOffset);
  writeUint64(bytes, 8, trailer.packBytes);
  writeUint32(bytes, 16, trailer.packCrc);
  writeUint32(bytes, 20, crc32(bytes.subarray(0, 20)));
  writeUint32(bytes, 24, PACK_MAGIC.trailer);
  return bytes;
}

/**
 * Checks and reads a trailer.
 *
 * @param bytes The last 28 bytes of the pack.
 * @returns The fields.
 * @throws {KvbitsDataError} When the magic or the CRC is wrong: the pack is
 * truncated or damaged at its end.
 */
export function parseTrailer(bytes: Uint8Array): PackTrailer {
  const fail = (detail: string) =>
    new KvbitsDataError(detail, { stream: "pack trailer", bitOffset: 0 });
  if (bytes.length !== PACK_TRAILER_BYTES) throw fail("ends early");
  if (readUint32(bytes, 24) !== PACK_MAGIC.trailer) {
    throw fail("no KVPE magic at the end (truncated?)");
  }
  if (readUint32(bytes, 20) !== crc32(bytes.subarray(0, 20))) {
    throw fail("CRC-32 mismatch");
  }
  const indexOffset = readUint64(bytes, 0);
  const packBytes = readUint64(bytes, 8);
  if (
    indexOffset < PACK_HEADER_BYTES ||
    indexOffset + indexLength(0) + PACK_TRAILER_BYTES > packBytes ||
    packBytes > Number.MAX_SAFE_INTEGER
  ) {
    throw fail(`impossible offsets ${indexOffset} and ${packBytes}`);
  }
  return { indexOffset, packBytes, packCrc: readUint32(bytes, 16) };
}

/**
 * Bytes of a block with a table and payload of these lengths, CRCs included.
 *
 * @param tableBytes Table bytes.
 * @param payloadBytes Payload bytes.
 * @returns The block's length in the pack.
 *
 * @example
 * ```ts
 * import { blockLength } from "./pack_layout.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(blockLength(10, 100), 28 + 10 + 4 + 100 + 4);
 * ```
 */
export function blockLength(tableBytes: number, payloadBytes: number): number {
  return BLOCK_HEADER_BYTES + tableBytes + CRC_BYTES + payloadBytes + CRC_BYTES;
}
