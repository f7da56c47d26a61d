/**
 * Small SVG charts as text: grouped bar charts with axes, legend, hover titles and
 * horizontal markers, for the analyze report. Pure functions, no dependency.
 *
 * Read me first:
 * - The output is an `<svg>` element meant to be inlined in an HTML page (no
 *   `xmlns`, so that the page names no URL at all; the HTML parser puts inline SVG
 *   in the SVG namespace by itself). It is also well-formed XML: every element is
 *   closed, attribute values are quoted, all text goes through {@link escapeXml}.
 * - Text widths cannot be measured without a renderer, so the legend estimates
 *   them from the character count (0.6 em per character, generous for the usual
 *   sans-serif faces).
 * - Coordinates are rounded to 0.1 px to keep the page small.
 *
 * @module
 */

/**
 * Escapes text for XML and HTML content and for quoted attribute values.
 *
 * @param text Any text.
 * @returns The text with `&`, `<`, `>`, `"` and `'` replaced by references.
 *
 * @example
 * ```ts
 * import { escapeXml } from "./svg_chart.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(escapeXml(`<a href="x">K & V's</a>`), "&lt;a href=&quot;x&quot;&gt;K &amp; V&#39;s&lt;/a&gt;");
 * ```
 */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => XML_ESCAPES[char]);
}

const XML_ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/**
 * Evenly spaced round values (steps of 1, 2 or 5 times a power of ten) that cover
 * `[min, max]`: the ticks of a value axis.
 *
 * @param min Smallest value to cover.
 * @param max Largest value to cover.
 * @param target About how many intervals to make (default 5).
 * @returns Ascending ticks; the first is at most `min`, the last at least `max`.
 * @throws {RangeError} When a bound is not finite or `min > max`.
 *
 * @example
 * ```ts
 * import { niceTicks } from "./svg_chart.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(niceTicks(0, 9.7), [0, 2, 4, 6, 8, 10]);
 * assertEquals(niceTicks(1, 1.23), [1, 1.05, 1.1, 1.15, 1.2, 1.25]);
 * assertEquals(niceTicks(3, 3), [2, 3, 4]); // a single value gets room around it
 * ```
 */
export function niceTicks(min: number, max: number, target = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max) || min > max) {
    throw new RangeError(
      `Cannot make axis ticks: bounds ${min} and ${max} are not finite and ordered`,
    );
  }
  if (min === max) {
    const half = min === 0 ? 1 : niceStep(Math.abs(min) / 3);
    return niceTicks(min - half, max + half, 2);
  }
  const step = niceStep((max - min) / target);
  const first = Math.floor(min / step + 1e-9);
  const last = Math.ceil(max / step - 1e-9);
  const ticks: number[] = [];
  for (let i = first; i <= last; i++) {
    // Round away binary noise (0.1 * 3 = 0.30000000000000004).
    ticks.push(Number((i * step).toPrecision(12)));
  }
  return ticks;
}

function niceStep(rough: number): number {
  const power = 10 ** Math.floor(Math.log10(rough));
  const scaled = rough / power;
  // 1% slack: a value a hair above a round number should not double the step.
  const factor = scaled <= 1.01
    ? 1
    : scaled <= 2.02
    ? 2
    : scaled <= 5.05
    ? 5
    : 10;
  return factor * power;
}

/** One series of a bar chart: a bar in each category. */
export interface BarSeries {
  /** Name in the legend and the hover text. */
  readonly label: string;
  /** Fill colour, e.g. `#0072b2`. */
  readonly color: string;
  /** Fill opacity, 1 when omitted: a lighter bar for a related series. */
  readonly opacity?: number;
  /** One value per category; `undefined` (or not finite) draws no bar there. */
  readonly values: readonly (number | undefined)[];
  /** Extra hover text per category, after the value (e.g. the bytes behind a ratio). */
  readonly notes?: readonly (string | undefined)[];
}

/** A horizontal line per category at a value: a limit or reference to compare bars with. */
export interface BarMarker {
  /** Name in the legend and the hover text; markers with the same label share one entry. */
  readonly label: string;
  /** Stroke colour. */
  readonly color: string;
  /** Stroke dash pattern, e.g. `6 3`; solid when omitted. */
  readonly dash?: string;
  /** One value per category; `undefined` draws nothing there. */
  readonly values: readonly (number | undefined)[];
  /** Draw over this series' bar only (its index); across the whole category when omitted. */
  readonly series?: number;
}

