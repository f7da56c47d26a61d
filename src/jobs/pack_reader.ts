/**
 * Reading a pack block by block, for decode, verify and list: front to back
 * (streams, and whole files, checking every checksum), or through the index at
 * its end (files, to seek to the blocks wanted).
 *
 * Read me first:
 * - Damage never stops the reading: a block whose header is damaged is skipped
 *   by looking for the next block's magic; a block whose table is damaged is
 *   skipped by its (checked) lengths and named lost; a block whose payload is
 *   damaged or cut short is still handed over, marked, so that every entry whose
 *   own CRC-32 holds is restored.
 * - What was lost is said as precisely as the pack allows: the entries of a
 *   block whose table was read, blocks the index lists and the reading never met,
 *   or, when the pack ends early, where it ends.
 *
 * @module
 */

import { crc32, crc32Combine } from "../codec/crc32.ts";
import { concatBytes } from "../codec/byte_io.ts";
import { KvbitsDataError } from "../codec/errors.ts";
import type { PackInput } from "../dump/pack_input.ts";
import {
  BLOCK_HEADER_BYTES,
  type BlockHeader,
  CRC_BYTES,
  type IndexedBlock,
  indexLength,
  PACK_HEADER_BYTES,
  PACK_MAGIC,
  PACK_TRAILER_BYTES,
  parseBlockHeader,
  parseIndex,
  parsePackHeader,
  parseTrailer,
  readUint32,
} from "../format/pack_layout.ts";
import { releaseBuffers } from "./pack_lane.ts";
import {
  decodePackTable,
  type PackEntry,
  payloadBytesOf,
} from "../format/pack_table.ts";

/** How a payload nobody asked for is read: in pieces, dropped. */
const SKIP_ALL: PayloadSplit = {
  pieceBytes: 1 << 20,
  streams: () => true,
  take: () => {},
};

/** A block as read: its entries, and its payload on demand. */
export interface ReadBlock {
  /** Offset of its header in the pack. */
  readonly offset: number;
  /** Its header. */
  readonly header: BlockHeader;
  /** Its entries. */
  readonly entries: PackEntry[];
  /**
   * Reads its payload: the bytes (fewer when the pack ends early), and whether
   * they are complete and their CRC-32 holds. Call it once, during the visit.
   *
   * @param split Entries whose bytes are handed over in pieces rather than
   * held: the bytes returned are then the other entries' alone, in order.
   */
  payload(
    split?: PayloadSplit,
  ): Promise<{ bytes: Uint8Array; intact: boolean }>;
}

/** Entries of a block whose bytes are read in pieces ({@link ReadBlock.payload}). */
export interface PayloadSplit {
  /** Most bytes of a piece. */
  readonly pieceBytes: number;
  /**
   * Whether an entry's bytes go to {@link PayloadSplit.take}.
   *
   * @param entry An entry of the block.
   */
  streams(entry: PackEntry): boolean;
  /**
   * Receives the next piece of a streamed entry's bytes (valid during the
   * call). Fewer than the entry's bytes arrive when the pack ends early.
   *
   * @param entry The entry.
   * @param piece The bytes.
   */
  take(entry: PackEntry, piece: Uint8Array): void;
}

/**
 * Reads a block's payload through `next` (which returns fewer bytes than asked
 * only at the end of the pack): whole, or with the entries `split` streams
 * handed over in pieces. Returns the bytes kept, their CRC-32 continued over
 * the streamed ones (the payload's), and whether all of it was there.
 */
async function readPayload(
  next: (length: number) => Promise<Uint8Array>,
  entries: readonly PackEntry[],
  payloadBytes: number,
  split: PayloadSplit | undefined,
): Promise<{ bytes: Uint8Array; crc: number; complete: boolean }> {
  if (split === undefined || !entries.some((entry) => split.streams(entry))) {
    const bytes = await next(payloadBytes);
    return {
      bytes,
      crc: crc32(bytes),
      complete: bytes.length === payloadBytes,
    };
  }
  const kept: Uint8Array[] = [];
  let crc = 0, left = payloadBytes, keep = 0, complete = true;
  const readKept = async () => {
    if (keep === 0) return;
    const bytes = await next(keep);
    crc = crc32(bytes, crc);
    kept.push(bytes);
    complete = bytes.length === keep;
    keep = 0;
  };
  for (const entry of entries) {
    const length = Math.min(payloadBytesOf(entry), left);
    left -= length;
    if (!split.streams(entry)) {
      keep += length;
      continue;
    }
    await readKept();
    for (let done = 0; complete && done < length;) {
      const asked = Math.min(split.pieceBytes, length - done);
      const piece = await next(asked);
      crc = crc32(piece, crc);
      if (piece.length > 0) split.take(entry, piece);
      done += piece.length;
      complete = piece.length === asked;
      // Used: its memory goes back now rather than at a full collection (a
      // large file's pieces would pile up until then).
      releaseBuffers([piece]);
    }
    if (!complete) break;
  }
  if (complete) {
    keep += left;
    await readKept();
  }
  return {
    bytes: kept.length === 1 ? kept[0] : concatBytes(kept),
    crc,
    complete,
  };
}

