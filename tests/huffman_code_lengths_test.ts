import { assert, assertEquals, assertThrows } from "@std/assert";
import {
  HUFFMAN_MAX_CODE_LENGTH,
  huffmanCodeLengths,
  huffmanCodeLengthsScratchBytes,
} from "../src/codec/huffman_code_lengths.ts";
import { seededRandom } from "./_helpers.ts";

function cost(counts: ArrayLike<number>, lengths: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i] * lengths[i];
  return total;
}

function kraft(lengths: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < lengths.length; i++) {
    if (lengths[i]) sum += 2 ** -lengths[i];
  }
  return sum;
}

/** Smallest cost over every length vector in 1..limit with Kraft <= 1 (tiny alphabets only). */
function bruteForceCost(counts: number[], limit: number): number {
  const used = counts.filter((count) => count > 0);
  let best = Infinity;
  const lengths = new Array(used.length).fill(1);
  const visit = (i: number) => {
    if (i === used.length) {
      if (kraft(lengths) <= 1) best = Math.min(best, cost(used, lengths));
      return;
    }
    for (let length = 1; length <= limit; length++) {
      lengths[i] = length;
      visit(i + 1);
    }
  };
  visit(0);
  return best;
}

Deno.test("no used symbol gives an empty code and one used symbol gets length 1", () => {
  assertEquals([...huffmanCodeLengths([0, 0, 0])], [0, 0, 0]);
  assertEquals([...huffmanCodeLengths([0, 9, 0])], [0, 1, 0]);
  assertEquals([...huffmanCodeLengths([5, 5])], [1, 1]);
});

Deno.test("lengths are optimal: they match an exhaustive search on small alphabets, with and without a binding limit", () => {
  const random = seededRandom(7);
  for (let trial = 0; trial < 200; trial++) {
    const n = 2 + Math.floor(random() * 5);
    const counts = Array.from(
      { length: n },
      () => random() < 0.2 ? 0 : Math.floor(2 ** (random() * 12)),
    );
    if (counts.filter((count) => count > 0).length < 2) continue;
    const limit = 2 + Math.floor(random() * 4);
    if (2 ** limit < counts.filter((count) => count > 0).length) continue;
    const lengths = huffmanCodeLengths(counts, limit);
    assert(Math.max(...lengths) <= limit, `limit ${limit}: ${lengths}`);
    assert(kraft(lengths) <= 1);
    assertEquals(
      cost(counts, lengths),
      bruteForceCost(counts, limit),
      `counts ${counts} limit ${limit}`,
    );
  }
});

Deno.test("the default limit binds on skewed counts and the result stays a complete prefix code", () => {
  // Fibonacci counts give an unlimited Huffman code as deep as the alphabet.
  const counts = [1, 1];
  while (counts.length < 40) {
    counts.push(counts[counts.length - 1] + counts[counts.length - 2]);
  }
  const unlimited = huffmanCodeLengths(counts, 32);
  assertEquals(Math.max(...unlimited), 32);
  const limited = huffmanCodeLengths(counts);
  assertEquals(Math.max(...limited), HUFFMAN_MAX_CODE_LENGTH);
  assertEquals(kraft(limited), 1);
  assert(cost(counts, limited) >= cost(counts, unlimited));
});

Deno.test("1024-symbol alphabets under a 10-bit limit use exactly 10 bits each", () => {
  const counts = Array.from({ length: 1024 }, (_, i) => 1 + (i % 17) * 1000);
  const lengths = huffmanCodeLengths(counts, 10);
  assertEquals(new Set(lengths), new Set([10]));
});

Deno.test("bad counts and impossible limits are refused", () => {
  assertThrows(
    () => huffmanCodeLengths([1, -1]),
    RangeError,
    "count -1 of symbol 1",
  );
  assertThrows(
    () => huffmanCodeLengths([1, 0.5]),
    RangeError,
    "count 0.5 of symbol 1",
  );
  assertThrows(
    () => huffmanCodeLengths([1, 1, 1], 1),
    RangeError,
    "3 used symbols",
  );
  assertThrows(
    () => huffmanCodeLengths([1, 1], 33),
    RangeError,
    "maximum length 33",
  );
});

Deno.test("counts below 2^16 (radix-sorted) give the lengths of the same counts times 2^16 (key-sorted), also in a reused scratch buffer", () => {
  const random = seededRandom(19);
  const scratch = new ArrayBuffer(huffmanCodeLengthsScratchBytes(1024));
  for (let round = 0; round < 300; round++) {
    const size = round % 3 === 0 ? 64 : 1024;
    const largest = [3, 255, 256, 4000, 65535][round % 5];
    const counts = new Float64Array(size);
    const density = random();
    for (let s = 0; s < size; s++) {
      if (random() < density) counts[s] = Math.floor(random() ** 3 * largest);
    }
    const limit = round % 4 === 0 ? 7 + (round % 8) : HUFFMAN_MAX_CODE_LENGTH;
    if (counts.filter((count) => count > 0).length > 2 ** limit) continue;
    const wide = huffmanCodeLengths(
      counts.map((count) => count * 65536),
      limit,
    );
    assertEquals([...huffmanCodeLengths(counts, limit)], [...wide]);
    const reused = huffmanCodeLengths(counts, limit, scratch);
    assertEquals(reused.buffer, scratch);
    assertEquals([...reused], [...wide]);
  }
});
