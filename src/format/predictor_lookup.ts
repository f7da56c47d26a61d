/**
 * How a pack's decoder finds the predictor dump of an entry coded against one
 * (`--predictor-dir`), and what it says when it cannot use it: the entry's
 * predictor is missing, unreadable, or not bit-identical to the encoder's.
 *
 * Read me first:
 * - The lookup is the caller's (the jobs read a predictor folder, a library user
 *   may hold tensors in memory): given a dump's meta path in the tree and its
 *   meta, it returns the predictor's K and V, or undefined when there is none.
 * - Every problem is one line that names the predictor file when there is one,
 *   so that the user knows which file to regenerate.
 *
 * @module
 */

import { KvbitsPredictorMismatchError } from "../codec/predicted_dump_coder.ts";
import type { DumpMeta } from "./dump_meta.ts";

/** A predictor dump's tensors, and their files when they came from files. */
export interface PackPredictor {
  /** K's FP16 words. */
  readonly k: Uint16Array;
  /** V's FP16 words. */
  readonly v: Uint16Array;
  /** K's file, for messages. */
  readonly kPath?: string;
  /** V's file, for messages. */
  readonly vPath?: string;
}

/** What a lookup learns of a dump: its meta and the paths of its tensors. */
export interface PackDumpFiles {
  /** What its meta file says (the shape the predictor must have). */
  readonly meta: DumpMeta;
  /** K's path in the tree. */
  readonly kPath: string;
  /** V's path in the tree. */
  readonly vPath: string;
}

/**
 * Finds the predictor dump of a dump: its K and V (the shape the dump's meta
 * says), or undefined when there is none.
 *
 * @param path The dump's meta file path in the tree.
 * @param dump Its meta and tensor paths.
 * @returns The predictor, or undefined.
 * @throws {Error} When the predictor exists but cannot be used (unreadable,
 * another shape): the message says why.
 */
export type PackPredictorLookup = (
  path: string,
  dump: PackDumpFiles,
) => PackPredictor | undefined;

/**
 * The predictor of a dump entry coded against one, or why there is none to use.
 *
 * @param path The dump's meta file path in the tree.
 * @param dump What its meta says.
 * @param lookup The caller's lookup, or undefined when none was given.
 * @returns The predictor, or the problem (one line).
 *
 * @example
 * ```ts
 * import { predictorOfEntry } from "./predictor_lookup.ts";
 * import { packDumpMetaOf } from "./pack_dump_meta.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const text = '{"layer_id": 0, "seq_len": 1, "kv_heads": 1, "head_dim": 2, "bytes_per_elem": 2, "stage": "decode", "k_file": "k.bin", "v_file": "v.bin"}';
 * const dump = packDumpMetaOf("l/meta_t0_1.json", new TextEncoder().encode(text));
 * if (typeof dump === "string") throw new Error(dump);
 * assertEquals(predictorOfEntry("l/meta_t0_1.json", dump, undefined), "coded against a predictor dump, and no predictor folder was given");
 * assertEquals(predictorOfEntry("l/meta_t0_1.json", dump, () => undefined), "coded against a predictor dump, and the predictor folder has no l/meta_t0_1.json");
 * const k = new Uint16Array(2), v = new Uint16Array(2);
 * assertEquals(predictorOfEntry("l/meta_t0_1.json", dump, () => ({ k, v })), { k, v });
 * ```
 */
export function predictorOfEntry(
  path: string,
  dump: PackDumpFiles,
  lookup: PackPredictorLookup | undefined,
): PackPredictor | string {
  if (lookup === undefined) {
    return "coded against a predictor dump, and no predictor folder was given";
  }
  let predictor: PackPredictor | undefined;
  try {
    predictor = lookup(path, dump);
  } catch (error) {
    return `its predictor cannot be used: ${(error as Error).message}`;
  }
  return predictor ??
    `coded against a predictor dump, and the predictor folder has no ${path}`;
}

/**
 * What to say when decoding against a predictor failed, or undefined when the
 * failure is not the predictor's (a mismatch of its SHA-256).
 *
 * @param error What the decoder threw.
 * @param predictor The predictor it was given.
 * @returns The problem, naming the predictor file, or undefined.
 *
 * @example
 * ```ts
 * import { predictorMismatchProblem } from "./predictor_lookup.ts";
 * import { KvbitsPredictorMismatchError } from "../codec/predicted_dump_coder.ts";
 * import { assertEquals, assertStringIncludes } from "@std/assert";
 *
 * const predictor = { k: new Uint16Array(1), v: new Uint16Array(1), vPath: "p/v_t0_1.bin" };
 * assertStringIncludes(predictorMismatchProblem(new KvbitsPredictorMismatchError("v"), predictor)!, "predictor file p/v_t0_1.bin is not the one");
 * assertEquals(predictorMismatchProblem(new Error("x"), predictor), undefined);
 * ```
 */
export function predictorMismatchProblem(
  error: unknown,
  predictor: PackPredictor,
): string | undefined {
  if (!(error instanceof KvbitsPredictorMismatchError)) return undefined;
  const file = error.tensor === "k" ? predictor.kPath : predictor.vPath;
  const name = file === undefined
    ? `the ${error.tensor.toUpperCase()} predictor`
    : `predictor file ${file}`;
  return `refused: ${name} is not the one this dump was coded with (its SHA-256 differs); regenerate it exactly (same weights, tokens, chunking, software and kernels)`;
}
