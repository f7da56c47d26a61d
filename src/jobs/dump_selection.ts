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
