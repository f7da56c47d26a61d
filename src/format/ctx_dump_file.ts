/**
 * The `ctx` layout: each dump in one self-describing file `<meta name>.kvc` holding
 * its shape, checksums, compact meta and both tensors coded by the `ctx` codec.
 *
 * Read me first:
 * - One file per dump, no folder-level file: every dump decodes on its own, and the
 *   file, written atomically, is its own completeness marker.
 * - The header names the model parameters the payload was coded with; this version
 *   decodes exactly the values it writes and refuses others by name, so a file from
 *   a different model can never be decoded with the wrong one.
 * - Integrity: the CRC-32 of K, of V (of their original little-endian bytes) and of
 *   the meta text are recorded and checked on decode; the payload itself ends with
 *   the rANS end check. Corrupt files end in `KvbitsDataError` naming the part
 *   (`ctx header`, `ctx meta`, `ctx payload`) and the bit offset within it.
 *
 * Byte layout (integers little-endian; varints unsigned LEB128):
 *
 * | offset | size | field |
 * | ---: | ---: | --- |
 * | 0 | 3 | magic `KVC` (`4b 56 43`) |
 * | 3 | 1 | format version, 2 (1 is still read) |
 * | 4 | 1 | model: rANS probability bits, 12 |
 * | 5 | 1 | model: channel average shift, 3 |
 * | 6 | 1 | model: modelled top mantissa bits, 2 |
 * | 7 | 1 | model: log2 of a chunk's elements, 18 (version 2 only) |
 * | 8 | var | `seq_len` (tokens) |
 * | | var | `kv_heads` |
 * | | var | `head_dim` |
 * | | 4 | CRC-32 of K |
 * | | 4 | CRC-32 of V |
 * | | 4 | CRC-32 of the meta text (UTF-8) |
 * | | var | meta section length `m` |
 * | | m | meta section (`compact_meta.ts`) |
 * | | rest | payload: K then V (`ctx_codec.ts`), of the same version |
 *
 * Version 2 codes the payload in chunks (so that coding a large dump holds one
 * chunk's working memory, not the whole payload's) and records their size; a
 * version 1 file (no chunk size byte, a payload of one chunk) is still read.
 *
 * @module
 */

import { ByteReader, ByteWriter } from "../codec/byte_io.ts";
import { crc32 } from "../codec/crc32.ts";
import {
  CTX_CHUNK_BITS,
  CTX_MAX_ELEMENTS,
  ctxDecode,
  ctxEncode,
  ctxEncodedBound,
  ctxEncodeInto,
  type CtxPlaneBits,
  ctxPlaneBits,
  CtxScratch,
  type TensorShape,
} from "../codec/ctx_codec.ts";
import {
  CHANNEL_AVERAGE_SHIFT,
  TOP_MANTISSA_BITS,
} from "../codec/ctx_model.ts";
import { KvbitsDataError } from "../codec/errors.ts";
import { RANS_PROBABILITY_BITS } from "../codec/rans.ts";
import { decodeCompactMeta, encodeCompactMeta } from "./compact_meta.ts";
import { type DumpMeta, parseDumpMeta } from "./dump_meta.ts";
import { fp16BytesOfWords } from "./fp16_tensor.ts";
import { KvbitsFormatError } from "./format_error.ts";
import type {
  DecodedDump,
  DumpToEncode,
  Layout,
  PlaneBits,
  TensorPlaneBits,
} from "./layout.ts";
import { splitPayload } from "./payload_split.ts";

/** Extension of `ctx` dump files. */
export const CTX_FILE_EXTENSION = ".kvc";
/** The first three bytes of every `ctx` file: `KVC`. */
export const CTX_MAGIC: readonly number[] = [0x4b, 0x56, 0x43];
/** Format version this kvbits writes; it reads this one and 1. */
export const CTX_FORMAT_VERSION = 2;
/** One encoded dump: the `.kvc` file's bytes and how they split. */
export interface EncodedDumpFile {
  /** The whole file. */
  readonly bytes: Uint8Array;
  /** Bytes of the header and meta section (everything but the coded tensors). */
  readonly metaBytes: number;
  /** Bytes of the coded tensors. */
  readonly payloadBytes: number;
}

