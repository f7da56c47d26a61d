/**
 * Frequency normalization and kvbits' table policy: exact sums, no used symbol
 * lost, shares kept, and clear errors.
 */

import { assert, assertEquals, assertThrows } from "@std/assert";
import {
  ARITHMETIC_KVBITS_TOTAL,
  arithmeticModel,
} from "../src/codec/arithmetic_model.ts";
import {
  arithmeticTableFromCounts,
  normalizeFrequencies,
} from "../src/codec/frequency_normalization.ts";
import { seededRandom } from "./_helpers.ts";

/** Random counts: flat, skewed over many orders of magnitude, or one giant and many count-1 symbols. */
function randomCounts(
  random: () => number,
  size: number,
  shape: number,
): number[] {
  return Array.from({ length: size }, (_, s) => {
    if (random() < 0.3) return 0;
    if (shape === 0) return 1 + Math.floor(random() * 1000);
    if (shape === 1) return Math.floor(2 ** (random() * 40));
    return s === 0 ? 2 ** 40 : 1;
  });
}

/** Checks the invariants of a normalized table and returns the largest shortfall against the exact share. */
function assertNormalized(
  counts: readonly number[],
  target: number,
  frequencies: Uint32Array,
): void {
  const total = counts.reduce((a, b) => a + b, 0);
  const used = counts.filter((c) => c > 0).length;
  assertEquals(frequencies.reduce((a, b) => a + b, 0), target, "sum");
  let raised = 0; // slots given to symbols whose share was below 1
  for (let s = 0; s < counts.length; s++) {
    assertEquals(frequencies[s] > 0, counts[s] > 0, `symbol ${s} used`);
    const share = counts[s] * target / total;
    if (counts[s] > 0 && share < 1) raised += 1 - share;
  }
  for (let s = 0; s < counts.length; s++) {
    if (counts[s] === 0) continue;
    const share = counts[s] * target / total;
    if (raised === 0) {
      // Nothing had to be raised: every frequency is its share rounded.
      assert(Math.abs(frequencies[s] - share) < 1, `symbol ${s}`);
    } else if (target >= 2 * used && share >= 1) {
      // The order of magnitude is kept: at least half the share, at most share + 1.
      assert(
        frequencies[s] >= share / 2,
        `symbol ${s}: ${frequencies[s]} of ${share}`,
      );
      assert(
        frequencies[s] < share + 1,
        `symbol ${s}: ${frequencies[s]} of ${share}`,
      );
    }
  }
}

Deno.test("normalized tables sum to the target exactly, keep every used symbol, and stay near each share", () => {
  const random = seededRandom(99);
  for (let run = 0; run < 300; run++) {
    const size = [2, 64, 1024][run % 3];
    const counts = randomCounts(random, size, run % 3);
    if (!counts.some((c) => c > 0)) counts[0] = 1;
    const used = counts.filter((c) => c > 0).length;
    const target = Math.max(
      used,
      Math.floor(2 ** (Math.log2(used) + random() * (30 - Math.log2(used)))),
    );
    assertNormalized(counts, target, normalizeFrequencies(counts, target));
  }
});

Deno.test("normalization at the edges: target = used symbols, 2^30, and counts already summing to the target", () => {
  const counts = [5, 0, 1, 1, 1000];
  assertEquals([...normalizeFrequencies(counts, 4)], [1, 0, 1, 1, 1]);
  assertNormalized(counts, 2 ** 30, normalizeFrequencies(counts, 2 ** 30));
  assertEquals([...normalizeFrequencies([3, 0, 5], 8)], [3, 0, 5]);
  // Counts far above 2^53 / target still give exact sums.
  const huge = [2 ** 52, 3, 2 ** 50, 1];
  assertNormalized(huge, 2 ** 14, normalizeFrequencies(huge, 2 ** 14));
  // Deterministic: equal counts, equal result (the global codebook is reproducible).
  const flat = new Array(1024).fill(7);
  assertEquals(
    normalizeFrequencies(flat, 1500),
    normalizeFrequencies(flat, 1500),
  );
});

Deno.test("normalization refuses what it cannot do, saying why", () => {
  assertThrows(
    () => normalizeFrequencies([1, 1, 1], 2),
    RangeError,
    "3 symbols are used but the target total is 2",
  );
  assertThrows(
    () => normalizeFrequencies([0, 0], 8),
    RangeError,
    "every count is 0",
  );
  assertThrows(() => normalizeFrequencies([1], 0), RangeError, "target 0");
  assertThrows(
    () => normalizeFrequencies([1], 2 ** 30 + 1),
    RangeError,
    "target",
  );
  assertThrows(
    () => normalizeFrequencies([1, -2], 8),
    RangeError,
    "count 1 is -2",
  );
  assertThrows(
    () => normalizeFrequencies([0.5], 8),
    RangeError,
    "count 0 is 0.5",
  );
});

Deno.test("kvbits' tables have a power-of-two total up to 2^14, raw counts when they already do", () => {
  const random = seededRandom(7);
  assertEquals(ARITHMETIC_KVBITS_TOTAL, 2 ** 14);
  for (let run = 0; run < 200; run++) {
    const size = run % 2 ? 64 : 1024;
    const counts = Array.from(
      { length: size },
      () => (random() < 0.5
        ? 0
        : Math.floor(2 ** (random() * 12 * (1 + run % 3)))),
    );
    const total = counts.reduce((a, b) => a + b, 0);
    const table = arithmeticTableFromCounts(counts);
    const tableTotal = table.reduce((a, b) => a + b, 0);
    if (total === 0) {
      assertEquals(tableTotal, 0);
      continue;
    }
    assertEquals(
      tableTotal & (tableTotal - 1),
      0,
      `${tableTotal} is a power of two`,
    );
    assert(tableTotal <= ARITHMETIC_KVBITS_TOTAL);
    assertEquals(
      tableTotal,
      Math.min(ARITHMETIC_KVBITS_TOTAL, 2 ** Math.ceil(Math.log2(total))),
    );
    if (tableTotal === total) assertEquals([...table], counts);
    else assertNormalized(counts, tableTotal, table);
    // The coder's fastest path: scaled cumulative counts and a slot table.
    const model = arithmeticModel(table);
    assert(model.scaledCumulative && model.slots);
  }
  assertEquals([...arithmeticTableFromCounts(new Float64Array(4))], [
    0,
    0,
    0,
    0,
  ]);
  assertEquals([...arithmeticTableFromCounts([0, 128, 0])], [0, 128, 0]);
  assertThrows(() => arithmeticTableFromCounts([1, -1]), RangeError, "count 1");
});
