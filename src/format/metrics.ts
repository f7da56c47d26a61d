/**
 * Compression metrics of a bitstream folder and their files: the reference CSV and
 * summary (FORMAT.md §5).
 *
 * @module
 */

import type { TensorPlaneBits } from "./layout.ts";

/** Sizes of one coded dump. */
export interface DumpSizes {
  /** `run_id`. */
  readonly runId: string;
  /** `layer_id`. */
  readonly layerId: number;
  /** `stage`. */
  readonly stage: string;
  /** `seq_len`. */
  readonly seqLen: number;
  /** Elements of K (equal to V). */
  readonly numElements: number;
  /** Bytes of the original K file. */
  readonly kRaw: number;
  /** Bytes of the original V file. */
  readonly vRaw: number;
  /** Bytes of the `k_hi6` stream file. */
  readonly kHi6: number;
  /** Bytes of the `k_lo10` stream file. */
  readonly kLo10: number;
  /** Bytes of the `v_hi6` stream file. */
  readonly vHi6: number;
  /** Bytes of the `v_lo10` stream file. */
  readonly vLo10: number;
  /** Bytes of the dump's bitstream meta file. */
  readonly metaBytes: number;
  /**
   * What the codec's model spends on each plane of K and V, when it can say (the
   * `ctx` codec); the four stream columns above then hold the payload split in
   * proportion to these.
   */
  readonly planes?: {
    readonly k: TensorPlaneBits;
    readonly v: TensorPlaneBits;
  };
}

/** Raw and coded bytes of K, V and both, and their ratios. */
export interface RatioTotals {
  /** Dumps counted. */
  readonly dumps: number;
  /** K bytes before coding. */
  readonly kRaw: number;
  /** V bytes before coding. */
  readonly vRaw: number;
  /** K bytes after coding. */
  readonly kCoded: number;
  /** V bytes after coding. */
  readonly vCoded: number;
  /** `kRaw / kCoded`. */
  readonly kRatio: number;
  /** `vRaw / vCoded`. */
  readonly vRatio: number;
  /** `(kRaw + vRaw) / (kCoded + vCoded)`. */
  readonly kvRatio: number;
}

/**
 * Coded bytes of a dump's K and V: the two streams of each, plus half the meta
 * file each when metadata is counted.
 *
 * @param sizes The dump's sizes.
 * @param includeMeta Count the meta file (half to K, half to V).
 * @returns Coded bytes of K and of V.
 *
 * @example
 * ```ts
 * import { codedBytes } from "./metrics.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const sizes = { runId: "r", layerId: 0, stage: "decode", seqLen: 1, numElements: 64,
 *   kRaw: 128, vRaw: 128, kHi6: 30, kLo10: 80, vHi6: 31, vLo10: 81, metaBytes: 100 };
 * assertEquals(codedBytes(sizes, false), { k: 110, v: 112 });
 * assertEquals(codedBytes(sizes, true), { k: 160, v: 162 });
 * ```
 */
export function codedBytes(
  sizes: DumpSizes,
  includeMeta: boolean,
): { k: number; v: number } {
  const meta = includeMeta ? sizes.metaBytes / 2 : 0;
  return {
    k: sizes.kHi6 + sizes.kLo10 + meta,
    v: sizes.vHi6 + sizes.vLo10 + meta,
  };
}

/**
 * Weighted totals over dumps: total raw bytes over total coded bytes. With
 * metadata, the folder's shared files (the global codebook) count too, half to K
 * and half to V.
 *
 * @param rows Sizes of each dump.
 * @param includeMeta Count every meta file and `sharedBytes`.
 * @param sharedBytes Bytes of the folder's shared files (the global codebook).
 * @returns The totals and ratios.
 *
 * @example
 * ```ts
 * import { ratioTotals } from "./metrics.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const sizes = { runId: "r", layerId: 0, stage: "decode", seqLen: 1, numElements: 64,
 *   kRaw: 128, vRaw: 128, kHi6: 14, kLo10: 50, vHi6: 14, vLo10: 50, metaBytes: 0 };
 * assertEquals(ratioTotals([sizes, sizes], true, 256).kvRatio, 512 / (256 + 256));
 * ```
 */