/** A grouped bar chart: categories along the x axis, a bar per series in each. */
export interface BarChart {
  /** Title drawn above the chart (and its accessible name). */
  readonly title: string;
  /** Category names, left to right. */
  readonly categories: readonly string[];
  /** Name of the x axis, e.g. `layer`; none when omitted. */
  readonly categoryAxisLabel?: string;
  /** Name of the y axis with its unit, e.g. `ratio (original bytes / coded bytes)`. */
  readonly valueAxisLabel: string;
  /** The series, drawn left to right within each category. */
  readonly series: readonly BarSeries[];
  /** Horizontal markers drawn over the bars. */
  readonly markers?: readonly BarMarker[];
  /** Value the bars start from (default 0), e.g. 1 for compression ratios. */
  readonly baseline?: number;
  /**
   * Values the value axis covers at least, e.g. the range of a set of charts that
   * should share one scale; the axis covers the bars, markers and baseline too.
   */
  readonly valueRange?: readonly [number, number];
  /** Total width in px (default 640). */
  readonly width?: number;
  /** Height of the plot area in px (default 220); title, legend and axes add to it. */
  readonly plotHeight?: number;
  /** Digits after the point in hover texts (default 4). */
  readonly digits?: number;
}

const FONT_SIZE = 12;
const CHAR_WIDTH = 0.6 * FONT_SIZE;

/**
 * Draws a grouped bar chart as an inline `<svg>` element: title, legend, value axis
 * with grid lines, category labels, a bar per series and category, each with a
 * `<title>` that shows its value on hover.
 *
 * @param chart What to draw.
 * @returns The `<svg>…</svg>` text.
 * @throws {RangeError} When a series or marker has a value count other than the
 * number of categories.
 *
 * @example Two series over three categories, bars from 1, with a marker
 * ```ts
 * import { barChartSvg } from "./svg_chart.ts";
 * import { assertEquals, assertStringIncludes } from "@std/assert";
 *
 * const svg = barChartSvg({
 *   title: "Ratio by layer", categories: ["0", "1", "2"], categoryAxisLabel: "layer",
 *   valueAxisLabel: "ratio", baseline: 1,
 *   series: [
 *     { label: "K", color: "#0072b2", values: [1.2, 1.15, undefined] },
 *     { label: "V", color: "#d55e00", values: [1.1, 0.95, 1.3] },
 *   ],
 *   markers: [{ label: "limit", color: "#000", dash: "4 2", values: [1.25, 1.25, 1.4] }],
 * });
 * assertEquals(svg.startsWith("<svg "), true);
 * assertEquals(svg.match(/<rect class="bar"/g)?.length, 5); // no bar for K in layer 2
 * assertStringIncludes(svg, "<title>V, layer 1: 0.9500</title>");
 * ```
 */
