/**
 * What a codec whose layout keeps each dump in one self-contained file must provide,
 * so that the jobs can encode, decode, verify and analyze with it. The `ctx` codec is
 * one; the four-stream layouts of {@link StreamCodec} are the other kind.
 *
 * A dump's file is its only output and is written atomically, so it is also the
 * marker of a complete dump: a dump is complete exactly when its file exists.
 *
 * @module
 */

import type { DumpMeta } from "./dump_meta.ts";
import type { DumpToEncode } from "./encoded_dump.ts";
import type { StreamCodec } from "./stream_codec.ts";

/** One encoded dump: the file's bytes and how they split. */
export interface EncodedDumpFile {
  /** The whole file. */
  readonly bytes: Uint8Array;
  /** Bytes of the header and meta section (everything but the coded tensors). */
  readonly metaBytes: number;
  /** Bytes of the coded tensors. */
  readonly payloadBytes: number;
}

/** One decoded dump, checked against the checksums in its file. */
export interface DecodedDumpFile {
  /** The input meta to restore, parsed. */
  readonly input: DumpMeta;
  /** The exact text of the input meta file. */
  readonly inputText: string;
  /** K as FP16 words. */
  readonly k: Uint16Array;
  /** V as FP16 words. */
  readonly v: Uint16Array;
  /** Bytes of the header and meta section. */
  readonly metaBytes: number;
  /** Bytes of the coded tensors. */
  readonly payloadBytes: number;
}

/** Bits a codec spends on one tensor of a dump, by plane (for `analyze`). */
export interface TensorPlaneBits {
  /** Elements of the tensor. */
  readonly elements: number;
  /** Bits of the `hi6` plane (sign and exponent). */
  readonly hi6: number;
  /** Bits of the modelled top mantissa bits. */
  readonly mantissaTop: number;
  /** Bits of the mantissa bits stored raw. */
  readonly mantissaRaw: number;
  /**
   * Bits of anything else the tensor needs: references to repeated rows, and the
   * residuals of rows predicted from earlier ones.
   */
  readonly other: number;
}

/**
 * A codec that writes each dump as one file, `<meta name><fileExtension>`, next to
 * where the dump's meta would be in the mirrored tree.
 */
export interface DumpFileCodec {
  /** Tells this kind apart from a {@link StreamCodec}. */
  readonly kind: "dump-file";
  /** Value of `--codec`, e.g. `ctx`; also the prefix of analyze's files. */
  readonly name: string;
  /** Name for people. */
  readonly title: string;
  /** Name of the layout, e.g. `kvbits_ctx`. */
  readonly layout: string;
  /** Extension of the dump files, e.g. `.kvc`. */
  readonly fileExtension: string;
  /** The dump file's name for an input meta name (`meta_t0_128` gives `meta_t0_128.kvc`). */
  fileNameOf(metaName: string): string;
  /** The input meta name of a dump file of this layout, or undefined for other files. */
  metaNameOf(fileName: string): string | undefined;
  /** Encodes one dump; throws `RangeError` when its tensors do not fit its shape. */
  encode(dump: DumpToEncode): EncodedDumpFile;
  /**
   * Decodes one dump file; `metaName` is the one its file name gives. Throws
   * `KvbitsDataError` when the file is corrupt or a tensor fails its checksum.
   */
  decode(bytes: Uint8Array, metaName: string): DecodedDumpFile;
  /** What the codec spends on K and V, plane by plane. */
  planeBits(dump: DecodedDumpFile): { k: TensorPlaneBits; v: TensorPlaneBits };
}

/**
 * Whether a codec is a {@link DumpFileCodec} (and not a {@link StreamCodec}).
 *
 * @param codec Either kind.
 * @returns True for a dump-file codec.
 *
 * @example
 * ```ts
 * import { isDumpFileCodec } from "./dump_file_codec.ts";
 * import { ctxDumpFileCodec } from "./ctx_dump_file.ts";
 * import { huffmanStreamCodec } from "./huffman_stream_codec.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals([isDumpFileCodec(ctxDumpFileCodec), isDumpFileCodec(huffmanStreamCodec)], [true, false]);
 * ```
 */
export function isDumpFileCodec(
  codec: DumpFileCodec | StreamCodec<unknown>,
): codec is DumpFileCodec {
  return (codec as DumpFileCodec).kind === "dump-file";
}
