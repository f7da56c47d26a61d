/**
 * The analyze report: one self-contained HTML page (inline CSS and SVG, no script,
 * no font, no URL) with the ratios of one or more bitstream folders of the same
 * dumps, their bits per element by plane against the order-0 entropy of the
 * originals, and per-layer charts.
 *
 * The input is data, not a codec: a list of {@link ReportAnalysis} (the dump sizes
 * any analysis produces, the folder's shared bytes, a name) and, when the originals
 * were read, their {@link PlaneEntropy}. Any codec whose sizes split into the four
 * planes fits, whatever its layout.
 *
 * The page is polyglot markup: valid HTML and well-formed XML (void elements
 * self-closed, every attribute quoted, every text escaped), so that it can be
 * checked with an XML parser.
 *
 * @module
 */

import { type DumpSizes, type RatioTotals, ratioTotals } from "./metrics.ts";
import { layerRatios, type RunLayers } from "./layer_ratios.ts";
import type { PlaneEntropy } from "./plane_entropy.ts";
import type { RunChannelEntropy } from "./channel_entropy.ts";
import { STREAM_NAMES, type StreamName } from "./stream_codec.ts";
import {
  barChartSvg,
  type BarMarker,
  type BarSeries,
  escapeXml,
  heatmapSvg,
  rangeChartSvg,
  type RangeRow,
  scatterChartSvg,
  type ScatterPoint,
} from "./svg_chart.ts";

/** One bitstream folder's analysis, as the report shows it. */
export interface ReportAnalysis {
  /** Short unique name, e.g. `huffman` or `huffman-global` (the file stem of its CSV). */
  readonly label: string;
  /** Codec name for people, e.g. `Huffman`. */
  readonly title: string;
  /** `global`, `per-dump` or `mixed`, when known. */
  readonly codebook?: string;
  /** The bitstream folder. */
  readonly bitstreamDir: string;
  /** Sizes of each dump. */
  readonly rows: readonly DumpSizes[];
  /** Bytes of the folder's shared files (a global codebook), 0 when none. */
  readonly sharedBytes: number;
  /** Order-0 entropy of the originals of these dumps, when they were read. */
  readonly entropy?: PlaneEntropy;
  /** The codec's speed, when it was measured. */
  readonly speed?: CodecSpeed;
}

/** A codec's speed in memory (codec work only: no file, no checksum). */
export interface CodecSpeed {
  /** Original MB (10^6 bytes) encoded per second. */
  readonly encodeMegabytesPerSecond: number;
  /** Original MB decoded per second. */
  readonly decodeMegabytesPerSecond: number;
}

/** A general-purpose compressor run on the same originals, for reference. */
export interface PeerFigures {
  /** What ran, e.g. `zstd -3` or `byte split + xz -9e`. */
  readonly label: string;
  /** Original bytes over compressed bytes (every byte of its output). */
  readonly ratio: number;
  /** Original MB compressed per second, undefined when not timed. */
  readonly compressMegabytesPerSecond?: number;
  /** Original MB restored per second, undefined when not timed. */
  readonly decompressMegabytesPerSecond?: number;
}

/** How speeds were measured, and the peers' figures. */
export interface ReportSpeeds {
  /** One sentence: where, on what, how many runs. */
  readonly note: string;
  /** The peers, on all the originals' K and V. */
  readonly peers: readonly PeerFigures[];
  /** Peers that could not run, each with the reason. */
  readonly missing: readonly string[];
}

/** Everything the report shows. */
export interface ReportInput {
  /** Page title (default `kvbits analysis`). */
  readonly title?: string;
  /** The original dump folder, when given. */
  readonly origDumpDir?: string;
  /** The analyses, in the order given; the first one leads. */
  readonly analyses: readonly ReportAnalysis[];
  /** Column entropy of the originals, run by run, when they were read. */
  readonly channels?: readonly RunChannelEntropy[];
  /** How speeds were measured and the peers' figures, when measured. */
  readonly speeds?: ReportSpeeds;
}

/** Okabe–Ito colours: distinct for the usual colour-vision deficiencies, and in print. */
const CODEC_COLORS = [
  "#0072b2",
  "#d55e00",
  "#009e73",
  "#cc79a7",
  "#e69f00",
  "#56b4e9",
  "#000000",
];
/** K in blues, V in oranges; the first stage (prefill) dark, the second light. */
const TENSOR_STAGE_COLORS = {
  k: ["#0072b2", "#56b4e9"],
  v: ["#d55e00", "#e69f00"],
} as const;
const POOLED_MARKER = {
  label: "order-0 entropy, one model for all dumps",
  color: "#000000",
  dash: "6 3",
};
const PER_DUMP_MARKER = {
  label: "order-0 entropy, a model per dump",
  color: "#7a1f5c",
  dash: "2 2",
};
const UNCODED_MARKER = { label: "uncoded width", color: "#9a9a9a" };
/**
 * Peers as reference lines and hollow points: greys, solid or dash-dotted, apart
 * from the black and purple dashes and dots of the order-0 limits.
 */