/** The model parameter bytes this version writes, in header order. */
const MODEL_PARAMETERS = [
  RANS_PROBABILITY_BITS,
  CHANNEL_AVERAGE_SHIFT,
  TOP_MANTISSA_BITS,
  CTX_CHUNK_BITS,
] as const;
const TEXT_ENCODER = new TextEncoder();
const MODEL_PARAMETER_NAMES = [
  "rANS probability bits",
  "channel average shift",
  "top mantissa bits",
  "chunk size (log2 of elements)",
];
/** Model parameters of a version 1 file: all but the chunk size. */
const VERSION_1_PARAMETERS = 3;

/**
 * Encodes one dump into the bytes of its `.kvc` file.
 *
 * @param dump The dump's meta and tensors.
 * @param scratch Working memory to reuse (one per thread).
 * @returns The file, and how many of its bytes are header and meta.
 * @throws {RangeError} When K or V do not have the element count of the meta shape.
 *
 * @example
 * ```ts
 * import { decodeCtxDumpFile, encodeCtxDumpFile } from "./ctx_dump_file.ts";
 * import { parseDumpMeta } from "./dump_meta.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const metaText = '{"layer_id": 0, "seq_start": 4, "seq_len": 1, "kv_heads": 1, "head_dim": 2, "bytes_per_elem": 2, "stage": "decode", "k_file": "k_t4_5.bin", "v_file": "v_t4_5.bin"}';
 * const k = Uint16Array.from([0x3c00, 0xbc00]), v = Uint16Array.from([1, 2]);
 * const file = encodeCtxDumpFile({ metaName: "meta_t4_5", metaText, meta: parseDumpMeta(metaText), k, v });
 * const back = decodeCtxDumpFile(file.bytes, "meta_t4_5");
 * assertEquals([back.inputText, back.k, back.v], [metaText, k, v]);
 * ```
 */
export function encodeCtxDumpFile(
  dump: DumpToEncode,
  scratch?: CtxScratch,
): EncodedDumpFile {
  const { meta, k, v } = dump;
  const shape = {
    tokens: meta.seqLen,
    heads: meta.kvHeads,
    headDim: meta.headDim,
  };
  const count = shape.tokens * shape.heads * shape.headDim;
  if (shape.heads * shape.headDim > CTX_MAX_CHANNELS) {
    throw new KvbitsFormatError(
      `kv_heads * head_dim is ${
        shape.heads * shape.headDim
      } channels, above the ctx layout's limit of 2^20 (its model keeps a state per channel)`,
      "kv_heads",
    );
  }
  if (k.length !== count || v.length !== count) {
    throw new RangeError(
      `Cannot encode ${dump.metaName}: K has ${k.length} and V ${v.length} elements, the shape needs ${count}`,
    );
  }
  const metaSection = encodeCompactMeta(dump.metaText, {
    metaName: dump.metaName,
    ...shape,
  });
  // Room for the payload, so that the file is not copied to grow: its bound (7
  // bytes an element), but at most 1.25 times the tensors, which any payload of
  // real data fits (random words code to about their size). Pages a smaller
  // payload leaves unwritten cost no memory; the cap keeps what one buffer
  // reserves within what a machine lets it, and a larger payload grows it.
  const writer = new ByteWriter(
    64 + metaSection.length +
      Math.min(ctxEncodedBound(2, shape), 5 * count + 65536),
  );
  for (const byte of CTX_MAGIC) writer.byte(byte);
  writer.byte(CTX_FORMAT_VERSION);
  for (const parameter of MODEL_PARAMETERS) writer.byte(parameter);
  writer.varint(shape.tokens);
  writer.varint(shape.heads);
  writer.varint(shape.headDim);
  writer.uint32(crc32(fp16BytesOfWords(k)));
  writer.uint32(crc32(fp16BytesOfWords(v)));
  writer.uint32(crc32(TEXT_ENCODER.encode(dump.metaText)));
  writer.varint(metaSection.length);
  writer.bytes(metaSection);
  const metaBytes = writer.length;
  ctxEncodeInto(writer, [k, v], shape, { scratch });
  return {
    bytes: writer.finish(),
    metaBytes,
    payloadBytes: writer.length - metaBytes,
  };
}