export function ratioTotals(
  rows: readonly DumpSizes[],
  includeMeta: boolean,
  sharedBytes: number,
): RatioTotals {
  let kRaw = 0, vRaw = 0, kCoded = 0, vCoded = 0;
  for (const row of rows) {
    const coded = codedBytes(row, includeMeta);
    kRaw += row.kRaw;
    vRaw += row.vRaw;
    kCoded += coded.k;
    vCoded += coded.v;
  }
  if (includeMeta) {
    kCoded += sharedBytes / 2;
    vCoded += sharedBytes / 2;
  }
  return {
    dumps: rows.length,
    kRaw,
    vRaw,
    kCoded,
    vCoded,
    kRatio: kRaw / kCoded,
    vRatio: vRaw / vCoded,
    kvRatio: (kRaw + vRaw) / (kCoded + vCoded),
  };
}

/**
 * The reference metrics CSV: `run_id,layer_id,stage,seq_len,k_raw,v_raw,k_comp,
 * v_comp,k_ratio,v_ratio`, one row per dump.
 *
 * @param rows Sizes of each dump.
 * @param includeMeta Count each dump's meta file (half to K, half to V).
 * @returns The CSV text, with a header line and a final newline.
 *
 * @example
 * ```ts
 * import { metricsCsv } from "./metrics.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const sizes = { runId: "r", layerId: 2, stage: "decode", seqLen: 1, numElements: 64,
 *   kRaw: 128, vRaw: 128, kHi6: 14, kLo10: 50, vHi6: 14, vLo10: 50, metaBytes: 10 };
 * assertEquals(metricsCsv([sizes], false).split("\n")[1], "r,2,decode,1,128,128,64,64,2,2");
 * ```
 */
export function metricsCsv(
  rows: readonly DumpSizes[],
  includeMeta: boolean,
): string {
  const lines = [
    "run_id,layer_id,stage,seq_len,k_raw,v_raw,k_comp,v_comp,k_ratio,v_ratio",
  ];
  for (const row of rows) {
    const coded = codedBytes(row, includeMeta);
    lines.push(
      [
        csvField(row.runId),
        row.layerId,
        csvField(row.stage),
        row.seqLen,
        row.kRaw,
        row.vRaw,
        coded.k,
        coded.v,
        row.kRaw / coded.k,
        row.vRaw / coded.v,
      ].join(","),
    );
  }
  return lines.join("\n") + "\n";
}