const PEER_STYLES = [
  { color: "#6e6e6e", dash: undefined },
  { color: "#6e6e6e", dash: "8 3 2 3" },
  { color: "#a0a0a0", dash: undefined },
  { color: "#a0a0a0", dash: "8 3 2 3" },
];
const PLANES: readonly { stream: StreamName; label: string; bits: number }[] = [
  { stream: "k_hi6", label: "K hi6", bits: 6 },
  { stream: "k_lo10", label: "K lo10", bits: 10 },
  { stream: "v_hi6", label: "V hi6", bits: 6 },
  { stream: "v_lo10", label: "V lo10", bits: 10 },
];

/**
 * Renders the analyze report as one self-contained HTML page.
 *
 * @param input The analyses and, optionally, the original folder.
 * @returns The page's text.
 *
 * @example A one-codec report
 * ```ts
 * import { reportHtml } from "./report_html.ts";
 * import { assertStringIncludes } from "@std/assert";
 *
 * const row = { runId: "run", layerId: 0, stage: "prefill", seqLen: 4, numElements: 512,
 *   kRaw: 1024, vRaw: 1024, kHi6: 200, kLo10: 640, vHi6: 180, vLo10: 630, metaBytes: 300 };
 * const html = reportHtml({ analyses: [{ label: "huffman", title: "Huffman", codebook: "per-dump",
 *   bitstreamDir: "out/bits", rows: [row], sharedBytes: 0 }] });
 * assertStringIncludes(html, "<!DOCTYPE html>");
 * assertStringIncludes(html, "Huffman, per-dump codebook");
 * assertStringIncludes(html, "<svg ");
 * ```
 */
export function reportHtml(input: ReportInput): string {
  const title = input.title ?? "kvbits analysis";
  const analyses = input.analyses.map((analysis, index) => ({
    ...analysis,
    name: displayName(analysis),
    color: CODEC_COLORS[index % CODEC_COLORS.length],
    streams: ratioTotals(analysis.rows, false, analysis.sharedBytes),
    all: ratioTotals(analysis.rows, true, analysis.sharedBytes),
  }));
  const entropies = analyses.map((analysis) => analysis.entropy);
  const sharedEntropy = entropies.every((entropy) =>
      entropy !== undefined &&
      JSON.stringify(entropy) === JSON.stringify(entropies[0])
    )
    ? entropies[0]
    : undefined;
  const anyEntropy = entropies.some((entropy) => entropy !== undefined);

  const body: string[] = [];
  body.push(
    `<header>`,
    `<h1>${escapeXml(title)}</h1>`,
    `<p class="lead">${
      analyses.length === 1
        ? "One bitstream folder"
        : `${analyses.length} bitstream folders`
    }${
      input.origDumpDir === undefined
        ? ""
        : `, measured against the original dumps in <code>${
          escapeXml(input.origDumpDir)
        }</code>`
    }. Ratio = original bytes / coded bytes; above 1 the coder saves space.</p>`,
    `</header>`,
  );
  if (analyses.length === 0) {
    body.push(`<p>No dump was analysed.</p>`);
    return page(title, body);
  }

  // Summary cards.
  body.push(
    `<section id="summary">`,
    `<h2>Summary</h2>`,
    `<div class="cards">`,
  );
  for (const analysis of analyses) {
    body.push(
      `<div class="card" style="border-left-color: ${analysis.color}">`,
      `<div class="card-title">${escapeXml(analysis.name)}</div>`,
      `<div class="big">${
        ratio(analysis.streams.kvRatio)
      }<span class="unit"> KV ratio</span></div>`,
      `<div>K ${ratio(analysis.streams.kRatio)} · V ${
        ratio(analysis.streams.vRatio)
      } <span class="muted">(coded streams)</span></div>`,
      `<div>KV ${
        ratio(analysis.all.kvRatio)
      } <span class="muted">with every file written (meta${
        analysis.sharedBytes > 0 ? ", codebook" : ""
      })</span></div>`,
      `<div class="muted">${count(analysis.rows.length)} dumps, ${
        megabytes(analysis.streams.kRaw + analysis.streams.vRaw)
      } of FP16 tensors</div>`,
      `</div>`,
    );
  }
  if (sharedEntropy) {
    body.push(
      `<div class="card limit">`,
      `<div class="card-title">Order-0 limit of the originals</div>`,
      `<div class="big">${
        ratio(kvLimit(sharedEntropy.pooled))
      }<span class="unit"> KV ratio</span></div>`,
      `<div>with one static model per plane for all dumps</div>`,
      `<div>${
        ratio(kvLimit(sharedEntropy.perDump))
      } with a model per dump (its tables not counted)</div>`,
      `<div class="muted">${count(sharedEntropy.dumps)} dumps read</div>`,
      `</div>`,
    );
  }
  body.push(`</div>`);
  if (!anyEntropy) {
    body.push(
      `<p class="note">The order-0 entropy of the originals is not shown: run analyze with <code>--orig-dump-dir</code> to see how close each coder comes to it.</p>`,
    );
  }
  body.push(`</section>`);

  body.push(...ratiosSection(analyses, sharedEntropy, input.speeds));
  body.push(...speedSection(analyses, input.speeds));
  body.push(...spreadSection(analyses));
  body.push(...stagesSection(analyses));
  body.push(...planesSection(analyses, sharedEntropy, anyEntropy));
  body.push(...channelsSection(input.channels ?? []));
  body.push(...exponentsSection(sharedEntropy ?? entropies.find(Boolean)));
  body.push(...layersSection(analyses));
  body.push(
    `<footer>`,
    `<h2>How these numbers are made</h2>`,
    `<ul>`,
    `<li><b>Ratio</b>: total original bytes over total coded bytes of all dumps counted (a weighted ratio, not a mean of per-dump ratios).</li>`,
    `<li><b>Coded streams</b> counts the four stream files of each dump (<code>k_hi6, k_lo10, v_hi6, v_lo10</code>). <b>Every file written</b> also counts each dump's JSON (half to K, half to V) and the folder's global codebook (likewise), as <code>--include-meta</code> does.</li>`,
    `<li><b>Bits per element</b>: 8 × bytes of a plane's streams over the elements of K (equal to those of V). Uncoded, hi6 (sign and exponent) takes 6 bits and lo10 (mantissa) 10.</li>`,
    `<li><b>Order-0 entropy</b>: H = Σ p·log2(1/p) over the symbol frequencies of a plane in the originals, the fewest bits per element any coder with one fixed model per plane can spend (coders that use context can go below). <i>One model for all dumps</i> takes the pooled histogram (the limit of a global codebook); <i>a model per dump</i> averages each dump's own entropy, weighted by its elements (the limit of per-dump codebooks, before the cost of their tables). The ratio limits are 16 / (H(hi6) + H(lo10)).</li>`,
    `<li>Written by <code>kvbits analyze --report</code>; the per-dump numbers are in each codec's <code>&lt;codec&gt;_metrics.csv</code>.</li>`,
    `</ul>`,
    `</footer>`,
  );
  return page(title, body);
}

