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
