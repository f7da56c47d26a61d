/**
 * Reading a dump's counterpart in a predictor folder (`--predictor-dir`): the
 * dump at the same relative path in a folder of the same layout, made by a
 * cheaper model on the same tokens. Synchronous, like the block tasks that call
 * it.
 *
 * - A missing counterpart (no meta at that path) is not an error: that dump is
 *   coded without prediction.
 * - A counterpart of another shape is an error naming both files: a predictor
 *   folder that disagrees with the dumps is a mistake the user must see.
 * - A missing or unreadable predictor folder is an error naming it.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { join } from "./path.ts";
import { PREDICTOR_FINGERPRINT_BYTES } from "../codec/predicted_dump_coder.ts";
import {
  dumpElementCount,
  type DumpMeta,
  parseDumpMeta,
} from "../format/dump_meta.ts";
import { fp16WordsOfBytes } from "../format/fp16_tensor.ts";
import { utf8Text } from "../format/json_fields.ts";
import type { PackPredictorLookup } from "../format/predictor_lookup.ts";
import { fileErrorOf, KvbitsFileError } from "./file_error.ts";
import { pathExistsSync } from "./path_exists.ts";
import { readFileSync, readListedFileSync, RegularFiles } from "./read_file.ts";

/** A predictor dump: its tensors, their fingerprints, and their files for messages. */
export interface PredictorDump {
  /** K's FP16 words. */
  readonly k: Uint16Array;
  /** V's FP16 words. */
  readonly v: Uint16Array;
  /** The first 16 bytes of the SHA-256 of K's file. */
  readonly kFingerprint: Uint8Array;
  /** The same for V's file. */
  readonly vFingerprint: Uint8Array;
  /** K's file. */
  readonly kPath: string;
  /** V's file. */
  readonly vPath: string;
}

/**
 * Checks that a predictor folder exists and is a folder.
 *
 * @param folder The folder given with `--predictor-dir`.
 * @throws {KvbitsFileError} "predictor folder does not exist" (or is not a
 * folder, or cannot be read), naming it.
 *
 * @example
 * ```ts
 * import { checkPredictorFolder } from "./predictor_dump.ts";
 * import { assertThrows } from "@std/assert";
 *
 * checkPredictorFolder("fixtures/predictor-sample/int8");
 * assertThrows(() => checkPredictorFolder("fixtures/no-such-folder"), Error, "predictor folder does not exist");
 * ```
 */
export function checkPredictorFolder(folder: string): void {
  let exists: boolean;
  try {
    exists = pathExistsSync(folder);
  } catch (error) {
    throw fileErrorOf(folder, error);
  }
  if (!exists) {
    throw new KvbitsFileError(folder, "predictor folder does not exist");
  }
  if (!Deno.statSync(folder).isDirectory) {
    throw new KvbitsFileError(folder, "predictor folder is not a folder");
  }
}

/**
 * Whether a predictor folder holds a dump's counterpart (its meta file).
 *
 * @param folder The predictor folder.
 * @param metaPath The dump's meta file, relative to its dump folder.
 * @returns True when the meta file is there.
 * @throws {KvbitsFileError} When its place cannot be examined.
 *
 * @example
 * ```ts
 * import { predictorDumpExists } from "./predictor_dump.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(predictorDumpExists("fixtures/predictor-sample/int8", "llama6L-kjv-ruth/layer_5/meta_t384_385.json"), true);
 * assertEquals(predictorDumpExists("fixtures/predictor-sample/int8", "llama6L-kjv-ruth/layer_9/meta_t384_385.json"), false);
 * ```
 */
export function predictorDumpExists(folder: string, metaPath: string): boolean {
  const path = join(folder, metaPath);
  try {
    return pathExistsSync(path);
  } catch (error) {
    throw fileErrorOf(path, error);
  }
}

/**
 * Reads the counterpart of a dump in a predictor folder.
 *
 * @param folder The predictor folder.
 * @param metaPath The dump's meta file, relative to its dump folder.
 * @param meta The dump's parsed meta (its shape is what the counterpart must have).
 * @returns The counterpart, or undefined when the predictor folder has no meta
 * file at `metaPath`.
 * @throws {KvbitsFileError} Naming the predictor file that cannot be read, is not
 * a dump meta, or whose shape differs from the dump's.
 *
 * @example
 * ```ts
 * import { readPredictorDump } from "./predictor_dump.ts";
 * import { parseDumpMeta } from "../format/dump_meta.ts";
 * import { assertEquals, assertThrows } from "@std/assert";
 *
 * const path = "llama6L-kjv-ruth/layer_5/meta_t384_385.json";
 * const meta = parseDumpMeta(Deno.readTextFileSync(`fixtures/kv-sample/${path}`));
 * const predictor = readPredictorDump("fixtures/predictor-sample/int8", path, meta);
 * assertEquals(predictor?.k.length, 128);
 * assertEquals(readPredictorDump("fixtures/predictor-sample/int8", "elsewhere/meta_t0_1.json", meta), undefined);
 * const wider = parseDumpMeta(Deno.readTextFileSync(`fixtures/kv-sample/${path}`).replace('"kv_heads": 2', '"kv_heads": 4'));
 * assertThrows(() => readPredictorDump("fixtures/predictor-sample/int8", path, wider), Error, "shape 1 x 2 x 64 differs from the dump's 1 x 4 x 64");
 * ```
 */