/** An analysis with what every section needs. */
interface Shown extends ReportAnalysis {
  readonly name: string;
  readonly color: string;
  readonly streams: RatioTotals;
  readonly all: RatioTotals;
}

function ratiosSection(
  analyses: readonly Shown[],
  sharedEntropy: PlaneEntropy | undefined,
  speeds: ReportSpeeds | undefined,
): string[] {
  const categories = ["K", "V", "KV"];
  const series: BarSeries[] = [];
  const markers: BarMarker[] = [];
  const pick = (totals: RatioTotals) => [
    totals.kRatio,
    totals.vRatio,
    totals.kvRatio,
  ];
  const bytesNote = (totals: RatioTotals) => [
    `${bytes(totals.kRaw)} → ${bytes(totals.kCoded)}`,
    `${bytes(totals.vRaw)} → ${bytes(totals.vCoded)}`,
    `${bytes(totals.kRaw + totals.vRaw)} → ${
      bytes(totals.kCoded + totals.vCoded)
    }`,
  ];
  analyses.forEach((analysis, index) => {
    series.push(
      {
        label: `${analysis.name}: coded streams`,
        color: analysis.color,
        values: pick(analysis.streams),
        notes: bytesNote(analysis.streams),
      },
      {
        label: `${analysis.name}: every file`,
        color: analysis.color,
        opacity: 0.4,
        values: pick(analysis.all),
        notes: bytesNote(analysis.all),
      },
    );
    if (!sharedEntropy && analysis.entropy) {
      markers.push(...limitMarkers(analysis.entropy, 2 * index));
    }
  });
  if (sharedEntropy) markers.push(...limitMarkers(sharedEntropy));
  (speeds?.peers ?? []).forEach((peer, index) => {
    markers.push({
      label: peer.label,
      ...PEER_STYLES[index % PEER_STYLES.length],
      values: [undefined, undefined, peer.ratio],
    });
  });
  const rows = analyses.map((analysis) => [
    swatch(analysis.color) + escapeXml(analysis.name),
    `<code>${escapeXml(analysis.bitstreamDir)}</code><br/><span class="muted">${
      escapeXml(analysis.label)
    }_metrics.csv</span>`,
    count(analysis.rows.length),
    ratio(analysis.streams.kRatio),
    ratio(analysis.streams.vRatio),
    ratio(analysis.streams.kvRatio),
    ratio(analysis.all.kRatio),
    ratio(analysis.all.vRatio),
    ratio(analysis.all.kvRatio),
    bytes(
      analysis.all.kCoded + analysis.all.vCoded - analysis.streams.kCoded -
        analysis.streams.vCoded,
    ),
  ]);
  return [
    `<section id="ratios">`,
    `<h2>${
      analyses.length > 1 ? "Codecs side by side" : "Ratios"
    }, with and without metadata</h2>`,
    figure(
      barChartSvg({
        title: "Compression ratio of the folder",
        categories,
        valueAxisLabel: "ratio (original / coded bytes)",
        series,
        markers,
        baseline: 1,
        width: 1000,
        plotHeight: 240,
      }),
      "Bars start at 1 (no compression). Light bars count every file written. Black dashes and purple dots: the order-0 limits of the originals. Grey lines over KV: general-purpose compressors on the same K and V bytes (every byte of their output counted; see Speed beside ratio).",
    ),
    table(
      [
        "codec",
        "bitstream folder, per-dump CSV",
        "dumps",
        "K",
        "V",
        "KV",
        "K, all files",
        "V, all files",
        "KV, all files",
        "metadata bytes",
      ],
      rows,
      2,
    ),
    `</section>`,
  ];
}