/** Damage met while reading, and what it costs. */
export interface PackDamage {
  /** Where in the pack. */
  readonly offset: number;
  /** What is wrong, one line. */
  readonly detail: string;
  /** The entries lost with it, when the pack still says which. */
  readonly entries?: readonly PackEntry[];
}

/** How a reading ended. */
export interface PackEnding {
  /** The index and trailer were read and agree with the blocks met. */
  readonly complete: boolean;
  /** The CRC-32 of the whole pack matched (undefined when not checked). */
  readonly packCrcMatches: boolean | undefined;
  /** Bytes of the pack. */
  readonly packBytes: number;
  /** The dump coder the header names. */
  readonly coder: number;
  /** The format version the header names. */
  readonly version: number;
}

/** What a reading calls: blocks as met, damage as found. */
export interface PackVisitor {
  /** A block whose table was read. */
  block(block: ReadBlock): Promise<void> | void;
  /** Damage, with what it costs. */
  damage(damage: PackDamage): void;
}

/**
 * Reads a pack front to back. The CRC-32 of the whole pack is checked when the
 * pack is read to its end without damage.
 *
 * @param input The pack.
 * @param visitor Receives blocks and damage.
 * @returns How the reading ended.
 * @throws {KvbitsDataError} When the input is not a pack at all (its header).
 */