export function readPredictorDump(
  folder: string,
  metaPath: string,
  meta: DumpMeta,
): PredictorDump | undefined {
  const path = join(folder, metaPath);
  let predictorMeta: DumpMeta;
  try {
    // Read at once (no stat before): a missing meta is the common miss.
    predictorMeta = parseDumpMeta(utf8Text(readFileSync(path), "meta"));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw fileErrorOf(path, error);
  }
  return predictorOfMeta(
    path,
    join(path, ".."),
    predictorMeta,
    meta,
    readTensor,
  );
}

/** Reads a predictor tensor file into a new buffer, `stat` first. */
function readTensor(path: string, elements: number): TensorFile {
  try {
    const bytes = readFileSync(path);
    return {
      words: fp16WordsOfBytes(bytes, elements),
      fingerprint: fingerprintOf(bytes),
      path,
    };
  } catch (error) {
    throw fileErrorOf(path, error);
  }
}

interface TensorFile {
  readonly words: Uint16Array;
  readonly fingerprint: Uint8Array;
  readonly path: string;
}

/**
 * The first bytes of the SHA-256 of a tensor file's bytes, hashed natively as
 * read, once (the coder would otherwise hash the words in JavaScript):
 * `predictorFingerprint` of the words, on any host, since it hashes their
 * little-endian bytes.
 */
function fingerprintOf(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(
    createHash("sha256").update(bytes).digest().subarray(
      0,
      PREDICTOR_FINGERPRINT_BYTES,
    ),
  );
}

/** The predictor dump of a read meta: its shape checked, its tensors read. */
function predictorOfMeta(
  path: string,
  folderOfMeta: string,
  predictorMeta: DumpMeta,
  meta: DumpMeta,
  read: (path: string, elements: number, role: "k" | "v") => TensorFile,
): PredictorDump {
  const shapeOf = (m: DumpMeta) => `${m.seqLen} x ${m.kvHeads} x ${m.headDim}`;
  if (
    predictorMeta.seqLen !== meta.seqLen ||
    predictorMeta.kvHeads !== meta.kvHeads ||
    predictorMeta.headDim !== meta.headDim ||
    predictorMeta.bytesPerElem !== meta.bytesPerElem
  ) {
    throw new KvbitsFileError(
      path,
      `predictor shape ${shapeOf(predictorMeta)} differs from the dump's ${
        shapeOf(meta)
      }`,
    );
  }
  const elements = dumpElementCount(meta);
  const k = read(inFolder(folderOfMeta, predictorMeta.kFile), elements, "k");
  const v = read(inFolder(folderOfMeta, predictorMeta.vFile), elements, "v");
  return {
    k: k.words,
    v: v.words,
    kFingerprint: k.fingerprint,
    vFingerprint: v.fingerprint,
    kPath: k.path,
    vPath: v.path,
  };
}

/**
 * `join(folder, name)` for a meta's file name (`requireRelativePath` made it
 * `/`-separated, without `.`, `..` or empty parts), without normalizing again
 * when `folder` came from `join` and the plain concatenation is that: the
 * reader builds two such paths a dump.
 */
function inFolder(folder: string, name: string): string {
  return name !== "" && folder !== "." && !folder.endsWith("/") &&
      !folder.includes("\\")
    ? `${folder}/${name}`
    : join(folder, name);
}

/**
 * A file's bytes from one read into `buffer`, when they leave room in it (else
 * undefined: the file may go on). A read of a regular file returns fewer bytes
 * than asked at its end (or after a signal, which a read from the page cache
 * does not take), so the read that would return 0 to say so is left out: open,
 * read and close of kv-real's 1,152 predictor files 28 -> 25 ms (best of 30).
 * A tensor read short all the same has the wrong size, and is read again with
 * a `stat` (`readTensor`).
 */
function readFittingSync(
  path: string,
  buffer: Uint8Array<ArrayBuffer>,
): Uint8Array | undefined {
  const file = Deno.openSync(path, { read: true });
  try {
    const read = file.readSync(buffer) ?? 0;
    return read < buffer.length ? buffer.subarray(0, read) : undefined;
  } finally {
    file.close();
  }
}

/** Bytes of a reused tensor buffer at first (it grows, by doubling, to the largest). */
const TENSOR_BUFFER = 64 * 1024;