export function barChartSvg(chart: BarChart): string {
  const { categories, series } = chart;
  const markers = chart.markers ?? [];
  for (const item of [...series, ...markers]) {
    if (item.values.length !== categories.length) {
      throw new RangeError(
        `Cannot draw the chart "${chart.title}": "${item.label}" has ${item.values.length} values for ${categories.length} categories`,
      );
    }
  }
  const width = chart.width ?? 640;
  const plotHeight = chart.plotHeight ?? 220;
  const baseline = chart.baseline ?? 0;
  const digits = chart.digits ?? 4;

  // Legend entries: every series, then each distinct marker.
  const legend: { label: string; swatch: string }[] = series.map((item) => ({
    label: item.label,
    swatch: `<rect x="0" y="-9" width="12" height="10" fill="${
      escapeXml(item.color)
    }"${opacityAttribute(item.opacity)}/>`,
  }));
  const seenMarkers = new Set<string>();
  for (const marker of markers) {
    if (seenMarkers.has(marker.label)) continue;
    seenMarkers.add(marker.label);
    legend.push({
      label: marker.label,
      swatch: `<line x1="0" y1="-4" x2="16" y2="-4" stroke="${
        escapeXml(marker.color)
      }" stroke-width="2"${dashAttribute(marker.dash)}/>`,
    });
  }
  const marginLeft = 64;
  const marginRight = 16;
  const legendRows: { x: number; entry: typeof legend[number] }[][] = [[]];
  let cursor = 0;
  for (const entry of legend) {
    const entryWidth = 22 + entry.label.length * CHAR_WIDTH + 18;
    if (cursor > 0 && cursor + entryWidth > width - marginLeft - marginRight) {
      legendRows.push([]);
      cursor = 0;
    }
    legendRows[legendRows.length - 1].push({ x: cursor, entry });
    cursor += entryWidth;
  }
  const titleHeight = 24;
  const legendTop = titleHeight + 8;
  const legendHeight = legend.length === 0 ? 0 : legendRows.length * 18;
  const plotTop = legendTop + legendHeight + 10;
  const plotBottom = plotTop + plotHeight;
  const height = plotBottom + (chart.categoryAxisLabel ? 44 : 28);
  const plotLeft = marginLeft;
  const plotRight = width - marginRight;

  // Value range: every bar, marker and the baseline.
  const values = [baseline, ...(chart.valueRange ?? [])];
  for (const item of [...series, ...markers]) {
    for (const value of item.values) {
      if (value !== undefined && Number.isFinite(value)) values.push(value);
    }
  }
  const ticks = niceTicks(Math.min(...values), Math.max(...values));
  const low = ticks[0];
  const high = ticks[ticks.length - 1];
  const y = (value: number) =>
    plotBottom - (value - low) / (high - low) * plotHeight;
  const tickDigits = Math.max(
    0,
    ...ticks.map((tick) => (String(tick).split(".")[1] ?? "").length),
  );

  const parts: string[] = [];
  parts.push(
    `<svg class="chart" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${
      escapeXml(chart.title)
    }" font-family="system-ui, sans-serif" font-size="${FONT_SIZE}">`,
    `<title>${escapeXml(chart.title)}</title>`,
    `<text class="chart-title" x="${plotLeft}" y="17" font-size="14" font-weight="600">${
      escapeXml(chart.title)
    }</text>`,
  );
  // Legend.
  legendRows.forEach((row, rowIndex) => {
    for (const { x, entry } of row) {
      parts.push(
        `<g class="legend-entry" transform="translate(${fmt(plotLeft + x)},${
          fmt(legendTop + 12 + rowIndex * 18)
        })">${entry.swatch}<text x="22" y="0">${
          escapeXml(entry.label)
        }</text></g>`,
      );
    }
  });
  // Grid and value axis.
  parts.push(`<g class="value-axis">`);
  for (const tick of ticks) {
    const ty = fmt(y(tick));
    parts.push(
      `<line x1="${plotLeft}" y1="${ty}" x2="${plotRight}" y2="${ty}" stroke="#ddd" stroke-width="1"/>`,
      `<text x="${plotLeft - 6}" y="${ty}" dy="0.32em" text-anchor="end">${
        tick.toFixed(tickDigits)
      }</text>`,
    );
  }
  const axisMiddle = fmt((plotTop + plotBottom) / 2);
  parts.push(
    `<text class="axis-label" x="0" y="0" transform="translate(14,${axisMiddle}) rotate(-90)" text-anchor="middle">${
      escapeXml(chart.valueAxisLabel)
    }</text>`,
    `</g>`,
  );
  // Bars and markers.
  const groupWidth = (plotRight - plotLeft) / Math.max(1, categories.length);
  const innerWidth = groupWidth * 0.8;
  const barWidth = innerWidth / Math.max(1, series.length);
  const groupLeft = (index: number) =>
    plotLeft + index * groupWidth + (groupWidth - innerWidth) / 2;
  const where = (category: string) =>
    chart.categoryAxisLabel
      ? `${chart.categoryAxisLabel} ${category}`
      : category;
  parts.push(`<g class="bars">`);
  series.forEach((item, seriesIndex) => {
    item.values.forEach((value, categoryIndex) => {
      if (value === undefined || !Number.isFinite(value)) return;
      const top = Math.min(y(value), y(baseline));
      const barHeight = Math.abs(y(value) - y(baseline));
      const note = item.notes?.[categoryIndex];
      const hover = `${item.label}, ${where(categories[categoryIndex])}: ${
        value.toFixed(digits)
      }${note ? ` (${note})` : ""}`;
      parts.push(
        `<rect class="bar" x="${
          fmt(groupLeft(categoryIndex) + seriesIndex * barWidth)
        }" y="${fmt(top)}" width="${fmt(Math.max(1, barWidth - 1))}" height="${
          fmt(Math.max(0.5, barHeight))
        }" fill="${escapeXml(item.color)}"${
          opacityAttribute(item.opacity)
        }><title>${escapeXml(hover)}</title></rect>`,
      );
    });
  });
  for (const marker of markers) {
    marker.values.forEach((value, categoryIndex) => {
      if (value === undefined || !Number.isFinite(value)) return;
      const left = marker.series === undefined
        ? groupLeft(categoryIndex) - 2
        : groupLeft(categoryIndex) + marker.series * barWidth - 1;
      const span = marker.series === undefined ? innerWidth + 4 : barWidth + 1;
      const my = fmt(y(value));
      parts.push(
        `<line class="marker" x1="${fmt(left)}" y1="${my}" x2="${
          fmt(left + span)
        }" y2="${my}" stroke="${escapeXml(marker.color)}" stroke-width="2"${
          dashAttribute(marker.dash)
        }><title>${
          escapeXml(
            `${marker.label}, ${where(categories[categoryIndex])}: ${
              value.toFixed(digits)
            }`,
          )
        }</title></line>`,
      );
    });
  }
  parts.push(`</g>`);
  // Baseline and category axis.
  const baseY = fmt(y(baseline));
  parts.push(
    `<line class="baseline" x1="${plotLeft}" y1="${baseY}" x2="${plotRight}" y2="${baseY}" stroke="#555" stroke-width="1"/>`,
    `<g class="category-axis">`,
  );
  categories.forEach((category, index) => {
    parts.push(
      `<text x="${fmt(plotLeft + (index + 0.5) * groupWidth)}" y="${
        plotBottom + 16
      }" text-anchor="middle">${escapeXml(category)}</text>`,
    );
  });
  if (chart.categoryAxisLabel) {
    parts.push(
      `<text class="axis-label" x="${fmt((plotLeft + plotRight) / 2)}" y="${
        plotBottom + 36
      }" text-anchor="middle">${escapeXml(chart.categoryAxisLabel)}</text>`,
    );
  }
  parts.push(`</g>`, `</svg>`);
  return parts.join("\n");
}

