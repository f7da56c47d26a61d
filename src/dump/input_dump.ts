/**
 * Reading one dump of an MNN dump folder: its meta file and its two tensors.
 *
 * @module
 */

import { join } from "./path.ts";
import {
  dumpElementCount,
  type DumpMeta,
  parseDumpMeta,
} from "../format/dump_meta.ts";
import { fp16SizeProblem, fp16WordsOfBytes } from "../format/fp16_tensor.ts";
import { exactMetaText } from "../format/meta_text.ts";
import { fileErrorOf } from "./file_error.ts";
import { type FileReader, readWholeFile } from "./read_file.ts";

/**
 * Largest meta file read: the dumper writes about 400 bytes, so anything above a
 * mebibyte is not a dump's meta and is refused from its size before reading.
 */
export const MAX_META_BYTES = 1024 * 1024;

function checkMetaSize(size: number): void {
  if (size > MAX_META_BYTES) {
    throw new Error(
      `size is ${size} bytes, above the ${MAX_META_BYTES} bytes a dump meta may have`,
    );
  }
}

/** The meta file of a dump, read and parsed. */
export interface InputMeta {
  /** The file's text. */
  readonly text: string;
  /** The parsed meta. */
  readonly meta: DumpMeta;
}

/**
 * Reads and parses a dump's meta file.
 *
 * @param path The meta file.
 * @param read How to read it (role `meta`); `readWholeFile` by default.
 * @returns Its text and parsed meta.
 * @throws {KvbitsFileError} When it cannot be read, is larger than
 * {@link MAX_META_BYTES}, is not a valid dump meta, or holds bytes its text
 * would not give back exactly (a byte order mark).
 *
 * @example
 * ```ts
 * import { readInputMeta } from "./input_dump.ts";
 * import { assertRejects } from "@std/assert";
 *
 * const path = await Deno.makeTempFile({ suffix: ".json" });
 * await Deno.writeTextFile(path, '{"layer_id": 0}');
 * await assertRejects(() => readInputMeta(path), Error, 'key "seq_len" is missing');
 * await Deno.remove(path);
 * ```
 */
export async function readInputMeta(
  path: string,
  read: FileReader = readWholeFile,
): Promise<InputMeta> {
  try {
    const text = exactMetaText(
      await read(path, "meta", checkMetaSize, MAX_META_BYTES),
    );
    return { text, meta: parseDumpMeta(text) };
  } catch (error) {
    throw fileErrorOf(path, error);
  }
}

/** The K and V tensors of a dump as FP16 words. */
export interface InputTensors {
  /** K. */
  readonly k: Uint16Array;
  /** V. */
  readonly v: Uint16Array;
}

/**
 * Paths of a dump's K and V files, relative to the meta file's folder.
 *
 * @param folder The meta file's folder.
 * @param meta The parsed meta.
 * @returns Both paths.
 *
 * @example
 * ```ts
 * import { tensorPaths } from "./input_dump.ts";
 * import { parseDumpMeta } from "../format/dump_meta.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const meta = parseDumpMeta('{"layer_id": 0, "seq_len": 1, "kv_heads": 1, "head_dim": 1, "bytes_per_elem": 2, "stage": "decode", "k_file": "k.bin", "v_file": "v.bin"}');
 * assertEquals(tensorPaths("d/layer_0", meta), { k: "d/layer_0/k.bin", v: "d/layer_0/v.bin" });
 * ```
 */
export function tensorPaths(
  folder: string,
  meta: DumpMeta,
): { k: string; v: string } {
  return { k: join(folder, meta.kFile), v: join(folder, meta.vFile) };
}

/**
 * Reads a dump's K and V files and checks their sizes against the meta shape.
 *
 * @param folder The meta file's folder.
 * @param meta The parsed meta.
 * @param read How to read them (roles `k` and `v`); `readWholeFile` by default.
 * @returns Both tensors (views of what `read` returned).
 * @throws {KvbitsFileError} Naming the tensor file that is missing, unreadable, of
 * odd size or of a size the shape does not give.
 *
 * @example
 * ```ts
 * import { readInputTensors } from "./input_dump.ts";
 * import { parseDumpMeta } from "../format/dump_meta.ts";
 * import { assertRejects } from "@std/assert";
 *
 * const folder = await Deno.makeTempDir();
 * await Deno.writeFile(`${folder}/k.bin`, new Uint8Array(3));
 * const meta = parseDumpMeta('{"layer_id": 0, "seq_len": 1, "kv_heads": 1, "head_dim": 2, "bytes_per_elem": 2, "stage": "decode", "k_file": "k.bin", "v_file": "v.bin"}');
 * await assertRejects(() => readInputTensors(folder, meta), Error, "k.bin: size is odd");
 * await Deno.remove(folder, { recursive: true });
 * ```
 */
export async function readInputTensors(
  folder: string,
  meta: DumpMeta,
  read: FileReader = readWholeFile,
): Promise<InputTensors> {
  const paths = tensorPaths(folder, meta);
  const elements = dumpElementCount(meta);
  const checkSize = (size: number) => {
    const problem = fp16SizeProblem(size, elements);
    if (problem !== undefined) throw new Error(problem);
  };
  const readTensor = async (path: string, role: string) => {
    try {
      // Any size but the shape's is refused: a reader may read without `stat`.
      return fp16WordsOfBytes(
        await read(path, role, checkSize, 2 * elements),
        elements,
      );
    } catch (error) {
      throw fileErrorOf(path, error);
    }
  };
  return {
    k: await readTensor(paths.k, "k"),
    v: await readTensor(paths.v, "v"),
  };
}

/**
 * Why a dump cannot be encoded for want of a tensor file, or undefined when both
 * exist. The message quotes `k_file`/`v_file` as the meta writes them when that
 * differs from the path read (a backslash is read as a folder separator).
 *
 * @param folder The meta file's folder.
 * @param meta The parsed meta.
 * @param exists Whether a path exists (e.g. from a listing of its folder).
 * @returns The reason, or undefined.
 *
 * @example
 * ```ts
 * import { missingTensorReason } from "./input_dump.ts";
 * import { parseDumpMeta } from "../format/dump_meta.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const meta = parseDumpMeta('{"layer_id": 0, "seq_len": 1, "kv_heads": 1, "head_dim": 1, "bytes_per_elem": 2, "stage": "decode", "k_file": "k\\\\t0.bin", "v_file": "v.bin"}');
 * assertEquals(missingTensorReason("d", meta, () => false), 'k_file "k\\\\t0.bin" names d/k/t0.bin, which is missing');
 * assertEquals(missingTensorReason("d", meta, () => true), undefined);
 * ```
 */
export function missingTensorReason(
  folder: string,
  meta: DumpMeta,
  exists: (path: string) => boolean,
): string | undefined {
  const paths = tensorPaths(folder, meta);
  for (const [key, path] of [["k_file", paths.k], ["v_file", paths.v]]) {
    if (exists(path)) continue;
    const written = meta.fields[key];
    return written === (key === "k_file" ? meta.kFile : meta.vFile)
      ? `${key.slice(0, 1)} file ${path} is missing`
      : `${key} ${JSON.stringify(written)} names ${path}, which is missing`;
  }
  return undefined;
}
