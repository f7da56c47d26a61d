/**
 * Compression ratios per run, layer and stage: the data of the report's per-layer
 * charts.
 *
 * Why per run and not per layer index over all runs: the runs of a folder may come
 * from different models (in ../shared/kv-real a 4-layer GPT-2 and two 6-layer
 * Llamas), so layer 3 is the last layer of one and a middle layer of another;
 * pooling them by index would mix unrelated tensors. Within a cell, the ratio is
 * weighted like the folder totals: raw bytes over coded bytes of its dumps.
 *
 * @module
 */

import { codedBytes, type DumpSizes } from "./metrics.ts";

/** Totals of the dumps of one run, layer and stage. */
export interface LayerCell {
  /** Dumps in the cell. */
  readonly dumps: number;
  /** K bytes before coding. */
  readonly kRaw: number;
  /** V bytes before coding. */
  readonly vRaw: number;
  /** K bytes after coding (streams, plus half of each meta file with metadata). */
  readonly kCoded: number;
  /** V bytes after coding. */
  readonly vCoded: number;
}

/** The layers of one run and, per layer and stage, their totals. */
export interface RunLayers {
  /** `run_id` ("" when the dumps have none). */
  readonly runId: string;
  /** Layer ids present, ascending. */
  readonly layers: readonly number[];
  /** Totals by layer id, then by stage. */
  readonly cells: ReadonlyMap<number, ReadonlyMap<string, LayerCell>>;
}

/** The runs of a folder, with the stages present anywhere in it. */
export interface LayerRatios {
  /** Stages present, `prefill` first, then `decode`, then any other in name order. */
  readonly stages: readonly string[];
  /** Runs in `run_id` order. */
  readonly runs: readonly RunLayers[];
}

/**
 * Groups dump sizes by run, layer and stage and sums each group.
 *
 * @param rows Sizes of each dump.
 * @param includeMeta Count each dump's meta file (half to K, half to V).
 * @returns The stages present and, per run, the totals per layer and stage.
 *
 * @example Two runs, one with both stages
 * ```ts
 * import { layerRatios } from "./layer_ratios.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const dump = (runId: string, layerId: number, stage: string, coded: number) => ({
 *   runId, layerId, stage, seqLen: 1, numElements: 64, kRaw: 128, vRaw: 128,
 *   kHi6: coded / 4, kLo10: coded * 3 / 4, vHi6: coded / 4, vLo10: coded * 3 / 4, metaBytes: 50,
 * });
 * const ratios = layerRatios([
 *   dump("b", 1, "decode", 100), dump("b", 0, "decode", 64), dump("b", 0, "decode", 64),
 *   dump("a", 0, "prefill", 80), dump("a", 0, "decode", 100),
 * ], false);
 * assertEquals(ratios.stages, ["prefill", "decode"]);
 * assertEquals(ratios.runs.map((run) => [run.runId, run.layers]), [["a", [0]], ["b", [0, 1]]]);
 * const cell = ratios.runs[1].cells.get(0)!.get("decode")!;
 * assertEquals([cell.dumps, cell.kRaw, cell.kCoded], [2, 256, 128]);
 * ```
 */
export function layerRatios(
  rows: readonly DumpSizes[],
  includeMeta: boolean,
): LayerRatios {
  const stages = new Set<string>();
  const runs = new Map<string, Map<number, Map<string, LayerCell>>>();
  for (const row of rows) {
    stages.add(row.stage);
    let layers = runs.get(row.runId);
    if (!layers) runs.set(row.runId, layers = new Map());
    let byStage = layers.get(row.layerId);
    if (!byStage) layers.set(row.layerId, byStage = new Map());
    const before = byStage.get(row.stage) ??
      { dumps: 0, kRaw: 0, vRaw: 0, kCoded: 0, vCoded: 0 };
    const coded = codedBytes(row, includeMeta);
    byStage.set(row.stage, {
      dumps: before.dumps + 1,
      kRaw: before.kRaw + row.kRaw,
      vRaw: before.vRaw + row.vRaw,
      kCoded: before.kCoded + coded.k,
      vCoded: before.vCoded + coded.v,
    });
  }
  const stageRank = (stage: string) =>
    stage === "prefill" ? 0 : stage === "decode" ? 1 : 2;
  return {
    stages: [...stages].sort((a, b) =>
      stageRank(a) - stageRank(b) || compareText(a, b)
    ),
    runs: [...runs.keys()].sort(compareText).map((runId) => {
      const cells = runs.get(runId)!;
      return {
        runId,
        layers: [...cells.keys()].sort((a, b) => a - b),
        cells,
      };
    }),
  };
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