function fmt(value: number): string {
  return String(Math.round(value * 10) / 10);
}

function opacityAttribute(opacity: number | undefined): string {
  return opacity === undefined || opacity === 1
    ? ""
    : ` fill-opacity="${opacity}"`;
}

function dashAttribute(dash: string | undefined): string {
  return dash ? ` stroke-dasharray="${escapeXml(dash)}"` : "";
}

/** One point of a scatter chart. */
export interface ScatterPoint {
  /** Drawn beside the point, and in its hover title. */
  readonly label: string;
  /** Fill colour. */
  readonly color: string;
  /** Horizontal value. */
  readonly x: number;
  /** Vertical value. */
  readonly y: number;
  /** A reference (a peer, not one of ours): drawn as a hollow diamond. */
  readonly reference?: boolean;
}

/** A scatter chart: labelled points on two value axes. */
export interface ScatterChart {
  /** Chart title, also its accessible name. */
  readonly title: string;
  /** What the horizontal axis measures. */
  readonly xAxisLabel: string;
  /** What the vertical axis measures. */
  readonly yAxisLabel: string;
  /** The points. */
  readonly points: readonly ScatterPoint[];
  /** A logarithmic horizontal axis (for speeds that span decades). */
  readonly xLog?: boolean;
  /** Total width in px (default 640). */
  readonly width?: number;
  /** Height of the plot area in px (default 260). */
  readonly plotHeight?: number;
  /** Decimals of the values in hover titles (x, y). */
  readonly digits?: readonly [number, number];
}

/**
 * Draws a scatter chart as an inline `<svg>`: round points for our codecs,
 * hollow diamonds for references, each labelled beside it and with a hover title.
 *
 * @param chart What to draw.
 * @returns The `<svg>…</svg>` text.
 *
 * @example
 * ```ts
 * import { scatterChartSvg } from "./svg_chart.ts";
 * import { assertStringIncludes } from "@std/assert";
 *
 * const svg = scatterChartSvg({
 *   title: "Ratio against speed", xAxisLabel: "MB/s", yAxisLabel: "ratio", xLog: true,
 *   points: [
 *     { label: "huffman", color: "#0072b2", x: 300, y: 1.2 },
 *     { label: "zstd -3", color: "#555", x: 900, y: 1.1, reference: true },
 *   ],
 * });
 * assertStringIncludes(svg, "<title>huffman: 300.0 MB/s, ratio 1.2000</title>");
 * ```
 */
