/**
 * Reading one dump of an MNN dump folder: its meta file and its two tensors.
 *
 * @module
 */

import { join } from "@std/path";
import {
  dumpElementCount,
  type DumpMeta,
  parseDumpMeta,
} from "../format/dump_meta.ts";
import { fp16WordsOfBytes } from "../format/fp16_tensor.ts";
import { utf8Text } from "../format/json_fields.ts";
import { fileErrorOf } from "./file_error.ts";
import { type FileReader, readWholeFile } from "./read_file.ts";

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
 * @throws {KvbitsFileError} When it cannot be read or is not a valid dump meta.
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
    const text = utf8Text(await read(path, "meta"), "meta");
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
  const readTensor = async (path: string, role: string) => {
    try {
      return fp16WordsOfBytes(await read(path, role), elements);
    } catch (error) {
      throw fileErrorOf(path, error);
    }
  };
  return {
    k: await readTensor(paths.k, "k"),
    v: await readTensor(paths.v, "v"),
  };
}