export async function readPackInOrder(
  input: PackInput,
  visitor: PackVisitor,
): Promise<PackEnding> {
  let crc = 0;
  let tracking = true;
  const read = async (length: number) => {
    const bytes = await input.read(length);
    if (tracking) crc = crc32(bytes, crc);
    return bytes;
  };
  const damaged = (damage: PackDamage) => {
    tracking = false;
    visitor.damage(damage);
  };
  const { coder, version } = parsePackHeader(await read(PACK_HEADER_BYTES));
  const met: IndexedBlock[] = [];
  let complete = false;
  let packCrcMatches: boolean | undefined;
  for (;;) {
    const offset = input.position;
    const head = await read(4);
    if (head.length < 4) {
      damaged({
        offset,
        detail:
          `the pack ends at byte ${input.position} without its index and trailer: it is truncated, and whatever followed is lost`,
      });
      break;
    }
    const magic = readUint32(head, 0);
    if (magic === PACK_MAGIC.block) {
      const rest = await read(BLOCK_HEADER_BYTES - 4);
      const headerBytes = concatBytes([head, rest]);
      let header: BlockHeader;
      try {
        header = parseBlockHeader(headerBytes, offset);
      } catch (error) {
        damaged({ offset, detail: (error as Error).message });
        input.unread(headerBytes.subarray(1));
        if (!await skipToMagic(input)) break;
        continue;
      }
      const table = await read(header.tableBytes);
      const tableCrc = await read(CRC_BYTES);
      if (tableCrc.length < CRC_BYTES) {
        damaged({
          offset,
          detail:
            `the pack ends inside block ${header.number}'s entry table: its ${header.entries} entries and whatever followed are lost`,
        });
        break;
      }
      let entries: PackEntry[] | undefined;
      let problem = "CRC-32 mismatch";
      if (readUint32(tableCrc, 0) === crc32(table)) {
        try {
          entries = decodePackTable(table, header.entries);
        } catch (error) {
          problem = (error as Error).message;
        }
      }
      const payloadBytes = header.payloadBytes;
      const payloadEnd = input.position + payloadBytes;
      let cut = false;
      if (entries === undefined) {
        damaged({
          offset,
          detail:
            `block ${header.number}'s entry table is damaged (${problem}): its ${header.entries} entries are lost`,
        });
      } else {
        const known = entries;
        met.push({ offset, entries: header.entries });
        const payloadOf = async (split: PayloadSplit | undefined) => {
          // The payload's bytes are checksummed once: the whole pack's CRC-32
          // goes on from the payload's.
          const payload = await readPayload(
            (length) => input.read(length),
            known,
            payloadBytes,
            split,
          );
          if (!payload.complete) tracking = false;
          else if (tracking) crc = crc32Combine(crc, payload.crc, payloadBytes);
          const payloadCrc = await read(CRC_BYTES);
          cut = payloadCrc.length < CRC_BYTES;
          const intact = !cut && readUint32(payloadCrc, 0) === payload.crc;
          if (!intact) {
            damaged({
              offset,
              detail: cut
                ? `the pack ends inside block ${header.number}'s payload: entries past its end, and whatever followed, are lost`
                : `block ${header.number}'s payload is damaged (CRC-32 mismatch): entries whose own CRC-32 fails are lost`,
            });
          }
          return { bytes: payload.bytes, intact };
        };
        let taken = false;
        await visitor.block({
          offset,
          header,
          entries,
          payload: (split) => {
            if (taken) throw new RangeError("a block's payload is read once");
            taken = true;
            return payloadOf(split);
          },
        });
        // Not asked for: read past it in pieces, checked all the same.
        if (!taken) await payloadOf(SKIP_ALL);
        if (cut) break;
        continue;
      }
      // A damaged table: its payload is skipped.
      if (!await input.moveTo(payloadEnd + CRC_BYTES)) break;
      continue;
    }
    if (magic === PACK_MAGIC.index) {
      const countBytes = await read(4);
      const count = countBytes.length === 4 ? readUint32(countBytes, 0) : 0;
      const rest = await read(indexLength(count) - 8);
      let blocks: IndexedBlock[] | undefined;
      try {
        blocks = parseIndex(concatBytes([head, countBytes, rest]));
      } catch (error) {
        damaged({ offset, detail: `the index: ${(error as Error).message}` });
      }
      const packCrc = crc;
      const trailerBytes = await input.read(PACK_TRAILER_BYTES);
      let trailerOk = false;
      try {
        const trailer = parseTrailer(trailerBytes);
        trailerOk = trailer.indexOffset === offset &&
          trailer.packBytes === input.position;
        if (!trailerOk) {
          damaged({
            offset: input.position,
            detail: "the trailer does not point to this index",
          });
        }
        if (tracking) packCrcMatches = trailer.packCrc === packCrc;
      } catch (error) {
        damaged({
          offset: input.position,
          detail: `the trailer: ${(error as Error).message}`,
        });
      }
      if (blocks !== undefined) reportMissing(blocks, met, visitor);
      const extra = await input.read(1);
      if (extra.length > 0) {
        damaged({
          offset: input.position - 1,
          detail: "bytes follow the trailer (another pack appended?)",
        });
      }
      complete = trailerOk && blocks !== undefined && extra.length === 0;
      break;
    }
    damaged({
      offset,
      detail:
        `no block or index starts at byte ${offset}: skipping to the next`,
    });
    input.unread(head.subarray(1));
    if (!await skipToMagic(input)) {
      damaged({
        offset: input.position,
        detail: "no block or index follows: the index and trailer are lost",
      });
      break;
    }
  }
  if (packCrcMatches === false) {
    visitor.damage({
      offset: 0,
      detail: "the CRC-32 of the whole pack does not match",
    });
  }
  return {
    complete: complete && packCrcMatches === true,
    packCrcMatches,
    packBytes: input.position,
    coder,
    version,
  };
}

function reportMissing(
  indexed: readonly IndexedBlock[],
  met: readonly IndexedBlock[],
  visitor: PackVisitor,
): void {
  const seen = new Set(met.map((block) => block.offset));
  indexed.forEach((block, number) => {
    if (!seen.has(block.offset)) {
      visitor.damage({
        offset: block.offset,
        detail:
          `block ${number} at byte ${block.offset} (${block.entries} entries, listed by the index) could not be read: its entries are lost`,
      });
    }
  });
}