export function scatterChartSvg(chart: ScatterChart): string {
  const width = chart.width ?? 640;
  const plotHeight = chart.plotHeight ?? 260;
  const [xDigits, yDigits] = chart.digits ?? [1, 4];
  const plotLeft = 64;
  const plotRight = width - 150;
  const plotTop = 36;
  const plotBottom = plotTop + plotHeight;
  const height = plotBottom + 44;
  const points = chart.points.filter((point) =>
    Number.isFinite(point.x) && Number.isFinite(point.y) &&
    (!chart.xLog || point.x > 0)
  );
  const toX = (value: number) => chart.xLog ? Math.log10(value) : value;
  const xs = points.map((point) => toX(point.x));
  const ys = points.map((point) => point.y);
  const xTicks = chart.xLog
    ? logTicks(Math.min(...xs, 0), Math.max(...xs, 1))
    : niceTicks(Math.min(...xs, 0), Math.max(...xs, 1));
  const yTicks = niceTicks(Math.min(...ys, 1), Math.max(...ys, 1));
  const [xLow, xHigh] = [xTicks[0], xTicks[xTicks.length - 1]];
  const [yLow, yHigh] = [yTicks[0], yTicks[yTicks.length - 1]];
  const x = (value: number) =>
    plotLeft + (toX(value) - xLow) / (xHigh - xLow) * (plotRight - plotLeft);
  const xOfTick = (tick: number) =>
    plotLeft + (tick - xLow) / (xHigh - xLow) * (plotRight - plotLeft);
  const y = (value: number) =>
    plotBottom - (value - yLow) / (yHigh - yLow) * plotHeight;
  const parts = svgOpen(chart.title, width, height, plotLeft);
  parts.push(`<g class="value-axis">`);
  for (const tick of yTicks) {
    parts.push(
      `<line x1="${plotLeft}" y1="${fmt(y(tick))}" x2="${plotRight}" y2="${
        fmt(y(tick))
      }" stroke="#ddd" stroke-width="1"/>`,
      `<text x="${plotLeft - 6}" y="${
        fmt(y(tick))
      }" dy="0.32em" text-anchor="end">${tickText(tick, yTicks)}</text>`,
    );
  }
  for (const tick of xTicks) {
    parts.push(
      `<line x1="${fmt(xOfTick(tick))}" y1="${plotTop}" x2="${
        fmt(xOfTick(tick))
      }" y2="${plotBottom}" stroke="#eee" stroke-width="1"/>`,
      `<text x="${fmt(xOfTick(tick))}" y="${
        plotBottom + 16
      }" text-anchor="middle">${
        chart.xLog ? String(Number((10 ** tick).toPrecision(6))) : tickText(
          tick,
          xTicks,
        )
      }</text>`,
    );
  }
  parts.push(
    `<text class="axis-label" x="0" y="0" transform="translate(14,${
      fmt((plotTop + plotBottom) / 2)
    }) rotate(-90)" text-anchor="middle">${escapeXml(chart.yAxisLabel)}</text>`,
    `<text class="axis-label" x="${fmt((plotLeft + plotRight) / 2)}" y="${
      plotBottom + 36
    }" text-anchor="middle">${
      escapeXml(chart.xAxisLabel + (chart.xLog ? " (log scale)" : ""))
    }</text>`,
    `</g>`,
    `<g class="points">`,
  );
  // Labels to the right of their points, or to the left when another point sits
  // there; nudged down when they would overlap a label already placed.
  const placed: { left: number; right: number; y: number }[] = [];
  for (const point of [...points].sort((a, b) => b.y - a.y)) {
    const px = x(point.x);
    const py = y(point.y);
    const labelWidth = point.label.length * CHAR_WIDTH;
    const crowded = points.some((other) =>
      other !== point && x(other.x) > px + 4 &&
      x(other.x) < px + 12 + labelWidth && Math.abs(y(other.y) - py) < 10
    );
    const left = crowded && px - 9 - labelWidth >= 4
      ? px - 9 - labelWidth
      : px + 9;
    let ly = py;
    while (
      placed.some((other) =>
        Math.abs(other.y - ly) < 13 && other.left < left + labelWidth &&
        left < other.right
      )
    ) ly += 13;
    placed.push({ left, right: left + labelWidth, y: ly });
    const hover = `${point.label}: ${point.x.toFixed(xDigits)} ${
      chart.xAxisLabel.split(" ")[0]
    }, ${chart.yAxisLabel.split(" ")[0]} ${point.y.toFixed(yDigits)}`;
    const mark = point.reference
      ? `<path class="point" d="M${fmt(px)} ${fmt(py - 6)}L${fmt(px + 6)} ${
        fmt(py)
      }L${fmt(px)} ${fmt(py + 6)}L${fmt(px - 6)} ${
        fmt(py)
      }Z" fill="#fff" stroke="${escapeXml(point.color)}" stroke-width="2">`
      : `<circle class="point" cx="${fmt(px)}" cy="${fmt(py)}" r="5.5" fill="${
        escapeXml(point.color)
      }">`;
    parts.push(
      `${mark}<title>${escapeXml(hover)}</title>${
        point.reference ? "</path>" : "</circle>"
      }`,
      `<text x="${fmt(left)}" y="${fmt(ly)}" dy="0.32em">${
        escapeXml(point.label)
      }</text>`,
    );
  }
  parts.push(`</g>`, `</svg>`);
  return parts.join("\n");
}

