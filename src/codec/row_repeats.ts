/**
 * Finding token rows of a tensor that repeat an earlier row exactly.
 *
 * In a RoPE model the layer-0 V of a token depends on the token alone (no position
 * enters V), so a token that occurs twice in a prefill chunk gives two identical V
 * rows; ../shared/kv-real has 383 such rows in its llama runs (2% of all elements).
 * The `ctx` codec stores such a row as a reference to its first occurrence instead
 * of coding it.
 *
 * @module
 */

/** Rows shorter than this are never referenced: a reference costs 2 bytes or more. */
export const MIN_REPEAT_ROW_LENGTH = 4;

/**
 * For each row of a `[rows, rowLength]` tensor, the index of the first earlier row
 * with the same words, or -1. A row that repeats a repeated row points at the first
 * occurrence.
 *
 * @param words The tensor, row-major.
 * @param rowLength Words per row (`kv_heads * head_dim`).
 * @param rows Number of rows.
 * @returns `rows` entries: an earlier row index or -1. All -1 when rows are shorter
 * than {@link MIN_REPEAT_ROW_LENGTH}, where a reference would not pay.
 * @throws {RangeError} When the tensor is not `rows * rowLength` words.
 *
 * @example
 * ```ts
 * import { findRepeatedRows } from "./row_repeats.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const a = [1, 2, 3, 4], b = [5, 6, 7, 8];
 * const words = Uint16Array.from([...a, ...b, ...a, ...a]);
 * assertEquals([...findRepeatedRows(words, 4, 4)], [-1, -1, 0, 0]);
 * ```
 */
export function findRepeatedRows(
  words: Uint16Array,
  rowLength: number,
  rows: number,
): Int32Array {
  if (words.length !== rows * rowLength) {
    throw new RangeError(
      `Cannot find repeated rows: ${words.length} words are not ${rows} rows of ${rowLength}`,
    );
  }
  const references = new Int32Array(rows).fill(-1);
  if (rowLength < MIN_REPEAT_ROW_LENGTH || rows < 2) return references;
  const firstRowOfHash = new Map<number, number>();
  for (let row = 0; row < rows; row++) {
    const start = row * rowLength;
    let hash = 0x811c9dc5;
    for (let i = start; i < start + rowLength; i++) {
      hash = Math.imul(hash ^ words[i], 0x01000193);
    }
    const earlier = firstRowOfHash.get(hash);
    if (earlier === undefined) {
      firstRowOfHash.set(hash, row);
    } else if (rowsEqual(words, earlier * rowLength, start, rowLength)) {
      references[row] = earlier;
    }
    // A hash collision with a different row leaves this row coded: still correct.
  }
  return references;
}

function rowsEqual(
  words: Uint16Array,
  a: number,
  b: number,
  length: number,
): boolean {
  for (let i = 0; i < length; i++) {
    if (words[a + i] !== words[b + i]) return false;
  }
  return true;
}