function limitMarkers(entropy: PlaneEntropy, series?: number): BarMarker[] {
  const limits = (bits: Record<StreamName, number>) => [
    16 / (bits.k_hi6 + bits.k_lo10),
    16 / (bits.v_hi6 + bits.v_lo10),
    kvLimit(bits),
  ];
  return [
    {
      ...POOLED_MARKER,
      label: POOLED_MARKER.label.replace("entropy", "limit"),
      values: limits(entropy.pooled),
      series,
    },
    {
      ...PER_DUMP_MARKER,
      label: PER_DUMP_MARKER.label.replace("entropy", "limit"),
      values: limits(entropy.perDump),
      series,
    },
  ];
}

function stagesSection(analyses: readonly Shown[]): string[] {
  const rows: string[][] = [];
  const stages = stagesOf(analyses.flatMap((analysis) => analysis.rows));
  const series: BarSeries[] = [];
  for (const analysis of analyses) {
    const streamsOf: (number | undefined)[] = [];
    const allOf: (number | undefined)[] = [];
    for (const stage of stages) {
      const rowsOfStage = analysis.rows.filter((row) => row.stage === stage);
      if (rowsOfStage.length === 0) {
        streamsOf.push(undefined);
        allOf.push(undefined);
        continue;
      }
      const streams = ratioTotals(rowsOfStage, false, 0);
      const all = ratioTotals(rowsOfStage, true, 0);
      streamsOf.push(streams.kvRatio);
      allOf.push(all.kvRatio);
      const tokens = rowsOfStage.reduce((sum, row) => sum + row.seqLen, 0);
      rows.push([
        swatch(analysis.color) + escapeXml(analysis.name),
        escapeXml(stage),
        count(rowsOfStage.length),
        count(tokens),
        bytes(streams.kRaw + streams.vRaw),
        ratio(streams.kRatio),
        ratio(streams.vRatio),
        ratio(streams.kvRatio),
        ratio(all.kvRatio),
      ]);
    }
    series.push(
      {
        label: `${analysis.name}: coded streams`,
        color: analysis.color,
        values: streamsOf,
      },
      {
        label: `${analysis.name}: every file`,
        color: analysis.color,
        opacity: 0.4,
        values: allOf,
      },
    );
  }
  return [
    `<section id="stages">`,
    `<h2>Prefill against decode</h2>`,
    `<p class="note">Prefill dumps hold a chunk of the prompt; decode dumps hold one token each: there the metadata of a layout can outweigh the data, and a coder has little to learn from. The global codebook is left out of these figures.</p>`,
    figure(
      barChartSvg({
        title: "KV ratio by stage",
        categories: stages,
        valueAxisLabel: "KV ratio (original / coded)",
        series,
        baseline: 1,
        width: 1000,
        plotHeight: 200,
      }),
      "Bars start at 1. Light bars count every file written for the dumps of the stage.",
    ),
    table(
      [
        "codec",
        "stage",
        "dumps",
        "tokens (over layers)",
        "original bytes",
        "K",
        "V",
        "KV",
        "KV, every file",
      ],
      rows,
      2,
    ),
    `</section>`,
  ];
}

