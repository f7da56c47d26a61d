/**
 * `list --pack`: what a pack holds, entry by entry, like `tar -t` and `zstd -l`.
 * From a file, only the index and the entry tables are read.
 *
 * @module
 */

import { openPackInput } from "../dump/pack_input.ts";
import { dumpMetaOfEntry } from "../format/pack_block.ts";
import { packSelection } from "../format/pack_selection.ts";
import { payloadBytesOf } from "../format/pack_table.ts";
import {
  type PackDamage,
  type PackEnding,
  type PackVisitor,
  readPackByIndex,
  readPackIndex,
  readPackInOrder,
} from "./pack_reader.ts";

/** One entry as listed. */
export interface PackListedEntry {
  /** The block holding it. */
  readonly block: number;
  /** `file`, `folder` or `dump`. */
  readonly kind: "file" | "folder" | "dump";
  /** Its path (a dump's meta file). */
  readonly path: string;
  /** Bytes it restores (a dump: meta, K and V). */
  readonly bytes: number;
  /** Bytes it takes in the payload (a dump's meta is in the table). */
  readonly codedBytes: number;
  /** A dump's layer. */
  readonly layer?: number;
  /** A dump's stage. */
  readonly stage?: string;
  /** A dump's tokens. */
  readonly tokens?: number;
  /** A dump coded against a predictor dump: true, or absent. */
  readonly predicted?: true;
}

/** What {@link listPack} found. */
export interface PackListReport {
  /** The entries, in pack order. */
  readonly entries: PackListedEntry[];
  /** Blocks read. */
  readonly blocks: number;
  /** Bytes of the pack. */
  readonly packBytes: number;
  /** Damage found. */
  readonly damage: PackDamage[];
  /** How a front-to-back reading ended (undefined when read by the index). */
  readonly ending: PackEnding | undefined;
}

/**
 * Lists a pack.
 *
 * @param options The pack (`-` for standard input) and `--only` patterns.
 * @returns Its entries.
 * @throws {KvbitsDataError} When the input is not a pack.
 *
 * @example
 * ```ts
 * import { listPack } from "./pack_list_job.ts";
 * import { encodePack } from "./pack_encode_job.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const out = await Deno.makeTempDir();
 * await encodePack({ dumpDir: "fixtures/kv-sample", pack: `${out}/s.kvp`, durable: false });
 * const report = await listPack({ pack: `${out}/s.kvp`, only: ["stage=prefill"] });
 * assertEquals(report.entries.map((entry) => entry.tokens), [128, 128, 128]);
 * await Deno.remove(out, { recursive: true });
 * ```
 */
export async function listPack(
  options: { readonly pack: string; readonly only?: readonly string[] },
): Promise<PackListReport> {
  const only = (options.only ?? []).length > 0
    ? packSelection(options.only!)
    : undefined;
  const entries: PackListedEntry[] = [];
  const damage: PackDamage[] = [];
  let blocks = 0;
  const visitor: PackVisitor = {
    damage: (found) => damage.push(found),
    block(block) {
      for (const entry of block.entries) {
        const codedBytes = payloadBytesOf(entry);
        if (entry.kind !== "dump") {
          if (only !== undefined && !only(entry)) continue;
          entries.push({
            block: block.header.number,
            kind: entry.kind,
            path: entry.path,
            bytes: codedBytes,
            codedBytes,
          });
          continue;
        }
        const dump = dumpMetaOfEntry(entry);
        if (typeof dump === "string") {
          damage.push({
            offset: block.offset,
            detail: `${entry.path}: ${dump}`,
          });
          continue;
        }
        if (only !== undefined && !only(entry, dump)) continue;
        const { tokens, heads, headDim } = entry.shape;
        entries.push({
          block: block.header.number,
          kind: "dump",
          path: entry.path,
          bytes: new TextEncoder().encode(dump.text).length +
            4 * tokens * heads * headDim,
          codedBytes,
          layer: dump.meta.layerId,
          stage: dump.meta.stage,
          tokens,
          ...(entry.predicted ? { predicted: true } as const : {}),
        });
      }
      blocks++;
    },
  };
  using input = openPackInput(options.pack);
  const index = input.size !== undefined ? readPackIndex(input) : undefined;
  let ending: PackEnding | undefined;
  if (index !== undefined && typeof index !== "string") {
    await readPackByIndex(input, index, visitor);
  } else {
    if (typeof index === "string") {
      damage.push({ offset: 0, detail: `index not usable: ${index}` });
    }
    ending = await readPackInOrder(input, visitor);
  }
  return {
    entries,
    blocks,
    packBytes: input.size ?? ending?.packBytes ?? 0,
    damage,
    ending,
  };
}
