/**
 * The fused FP16 coders run a `hi6` and a `lo10` coder side by side; each loop's
 * `lo10` block is the `hi6` block with `lo` names for `hi` names, kept so by this
 * test (one source for both steps): it fails when a block was edited alone.
 * `deno test -A tests/fp16_twins_test.ts -- --update` rewrites every `lo10`
 * block from its `hi6` block.
 */

import { assert, assertEquals } from "@std/assert";
import { fromFileUrl } from "@std/path";

const FILES = ["../src/codec/arithmetic_fp16.ts"];
const UPDATE = Deno.args.includes("--update");

/** The `lo10` twin of a `hi6` block: `hiLow` -> `loLow`, and so on. */
function loTwin(hiBlock: string): string {
  return hiBlock.replace(/\bhi([A-Z])/g, "lo$1");
}

/** Each `// hi6:` comment's block and the `// lo10:` block after it, as line ranges. */
function twinBlocks(
  lines: string[],
): { hi: [number, number]; lo: [number, number] }[] {
  const blockAfter = (comment: number): [number, number] => {
    // The comment may take several lines; the block opens with a lone "{".
    let open = comment + 1;
    while (lines[open].trim() !== "{") open++;
    const indent = lines[open].indexOf("{");
    let close = open + 1;
    while (
      !(lines[close].trim() === "}" && lines[close].indexOf("}") === indent)
    ) {
      close++;
    }
    return [open, close + 1];
  };
  const pairs = [];
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i].trim().startsWith("// hi6:")) continue;
    const hi = blockAfter(i);
    let j = hi[1];
    while (!lines[j].trim().startsWith("// lo10:")) j++;
    pairs.push({ hi, lo: blockAfter(j) });
  }
  return pairs;
}

for (const file of FILES) {
  Deno.test(`${file.slice(file.lastIndexOf("/") + 1)}: every lo10 block is its hi6 block with lo names`, async () => {
    const path = fromFileUrl(new URL(file, import.meta.url));
    const lines = (await Deno.readTextFile(path)).split("\n");
    const pairs = twinBlocks(lines);
    assert(pairs.length >= 2, "the encoder's and the decoder's blocks");
    // From the last pair back, so that earlier line numbers stay valid.
    for (const { hi, lo } of pairs.reverse()) {
      const expected = loTwin(lines.slice(hi[0], hi[1]).join("\n"));
      if (UPDATE) lines.splice(lo[0], lo[1] - lo[0], ...expected.split("\n"));
      else assertEquals(lines.slice(lo[0], lo[1]).join("\n"), expected);
    }
    if (UPDATE) await Deno.writeTextFile(path, lines.join("\n"));
  });
}
