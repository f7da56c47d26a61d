/**
 * Comparing a decoded dump with the original dump folder, bit for bit.
 *
 * @module
 */

import { dirname, join } from "../dump/path.ts";
import { fp16BytesOfWords } from "../format/fp16_tensor.ts";
import { firstDifference } from "../format/first_difference.ts";
import { fileErrorOf, KvbitsFileError } from "../dump/file_error.ts";
import { type FileReader, readWholeFile } from "../dump/read_file.ts";
import type { ReadBitstreamDump } from "./bitstream_folder.ts";

/**
 * Compares a decoded dump with its original files: the meta file's bytes and both
 * tensors, found at the same relative path below `origDumpDir`.
 *
 * @param origDumpDir The original dump folder.
 * @param metaFile The dump's bitstream meta file, relative to its folder.
 * @param dump The decoded dump.
 * @param read How to read the originals (role `original`, one file at a time);
 * `readWholeFile` by default.
 * @throws {KvbitsFileError} Naming the original file that is missing or differs,
 * with the first differing byte.
 *
 * @example A reference dump equals its original; a different original is named
 * ```ts
 * import { compareWithOriginal } from "./original_dump.ts";
 * import { openBitstreamFolder, readBitstreamDump } from "./bitstream_folder.ts";
 * import { assertRejects } from "@std/assert";
 *
 * const fixtures = new URL("../../fixtures/", import.meta.url).pathname;
 * const folder = await openBitstreamFolder(`${fixtures}reference/huffman-per-dump`);
 * const metaFile = "llama6L-kjv-ruth/layer_0/bitstream_meta_t0_128.json";
 * const dump = await readBitstreamDump(folder, metaFile);
 * await compareWithOriginal(`${fixtures}kv-sample`, metaFile, dump);
 * const wrong = { ...dump, decoded: { ...dump.decoded, k: dump.decoded.v } };
 * await assertRejects(
 *   () => compareWithOriginal(`${fixtures}kv-sample`, metaFile, wrong),
 *   Error,
 *   "k_t0_128.bin: decoded K differs from the original at byte",
 * );
 * ```
 */
export async function compareWithOriginal(
  origDumpDir: string,
  metaFile: string,
  dump: ReadBitstreamDump,
  read: FileReader = readWholeFile,
): Promise<void> {
  const folder = join(origDumpDir, dirname(metaFile));
  const { input, inputText } = dump.decoded;
  const compare = async (path: string, what: string, decoded: Uint8Array) => {
    let original: Uint8Array;
    try {
      original = await read(path, "original");
    } catch (error) {
      throw fileErrorOf(path, error);
    }
    const at = firstDifference(original, decoded);
    if (at === -1) return;
    throw new KvbitsFileError(
      path,
      original.length !== decoded.length &&
        at === Math.min(original.length, decoded.length)
        ? `decoded ${what} has ${decoded.length} bytes, the original ${original.length}`
        : `decoded ${what} differs from the original at byte ${at}`,
    );
  };
  await compare(
    join(folder, dump.inputMetaName),
    "meta",
    new TextEncoder().encode(inputText),
  );
  await compare(
    join(folder, input.kFile),
    "K",
    fp16BytesOfWords(dump.decoded.k),
  );
  await compare(
    join(folder, input.vFile),
    "V",
    fp16BytesOfWords(dump.decoded.v),
  );
}