/**
 * Reads the counterparts of a block's dumps one after another, as
 * {@link readPredictorDump} does but with fewer calls: each folder of the
 * predictor is listed once, a file the listing shows to be regular is read
 * without a `stat` (into a buffer kept for the next dump, with one read when
 * it fits), and a meta the
 * listing lacks is missing without a call. Anything else (a link, a folder
 * that cannot be listed, a tensor of another size than its meta's) is read as
 * {@link readPredictorDump} reads it, with the same results and errors.
 *
 * @param folder The predictor folder.
 * @returns The reader. Its result is valid until its next call (its tensors are
 * views of reused buffers).
 *
 * @example
 * ```ts
 * import { predictorDumpReader } from "./predictor_dump.ts";
 * import { parseDumpMeta } from "../format/dump_meta.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const path = "llama6L-kjv-ruth/layer_5/meta_t384_385.json";
 * const meta = parseDumpMeta(Deno.readTextFileSync(`fixtures/kv-sample/${path}`));
 * const read = predictorDumpReader("fixtures/predictor-sample/int8");
 * assertEquals(read(path, meta)?.v.length, 128);
 * assertEquals(read("llama6L-kjv-ruth/layer_5/meta_t0_1.json", meta), undefined);
 * ```
 */
export function predictorDumpReader(
  folder: string,
): (metaPath: string, meta: DumpMeta) => PredictorDump | undefined {
  const listed = new RegularFiles();
  const buffers: Record<"meta" | "k" | "v", Uint8Array<ArrayBuffer>> = {
    meta: new Uint8Array(4096),
    k: new Uint8Array(TENSOR_BUFFER),
    v: new Uint8Array(TENSOR_BUFFER),
  };
  const readListed = (
    path: string,
    role: "meta" | "k" | "v",
    limit: number = Infinity,
  ): Uint8Array => {
    let buffer = buffers[role];
    // Room for one byte more than a tensor's size, which tells a longer file.
    if (buffer.length <= limit && limit !== Infinity) {
      buffer = new Uint8Array(Math.max(2 * buffer.length, limit + 1));
      buffers[role] = buffer;
    }
    const fitted = readFittingSync(path, buffer);
    if (fitted !== undefined) return fitted;
    const bytes = readListedFileSync(path, buffer, limit);
    // A larger buffer when the file did not fit: kept for the next file.
    if (bytes.buffer !== buffer.buffer) {
      buffers[role] = new Uint8Array(bytes.buffer);
    }
    return bytes;
  };
  const read = (path: string, elements: number, role: "k" | "v") => {
    if (!listed.has(path)) {
      return readTensor(path, elements);
    }
    let bytes: Uint8Array;
    try {
      bytes = readListed(path, role, 2 * elements);
    } catch (error) {
      throw fileErrorOf(path, error);
    }
    // Another size: read again as readPredictorDump does, for its error.
    if (bytes.length !== 2 * elements) return readTensor(path, elements);
    return {
      words: fp16WordsOfBytes(bytes, elements),
      fingerprint: fingerprintOf(bytes),
      path,
    };
  };
  return (metaPath, meta) => {
    const path = join(folder, metaPath);
    const status = listed.status(path);
    if (status === "absent") return undefined;
    if (status === "unknown") return readPredictorDump(folder, metaPath, meta);
    // A listed file has a plain name after the last `/` of a joined path:
    // its folder is what comes before (join(path, "..") without normalizing).
    const end = path.lastIndexOf("/");
    const dir = end > 0 ? path.slice(0, end) : join(path, "..");
    let predictorMeta: DumpMeta;
    try {
      predictorMeta = parseDumpMeta(utf8Text(readListed(path, "meta"), "meta"));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw fileErrorOf(path, error);
    }
    return predictorOfMeta(path, dir, predictorMeta, meta, read);
  };
}

/**
 * A pack decoder's lookup of predictor dumps in a predictor folder
 * ({@link readPredictorDump} at the dump's path; a missing one is an error that
 * names the file, since the pack says the dump was coded against it).
 *
 * @param folder The predictor folder.
 * @returns The lookup ({@link predictorDumpReader}'s: a predictor it returns is
 * valid until its next call).
 *
 * @example
 * ```ts
 * import { predictorFolderLookup } from "./predictor_dump.ts";
 * import { packDumpMetaOf } from "../format/pack_dump_meta.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const path = "llama6L-kjv-ruth/layer_5/meta_t384_385.json";
 * const dump = packDumpMetaOf(path, Deno.readFileSync(`fixtures/kv-sample/${path}`));
 * if (typeof dump === "string") throw new Error(dump);
 * const lookup = predictorFolderLookup("fixtures/predictor-sample/int8");
 * assertEquals(lookup(path, dump)?.vPath, `fixtures/predictor-sample/int8/llama6L-kjv-ruth/layer_5/v_t384_385.bin`);
 * ```
 */
export function predictorFolderLookup(folder: string): PackPredictorLookup {
  const read = predictorDumpReader(folder);
  return (path, dump) => {
    const found = read(path, dump.meta);
    if (found === undefined) {
      throw new KvbitsFileError(
        join(folder, path),
        "not in the predictor folder (the pack coded this dump against it)",
      );
    }
    return found;
  };
}