/** The header and meta of a `.kvc` file, checked, and where its payload starts. */
interface CtxHeader {
  readonly version: 1 | 2;
  readonly tokens: number;
  readonly heads: number;
  readonly headDim: number;
  readonly kCrc32: number;
  readonly vCrc32: number;
  readonly input: DumpMeta;
  readonly inputText: string;
  readonly payloadOffset: number;
}

function readHeader(bytes: Uint8Array, metaName: string): CtxHeader {
  const reader = new ByteReader(bytes, "ctx header");
  for (let i = 0; i < CTX_MAGIC.length; i++) {
    if (reader.byte() !== CTX_MAGIC[i]) {
      throw reader.error(
        "not a kvbits ctx file (its first bytes are not KVC)",
        0,
      );
    }
  }
  const version = reader.byte();
  if (version !== 1 && version !== CTX_FORMAT_VERSION) {
    throw reader.error(
      `format version ${version}; this kvbits reads versions 1 and ${CTX_FORMAT_VERSION}`,
      3,
    );
  }
  const parameters = version === 1
    ? MODEL_PARAMETERS.slice(0, VERSION_1_PARAMETERS)
    : MODEL_PARAMETERS;
  parameters.forEach((expected, index) => {
    const value = reader.byte();
    if (value !== expected) {
      throw reader.error(
        `${
          MODEL_PARAMETER_NAMES[index]
        } is ${value}; this kvbits decodes ${expected}`,
        reader.offset - 1,
      );
    }
  });
  const shapeAt = reader.offset;
  const tokens = reader.varintAtMost(CTX_MAX_ELEMENTS, "seq_len");
  const heads = reader.varintAtMost(CTX_MAX_ELEMENTS, "kv_heads");
  const headDim = reader.varintAtMost(CTX_MAX_ELEMENTS, "head_dim");
  if (
    heads < 1 || headDim < 1 || tokens * heads * headDim > CTX_MAX_ELEMENTS ||
    heads * headDim > CTX_MAX_CHANNELS
  ) {
    throw reader.error(
      `shape ${tokens} x ${heads} x ${headDim} is not a tensor kvbits decodes`,
      shapeAt,
    );
  }
  const kCrc32 = reader.uint32();
  const vCrc32 = reader.uint32();
  const metaCrc32 = reader.uint32();
  const metaAt = reader.offset;
  const metaLength = reader.varint();
  if (metaLength > reader.remaining) {
    throw reader.error(
      `meta section of ${metaLength} bytes is longer than the ${reader.remaining} bytes left`,
      metaAt,
    );
  }
  const metaStart = reader.offset;
  const metaSection = reader.bytes(metaLength);
  let inputText: string;
  try {
    inputText = decodeCompactMeta(metaSection, {
      metaName,
      tokens,
      heads,
      headDim,
    });
  } catch (error) {
    if (!(error instanceof KvbitsDataError)) throw error;
    throw new KvbitsDataError(error.detail, {
      stream: "ctx meta",
      bitOffset: 8 * metaStart + (error.bitOffset ?? 0),
    });
  }
  const actual = crc32(TEXT_ENCODER.encode(inputText));
  if (actual !== metaCrc32) {
    throw new KvbitsDataError(
      `restored meta has CRC-32 ${hex(actual)} but the original had ${
        hex(metaCrc32)
      }: the meta section is corrupt, or the file was renamed (its name is part of the meta)`,
      { stream: "ctx meta", bitOffset: 8 * metaStart },
    );
  }
  let input: DumpMeta;
  try {
    input = parseDumpMeta(inputText);
  } catch (error) {
    throw new KvbitsDataError(
      `the restored meta is not a dump meta: ${(error as Error).message}`,
      { stream: "ctx meta", bitOffset: 8 * metaStart },
    );
  }
  if (
    input.seqLen !== tokens || input.kvHeads !== heads ||
    input.headDim !== headDim
  ) {
    throw new KvbitsDataError(
      `the meta's shape ${input.seqLen} x ${input.kvHeads} x ${input.headDim} differs from the header's ${tokens} x ${heads} x ${headDim}`,
      { stream: "ctx header", bitOffset: 8 * shapeAt },
    );
  }
  return {
    version,
    tokens,
    heads,
    headDim,
    kCrc32,
    vCrc32,
    input,
    inputText,
    payloadOffset: reader.offset,
  };
}