/** A heatmap: a value per row and column, coloured on one scale. */
export interface Heatmap {
  /** Chart title, also its accessible name. */
  readonly title: string;
  /** Row labels, top to bottom. */
  readonly rows: readonly string[];
  /** Values, `values[row][column]`; every row as long. */
  readonly values: readonly (readonly number[])[];
  /** What a value measures, e.g. `bits per element`. */
  readonly unit: string;
  /** The colour scale's ends (default: the values' own). */
  readonly range?: readonly [number, number];
  /** What the columns are, e.g. `channel`. */
  readonly columnAxisLabel: string;
  /** Label every n-th column (default 8). */
  readonly columnLabelEvery?: number;
  /** Total width in px (default 640). */
  readonly width?: number;
  /** Height of a row in px (default 18). */
  readonly rowHeight?: number;
}

/** Dark blue (few bits) to yellow (many): a sequential scale readable in grey. */
const HEAT_STOPS = [
  [0x26, 0x1f, 0x5c],
  [0x2c, 0x6e, 0x9a],
  [0x2f, 0xa3, 0x8a],
  [0x9b, 0xcb, 0x52],
  [0xf5, 0xe0, 0x3b],
] as const;

/**
 * The colour of a value on the heatmap's scale.
 *
 * @param fraction 0 (low end) to 1 (high end); clamped.
 * @returns A `#rrggbb` colour.
 *
 * @example
 * ```ts
 * import { heatColor } from "./svg_chart.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals([heatColor(0), heatColor(1)], ["#261f5c", "#f5e03b"]);
 * ```
 */
export function heatColor(fraction: number): string {
  const at =
    Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0)) *
    (HEAT_STOPS.length - 1);
  const low = Math.min(HEAT_STOPS.length - 2, Math.floor(at));
  const t = at - low;
  return "#" +
    HEAT_STOPS[low].map((channel, i) =>
      Math.round(channel + (HEAT_STOPS[low + 1][i] - channel) * t)
        .toString(16).padStart(2, "0")
    ).join("");
}

/**
 * Draws a heatmap as an inline `<svg>`: one cell per value with a hover title,
 * row labels at the left, every n-th column labelled, and a colour key.
 *
 * @param chart What to draw.
 * @returns The `<svg>…</svg>` text.
 *
 * @example
 * ```ts
 * import { heatmapSvg } from "./svg_chart.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const svg = heatmapSvg({
 *   title: "K", rows: ["head 0", "head 1"], values: [[1, 2], [3, 4]],
 *   unit: "bits per element", columnAxisLabel: "channel",
 * });
 * assertEquals(svg.match(/<rect class="cell"/g)?.length, 4);
 * ```
 */
