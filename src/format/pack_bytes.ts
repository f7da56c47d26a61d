/**
 * A pack in memory, for library users: the files it holds, decoded and checked,
 * with no file system (the tasks read packs block by block, `src/jobs/`).
 *
 * @module
 */

import { KvbitsDataError } from "../codec/errors.ts";
import { crc32 } from "../codec/crc32.ts";
import { decodePackEntries } from "./pack_block.ts";
import {
  BLOCK_HEADER_BYTES,
  CRC_BYTES,
  PACK_HEADER_BYTES,
  PACK_MAGIC,
  parseBlockHeader,
  parsePackHeader,
  readUint32,
} from "./pack_layout.ts";
import { decodePackTable } from "./pack_table.ts";
import type { PackPredictorLookup } from "./predictor_lookup.ts";

/** A file a pack holds. */
export interface PackedFile {
  /** Its path in the tree, `/`-separated. */
  readonly path: string;
  /** Its bytes. */
  readonly bytes: Uint8Array;
}

/** What {@link decodePack} found in a pack. */
export interface DecodedPack {
  /** Every file whose CRC-32 held, in pack order. */
  readonly files: PackedFile[];
  /** Empty folders. */
  readonly folders: string[];
  /** What could not be restored, one line each (empty for an intact pack). */
  readonly problems: string[];
}

/** How {@link decodePack} reads a pack. */
export interface DecodePackOptions {
  /**
   * Finds the predictor dump of each dump coded against one (a pack made with
   * `--predictor-dir`, format version 2): given the dump's meta path in the tree
   * and its meta, its predictor's K and V words. A predictor that is missing or
   * not bit-identical to the encoder's (SHA-256 checked) leaves the dump out,
   * listed in the problems.
   */
  readonly predictors?: PackPredictorLookup;
}

/**
 * Decodes a whole pack held in memory. Only files whose CRC-32 holds are
 * returned; damage stops the reading at the damaged block and is listed.
 *
 * @param pack The pack's bytes.
 * @param options The predictors of a pack made with a predictor folder.
 * @returns Its files, empty folders and problems.
 * @throws {KvbitsDataError} When the bytes are not a pack (its header).
 *
 * @example
 * ```ts
 * import { decodePack } from "@kvbits/kvbits";
 * import { assertEquals } from "@std/assert";
 *
 * const pack = await Deno.readFile("fixtures/golden/pack/tree.kvp");
 * const { files, problems } = decodePack(pack);
 * assertEquals([files.length, problems], [16, []]);
 * assertEquals(files[0].path, "README.md");
 * ```
 *
 * @example A pack made against a predictor folder, its predictors held in memory
 * ```ts
 * import { decodePack } from "@kvbits/kvbits";
 * import { assertEquals } from "@std/assert";
 *
 * const pack = await Deno.readFile("fixtures/golden/pack/predicted.kvp");
 * const folder = "fixtures/golden/pack/predictor";
 * const words = (path: string) => new Uint16Array(Deno.readFileSync(`${folder}/${path}`).buffer);
 * const predictors = (_path: string, dump: { kPath: string; vPath: string }) => ({ k: words(dump.kPath), v: words(dump.vPath) });
 * assertEquals(decodePack(pack, { predictors }).problems, []);
 * assertEquals(decodePack(pack).problems.length > 0, true);
 * ```
 */
export function decodePack(
  pack: Uint8Array,
  options: DecodePackOptions = {},
): DecodedPack {
  parsePackHeader(pack.subarray(0, PACK_HEADER_BYTES));
  const result: DecodedPack = { files: [], folders: [], problems: [] };
  let at = PACK_HEADER_BYTES;
  for (;;) {
    if (at + 4 > pack.length) {
      result.problems.push(`the pack ends at byte ${at} without its index`);
      return result;
    }
    if (readUint32(pack, at) === PACK_MAGIC.index) return result;
    try {
      const header = parseBlockHeader(
        pack.subarray(at, at + BLOCK_HEADER_BYTES),
        at,
      );
      const tableAt = at + BLOCK_HEADER_BYTES;
      const table = pack.subarray(tableAt, tableAt + header.tableBytes);
      const tableEnd = tableAt + header.tableBytes;
      if (
        tableEnd + CRC_BYTES > pack.length ||
        readUint32(pack, tableEnd) !== crc32(table)
      ) {
        throw new KvbitsDataError(
          `block ${header.number}'s entry table is damaged`,
          { stream: "pack table", bitOffset: 0 },
        );
      }
      const entries = decodePackTable(table, header.entries);
      const payloadAt = tableEnd + CRC_BYTES;
      const payload = pack.subarray(
        payloadAt,
        payloadAt + header.payloadBytes,
      );
      for (
        const restored of decodePackEntries(
          entries,
          payload,
          undefined,
          options.predictors,
        )
      ) {
        if (restored.problem !== undefined) {
          result.problems.push(`${restored.entry.path}: ${restored.problem}`);
        } else if (restored.entry.kind === "folder") {
          result.folders.push(restored.entry.path);
        } else result.files.push(...restored.files);
      }
      at = payloadAt + header.payloadBytes + CRC_BYTES;
    } catch (error) {
      if (!(error instanceof KvbitsDataError)) throw error;
      result.problems.push(`at byte ${at}: ${error.message}; the rest is lost`);
      return result;
    }
  }
}