function planesSection(
  analyses: readonly Shown[],
  sharedEntropy: PlaneEntropy | undefined,
  anyEntropy: boolean,
): string[] {
  const planeBits = analyses.map((analysis) => {
    let elements = 0;
    const sums = { k_hi6: 0, k_lo10: 0, v_hi6: 0, v_lo10: 0 };
    for (const row of analysis.rows) {
      elements += row.numElements;
      sums.k_hi6 += row.kHi6;
      sums.k_lo10 += row.kLo10;
      sums.v_hi6 += row.vHi6;
      sums.v_lo10 += row.vLo10;
    }
    return Object.fromEntries(
      STREAM_NAMES.map((stream) => [
        stream,
        elements === 0 ? NaN : 8 * sums[stream] / elements,
      ]),
    ) as Record<StreamName, number>;
  });
  const series: BarSeries[] = analyses.map((analysis, index) => ({
    label: analysis.name,
    color: analysis.color,
    values: PLANES.map(({ stream }) => planeBits[index][stream]),
  }));
  const markers: BarMarker[] = [{
    ...UNCODED_MARKER,
    values: PLANES.map((plane) => plane.bits),
  }];
  const entropyMarkers = (entropy: PlaneEntropy, seriesIndex?: number) => [
    {
      ...POOLED_MARKER,
      values: PLANES.map(({ stream }) => entropy.pooled[stream]),
      series: seriesIndex,
    },
    {
      ...PER_DUMP_MARKER,
      values: PLANES.map(({ stream }) => entropy.perDump[stream]),
      series: seriesIndex,
    },
  ];
  if (sharedEntropy) markers.push(...entropyMarkers(sharedEntropy));
  else {
    analyses.forEach((analysis, index) => {
      if (analysis.entropy) {
        markers.push(...entropyMarkers(analysis.entropy, index));
      }
    });
  }

  // Table: one row per plane, then the totals of K and V.
  const headers = [
    "plane",
    "uncoded",
    ...analyses.map((analysis) =>
      swatch(analysis.color) + escapeXml(analysis.name)
    ),
  ];
  if (sharedEntropy) {
    headers.push("entropy, one model", "entropy, model per dump");
  }
  const rows: string[][] = [];
  const lines = [
    ...PLANES.map((plane) => ({
      label: plane.label,
      uncoded: plane.bits,
      streams: [plane.stream],
    })),
    { label: "K total", uncoded: 16, streams: ["k_hi6", "k_lo10"] },
    { label: "V total", uncoded: 16, streams: ["v_hi6", "v_lo10"] },
  ] as { label: string; uncoded: number; streams: StreamName[] }[];
  for (const line of lines) {
    const sum = (bits: Record<StreamName, number>) =>
      line.streams.reduce((total, stream) => total + bits[stream], 0);
    const row = [
      escapeXml(line.label),
      String(line.uncoded),
      ...planeBits.map((bits) => bitsText(sum(bits))),
    ];
    if (sharedEntropy) {
      row.push(
        bitsText(sum(sharedEntropy.pooled)),
        bitsText(sum(sharedEntropy.perDump)),
      );
    }
    rows.push(row);
  }

  // How close each coder comes to the limit of its kind of model.
  const gapRows: string[][] = [];
  analyses.forEach((analysis, index) => {
    const entropy = analysis.entropy;
    if (!entropy) return;
    const perDump = analysis.codebook === "per-dump";
    const limit = perDump ? entropy.perDump : entropy.pooled;
    const bits = planeBits[index];
    const limitRatio = kvLimit(limit);
    const reached = analysis.streams.kvRatio;
    gapRows.push([
      swatch(analysis.color) + escapeXml(analysis.name),
      perDump ? "a model per dump" : "one model for all dumps",
      ...PLANES.map(({ stream }) => signedBits(bits[stream] - limit[stream])),
      ratio(reached),
      ratio(limitRatio),
      `${(100 * (1 - 1 / reached) / (1 - 1 / limitRatio)).toFixed(1)}%`,
    ]);
  });

  const parts = [
    `<section id="planes">`,
    `<h2>Bits per element by plane</h2>`,
    figure(
      barChartSvg({
        title: "Coded bits per element, by plane",
        categories: PLANES.map((plane) => plane.label),
        valueAxisLabel: "bits per element",
        series,
        markers,
        width: 1000,
        plotHeight: 240,
        digits: 3,
      }),
      anyEntropy
        ? "Grey: the plane's uncoded width. Dashed: order-0 entropy of the pooled originals (the floor of a global codebook). Dotted: mean entropy of each dump on its own (the floor of per-dump codebooks, tables not counted)."
        : "Grey: the plane's uncoded width. Run with --orig-dump-dir to add the order-0 entropy of the originals.",
    ),
    table(headers, rows, 1, "bits per element"),
  ];
  if (gapRows.length > 0) {
    parts.push(
      `<div class="keep">`,
      `<h3>Distance to the order-0 limit</h3>`,
      `<p class="note">Bits per element above the entropy of the matching model (global codebook: one model for all dumps; per-dump codebook: a model per dump), and the share of the limit's saving each coder reaches with its coded streams.</p>`,
      table(
        [
          "codec",
          "compared with",
          ...PLANES.map((plane) => escapeXml(plane.label)),
          "KV ratio",
          "KV limit",
          "share of the saving",
        ],
        gapRows,
        2,
      ),
      `</div>`,
    );
  }
  parts.push(`</section>`);
  return parts;
}

function layersSection(analyses: readonly Shown[]): string[] {
  // Runs over every codec, and one value axis for all of them.
  const byRun = new Map<string, Map<number, (LayerKv | undefined)[]>>();
  analyses.forEach((analysis, index) => {
    for (const run of layerRatios(analysis.rows, false).runs) {
      const layers = byRun.get(run.runId) ?? new Map();
      byRun.set(run.runId, layers);
      for (const layer of run.layers) {
        const cells = layers.get(layer) ?? analyses.map(() => undefined);
        layers.set(layer, cells);
        cells[index] = layerKv(run, layer);
      }
    }
  });
  const runs = [...byRun.entries()].sort(([a], [b]) =>
    a < b ? -1 : a > b ? 1 : 0
  );
  const ratios = runs.flatMap(([, layers]) =>
    [...layers.values()].flat().flatMap((cell) => cell ? [cell.ratio] : [])
  ).filter(Number.isFinite);
  const range: [number, number] | undefined = ratios.length > 0
    ? [Math.min(...ratios), Math.max(...ratios)]
    : undefined;
  const parts = [
    `<section id="layers">`,
    `<h2>Per layer</h2>`,
    `<p class="note">One chart per run (run_id): runs can come from different models, so layers are not pooled across runs. Each chart sets the codecs side by side on one value axis, the same for every run: the KV ratio of the coded streams, weighted over the dumps of each layer (prefill and decode together; see Prefill against decode). Bars start at 1. The hover title of a bar gives its bytes.</p>`,
  ];
  for (const [runId, layers] of runs) {
    const layerIds = [...layers.keys()].sort((a, b) => a - b);
    const runName = runId === "" ? "(no run_id)" : runId;
    const series: BarSeries[] = analyses.map((analysis, index) => ({
      label: analysis.name,
      color: analysis.color,
      values: layerIds.map((layer) => layers.get(layer)![index]?.ratio),
      notes: layerIds.map((layer) => {
        const cell = layers.get(layer)![index];
        return cell
          ? `${bytes(cell.raw)} → ${bytes(cell.coded)}, ${
            count(cell.dumps)
          } dumps`
          : undefined;
      }),
    }));
    const dumps = Math.max(
      ...analyses.map((_, index) =>
        layerIds.reduce(
          (sum, layer) => sum + (layers.get(layer)![index]?.dumps ?? 0),
          0,
        )
      ),
    );
    parts.push(
      `<div class="keep">`,
      figure(
        barChartSvg({
          title: `${runName}: KV ratio by layer`,
          categories: layerIds.map(String),
          categoryAxisLabel: "layer",
          valueAxisLabel: "KV ratio (original / coded)",
          series,
          baseline: 1,
          valueRange: range,
          width: 1000,
          plotHeight: 200,
        }),
        `${runName}: ${count(layerIds.length)} layers, ${count(dumps)} dumps.`,
      ),
      table(
        [
          "layer",
          ...series.map((item) => swatch(item.color) + escapeXml(item.label)),
        ],
        layerIds.map((layer, layerIndex) => [
          String(layer),
          ...series.map((item) => ratio(item.values[layerIndex] ?? NaN)),
        ]),
        1,
        "KV ratio of the coded streams",
      ),
      `</div>`,
    );
  }
  parts.push(`</section>`);
  return parts;
}

