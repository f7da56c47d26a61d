/**
 * One source for each hot loop of the fused FP16 coders: every `lo10` block of
 * huffman_fp16.ts and arithmetic_fp16.ts is generated from its `hi6` block by
 * `scripts/fp16_twins.ts`. These tests fail when a file is not what the script
 * writes (a `lo10` block edited by hand, or a `hi6` block edited without
 * running it): `deno run --allow-read --allow-write scripts/fp16_twins.ts`.
 */

import {
  assert,
  assertEquals,
  assertNotEquals,
  assertThrows,
} from "@std/assert";
import {
  LO10_MARK,
  TWIN_FILES,
  twinCount,
  withTwins,
} from "../scripts/fp16_twins.ts";
import { ROOT } from "./_helpers.ts";
import { join } from "@std/path";

for (const file of TWIN_FILES) {
  Deno.test(`${file}: every lo10 block is generated from its hi6 block (run scripts/fp16_twins.ts)`, async () => {
    const text = await Deno.readTextFile(join(ROOT, file));
    // The encoder's and the decoder's loops.
    assert(twinCount(text) >= 2, "twin blocks in the encoder and the decoder");
    assertEquals(
      text.split("\n").filter((line) => line.trim() === LO10_MARK).length,
      twinCount(text),
    );
    assertEquals(
      withTwins(text),
      text,
      `${file} is not current: run deno run --allow-read --allow-write scripts/fp16_twins.ts`,
    );
  });
}

Deno.test("fp16 twins: a lo10 block edited by hand, or a hi6 block edited alone, is found and rewritten", async () => {
  const text = await Deno.readTextFile(join(ROOT, TWIN_FILES[0]));
  const handEdited = text.replace("loAt += loBits >>> 3;", "loAt += 1;");
  assertNotEquals(handEdited, text);
  assertEquals(withTwins(handEdited), text);
  const hiEdited = text.replace(
    "hiAt += hiBits >>> 3;",
    "hiAt += hiBits >> 3;",
  );
  assertNotEquals(hiEdited, text);
  assert(withTwins(hiEdited).includes("loAt += loBits >> 3;"));
});

Deno.test("fp16 twins: a hi6 mark without its block or its lo10 block is an error naming the line", () => {
  assertThrows(() => withTwins("// hi6: x\n"), Error, "line 1: no block");
  assertThrows(
    () => withTwins("// hi6: x\n{\n}\n"),
    Error,
    'line 1: no "// lo10:',
  );
});
