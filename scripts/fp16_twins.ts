/**
 * One source for the fused FP16 coders' hot loops: each loop of
 * `src/codec/huffman_fp16.ts` and `src/codec/arithmetic_fp16.ts` runs a `hi6`
 * and a `lo10` coder side by side, and only the `hi6` block is written by hand.
 * This script writes each `lo10` block from the `hi6` block before it (`hi`
 * names become `lo` names: `hiAcc` -> `loAcc`, `FAILED_HI_END` ->
 * `FAILED_LO_END`); `tests/fp16_twins_test.ts` fails when a file is not what
 * it would write.
 *
 * Why generated and not one function called twice: the two coders' steps must
 * stay in one loop body, with their state in local variables, so that the CPU
 * overlaps the two dependency chains; a shared step function that takes and
 * returns the state costs a third of the speed or more (measured on the
 * arithmetic coder).
 *
 * The marks: a line `// hi6: <what it does>` followed by a block that opens
 * with a lone `{` and closes with a `}` at the same indentation; then, after
 * it, a line {@link LO10_MARK} followed by the generated block.
 *
 * ```sh
 * deno run --allow-read --allow-write scripts/fp16_twins.ts          # rewrite the lo10 blocks
 * deno run --allow-read scripts/fp16_twins.ts --check                # exit 1 when one is stale
 * ```
 *
 * @module
 */

import { fromFileUrl } from "@std/path";

/** The files with twin blocks, relative to the repository root. */
export const TWIN_FILES: readonly string[] = [
  "src/codec/huffman_fp16.ts",
  "src/codec/arithmetic_fp16.ts",
];

/** The comment line before each generated block. */
export const LO10_MARK =
  "// lo10: generated from the hi6 block above by scripts/fp16_twins.ts; do not edit.";

/**
 * The `lo10` twin of a `hi6` block: `hi` names become `lo` names.
 *
 * @param hiBlock The text of a `hi6` block.
 * @returns The text of its `lo10` twin.
 *
 * @example
 * ```ts
 * import { loTwin } from "./fp16_twins.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(loTwin("hiAt += hiBits; failed = FAILED_HI_END; this = hide;"),
 *   "loAt += loBits; failed = FAILED_LO_END; this = hide;");
 * ```
 */
export function loTwin(hiBlock: string): string {
  return hiBlock.replace(/\bhi([A-Z])/g, "lo$1").replace(/_HI_/g, "_LO_");
}

/** Line range [open, close) of the block that follows a comment line. */
function blockAfter(
  lines: readonly string[],
  comment: number,
): [number, number] {
  // The comment may take several lines; the block opens with a lone "{".
  let open = comment + 1;
  while (open < lines.length && lines[open].trim() !== "{") open++;
  if (open === lines.length) {
    throw new Error(
      `line ${comment + 1}: no block ("{" alone on a line) after it`,
    );
  }
  const indent = lines[open].indexOf("{");
  let close = open + 1;
  while (
    close < lines.length &&
    !(lines[close].trim() === "}" && lines[close].indexOf("}") === indent)
  ) {
    close++;
  }
  if (close === lines.length) {
    throw new Error(`line ${open + 1}: the block is not closed`);
  }
  return [open, close + 1];
}

/**
 * A source text with every `lo10` block written from its `hi6` block.
 *
 * @param text A source file's text.
 * @returns The text as it should be (the same when it is current).
 * @throws {Error} When a `hi6` mark has no block or no `lo10` mark after it.
 *
 * @example
 * ```ts
 * import { LO10_MARK, withTwins } from "./fp16_twins.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const source = (lo: string) =>
 *   ["// hi6: add", "{", "  hiAt += 1;", "}", LO10_MARK, "{", lo, "}", ""].join("\n");
 * assertEquals(withTwins(source("  stale;")), source("  loAt += 1;"));
 * ```
 */
export function withTwins(text: string): string {
  const lines = text.split("\n");
  const pairs: { hi: [number, number]; lo: [number, number] }[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i].trim().startsWith("// hi6:")) continue;
    const hi = blockAfter(lines, i);
    let mark = hi[1];
    while (mark < lines.length && lines[mark].trim() !== LO10_MARK) mark++;
    if (mark === lines.length) {
      throw new Error(`line ${i + 1}: no "${LO10_MARK}" after this hi6 block`);
    }
    pairs.push({ hi, lo: blockAfter(lines, mark) });
    i = mark;
  }
  // From the last pair back, so that earlier line numbers stay valid.
  for (const { hi, lo } of pairs.reverse()) {
    const twin = loTwin(lines.slice(hi[0], hi[1]).join("\n")).split("\n");
    lines.splice(lo[0], lo[1] - lo[0], ...twin);
  }
  return lines.join("\n");
}

/**
 * The twin blocks' count in a source text.
 *
 * @param text A source file's text.
 * @returns How many `hi6` blocks it has.
 *
 * @example
 * ```ts
 * import { twinCount } from "./fp16_twins.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(twinCount("// hi6: a\n{\n}\n"), 1);
 * ```
 */
export function twinCount(text: string): number {
  return text.split("\n").filter((line) => line.trim().startsWith("// hi6:"))
    .length;
}

if (import.meta.main) {
  const check = Deno.args.includes("--check");
  let stale = 0;
  for (const file of TWIN_FILES) {
    const path = fromFileUrl(new URL(`../${file}`, import.meta.url));
    const text = await Deno.readTextFile(path);
    const current = withTwins(text);
    if (current === text) continue;
    stale++;
    if (check) console.error(`${file}: lo10 blocks are not current`);
    else {
      await Deno.writeTextFile(path, current);
      console.log(`${file}: lo10 blocks written`);
    }
  }
  if (check && stale > 0) Deno.exit(1);
}