/** A layer's K and V together, over its stages. */
interface LayerKv {
  readonly dumps: number;
  readonly raw: number;
  readonly coded: number;
  readonly ratio: number;
}

function layerKv(run: RunLayers, layer: number): LayerKv | undefined {
  const byStage = run.cells.get(layer);
  if (!byStage) return undefined;
  let dumps = 0, raw = 0, coded = 0;
  for (const cell of byStage.values()) {
    dumps += cell.dumps;
    raw += cell.kRaw + cell.vRaw;
    coded += cell.kCoded + cell.vCoded;
  }
  return { dumps, raw, coded, ratio: raw / coded };
}

function speedSection(
  analyses: readonly Shown[],
  speeds: ReportSpeeds | undefined,
): string[] {
  const measured = analyses.filter((analysis) => analysis.speed);
  const parts = [`<section id="speed">`, `<h2>Speed beside ratio</h2>`];
  if (measured.length === 0 && (speeds?.peers.length ?? 0) === 0) {
    parts.push(
      `<p class="note">No speed was measured: analyze measures each codec in memory on the originals when it runs with <code>--report</code> and <code>--orig-dump-dir</code> (and without <code>--no-speed</code>).</p>`,
      `</section>`,
    );
    return parts;
  }
  const peers = speeds?.peers ?? [];
  const scatter = (kind: "encode" | "decode") => {
    const points: ScatterPoint[] = measured.map((analysis) => ({
      label: analysis.label,
      color: analysis.color,
      x: kind === "encode"
        ? analysis.speed!.encodeMegabytesPerSecond
        : analysis.speed!.decodeMegabytesPerSecond,
      y: analysis.all.kvRatio,
    }));
    peers.forEach((peer, index) => {
      const x = kind === "encode"
        ? peer.compressMegabytesPerSecond
        : peer.decompressMegabytesPerSecond;
      if (x !== undefined) {
        points.push({
          label: peer.label,
          color: PEER_STYLES[index % PEER_STYLES.length].color,
          x,
          y: peer.ratio,
          reference: true,
        });
      }
    });
    return scatterChartSvg({
      title: kind === "encode"
        ? "Ratio against encode speed"
        : "Ratio against decode speed",
      xAxisLabel: "MB/s of original data",
      yAxisLabel: "KV ratio, every byte written",
      points,
      xLog: true,
      width: 540,
      plotHeight: 240,
    });
  };
  const rows: string[][] = [
    ...measured.map((analysis) => [
      swatch(analysis.color) + escapeXml(analysis.name),
      ratio(analysis.all.kvRatio),
      speedText(analysis.speed!.encodeMegabytesPerSecond),
      speedText(analysis.speed!.decodeMegabytesPerSecond),
    ]),
    ...peers.map((peer, index) => [
      swatch(PEER_STYLES[index % PEER_STYLES.length].color) +
      escapeXml(peer.label) + ` <span class="muted">(peer)</span>`,
      ratio(peer.ratio),
      speedText(peer.compressMegabytesPerSecond),
      speedText(peer.decompressMegabytesPerSecond),
    ]),
  ];
  parts.push(
    `<p class="note">Up and to the right is better. Filled dots: kvbits codecs, named as their CSV files (their ratio counts every file a folder holds). Hollow diamonds: general-purpose compressors on the same K and V bytes. ${
      escapeXml(speeds?.note ?? "")
    }</p>`,
    `<div class="panels">`,
    figure(scatter("encode"), "Encode: original MB per second, log scale."),
    figure(scatter("decode"), "Decode: original MB per second, log scale."),
    `</div>`,
    table(
      ["codec", "KV ratio, every byte", "encode MB/s", "decode MB/s"],
      rows,
      1,
    ),
  );
  if ((speeds?.missing.length ?? 0) > 0) {
    parts.push(
      `<p class="note">Not shown: ${
        escapeXml(speeds!.missing.join("; "))
      }.</p>`,
    );
  }
  parts.push(`</section>`);
  return parts;
}