/**
 * Decodes a `.kvc` file: restores the meta text and both tensors, and checks all
 * three against their recorded CRC-32.
 *
 * @param bytes The file's bytes.
 * @param metaName The input meta name its file name gives (`meta_t0_128` for
 * `meta_t0_128.kvc`); the meta predictions use it.
 * @param scratch Working memory to reuse (one per thread).
 * @returns The meta, its text, K and V, and the size of each part.
 * @throws {KvbitsDataError} When the file is not a `ctx` file of this version, is
 * corrupt or truncated, or a restored part fails its checksum.
 *
 * @example A flipped bit never goes unnoticed
 * ```ts
 * import { decodeCtxDumpFile, encodeCtxDumpFile } from "./ctx_dump_file.ts";
 * import { parseDumpMeta } from "./dump_meta.ts";
 * import { KvbitsDataError } from "../codec/errors.ts";
 * import { assertThrows } from "@std/assert";
 *
 * const metaText = '{"layer_id": 0, "seq_len": 2, "kv_heads": 1, "head_dim": 4, "bytes_per_elem": 2, "stage": "prefill", "k_file": "k.bin", "v_file": "v.bin"}';
 * const k = Uint16Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
 * const { bytes } = encodeCtxDumpFile({ metaName: "meta_x", metaText, meta: parseDumpMeta(metaText), k, v: k });
 * bytes[bytes.length - 1] ^= 1;
 * assertThrows(() => decodeCtxDumpFile(bytes, "meta_x"), KvbitsDataError, "CRC-32");
 * ```
 */
export function decodeCtxDumpFile(
  bytes: Uint8Array,
  metaName: string,
  scratch?: CtxScratch,
): DecodedDump {
  return decodePayload(bytes, readHeader(bytes, metaName), scratch);
}

function decodePayload(
  bytes: Uint8Array,
  header: CtxHeader,
  scratch: CtxScratch | undefined,
): DecodedDump {
  const payload = bytes.subarray(header.payloadOffset);
  let k: Uint16Array, v: Uint16Array;
  try {
    [k, v] = ctxDecode(payload, 2, header, {
      version: header.version,
      scratch,
    });
  } catch (error) {
    if (!(error instanceof KvbitsDataError)) throw error;
    throw new KvbitsDataError(error.detail, {
      stream: "ctx payload",
      bitOffset: 8 * header.payloadOffset + (error.bitOffset ?? 0),
    });
  }
  checkTensor("K", k, header.kCrc32);
  checkTensor("V", v, header.vCrc32);
  return {
    input: header.input,
    inputText: header.inputText,
    k,
    v,
    integrityChecked: true,
    streamBytes: payload.length,
    metaBytes: header.payloadOffset,
  };
}

function checkTensor(name: string, words: Uint16Array, expected: number): void {
  const actual = crc32(fp16BytesOfWords(words));
  if (actual !== expected) {
    throw new KvbitsDataError(
      `decoded ${name} has CRC-32 ${hex(actual)} but the original had ${
        hex(expected)
      }: the coded data is corrupt`,
      { stream: "ctx payload" },
    );
  }
}

function hex(value: number): string {
  return value.toString(16).padStart(8, "0");
}

const META_NAME_OF_FILE = /^(meta_.+)\.kvc$/s;

/**
 * Most channels (`kv_heads * head_dim`) a ctx dump may have: the coder keeps a
 * model state per channel, allocated before the first token, so a crafted shape
 * of no tokens and 2^30 channels took 27 s and 8.4 GB to refuse nothing. Real
 * layers have about 2^10 (8 heads of 128); 2^20 leaves room for any model.
 */
const CTX_MAX_CHANNELS = 2 ** 20;

function shapeOf(meta: DumpMeta): TensorShape {
  return { tokens: meta.seqLen, heads: meta.kvHeads, headDim: meta.headDim };
}

