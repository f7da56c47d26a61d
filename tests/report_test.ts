/**
 * The analyze report: rendered for the fixtures (encoded here with both codebook
 * modes, and the reference folders), it is well-formed, self-contained, shows the
 * expected charts, series and labels, and its numbers agree with the analysis; the
 * entropy it shows is a true lower bound of the coded sizes.
 */

import {
  assert,
  assertAlmostEquals,
  assertEquals,
  assertMatch,
  assertNotMatch,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import { join } from "@std/path";
import { orderZeroEntropy } from "../src/codec/entropy.ts";
import { PlaneEntropyAccumulator } from "../src/format/plane_entropy.ts";
import { reportHtml } from "../src/format/report_html.ts";
import { STREAM_NAMES } from "../src/format/stream_codec.ts";
import {
  STREAM_CODECS,
  streamCodecNamed,
} from "../src/format/stream_codecs.ts";
import { barChartSvg, niceTicks } from "../src/format/svg_chart.ts";
import { analyzeFolders } from "../src/jobs/analyze_folders_job.ts";
import { encodeFolder } from "../src/jobs/encode_job.ts";
import {
  KV_SAMPLE,
  REFERENCE,
  runTaskScript,
  seededRandom,
  withTempDir,
} from "./_helpers.ts";
import {
  findElements,
  parseXml,
  textOf,
  type XmlElement,
  XmlError,
} from "./_xml.ts";

/** Fails when the page names anything outside itself. */
function assertSelfContained(html: string): void {
  for (
    const pattern of [
      /https?:/i,
      /\/\//,
      /<script/i,
      /@import/i,
      /url\(/i,
      /\b(?:src|href|xlink:href|srcset|action|data)\s*=/i,
      /<(?:link|iframe|object|embed|img|base)\b/i,
    ]
  ) {
    assertNotMatch(html, pattern, `the report must not contain ${pattern}`);
  }
}

/** Checks the chart structure every SVG of the report shares, and returns them. */
function checkCharts(page: XmlElement): XmlElement[] {
  const charts = findElements(page, "svg");
  for (const svg of charts) {
    assertMatch(svg.attributes.viewBox, /^0 0 \d+ \d+$/);
    const first = svg.children.find((child) => typeof child !== "string");
    assertEquals((first as XmlElement).name, "title", "accessible name first");
    assert(textOf(first as XmlElement).length > 0);
    const bars = findElements(svg, "rect").filter((rect) =>
      rect.attributes.class === "bar"
    );
    assert(bars.length > 0, `${textOf(first as XmlElement)} has bars`);
    for (const bar of bars) {
      for (const key of ["x", "y", "width", "height"]) {
        assert(
          Number.isFinite(Number(bar.attributes[key])),
          `${key} is a number`,
        );
      }
      const hover = findElements(bar, "title");
      assertEquals(hover.length, 1, "each bar has a hover title");
      assertMatch(textOf(hover[0]), /: -?\d+\.\d{3,4}/);
    }
  }
  return charts;
}

function legendOf(svg: XmlElement): string[] {
  return findElements(svg, "g").filter((g) =>
    g.attributes.class === "legend-entry"
  ).map(textOf);
}

function chartTitled(charts: XmlElement[], title: string): XmlElement {
  const chart = charts.find((svg) => svg.attributes["aria-label"] === title);
  assert(chart, `a chart titled "${title}"`);
  return chart;
}

Deno.test("the report of kv-sample in both codebook modes is well-formed, self-contained and complete", async () => {
  await withTempDir(async (dir) => {
    const huffman = streamCodecNamed("huffman")!;
    const folders = [];
    for (const codebook of ["global", "per-dump"] as const) {
      const outDir = join(dir, `huffman-${codebook}`);
      await encodeFolder({
        dumpDir: KV_SAMPLE,
        outDir,
        codec: huffman,
        codebook,
        overwrite: false,
        stage: "both",
        minSeqLen: 0,
        maxSeqLen: 0,
      });
      folders.push(outDir);
    }
    const outDir = join(dir, "analysis");
    const result = await analyzeFolders({
      bitstreamDirs: folders,
      origDumpDir: KV_SAMPLE,
      outDir,
      includeMeta: false,
      report: true,
    });
    assertEquals(
      result.written.map((path) => path.slice(outDir.length + 1)),
      [
        "huffman-global_metrics.csv",
        "huffman-global_summary.md",
        "huffman-per-dump_metrics.csv",
        "huffman-per-dump_summary.md",
        "report.html",
      ],
    );
    // Both folders hold the same 51 dumps: the originals are read once.
    assertEquals(result.entropies[0]?.dumps, 51);
    assert(result.entropies[0] === result.entropies[1]);

    const html = await Deno.readTextFile(result.reportPath!);
    assertSelfContained(html);
    const page = parseXml(html);
    assertEquals(page.name, "html");
    assertEquals(textOf(findElements(page, "title")[0]), "kvbits analysis");
    assertEquals(
      findElements(page, "section").map((section) => section.attributes.id),
      ["summary", "ratios", "stages", "planes", "layers"],
    );

    // 1 ratio chart, 1 plane chart, and per codec one per run (2 runs in kv-sample).
    const charts = checkCharts(page);
    assertEquals(charts.length, 2 + 2 * 2);
    const ratios = chartTitled(charts, "Compression ratio of the folder");
    assertEquals(legendOf(ratios), [
      "Huffman, global codebook: coded streams",
      "Huffman, global codebook: every file",
      "Huffman, per-dump codebook: coded streams",
      "Huffman, per-dump codebook: every file",
      "order-0 limit, one model for all dumps",
      "order-0 limit, a model per dump",
    ]);
    assertStringIncludes(textOf(ratios), "ratio (original / coded bytes)");
    const planes = chartTitled(charts, "Coded bits per element, by plane");
    assertEquals(legendOf(planes), [
      "Huffman, global codebook",
      "Huffman, per-dump codebook",
      "uncoded width",
      "order-0 entropy, one model for all dumps",
      "order-0 entropy, a model per dump",
    ]);
    for (
      const label of ["K hi6", "K lo10", "V hi6", "V lo10", "bits per element"]
    ) {
      assertStringIncludes(textOf(planes), label);
    }
    // Per layer: one chart per run; kv-sample has layers 0 and 5 of the llama run,
    // with prefill and decode, and the decode dumps of layer 0 of the gpt2 run.
    const llama = charts.filter((svg) =>
      svg.attributes["aria-label"] === "llama6L-kjv-ruth: ratio by layer"
    );
    assertEquals(llama.length, 2, "one per codec");
    assertEquals(legendOf(llama[0]), [
      "K prefill",
      "K decode",
      "V prefill",
      "V decode",
    ]);
    const categories = findElements(llama[0], "g").find((g) =>
      g.attributes.class === "category-axis"
    )!;
    assertEquals(
      findElements(categories, "text").map(textOf),
      ["0", "5", "layer"],
    );
    const hovers = findElements(llama[0], "title").map(textOf);
    assert(
      hovers.some((text) => /^V decode, layer 5: \d\.\d{4} \(/.test(text)),
    );
    assert(
      !hovers.some((text) => text.startsWith("K prefill, layer 5")),
      "layer 5 has only decode dumps: no prefill bar",
    );
    const gpt2 = chartTitled(charts, "gpt2L4-fortune-wisdom: ratio by layer");
    assertEquals(
      findElements(gpt2, "rect").filter((rect) =>
        rect.attributes.class === "bar"
      )
        .length,
      2,
      "K and V decode of layer 0",
    );

    // The page's headline numbers are the analysis' numbers.
    const cards = findElements(page, "div").filter((div) =>
      div.attributes.class === "card"
    );
    assertEquals(cards.length, 2);
    result.analyses.forEach((analysis, index) => {
      assertStringIncludes(
        textOf(cards[index]),
        analysis.withoutMeta.kvRatio.toFixed(4),
      );
      assertStringIncludes(
        textOf(cards[index]),
        analysis.withMeta.kvRatio.toFixed(4),
      );
    });
  });
});

Deno.test("coded bits per plane stay above the order-0 entropy the report shows, and within a bit and the padding of it", async () => {
  await withTempDir(async (dir) => {
    const folders: string[] = [];
    for (const codebook of ["global", "per-dump"] as const) {
      const outDir = join(dir, codebook);
      await encodeFolder({
        dumpDir: KV_SAMPLE,
        outDir,
        codec: streamCodecNamed("huffman")!,
        codebook,
        overwrite: false,
        stage: "both",
        minSeqLen: 0,
        maxSeqLen: 0,
      });
      folders.push(outDir);
    }
    const result = await analyzeFolders({
      bitstreamDirs: folders,
      origDumpDir: KV_SAMPLE,
      outDir: join(dir, "analysis"),
      includeMeta: false,
      report: true,
    });
    const entropy = result.entropies[0]!;
    // Shannon: a static code spends at least H bits per symbol; Huffman less than
    // H + 1, plus the padding of the last byte of each stream (< 8 bits per dump).
    const padding = 8 * 51 / entropy.elements;
    for (const [index, limit] of [entropy.pooled, entropy.perDump].entries()) {
      const rows = result.analyses[index].rows;
      const elements = rows.reduce((sum, row) => sum + row.numElements, 0);
      assertEquals(elements, entropy.elements);
      const fields = {
        k_hi6: "kHi6",
        k_lo10: "kLo10",
        v_hi6: "vHi6",
        v_lo10: "vLo10",
      } as const;
      for (const stream of STREAM_NAMES) {
        const bits = 8 *
          rows.reduce((sum, row) => sum + row[fields[stream]], 0) / elements;
        assert(bits >= limit[stream], `${stream}: ${bits} >= ${limit[stream]}`);
        assert(bits < limit[stream] + 1 + padding, `${stream}: ${bits}`);
        assert(entropy.perDump[stream] <= entropy.pooled[stream] + 1e-12);
      }
    }
  });
});

Deno.test("the reference folders give a side-by-side report of every codec this build reads", async () => {
  await withTempDir(async (dir) => {
    const folders = [
      "huffman-global",
      "huffman-per-dump",
      "arith-global",
      "arith-per-dump",
    ]
      .filter((name) =>
        STREAM_CODECS.some((codec) => name.startsWith(codec.name))
      )
      .map((name) => join(REFERENCE, name));
    const result = await analyzeFolders({
      bitstreamDirs: folders,
      origDumpDir: KV_SAMPLE,
      outDir: dir,
      includeMeta: true,
      report: true,
    });
    const html = await Deno.readTextFile(result.reportPath!);
    assertSelfContained(html);
    const page = parseXml(html);
    const charts = checkCharts(page);
    const ratios = chartTitled(charts, "Compression ratio of the folder");
    assertEquals(legendOf(ratios).length, 2 * folders.length + 2);
    // The two Huffman folders hold different dumps (all of layer 0 against four of
    // them): each has its own entropy, drawn over its own bars.
    assertEquals(
      result.entropies.map((entropy) => entropy?.dumps).slice(0, 2),
      [19, 4],
    );
    const markers = findElements(ratios, "line").filter((line) =>
      line.attributes.class === "marker"
    );
    assertEquals(markers.length, folders.length * 2 * 3);
  });
});

Deno.test("text from dumps and paths is escaped: hostile run ids and folder names stay text", () => {
  const hostile =
    `</title></svg><script>alert("x")</script><img src=x onerror=y>&amp`;
  const row = {
    runId: hostile,
    layerId: 3,
    stage: `decode & "more"`,
    seqLen: 1,
    numElements: 128,
    kRaw: 256,
    vRaw: 256,
    kHi6: 40,
    kLo10: 160,
    vHi6: 41,
    vLo10: 161,
    metaBytes: 500,
  };
  const html = reportHtml({
    title: `report <of> ${hostile}`,
    origDumpDir: `dumps/${hostile}`,
    analyses: [{
      label: "x",
      title: `Codec <b>`,
      codebook: "per-dump",
      bitstreamDir: `bits/${hostile}`,
      rows: [row],
      sharedBytes: 0,
    }],
  });
  assertNotMatch(html, /<script|<img/i);
  assertStringIncludes(html, "Codec &lt;b&gt;, per-dump codebook");
  const page = parseXml(html);
  assertEquals(
    textOf(findElements(page, "title")[0]),
    `report <of> ${hostile}`,
  );
  const layerChart = findElements(page, "svg").find((svg) =>
    svg.attributes["aria-label"] === `${hostile}: ratio by layer`
  );
  assert(layerChart, "the run id is the chart's title, as text");
  assertStringIncludes(textOf(page), `decode & "more"`);
});

Deno.test("a report without originals or with a folder of no dumps still renders, and says what is missing", () => {
  const empty = reportHtml({ analyses: [] });
  parseXml(empty);
  assertStringIncludes(empty, "No dump was analysed.");
  const row = {
    runId: "",
    layerId: 0,
    stage: "prefill",
    seqLen: 2,
    numElements: 256,
    kRaw: 512,
    vRaw: 512,
    kHi6: 100,
    kLo10: 320,
    vHi6: 100,
    vLo10: 320,
    metaBytes: 400,
  };
  const html = reportHtml({
    analyses: [{
      label: "huffman",
      title: "Huffman",
      bitstreamDir: "b",
      rows: [row],
      sharedBytes: 0,
    }],
  });
  const page = parseXml(html);
  assertStringIncludes(textOf(page), "run analyze with --orig-dump-dir");
  assertStringIncludes(textOf(page), "(no run_id): ratio by layer");
  assertSelfContained(html);
});

Deno.test("analyze --report over two folders writes report.html; without --report nothing new appears", async () => {
  await withTempDir(async (dir) => {
    const global = join(REFERENCE, "huffman-global");
    const perDump = join(REFERENCE, "huffman-per-dump");
    const withReport = await runTaskScript("analyze", [
      "--bitstream-dir",
      global,
      "--bitstream-dir",
      perDump,
      "--orig-dump-dir",
      KV_SAMPLE,
      "--out-dir",
      join(dir, "a"),
      "--report",
    ]);
    assertEquals(withReport.code, 0, withReport.stderr);
    assertStringIncludes(withReport.stdout, `Dumps: 19 (huffman) ${global}`);
    assertStringIncludes(withReport.stdout, `Dumps: 4 (huffman) ${perDump}`);
    assertStringIncludes(
      withReport.stdout,
      `Wrote ${join(dir, "a", "report.html")}`,
    );
    parseXml(await Deno.readTextFile(join(dir, "a", "report.html")));

    const plain = await runTaskScript("analyze", [
      "--bitstream-dir",
      perDump,
      "--out-dir",
      join(dir, "b"),
    ]);
    assertEquals(plain.code, 0, plain.stderr);
    const names = [];
    for await (const entry of Deno.readDir(join(dir, "b"))) {
      names.push(entry.name);
    }
    assertEquals(names.sort(), ["huffman_metrics.csv", "huffman_summary.md"]);

    const empty = await runTaskScript("analyze", [
      "--bitstream-dir=",
      "--out-dir",
      join(dir, "c"),
    ]);
    assertEquals(empty.code, 64);
    assertStringIncludes(empty.stderr, "--bitstream-dir needs a value");
    const help = await runTaskScript("analyze", ["--help"]);
    assertMatch(help.stdout, /--bitstream-dir DIR .*repeatable/);
    assertStringIncludes(help.stdout, "--report");
  });
});

Deno.test("order-0 entropy: known values, and bad counts are refused", () => {
  assertEquals(orderZeroEntropy([1, 1, 1, 1, 1, 1, 1, 1]), 3);
  assertAlmostEquals(orderZeroEntropy([3, 1]), 0.8112781244591328, 1e-15);
  assertEquals(orderZeroEntropy(new Float64Array(1024).fill(2 ** 40)), 10);
  assertThrows(() => orderZeroEntropy([1, -1]), RangeError, "symbol 1");
  assertThrows(() => orderZeroEntropy([NaN]), RangeError, "not a finite");
});

Deno.test("the entropy of pooled dumps is never below the mean of their own entropies", () => {
  const random = seededRandom(7);
  for (let trial = 0; trial < 20; trial++) {
    const accumulator = new PlaneEntropyAccumulator();
    for (let dump = 0; dump < 1 + Math.floor(random() * 5); dump++) {
      const length = Math.floor(random() * 300);
      const spread = 1 + Math.floor(random() * 0xffff);
      const base = Math.floor(random() * 0xffff);
      const words = () =>
        Uint16Array.from(
          { length },
          () => (base + Math.floor(random() * random() * spread)) & 0xffff,
        );
      accumulator.add(words(), words());
    }
    const { pooled, perDump } = accumulator.result();
    for (const stream of STREAM_NAMES) {
      assert(
        perDump[stream] <= pooled[stream] + 1e-9,
        `${stream}, trial ${trial}`,
      );
      assert(pooled[stream] <= (stream.endsWith("hi6") ? 6 : 10) + 1e-9);
    }
  }
  assertThrows(
    () =>
      new PlaneEntropyAccumulator().add(new Uint16Array(2), new Uint16Array(3)),
    RangeError,
    "K has 2 elements, V 3",
  );
});

Deno.test("chart axes cover every value with round ticks; bars below the baseline go down", () => {
  const random = seededRandom(11);
  for (let trial = 0; trial < 500; trial++) {
    const a = (random() - 0.3) * 10 ** Math.floor(random() * 6 - 2);
    const b = a + random() * 10 ** Math.floor(random() * 6 - 2);
    const ticks = niceTicks(a, b);
    assert(
      ticks[0] <= a && ticks[ticks.length - 1] >= b,
      `${a}..${b}: ${ticks}`,
    );
    assert(ticks.length >= 2 && ticks.length <= 13, `${a}..${b}: ${ticks}`);
  }
  assertThrows(() => niceTicks(2, 1), RangeError);
  const svg = barChartSvg({
    title: "t",
    categories: ["a", "b"],
    valueAxisLabel: "ratio",
    baseline: 1,
    series: [{ label: "s", color: "#000", values: [0.5, 1.5] }],
  });
  const bars = findElements(parseXml(svg), "rect").filter((rect) =>
    rect.attributes.class === "bar"
  );
  const baseline = findElements(parseXml(svg), "line").find((line) =>
    line.attributes.class === "baseline"
  )!;
  const baseY = Number(baseline.attributes.y1);
  assertEquals(
    Number(bars[0].attributes.y),
    baseY,
    "0.5 hangs from the baseline",
  );
  assertAlmostEquals(
    Number(bars[1].attributes.y) + Number(bars[1].attributes.height),
    baseY,
    0.11,
  );
  assertThrows(
    () =>
      barChartSvg({
        title: "t",
        categories: ["a"],
        valueAxisLabel: "v",
        series: [{ label: "s", color: "#000", values: [1, 2] }],
      }),
    RangeError,
    '"s" has 2 values for 1 categories',
  );
});

Deno.test("the test's XML checker refuses what is not well-formed", () => {
  for (
    const bad of [
      "<a><b></a></b>",
      "<a>",
      "<a x=1/>",
      '<a x="1" x="2"/>',
      "<a>fish & chips</a>",
      "<a>&nbsp;</a>",
      '<a x="<"/>',
      "<a/><b/>",
      "text<a/>",
      "<a><![CDATA[x]]></a>",
    ]
  ) {
    assertThrows(() => parseXml(bad), XmlError, undefined, bad);
  }
  const ok = parseXml(
    `<!DOCTYPE html><a q='1' r="&lt;&#65;&#x42;">t&amp;u<!-- c --><b/></a>`,
  );
  assertEquals(ok.attributes.r, "<AB");
  assertEquals(textOf(ok), "t&u");
});
