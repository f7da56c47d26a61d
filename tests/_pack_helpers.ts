/** Trees compared byte for byte, for the pack tests. */

import { assert, assertEquals } from "@std/assert";
import { join } from "@std/path";
import { listTree } from "../src/dump/pack_tree.ts";

/** Every file of a tree with its bytes, and its empty folders. */
export function treeOf(root: string): Map<string, Uint8Array> {
  const tree = new Map<string, Uint8Array>();
  const listing = listTree(root);
  for (const path of listing.files) {
    tree.set(path, Deno.readFileSync(join(root, path)));
  }
  for (const path of listing.emptyFolders) {
    tree.set(`${path}/`, new Uint8Array());
  }
  return tree;
}

/** Asserts that two trees hold the same paths and bytes. */
export function assertSameTree(
  actual: Map<string, Uint8Array>,
  expected: Map<string, Uint8Array>,
): void {
  assertEquals([...actual.keys()].sort(), [...expected.keys()].sort());
  for (const [path, bytes] of expected) {
    assert(equalBytes(actual.get(path)!, bytes), `${path} differs`);
  }
}

/** Whether two byte arrays are equal. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}