function tensorPlaneBits(bits: CtxPlaneBits): TensorPlaneBits {
  return {
    elements: bits.elements,
    hi6: bits.hi6,
    mantissaTop: bits.mantissaTop,
    mantissaRaw: bits.mantissaRaw,
    other: bits.plan + bits.residuals,
  };
}

function benchPlaneBits(bits: CtxPlaneBits): PlaneBits {
  return {
    elements: bits.elements,
    hi6: bits.hi6,
    lo10: bits.mantissaTop + bits.mantissaRaw,
    lo10Top: bits.mantissaTop,
    lo10Raw: bits.mantissaRaw,
    other: bits.plan + bits.residuals,
  };
}

/** The `ctx` layout, keeping `scratch` from one call to the next when given. */
function ctxLayoutWith(scratch: CtxScratch | undefined): Layout<undefined> {
  return {
    name: "ctx",
    title: "Context-model rANS",
    layout: "kvbits_ctx",
    codebookModes: ["per-dump"],
    metaKind: "headers and meta",
    modelsUsed() {
      return { codebook: null, description: "adaptive models" };
    },
    markerFileName(metaName) {
      return `${metaName}${CTX_FILE_EXTENSION}`;
    },
    metaNameOfMarker(fileName) {
      return META_NAME_OF_FILE.exec(fileName)?.[1];
    },
    encodeDump(dump) {
      const file = encodeCtxDumpFile(dump, scratch);
      return {
        files: [{
          name: `${dump.metaName}${CTX_FILE_EXTENSION}`,
          bytes: file.bytes,
        }],
        streamBytes: file.payloadBytes,
        metaBytes: file.metaBytes,
      };
    },
    openDump(metaName, marker) {
      const header = readHeader(marker, metaName);
      return {
        input: header.input,
        companions: [],
        needsShared: false,
        decode: () => decodePayload(marker, header, scratch),
        measure() {
          const decoded = decodePayload(marker, header, scratch);
          const [k, v] = ctxPlaneBits(
            [decoded.k, decoded.v],
            shapeOf(header.input),
            { scratch },
          );
          const planes = { k: tensorPlaneBits(k), v: tensorPlaneBits(v) };
          return {
            input: header.input,
            numElements: decoded.k.length,
            ...splitPayload(decoded.streamBytes, planes.k, planes.v),
            metaBytes: decoded.metaBytes,
            planes,
          };
        },
      };
    },
    // The file is written whole and renamed into place: one that exists is
    // complete, and ctx has no codebook to differ in.
    existingDumpDifference: () => undefined,
    withScratch: () => ctxLayoutWith(new CtxScratch()),
    encodeWords(dump) {
      const coded = ctxEncode([dump.k, dump.v], shapeOf(dump.meta), {
        scratch,
      });
      return {
        bytes: coded.length,
        coded: { coded, shape: shapeOf(dump.meta) },
      };
    },
    decodeWords(coded, into) {
      const { coded: payload, shape } = coded as {
        coded: Uint8Array;
        shape: TensorShape;
      };
      // The decoder makes its own arrays: copied out, as a caller would use them.
      const [k, v] = ctxDecode(payload, 2, shape, { scratch });
      into.k.set(k);
      into.v.set(v);
    },
    planeBits(dump) {
      const [k, v] = ctxPlaneBits([dump.k, dump.v], shapeOf(dump.meta), {
        scratch,
      });
      return { k: benchPlaneBits(k), v: benchPlaneBits(v) };
    },
  };
}

/**
 * The `ctx` layout: `--codec ctx`, one file `<meta name>.kvc` per dump, which is
 * its own marker; no shared file (its models adapt as it codes).
 *
 * @example
 * ```ts
 * import { ctxLayout } from "./ctx_dump_file.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(ctxLayout.markerFileName("meta_t0_128"), "meta_t0_128.kvc");
 * assertEquals(ctxLayout.metaNameOfMarker("meta_t0_128.kvc"), "meta_t0_128");
 * assertEquals(ctxLayout.metaNameOfMarker("meta_t0_128.json"), undefined);
 * assertEquals(ctxLayout.withScratch!().name, "ctx");
 * ```
 */
export const ctxLayout: Layout<undefined> = ctxLayoutWith(undefined);
