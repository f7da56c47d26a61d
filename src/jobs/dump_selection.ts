/**
 * Which dumps a job takes: the reference tools' selection flags (FORMAT.md §1).
 *
 * @module
 */

import type { DumpMeta } from "../format/dump_meta.ts";
import { mentionOption } from "./job_error.ts";

/** Stages a job can select. */
export type StageSelection = "prefill" | "decode" | "both";

/** The selection flags. */
export interface DumpSelection {
  /** `--stage`: compared with the meta `stage`. */
  readonly stage: StageSelection;
  /** `--min-seq-len`: smallest `seq_len` taken, 0 for no bound. */
  readonly minSeqLen: number;
  /** `--max-seq-len`: largest `seq_len` taken, 0 for no bound. */
  readonly maxSeqLen: number;
}

/** Takes every dump. */
export const SELECT_ALL: DumpSelection = {
  stage: "both",
  minSeqLen: 0,
  maxSeqLen: 0,
};

/**
 * Why a dump is left out, or undefined when it is taken.
 *
 * @param meta The dump's meta.
 * @param selection The selection flags.
 * @returns The reason, one line, or undefined.
 *
 * @example
 * ```ts
 * import { selectionSkipReason } from "./dump_selection.ts";
 * import { parseDumpMeta } from "../format/dump_meta.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const meta = parseDumpMeta('{"layer_id": 0, "seq_len": 1, "kv_heads": 1, "head_dim": 1, "bytes_per_elem": 4, "stage": "decode", "k_file": "k", "v_file": "v"}');
 * assertEquals(selectionSkipReason(meta, { stage: "both", minSeqLen: 0, maxSeqLen: 0 }), "bytes_per_elem is 4: only FP16 (2) is coded");
 * ```
 */
export function selectionSkipReason(
  meta: DumpMeta,
  selection: DumpSelection,
): string | undefined {
  if (meta.bytesPerElem !== 2) {
    return `bytes_per_elem is ${meta.bytesPerElem}: only FP16 (2) is coded`;
  }
  if (selection.stage !== "both" && meta.stage !== selection.stage) {
    return `stage is "${meta.stage}", not selected by ${
      mentionOption("stage")
    } ${selection.stage}`;
  }
  if (selection.minSeqLen > 0 && meta.seqLen < selection.minSeqLen) {
    return `seq_len ${meta.seqLen} is below ${
      mentionOption("minSeqLen")
    } ${selection.minSeqLen}`;
  }
  if (selection.maxSeqLen > 0 && meta.seqLen > selection.maxSeqLen) {
    return `seq_len ${meta.seqLen} is above ${
      mentionOption("maxSeqLen")
    } ${selection.maxSeqLen}`;
  }
  return undefined;
}

/** Name of a meta file in a dump folder: `meta_<anything>.json`. */
export const INPUT_META_PATTERN = /^meta_.+\.json$/s;

/**
 * Why a dump's tensor names cannot be restored, when they cannot: a tensor
 * named like a dump's meta (`meta_*.json`) would be written over it by decode.
 *
 * @param meta The dump's meta.
 * @returns The reason, or undefined when the names are fine.
 *
 * @example
 * ```ts
 * import { tensorNamingAMeta } from "./dump_selection.ts";
 * import { parseDumpMeta } from "../format/dump_meta.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const meta = (kFile: string) => parseDumpMeta(JSON.stringify({
 *   layer_id: 0, seq_len: 1, kv_heads: 1, head_dim: 8, bytes_per_elem: 2,
 *   stage: "decode", k_file: kFile, v_file: "v.bin",
 * }));
 * assertEquals(tensorNamingAMeta(meta("k.bin")), undefined);
 * assertEquals(tensorNamingAMeta(meta("meta_x.json"))?.startsWith('k_file "meta_x.json" names a meta file'), true);
 * ```
 */
export function tensorNamingAMeta(meta: DumpMeta): string | undefined {
  for (const [key, path] of [["k_file", meta.kFile], ["v_file", meta.vFile]]) {
    const name = path.slice(path.lastIndexOf("/") + 1);
    if (INPUT_META_PATTERN.test(name)) {
      return `${key} ${
        JSON.stringify(path)
      } names a meta file (meta_*.json), which decode would restore over another dump's meta`;
    }
  }
  return undefined;
}
