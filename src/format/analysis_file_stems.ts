/**
 * Names of analyze's files when several bitstream folders are analysed together.
 *
 * @module
 */

/** What names a folder's analysis files: its codec and codebook mode. */
export interface AnalysedFolderKind {
  /** Codec name, e.g. `huffman`; undefined for a folder without dumps. */
  readonly codec?: string;
  /** Codebook mode, e.g. `global` or `per-dump`, when known. */
  readonly codebook?: string;
}

/**
 * The stem of each folder's `<stem>_metrics.csv` and `<stem>_summary.md`: the
 * codec name, as the reference names them, when no other folder has that codec;
 * else `<codec>-<codebook>` (e.g. `huffman-global`); else that name numbered in
 * the order given (`huffman-global-1`, `huffman-global-2`). Every stem is unique.
 *
 * @param folders Kind of each folder, in the order given.
 * @returns One stem per folder (undefined for a folder without a codec).
 *
 * @example
 * ```ts
 * import { analysisFileStems } from "./analysis_file_stems.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(analysisFileStems([{ codec: "huffman", codebook: "global" }]), ["huffman"]);
 * assertEquals(
 *   analysisFileStems([
 *     { codec: "huffman", codebook: "global" }, { codec: "huffman", codebook: "per-dump" },
 *     { codec: "arith", codebook: "global" }, {},
 *   ]),
 *   ["huffman-global", "huffman-per-dump", "arith", undefined],
 * );
 * assertEquals(
 *   analysisFileStems([{ codec: "huffman", codebook: "global" }, { codec: "huffman", codebook: "global" }]),
 *   ["huffman-global-1", "huffman-global-2"],
 * );
 * ```
 */
export function analysisFileStems(
  folders: readonly AnalysedFolderKind[],
): (string | undefined)[] {
  const tally = (names: readonly (string | undefined)[]) => {
    const counts = new Map<string, number>();
    for (const name of names) {
      if (name !== undefined) counts.set(name, (counts.get(name) ?? 0) + 1);
    }
    return counts;
  };
  const codecCounts = tally(folders.map((folder) => folder.codec));
  const named = folders.map(({ codec, codebook }) =>
    codec === undefined
      ? undefined
      : codecCounts.get(codec) === 1 || codebook === undefined
      ? codec
      : `${codec}-${codebook}`
  );
  const namedCounts = tally(named);
  const seen = new Map<string, number>();
  return named.map((name) => {
    if (name === undefined || namedCounts.get(name) === 1) return name;
    const index = (seen.get(name) ?? 0) + 1;
    seen.set(name, index);
    return `${name}-${index}`;
  });
}