export function heatmapSvg(chart: Heatmap): string {
  const width = chart.width ?? 640;
  const rowHeight = chart.rowHeight ?? 18;
  const columns = Math.max(0, ...chart.values.map((row) => row.length));
  const all = chart.values.flat().filter(Number.isFinite);
  const [low, high] = chart.range ??
    [Math.min(...all, 0), Math.max(...all, 1)];
  const labelWidth = Math.max(
    40,
    ...chart.rows.map((row) => row.length * CHAR_WIDTH + 10),
  );
  const plotLeft = labelWidth;
  const plotRight = width - 16;
  const plotTop = 30;
  const cellWidth = (plotRight - plotLeft) / Math.max(1, columns);
  const plotBottom = plotTop + chart.rows.length * rowHeight;
  const keyTop = plotBottom + 40;
  const height = keyTop + 30;
  const every = chart.columnLabelEvery ?? 8;
  const parts = svgOpen(chart.title, width, height, plotLeft);
  parts.push(`<g class="cells">`);
  chart.values.forEach((row, rowIndex) => {
    parts.push(
      `<text x="${fmt(plotLeft - 6)}" y="${
        fmt(plotTop + (rowIndex + 0.5) * rowHeight)
      }" dy="0.32em" text-anchor="end">${
        escapeXml(chart.rows[rowIndex])
      }</text>`,
    );
    row.forEach((value, column) => {
      const fraction = high > low ? (value - low) / (high - low) : 0;
      parts.push(
        `<rect class="cell" x="${fmt(plotLeft + column * cellWidth)}" y="${
          fmt(plotTop + rowIndex * rowHeight)
        }" width="${fmt(cellWidth + 0.4)}" height="${rowHeight}" fill="${
          heatColor(fraction)
        }"><title>${
          escapeXml(
            `${chart.rows[rowIndex]}, ${chart.columnAxisLabel} ${column}: ${
              value.toFixed(3)
            } ${chart.unit}`,
          )
        }</title></rect>`,
      );
    });
  });
  parts.push(`</g>`, `<g class="category-axis">`);
  for (let column = 0; column < columns; column += every) {
    parts.push(
      `<text x="${fmt(plotLeft + (column + 0.5) * cellWidth)}" y="${
        plotBottom + 14
      }" text-anchor="middle">${column}</text>`,
    );
  }
  parts.push(
    `<text class="axis-label" x="${fmt((plotLeft + plotRight) / 2)}" y="${
      plotBottom + 30
    }" text-anchor="middle">${escapeXml(chart.columnAxisLabel)}</text>`,
    `</g>`,
    `<g class="color-key">`,
  );
  const steps = 40;
  const keyWidth = Math.min(300, plotRight - plotLeft);
  for (let step = 0; step < steps; step++) {
    parts.push(
      `<rect x="${
        fmt(plotLeft + step * keyWidth / steps)
      }" y="${keyTop}" width="${
        fmt(keyWidth / steps + 0.4)
      }" height="10" fill="${heatColor((step + 0.5) / steps)}"/>`,
    );
  }
  parts.push(
    `<text x="${plotLeft}" y="${keyTop + 22}">${low.toFixed(2)}</text>`,
    `<text x="${fmt(plotLeft + keyWidth)}" y="${
      keyTop + 22
    }" text-anchor="end">${high.toFixed(2)}</text>`,
    `<text x="${fmt(plotLeft + keyWidth + 10)}" y="${keyTop + 9}">${
      escapeXml(chart.unit)
    }</text>`,
    `</g>`,
    `</svg>`,
  );
  return parts.join("\n");
}