function spreadSection(analyses: readonly Shown[]): string[] {
  const rows: RangeRow[] = [];
  const tableRows: string[][] = [];
  for (const analysis of analyses) {
    for (const stage of stagesOf(analysis.rows)) {
      const values = analysis.rows.filter((row) => row.stage === stage).map(
        (row) =>
          (row.kRaw + row.vRaw) / (row.kHi6 + row.kLo10 + row.vHi6 + row.vLo10),
      ).filter(Number.isFinite).sort((a, b) => a - b);
      if (values.length === 0) continue;
      const q = (fraction: number) =>
        values[
          Math.min(
            values.length - 1,
            Math.round(fraction * (values.length - 1)),
          )
        ];
      const quantiles = [
        q(0),
        q(0.1),
        q(0.25),
        q(0.5),
        q(0.75),
        q(0.9),
        q(1),
      ] as const;
      rows.push({
        label: `${analysis.name} · ${stage}`,
        color: analysis.color,
        quantiles,
        count: values.length,
      });
      tableRows.push([
        swatch(analysis.color) + escapeXml(analysis.name),
        escapeXml(stage),
        count(values.length),
        ...quantiles.map(ratio),
      ]);
    }
  }
  if (rows.length === 0) return [];
  return [
    `<section id="spread">`,
    `<h2>Spread of per-dump ratios</h2>`,
    `<p class="note">Each dump's own KV ratio of its coded streams, by codec and stage: the line spans every dump, the thin bar the middle 80%, the box the middle half; the black tick is the median. A folder's ratio (above) weighs dumps by size; here every dump counts once, so the many small decode dumps show. Per-dump codebooks keep their tables in each dump's JSON, which is not counted here: Prefill against decode shows what every file costs.</p>`,
    figure(
      rangeChartSvg({
        title: "Per-dump KV ratio",
        valueAxisLabel: "KV ratio of one dump (original / coded streams)",
        rows,
        baseline: 1,
        width: 1000,
      }),
      "Hover a row for its figures.",
    ),
    table(
      [
        "codec",
        "stage",
        "dumps",
        "smallest",
        "10%",
        "25%",
        "median",
        "75%",
        "90%",
        "largest",
      ],
      tableRows,
      2,
    ),
    `</section>`,
  ];
}

function channelsSection(channels: readonly RunChannelEntropy[]): string[] {
  if (channels.length === 0) return [];
  const parts = [
    `<section id="channels">`,
    `<h2>Where the bits go: by head and channel</h2>`,
    `<p class="note">Order-0 entropy of each channel of the originals, hi6 + lo10, in bits per element, over every dump of the run: what a coder with one fixed model per channel and plane would spend. Rows are heads, columns the channels of a head; K and V apart, on one colour scale per run (dark: few bits, yellow: many). Bright columns are channels whose values spread over many exponents or mantissas.</p>`,
  ];
  for (const run of channels) {
    const values = [...run.k, ...run.v].filter(Number.isFinite);
    const range: [number, number] = [Math.min(...values), Math.max(...values)];
    const runName = run.runId === "" ? "(no run_id)" : run.runId;
    for (const [tensor, bits] of [["K", run.k], ["V", run.v]] as const) {
      const rows = Array.from(
        { length: run.kvHeads },
        (_, head) => bits.slice(head * run.headDim, (head + 1) * run.headDim),
      );
      const mean = bits.reduce((sum, value) => sum + value, 0) / bits.length;
      parts.push(figure(
        heatmapSvg({
          title: `${runName}: ${tensor}, bits per element by head and channel`,
          rows: rows.map((_, head) => `head ${head}`),
          values: rows,
          unit: "bits per element",
          range,
          columnAxisLabel: "channel",
          columnLabelEvery: run.headDim > 64 ? 16 : 8,
          width: 1000,
          rowHeight: run.kvHeads > 8 ? 12 : 22,
        }),
        `${runName}, ${tensor}: ${run.kvHeads} heads × ${run.headDim} channels, ${
          count(run.dumps)
        } dumps; mean ${mean.toFixed(3)} bits per element (of 16).`,
      ));
    }
  }
  parts.push(`</section>`);
  return parts;
}

function exponentsSection(entropy: PlaneEntropy | undefined): string[] {
  if (!entropy || entropy.elements === 0) return [];
  const { k, v } = entropy.exponents;
  const used = [...k.keys()].filter((e) => k[e] > 0 || v[e] > 0);
  const first = Math.min(...used), last = Math.max(...used);
  const exponents = Array.from(
    { length: last - first + 1 },
    (_, i) => first + i,
  );
  const share = (counts: readonly number[]) =>
    exponents.map((e) => 100 * counts[e] / entropy.elements);
  return [
    `<section id="exponents">`,
    `<h2>Exponents of K and V</h2>`,
    `<p class="note">Share of the elements with each value of the 5-bit exponent field (the value is about 2^(field − 15); 0 holds zeros and subnormals). The hi6 plane is this field and the sign: the narrower the histogram, the fewer bits hi6 costs. Over the ${
      count(entropy.dumps)
    } dumps read.</p>`,
    figure(
      barChartSvg({
        title: "Exponent histogram",
        categories: exponents.map(String),
        categoryAxisLabel: "exponent field",
        valueAxisLabel: "% of elements",
        series: [
          { label: "K", color: TENSOR_STAGE_COLORS.k[0], values: share(k) },
          { label: "V", color: TENSOR_STAGE_COLORS.v[0], values: share(v) },
        ],
        width: 1000,
        plotHeight: 220,
        digits: 3,
      }),
      "Hover a bar for its share.",
    ),
    `</section>`,
  ];
}