/** Moves to the next block or index magic; false at the end of the pack. */
async function skipToMagic(input: PackInput): Promise<boolean> {
  let carry: Uint8Array = new Uint8Array(0);
  for (;;) {
    const chunk = await input.read(1 << 16);
    if (chunk.length === 0) return false;
    const bytes = concatBytes([carry, chunk]);
    for (let i = 0; i + 4 <= bytes.length; i++) {
      const word = readUint32(bytes, i);
      if (word === PACK_MAGIC.block || word === PACK_MAGIC.index) {
        input.unread(bytes.subarray(i));
        return true;
      }
    }
    carry = bytes.subarray(Math.max(0, bytes.length - 3));
  }
}

/** A pack's index, read through its trailer. */
export interface PackIndex {
  /** The dump coder the header names. */
  readonly coder: number;
  /** The blocks, in order. */
  readonly blocks: readonly IndexedBlock[];
  /** Bytes of the pack. */
  readonly packBytes: number;
}

/**
 * Reads a pack file's index through its trailer, or says why it cannot.
 *
 * @param input A pack file (not a stream).
 * @returns The index, or the problem (the caller then reads front to back).
 * @throws {KvbitsDataError} When the input is not a pack at all (its header).
 */
export function readPackIndex(input: PackInput): PackIndex | string {
  const size = input.size!;
  const { coder } = parsePackHeader(input.readAt(0, PACK_HEADER_BYTES));
  try {
    if (size < PACK_HEADER_BYTES + indexLength(0) + PACK_TRAILER_BYTES) {
      return "the pack is too short to hold an index";
    }
    const trailer = parseTrailer(
      input.readAt(size - PACK_TRAILER_BYTES, PACK_TRAILER_BYTES),
    );
    if (trailer.packBytes !== size) {
      return `the trailer says ${trailer.packBytes} bytes, the file has ${size}`;
    }
    const blocks = parseIndex(
      input.readAt(
        trailer.indexOffset,
        size - PACK_TRAILER_BYTES - trailer.indexOffset,
      ),
    );
    return { coder, blocks, packBytes: size };
  } catch (error) {
    if (error instanceof KvbitsDataError) return error.message;
    throw error;
  }
}

/**
 * Reads the blocks an index lists, each header and table; payloads on demand.
 *
 * @param input A pack file.
 * @param index Its index.
 * @param visitor Receives blocks and damage.
 */
export async function readPackByIndex(
  input: PackInput,
  index: PackIndex,
  visitor: PackVisitor,
): Promise<void> {
  for (const [number, block] of index.blocks.entries()) {
    const offset = block.offset;
    let header: BlockHeader;
    let entries: PackEntry[];
    try {
      header = parseBlockHeader(
        input.readAt(offset, BLOCK_HEADER_BYTES),
        offset,
      );
      const table = input.readAt(
        offset + BLOCK_HEADER_BYTES,
        header.tableBytes + CRC_BYTES,
      );
      const body = table.subarray(0, header.tableBytes);
      if (
        table.length < header.tableBytes + CRC_BYTES ||
        readUint32(table, header.tableBytes) !== crc32(body)
      ) {
        throw new Error("its entry table is damaged (CRC-32 mismatch)");
      }
      entries = decodePackTable(body, header.entries);
    } catch (error) {
      visitor.damage({
        offset,
        detail: `block ${number} at byte ${offset}: ${
          (error as Error).message
        }; its ${block.entries} entries are lost`,
      });
      continue;
    }
    const payloadOffset = offset + BLOCK_HEADER_BYTES + header.tableBytes +
      CRC_BYTES;
    const payloadBytes = header.payloadBytes;
    await visitor.block({
      offset,
      header,
      entries,
      payload: async (split) => {
        let at = payloadOffset;
        // deno-lint-ignore require-await -- the reader's shape
        const next = async (length: number) => {
          const bytes = input.readAt(at, length);
          at += bytes.length;
          return bytes;
        };
        const payload = await readPayload(next, entries, payloadBytes, split);
        const crc = payload.complete ? input.readAt(at, CRC_BYTES) : undefined;
        const intact = crc !== undefined && crc.length === CRC_BYTES &&
          readUint32(crc, 0) === payload.crc;
        if (!intact) {
          visitor.damage({
            offset,
            detail:
              `block ${number}'s payload is damaged (CRC-32 mismatch or cut short): entries whose own CRC-32 fails are lost`,
          });
        }
        return { bytes: payload.bytes, intact };
      },
    });
  }
}