/** One row of a range chart: the spread of a set of values. */
export interface RangeRow {
  /** Row label. */
  readonly label: string;
  /** Fill colour of the box. */
  readonly color: string;
  /** Smallest, 10th, 25th, 50th, 75th, 90th percentile, largest. */
  readonly quantiles: readonly [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  /** Values summarised (for the hover title). */
  readonly count: number;
}

/** A range chart: one horizontal box per row on a shared value axis. */
export interface RangeChart {
  /** Chart title, also its accessible name. */
  readonly title: string;
  /** What the values measure. */
  readonly valueAxisLabel: string;
  /** The rows, top to bottom. */
  readonly rows: readonly RangeRow[];
  /** A value to draw as a vertical line (e.g. 1: no compression). */
  readonly baseline?: number;
  /** Total width in px (default 640). */
  readonly width?: number;
}

/**
 * Draws the spread of values as horizontal boxes: whiskers from smallest to
 * largest, thin bars from the 10th to the 90th percentile, a box over the middle
 * half, a tick at the median.
 *
 * @param chart What to draw.
 * @returns The `<svg>…</svg>` text.
 *
 * @example
 * ```ts
 * import { rangeChartSvg } from "./svg_chart.ts";
 * import { assertStringIncludes } from "@std/assert";
 *
 * const svg = rangeChartSvg({
 *   title: "Per-dump ratio", valueAxisLabel: "ratio", baseline: 1,
 *   rows: [{ label: "huffman", color: "#0072b2", quantiles: [1, 1.1, 1.15, 1.2, 1.25, 1.3, 1.4], count: 9 }],
 * });
 * assertStringIncludes(svg, "median 1.2000");
 * ```
 */
export function rangeChartSvg(chart: RangeChart): string {
  const width = chart.width ?? 640;
  const rowHeight = 26;
  const labelWidth = Math.max(
    60,
    ...chart.rows.map((row) => row.label.length * CHAR_WIDTH + 12),
  );
  const plotLeft = labelWidth;
  const plotRight = width - 20;
  const plotTop = 30;
  const plotBottom = plotTop + chart.rows.length * rowHeight;
  const height = plotBottom + 44;
  const values = chart.rows.flatMap((row) => [...row.quantiles]).filter(
    Number.isFinite,
  );
  if (chart.baseline !== undefined) values.push(chart.baseline);
  const ticks = niceTicks(Math.min(...values, 1), Math.max(...values, 1));
  const [low, high] = [ticks[0], ticks[ticks.length - 1]];
  const x = (value: number) =>
    plotLeft + (value - low) / (high - low) * (plotRight - plotLeft);
  const parts = svgOpen(chart.title, width, height, plotLeft);
  parts.push(`<g class="value-axis">`);
  for (const tick of ticks) {
    parts.push(
      `<line x1="${fmt(x(tick))}" y1="${plotTop}" x2="${
        fmt(x(tick))
      }" y2="${plotBottom}" stroke="#e4e4e4" stroke-width="1"/>`,
      `<text x="${fmt(x(tick))}" y="${plotBottom + 16}" text-anchor="middle">${
        tickText(tick, ticks)
      }</text>`,
    );
  }
  parts.push(
    `<text class="axis-label" x="${fmt((plotLeft + plotRight) / 2)}" y="${
      plotBottom + 36
    }" text-anchor="middle">${escapeXml(chart.valueAxisLabel)}</text>`,
    `</g>`,
  );
  if (chart.baseline !== undefined) {
    parts.push(
      `<line class="baseline" x1="${
        fmt(x(chart.baseline))
      }" y1="${plotTop}" x2="${
        fmt(x(chart.baseline))
      }" y2="${plotBottom}" stroke="#555" stroke-width="1"/>`,
    );
  }
  parts.push(`<g class="boxes">`);
  chart.rows.forEach((row, index) => {
    const [min, p10, p25, median, p75, p90, max] = row.quantiles;
    const middle = plotTop + (index + 0.5) * rowHeight;
    const color = escapeXml(row.color);
    const hover =
      `${row.label}: ${row.count} values, median ${median.toFixed(4)}; ` +
      `middle half ${p25.toFixed(4)} to ${p75.toFixed(4)}; ` +
      `10% to 90% ${p10.toFixed(4)} to ${p90.toFixed(4)}; ` +
      `all ${min.toFixed(4)} to ${max.toFixed(4)}`;
    parts.push(
      `<text x="${plotLeft - 8}" y="${
        fmt(middle)
      }" dy="0.32em" text-anchor="end">${escapeXml(row.label)}</text>`,
      `<g class="box"><title>${escapeXml(hover)}</title>`,
      `<line x1="${fmt(x(min))}" y1="${fmt(middle)}" x2="${fmt(x(max))}" y2="${
        fmt(middle)
      }" stroke="${color}" stroke-width="1"/>`,
      `<rect x="${fmt(x(p10))}" y="${fmt(middle - 3)}" width="${
        fmt(Math.max(1, x(p90) - x(p10)))
      }" height="6" fill="${color}" fill-opacity="0.35"/>`,
      `<rect x="${fmt(x(p25))}" y="${fmt(middle - 8)}" width="${
        fmt(Math.max(1, x(p75) - x(p25)))
      }" height="16" fill="${color}" fill-opacity="0.8"/>`,
      `<line x1="${fmt(x(median))}" y1="${fmt(middle - 10)}" x2="${
        fmt(x(median))
      }" y2="${fmt(middle + 10)}" stroke="#000" stroke-width="2"/>`,
      `</g>`,
    );
  });
  parts.push(`</g>`, `</svg>`);
  return parts.join("\n");
}

/** The opening of every chart: the element, its accessible name and title. */
function svgOpen(
  title: string,
  width: number,
  height: number,
  titleX: number,
): string[] {
  return [
    `<svg class="chart" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${
      escapeXml(title)
    }" font-family="system-ui, sans-serif" font-size="${FONT_SIZE}">`,
    `<title>${escapeXml(title)}</title>`,
    `<text class="chart-title" x="${titleX}" y="17" font-size="14" font-weight="600">${
      escapeXml(title)
    }</text>`,
  ];
}

/** A tick's text, with as many decimals as the ticks need. */
function tickText(tick: number, ticks: readonly number[]): string {
  const digits = Math.max(
    0,
    ...ticks.map((value) => (String(value).split(".")[1] ?? "").length),
  );
  return tick.toFixed(digits);
}

/** Ticks at whole decades (1, 10, 100, ...) in log10 units, covering min..max. */
function logTicks(min: number, max: number): number[] {
  const ticks: number[] = [];
  for (let decade = Math.floor(min); decade <= Math.ceil(max); decade++) {
    ticks.push(decade);
  }
  return ticks.length > 1 ? ticks : [ticks[0], ticks[0] + 1];
}