function stagesOf(rows: readonly DumpSizes[]): string[] {
  return [...new Set(rows.map((row) => row.stage))].sort(
    (a, b) => stageRank(a) - stageRank(b) || (a < b ? -1 : a > b ? 1 : 0),
  );
}

function speedText(value: number | undefined): string {
  return value === undefined || !Number.isFinite(value)
    ? "–"
    : value >= 100
    ? value.toFixed(0)
    : value.toFixed(1);
}

function page(title: string, body: readonly string[]): string {
  return [
    `<!DOCTYPE html>`,
    `<html lang="en">`,
    `<head>`,
    `<meta charset="utf-8"/>`,
    `<meta name="viewport" content="width=device-width, initial-scale=1"/>`,
    `<title>${escapeXml(title)}</title>`,
    `<style>${STYLE}</style>`,
    `</head>`,
    `<body>`,
    ...body,
    `</body>`,
    `</html>`,
    ``,
  ].join("\n");
}

const STYLE = `
:root { color-scheme: light; --ink: #1b1b1b; --muted: #5f5f5f; --rule: #dcdcdc; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: #fff; max-width: 1120px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 30px 0 8px; padding-bottom: 4px; border-bottom: 1px solid var(--rule); }
h3 { font-size: 15px; margin: 18px 0 6px; }
code { font-size: 12px; }
.lead, .note, figcaption, .muted { color: var(--muted); }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(250px, 1fr)); gap: 12px; }
.card { border: 1px solid var(--rule); border-left: 6px solid #444; border-radius: 6px; padding: 10px 14px; }
.card.limit { border-left-color: #000; background: #fafafa; }
.card-title { font-weight: 600; }
.big { font-size: 30px; font-weight: 650; font-variant-numeric: tabular-nums; }
.unit { font-size: 13px; font-weight: 400; color: var(--muted); }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; font-size: 13px; margin: 6px 0 14px; }
caption { text-align: left; color: var(--muted); padding-bottom: 2px; }
th, td { padding: 3px 10px; border-bottom: 1px solid var(--rule); text-align: left; vertical-align: top; }
td:first-child { white-space: nowrap; }
th { font-weight: 600; }
.num { text-align: right; }
.swatch { display: inline-block; width: 10px; height: 10px; margin-right: 6px; border-radius: 2px; }
figure { margin: 6px 0; }
figcaption { font-size: 12px; }
svg.chart { display: block; max-width: 100%; height: auto; }
.panels { display: grid; grid-template-columns: repeat(auto-fill, minmax(500px, 1fr)); gap: 4px 28px; }
section { break-inside: auto; }
@media print {
  body { max-width: none; padding: 0; font-size: 11px; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  h2, h3 { break-after: avoid; }
  figure, table, .card, .panel, .keep { break-inside: avoid; }
}
`;

function figure(svg: string, caption: string): string {
  return `<figure>${svg}<figcaption>${
    escapeXml(caption)
  }</figcaption></figure>`;
}

/** A table; cells are HTML already escaped; columns from `numericFrom` align right. */
function table(
  headers: readonly string[],
  rows: readonly string[][],
  numericFrom: number,
  caption?: string,
): string {
  const cell = (tag: string, html: string, index: number) =>
    `<${tag}${index >= numericFrom ? ` class="num"` : ""}>${html}</${tag}>`;
  return [
    `<table>`,
    caption ? `<caption>${escapeXml(caption)}</caption>` : "",
    `<thead><tr>${
      headers.map((header, index) => cell("th", header, index)).join("")
    }</tr></thead>`,
    `<tbody>`,
    ...rows.map((row) =>
      `<tr>${row.map((html, index) => cell("td", html, index)).join("")}</tr>`
    ),
    `</tbody>`,
    `</table>`,
  ].filter((line) => line !== "").join("\n");
}

function displayName(analysis: ReportAnalysis): string {
  return analysis.codebook
    ? `${analysis.title}, ${analysis.codebook} codebook`
    : analysis.title;
}

function swatch(color: string): string {
  return `<span class="swatch" style="background: ${escapeXml(color)}"></span>`;
}

function kvLimit(bits: Record<StreamName, number>): number {
  return 32 / (bits.k_hi6 + bits.k_lo10 + bits.v_hi6 + bits.v_lo10);
}

function stageRank(stage: string): number {
  return stage === "prefill" ? 0 : stage === "decode" ? 1 : 2;
}

function ratio(value: number): string {
  return Number.isFinite(value) ? value.toFixed(4) : "–";
}

function bitsText(value: number): string {
  return Number.isFinite(value) ? value.toFixed(3) : "–";
}

function signedBits(value: number): string {
  return Number.isFinite(value)
    ? `${value >= 0 ? "+" : "−"}${Math.abs(value).toFixed(3)}`
    : "–";
}

function count(value: number): string {
  return value.toLocaleString("en-US");
}

function bytes(value: number): string {
  return `${Math.round(value).toLocaleString("en-US")} B`;
}

function megabytes(value: number): string {
  return `${(value / 1e6).toFixed(2)} MB`;
}
