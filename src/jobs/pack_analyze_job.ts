/**
 * `analyze --pack`: where a pack's bytes go, by layer and stage of its dumps and
 * for its other files, from the index and entry tables alone.
 *
 * @module
 */

import {
  checkPredictorFolder,
  predictorDumpExists,
} from "../dump/predictor_dump.ts";
import { listPack, type PackListReport } from "./pack_list_job.ts";

/** One row of the analysis. */
export interface PackAnalysisRow {
  /**
   * `layer <n> <stage>` for dumps (`layer <n> <stage> predicted` for those coded
   * against a predictor dump), `files` for the rest.
   */
  readonly group: string;
  /** Entries in the group. */
  readonly entries: number;
  /** Tokens of its dumps. */
  readonly tokens: number;
  /** Bytes the group restores. */
  readonly bytes: number;
  /** Bytes it takes in the payloads. */
  readonly codedBytes: number;
  /** `bytes / codedBytes`, or null. */
  readonly ratio: number | null;
}

/** What {@link analyzePack} found. */
export interface PackAnalysis {
  /** Rows, files first, then dumps by layer and stage. */
  readonly rows: PackAnalysisRow[];
  /** Bytes restored in all. */
  readonly bytes: number;
  /** Bytes of the pack, every byte counted (tables, framing, index). */
  readonly packBytes: number;
  /** Bytes of the pack that are not payload: tables (metas), framing, index. */
  readonly overheadBytes: number;
  /** The listing it was made from (damage included). */
  readonly listing: PackListReport;
  /**
   * Dumps coded against a predictor whose counterpart the given predictor
   * folder lacks (they could not be decoded with it); empty without a folder.
   */
  readonly missingPredictors: string[];
}

/**
 * Analyzes a pack.
 *
 * @param options The pack (`-` for standard input), and the predictor folder to
 * check for the counterparts of its predicted dumps.
 * @returns The rows and totals.
 *
 * @example
 * ```ts
 * import { analyzePack } from "./pack_analyze_job.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const analysis = await analyzePack({ pack: "fixtures/golden/pack/tree.kvp" });
 * assertEquals(analysis.rows.map((row) => [row.group, row.entries]), [["files", 1], ["layer 0 decode", 3], ["layer 5 decode", 2]]);
 * ```
 */
export async function analyzePack(
  options: { readonly pack: string; readonly predictorDir?: string },
): Promise<PackAnalysis> {
  const predictorDir = options.predictorDir;
  if (predictorDir !== undefined) checkPredictorFolder(predictorDir);
  const listing = await listPack({ pack: options.pack });
  const missingPredictors: string[] = [];
  const groups = new Map<string, { key: number[]; row: PackAnalysisRow }>();
  for (const entry of listing.entries) {
    const dump = entry.kind === "dump";
    const group = dump
      ? `layer ${entry.layer} ${entry.stage}${
        entry.predicted ? " predicted" : ""
      }`
      : "files";
    if (
      entry.predicted && predictorDir !== undefined &&
      !predictorDumpExists(predictorDir, entry.path)
    ) missingPredictors.push(entry.path);
    const key = dump
      ? [
        entry.layer!,
        (entry.stage === "prefill" ? 0 : 2) + (entry.predicted ? 1 : 0),
      ]
      : [-1, 0];
    const old = groups.get(group)?.row;
    const row = {
      group,
      entries: (old?.entries ?? 0) + 1,
      tokens: (old?.tokens ?? 0) + (entry.tokens ?? 0),
      bytes: (old?.bytes ?? 0) + entry.bytes,
      codedBytes: (old?.codedBytes ?? 0) + entry.codedBytes,
      ratio: null,
    };
    groups.set(group, { key, row });
  }
  const rows = [...groups.values()]
    .sort((a, b) => a.key[0] - b.key[0] || a.key[1] - b.key[1])
    .map(({ row }) => ({
      ...row,
      ratio: row.codedBytes > 0 ? row.bytes / row.codedBytes : null,
    }));
  const bytes = rows.reduce((sum, row) => sum + row.bytes, 0);
  const payload = rows.reduce((sum, row) => sum + row.codedBytes, 0);
  return {
    rows,
    bytes,
    packBytes: listing.packBytes,
    overheadBytes: listing.packBytes - payload,
    listing,
    missingPredictors,
  };
}
