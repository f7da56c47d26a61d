/**
 * Writing a pack from front to back, as `encode --pack` and `merge` do: the
 * header, blocks in order (each one's offset noted for the index), then the
 * index and the trailer with the CRC-32 of every byte before it, and only then
 * the pack's name (`pack_output.ts`). One place keeps the offsets and the CRC,
 * so that every writer of packs ends them the same way.
 *
 * @module
 */

import { crc32 } from "../codec/crc32.ts";
import { openPackOutput, type PackOutput } from "../dump/pack_output.ts";
import {
  indexBytes,
  type IndexedBlock,
  PACK_TRAILER_BYTES,
  packHeader,
  trailerBytes,
} from "../format/pack_layout.ts";

/**
 * A pack being written. {@link PackWriter.finish} gives it its name;
 * {@link PackWriter.abort} removes what was written.
 *
 * @example
 * ```ts
 * import { PackWriter } from "./pack_writer.ts";
 * import { PACK_CODERS, PACK_FORMAT_VERSIONS, PACK_HEADER_BYTES } from "../format/pack_layout.ts";
 * import { readPackIndex } from "./pack_reader.ts";
 * import { openPackInput } from "../dump/pack_input.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const folder = await Deno.makeTempDir();
 * const writer = await PackWriter.open(`${folder}/empty.kvp`, {
 *   coder: PACK_CODERS.packCoder,
 *   version: PACK_FORMAT_VERSIONS.plain,
 *   durable: false,
 * });
 * assertEquals(writer.beginBlock(3), 0);
 * await writer.write(new Uint8Array(5));
 * const bytes = await writer.finish();
 * assertEquals((await Deno.stat(`${folder}/empty.kvp`)).size, bytes);
 * using input = openPackInput(`${folder}/empty.kvp`);
 * const index = readPackIndex(input);
 * assertEquals(typeof index !== "string" && index.blocks, [{ offset: PACK_HEADER_BYTES, entries: 3 }]);
 * await Deno.remove(folder, { recursive: true });
 * ```
 */
export class PackWriter {
  readonly #output: PackOutput;
  readonly #blocks: IndexedBlock[] = [];
  #position = 0;
  #crc = 0;

  private constructor(output: PackOutput) {
    this.#output = output;
  }

  /**
   * Opens a pack (under a temporary name, or standard output for `-`) and
   * writes its header.
   *
   * @param path The pack, or `-`.
   * @param options The dump coder and format version the header names, and
   * whether to flush before the pack gets its name (default true).
   * @returns The writer.
   * @throws {KvbitsFileError} When the pack cannot be opened or written.
   */
  static async open(
    path: string,
    options: {
      readonly coder: number;
      readonly version: number;
      readonly durable?: boolean;
    },
  ): Promise<PackWriter> {
    const writer = new PackWriter(
      openPackOutput(path, { durable: options.durable }),
    );
    try {
      await writer.write(packHeader(options.coder, options.version));
    } catch (error) {
      await writer.abort();
      throw error;
    }
    return writer;
  }

  /** Bytes written so far. */
  get position(): number {
    return this.#position;
  }

  /** Blocks begun so far. */
  get blocks(): number {
    return this.#blocks.length;
  }

  /**
   * Notes that a block starts here; its bytes follow by {@link write}.
   *
   * @param entries The block's entries (for the index).
   * @returns The block's number in the pack.
   */
  beginBlock(entries: number): number {
    this.#blocks.push({ offset: this.#position, entries });
    return this.#blocks.length - 1;
  }

  /**
   * Writes bytes (the caller may reuse them once this resolves).
   *
   * @param bytes The bytes.
   */
  async write(bytes: Uint8Array): Promise<void> {
    this.#crc = crc32(bytes, this.#crc);
    this.#position += bytes.length;
    await this.#output.write(bytes);
  }

  /**
   * Writes the index and the trailer, then gives the pack its name.
   *
   * @returns The pack's bytes.
   */
  async finish(): Promise<number> {
    const indexOffset = this.#position;
    await this.write(indexBytes(this.#blocks));
    await this.write(trailerBytes({
      indexOffset,
      packBytes: this.#position + PACK_TRAILER_BYTES,
      packCrc: this.#crc,
    }));
    await this.#output.commit();
    return this.#position;
  }

  /** Removes what was written (nothing remains under the pack's name). */
  async abort(): Promise<void> {
    await this.#output.abort();
  }
}