function csvField(text: string): string {
  return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** Everything the summary shows. */
export interface SummaryParts {
  /** Codec title, e.g. "Huffman". */
  readonly title: string;
  /** The bitstream folder. */
  readonly bitstreamDir: string;
  /** Sizes of each dump. */
  readonly rows: readonly DumpSizes[];
  /** Bytes of the global codebook (0 for per-dump). */
  readonly sharedBytes: number;
  /** Whether the headline figures count metadata (`--include-meta`). */
  readonly includeMeta: boolean;
}

/**
 * The reference summary in Markdown: number of dumps and weighted K, V and KV
 * ratios, as chosen by `--include-meta`, then the same without and with metadata,
 * and the bits per element of each plane.
 *
 * @param parts What to summarise.
 * @returns The Markdown text.
 *
 * @example
 * ```ts
 * import { summaryMarkdown } from "./metrics.ts";
 * import { assertStringIncludes } from "@std/assert";
 *
 * const sizes = { runId: "r", layerId: 0, stage: "decode", seqLen: 1, numElements: 64,
 *   kRaw: 128, vRaw: 128, kHi6: 14, kLo10: 50, vHi6: 14, vLo10: 50, metaBytes: 10 };
 * const text = summaryMarkdown({ title: "Huffman", bitstreamDir: "out", rows: [sizes], sharedBytes: 0, includeMeta: false });
 * assertStringIncludes(text, "- Dumps: 1");
 * assertStringIncludes(text, "| KV | 256 | 128 | 2.0000 |");
 * ```
 */
export function summaryMarkdown(parts: SummaryParts): string {
  const { rows, sharedBytes, includeMeta } = parts;
  const headline = ratioTotals(rows, includeMeta, sharedBytes);
  const without = ratioTotals(rows, false, sharedBytes);
  const withMeta = ratioTotals(rows, true, sharedBytes);
  let elements = 0, kHi6 = 0, kLo10 = 0, vHi6 = 0, vLo10 = 0;
  for (const row of rows) {
    elements += row.numElements;
    kHi6 += row.kHi6;
    kLo10 += row.kLo10;
    vHi6 += row.vHi6;
    vLo10 += row.vLo10;
  }
  const bits = (bytes: number) =>
    elements ? (8 * bytes / elements).toFixed(3) : "-";
  const table = (totals: RatioTotals) => [
    "| | raw bytes | coded bytes | ratio |",
    "| --- | ---: | ---: | ---: |",
    `| K | ${totals.kRaw} | ${round(totals.kCoded)} | ${
      totals.kRatio.toFixed(4)
    } |`,
    `| V | ${totals.vRaw} | ${round(totals.vCoded)} | ${
      totals.vRatio.toFixed(4)
    } |`,
    `| KV | ${totals.kRaw + totals.vRaw} | ${
      round(totals.kCoded + totals.vCoded)
    } | ${totals.kvRatio.toFixed(4)} |`,
  ];
  return [
    `# ${parts.title} bitstream summary`,
    "",
    `- Bitstream folder: ${parts.bitstreamDir}`,
    `- Dumps: ${rows.length}`,
    `- Metadata counted: ${
      includeMeta
        ? "yes (each dump's JSON half to K, half to V; shared codebook likewise)"
        : "no"
    }`,
    "",
    ...table(headline),
    "",
    "## Without and with metadata",
    "",
    "| | K ratio | V ratio | KV ratio |",
    "| --- | ---: | ---: | ---: |",
    `| coded streams only | ${without.kRatio.toFixed(4)} | ${
      without.vRatio.toFixed(4)
    } | ${without.kvRatio.toFixed(4)} |`,
    `| with all JSON (${
      round(withMeta.kCoded + withMeta.vCoded - without.kCoded - without.vCoded)
    } bytes) | ${withMeta.kRatio.toFixed(4)} | ${
      withMeta.vRatio.toFixed(4)
    } | ${withMeta.kvRatio.toFixed(4)} |`,
    "",
    "## Bits per element by plane",
    "",
    "| | hi6 | lo10 | total |",
    "| --- | ---: | ---: | ---: |",
    `| K | ${bits(kHi6)} | ${bits(kLo10)} | ${bits(kHi6 + kLo10)} |`,
    `| V | ${bits(vHi6)} | ${bits(vLo10)} | ${bits(vHi6 + vLo10)} |`,
    "",
    ...planeTable(rows),
  ].join("\n");
}

/**
 * The model's bits per element by plane, when every row has them: `hi6`, the
 * modelled top mantissa bits, the raw mantissa bits, and what repeated and predicted
 * rows cost.
 */
function planeTable(rows: readonly DumpSizes[]): string[] {
  if (rows.length === 0 || rows.some((row) => row.planes === undefined)) {
    return [];
  }
  const lines = [
    "## Model code lengths by plane",
    "",
    "Bits per element the model spends (the file adds its header, meta and the rANS state words).",
    "",
    "| | hi6 | lo10 top bits | lo10 raw bits | repeated and predicted rows | total |",
    "| --- | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const tensor of ["k", "v"] as const) {
    let elements = 0, hi6 = 0, top = 0, raw = 0, other = 0;
    for (const row of rows) {
      const p = row.planes![tensor];
      elements += p.elements;
      hi6 += p.hi6;
      top += p.mantissaTop;
      raw += p.mantissaRaw;
      other += p.other;
    }
    const per = (value: number) =>
      elements ? (value / elements).toFixed(3) : "-";
    lines.push(
      `| ${tensor.toUpperCase()} | ${per(hi6)} | ${per(top)} | ${per(raw)} | ${
        per(other)
      } | ${per(hi6 + top + raw + other)} |`,
    );
  }
  lines.push("");
  return lines;
}

function round(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}
