/**
 * `merge a b -o c`: packs combined into one without coding anything again: each
 * block is copied as it is, with its number in the new pack (its header and the
 * header's CRC-32 rewritten), then a new index and trailer.
 *
 * Read me first:
 * - Every input is checked first (the CRC-32 of the whole pack and its index), so
 *   that a damaged input is refused rather than copied.
 * - Inputs must name the same dump coder, and no path may be in two inputs: the
 *   merged pack restores into one tree.
 *
 * @module
 */

import { openPackInput } from "../dump/pack_input.ts";
import { dumpMetaOfEntry } from "../format/pack_block.ts";
import {
  BLOCK_HEADER_BYTES,
  blockHeaderBytes,
  blockLength,
  PACK_CODERS,
  PACK_FORMAT_VERSIONS,
} from "../format/pack_layout.ts";
import { KvbitsJobError } from "./job_error.ts";
import {
  type PackDamage,
  readPackIndex,
  readPackInOrder,
} from "./pack_reader.ts";
import { PackWriter } from "./pack_writer.ts";

/** What {@link mergePacks} did. */
export interface PackMergeReport {
  /** Blocks copied. */
  readonly blocks: number;
  /** Entries in them. */
  readonly entries: number;
  /** Bytes of the merged pack. */
  readonly packBytes: number;
  /** Wall time of the job. */
  readonly seconds: number;
}

const COPY_CHUNK = 1 << 22;

/**
 * Merges packs.
 *
 * @param options The input packs (files) and the output (a file or `-`).
 * @returns What was merged.
 * @throws {KvbitsJobError} When an input is damaged, the coders differ, or a path
 * is in two inputs (nothing is written then).
 *
 * @example
 * ```ts
 * import { mergePacks } from "./pack_merge_job.ts";
 * import { encodePack } from "./pack_encode_job.ts";
 * import { verifyPack } from "./pack_decode_job.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const out = await Deno.makeTempDir();
 * await encodePack({ dumpDir: "fixtures/kv-sample/llama6L-kjv-ruth", pack: `${out}/a.kvp`, durable: false });
 * await encodePack({ dumpDir: "fixtures/kv-sample/gpt2L4-fortune-wisdom", pack: `${out}/b.kvp`, durable: false });
 * const report = await mergePacks({ inputs: [`${out}/a.kvp`, `${out}/b.kvp`], output: `${out}/c.kvp`, durable: false });
 * assertEquals(report.blocks, 2);
 * assertEquals((await verifyPack({ pack: `${out}/c.kvp` })).dumps, 51);
 * await Deno.remove(out, { recursive: true });
 * ```
 */
export async function mergePacks(
  options: {
    readonly inputs: readonly string[];
    readonly output: string;
    readonly durable?: boolean;
  },
): Promise<PackMergeReport> {
  const started = performance.now();
  let coder: number | undefined;
  // The output is of the highest format version of its inputs.
  let version: number = PACK_FORMAT_VERSIONS.plain;
  const owner = new Map<string, string>();
  for (const path of options.inputs) {
    if (path === "-") {
      throw new KvbitsJobError("merge reads its inputs from files, not from -");
    }
    using input = openPackInput(path);
    const damage: PackDamage[] = [];
    const ending = await readPackInOrder(input, {
      damage: (found) => damage.push(found),
      block(block) {
        for (const entry of block.entries) {
          const paths = [entry.path];
          if (entry.kind === "dump") {
            const dump = dumpMetaOfEntry(entry);
            if (typeof dump !== "string") paths.push(dump.kPath, dump.vPath);
          }
          for (const file of paths) {
            const other = owner.get(file);
            if (other !== undefined) {
              throw new KvbitsJobError(
                `${file} is in both ${other} and ${path}: merged packs restore into one tree`,
              );
            }
            owner.set(file, path);
          }
        }
      },
    });
    if (!ending.complete || damage.length > 0) {
      throw new KvbitsJobError(
        `${path} is damaged (${
          damage[0]?.detail ?? "incomplete"
        }): decode what it still holds and pack it again`,
      );
    }
    if (coder !== undefined && ending.coder !== coder) {
      throw new KvbitsJobError(
        `${path} was coded with dump coder ${ending.coder}, the packs before it with ${coder}`,
      );
    }
    coder = ending.coder;
    version = Math.max(version, ending.version);
  }
  const pack = await PackWriter.open(options.output, {
    coder: coder ?? PACK_CODERS.packCoder,
    version,
    durable: options.durable,
  });
  let entries = 0;
  let packBytes: number;
  try {
    for (const path of options.inputs) {
      using input = openPackInput(path);
      const index = readPackIndex(input);
      if (typeof index === "string") {
        throw new KvbitsJobError(`${path}: ${index}`);
      }
      for (const block of index.blocks) {
        const header = input.readAt(block.offset, BLOCK_HEADER_BYTES);
        const view = new DataView(header.buffer, header.byteOffset);
        const tableBytes = view.getUint32(12, true);
        const payloadBytes = view.getUint32(16, true) +
          view.getUint32(20, true) * 2 ** 32;
        entries += block.entries;
        await pack.write(blockHeaderBytes({
          number: pack.beginBlock(block.entries),
          entries: block.entries,
          tableBytes,
          payloadBytes,
        }));
        const end = block.offset + blockLength(tableBytes, payloadBytes);
        for (
          let at = block.offset + BLOCK_HEADER_BYTES;
          at < end;
          at += COPY_CHUNK
        ) {
          await pack.write(input.readAt(at, Math.min(COPY_CHUNK, end - at)));
        }
      }
    }
    packBytes = await pack.finish();
  } catch (error) {
    await pack.abort();
    throw error;
  }
  return {
    blocks: pack.blocks,
    entries,
    packBytes,
    seconds: (performance.now() - started) / 1000,
  };
}
