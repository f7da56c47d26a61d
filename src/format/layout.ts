/**
 * How a codec lays out what it writes: the one interface the jobs, the tasks and
 * the bench know a codec by.
 *
 * A {@link Layout} turns one dump (meta text and K and V) into named files, the
 * last of which marks the dump complete, and reads them back; it may add one
 * folder-level file its dumps are coded with (a global codebook). Today there
 * are two shapes behind it, and nothing outside their own files tells them apart:
 *
 * - per-dump reference files (`stream_files_layout.ts`): four stream files and a
 *   JSON meta per dump, optionally a global codebook (Huffman, arithmetic);
 * - one self-contained file per dump (`ctx_dump_file.ts`): the `.kvc` file.
 *
 * Adding a codec: write the coder (`src/codec/`), one layout file that implements
 * this interface (for a coder of four static-model streams, a `StreamCodec` given
 * to `streamFilesLayout` is enough), and one line in `CODECS` (`codecs.ts`).
 * Encode, decode, verify, analyze, the demo, the bench and the registry tests
 * then take it.
 *
 * Everything here is pure data in, data out: the jobs read the files a layout
 * names and write the files it returns.
 *
 * A whole-folder container (the pack) stores what a layout codes, not files: it
 * keeps each dump's {@link Layout.encodeDump} output (or a coder of its own that
 * carries context across dumps) in blocks of one file, and reads dumps back
 * through {@link Layout.openDump} on bytes it holds. The container is chosen by
 * the output (`--pack FILE`), not by the codec, so jobs need no test of kind.
 *
 * @module
 */

import type { Fp16Histograms } from "../codec/histogram.ts";
import type { DumpMeta } from "./dump_meta.ts";
import type { CodebookMode } from "./stream_codec.ts";

/** A dump to encode: its meta and both tensors. */
export interface DumpToEncode {
  /** Input meta file name without `.json`, e.g. `meta_t0_128`. */
  readonly metaName: string;
  /** The input meta file's text. */
  readonly metaText: string;
  /** The parsed input meta. */
  readonly meta: DumpMeta;
  /** K as FP16 words. */
  readonly k: Uint16Array;
  /** V as FP16 words, as many as K. */
  readonly v: Uint16Array;
}

/** The K and V tensors of a dump as FP16 words. */
export interface DumpWords {
  /** K. */
  readonly k: Uint16Array;
  /** V, as many words as K. */
  readonly v: Uint16Array;
}

/** A file to write, by name relative to the dump's folder. */
export interface NamedFile {
  /** File name, e.g. `k_hi6_meta_t0_128.huff`. */
  readonly name: string;
  /** Its content. */
  readonly bytes: Uint8Array;
}

/** The files one dump becomes, in writing order, and how their bytes split. */
export interface DumpOutputs {
  /** Files for the dump's output folder; the last one marks the dump complete. */
  readonly files: readonly NamedFile[];
  /** Bytes of coded tensor data. */
  readonly streamBytes: number;
  /** Bytes of metadata (JSON meta, or a file's header and meta section). */
  readonly metaBytes: number;
}

/** A dump decoded from its files. */
export interface DecodedDump {
  /** The input meta to restore, parsed. */
  readonly input: DumpMeta;
  /** The exact text of the input meta file to restore. */
  readonly inputText: string;
  /** K as FP16 words. */
  readonly k: Uint16Array;
  /** V as FP16 words. */
  readonly v: Uint16Array;
  /**
   * True when kvbits' checksums confirmed both tensors and the meta text; false
   * for reference outputs, which carry none.
   */
  readonly integrityChecked: boolean;
  /** Bytes of coded tensor data read. */
  readonly streamBytes: number;
  /** Bytes of metadata read (the marker's meta part). */
  readonly metaBytes: number;
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
 * Bits a codec spends on one plane kind of some K (or V) tensors, as the bench
 * reports them.
 */
export interface PlaneBits {
  /** Elements of those tensors. */
  readonly elements: number;
  /** Bits of the `hi6` plane (sign and exponent). */
  readonly hi6: number;
  /** Bits of the `lo10` plane (mantissa), all of it. */
  readonly lo10: number;
  /**
   * Of `lo10`, the modelled top bits, for a codec that splits the mantissa
   * (ctx); undefined for a codec that codes `lo10` as one symbol.
   */
  readonly lo10Top?: number;
  /** Of `lo10`, the bits stored raw (see `lo10Top`). */
  readonly lo10Raw?: number;
  /** Anything else the tensors need (ctx: repeated and predicted rows). */
  readonly other: number;
}

/** What `analyze` reports of one coded dump, read without its originals. */
export interface DumpMeasure {
  /** The input meta. */
  readonly input: DumpMeta;
  /** Elements of K (equal to V). */
  readonly numElements: number;
  /** Coded bytes counted as each plane stream (a one-file payload split by bits). */
  readonly kHi6: number;
  /** See `kHi6`. */
  readonly kLo10: number;
  /** See `kHi6`. */
  readonly vHi6: number;
  /** See `kHi6`. */
  readonly vLo10: number;
  /** Bytes of metadata. */
  readonly metaBytes: number;
  /** The codebook the dump was coded with, for layouts that have codebooks. */
  readonly codebook?: CodebookMode;
  /** What the model spends on each plane, when the layout can say. */
  readonly planes?: {
    readonly k: TensorPlaneBits;
    readonly v: TensorPlaneBits;
  };
}

/** Another file a dump's marker names, to read before decoding. */
export interface DumpCompanion {
  /** Its path relative to the marker's folder. */
  readonly name: string;
  /** A role, e.g. `k_hi6`: reused read buffers are kept per role. */
  readonly role: string;
}

/**
 * One dump whose marker file has been read and checked: what else to read, and
 * how to decode or measure it with those files' bytes.
 *
 * @typeParam Shared The layout's folder-level data (see {@link SharedFile}).
 */
export interface OpenedDump<Shared> {
  /** The input meta restored, parsed. */
  readonly input: DumpMeta;
  /** The files to read besides the marker, in the order `decode` takes them. */
  readonly companions: readonly DumpCompanion[];
  /** Whether decoding needs the folder's shared file. */
  readonly needsShared: boolean;
  /**
   * Decodes the dump.
   *
   * @param companions The bytes of each companion, in order.
   * @param shared The folder's shared data, when `needsShared`.
   * @throws {KvbitsDataError} When the data is corrupt or fails a checksum; its
   * `stream` is a companion's role when that file is at fault.
   */
  decode(companions: readonly Uint8Array[], shared?: Shared): DecodedDump;
  /**
   * Measures the dump for `analyze`.
   *
   * @param companionSizes The size of each companion file, in order.
   */
  measure(companionSizes: readonly number[]): DumpMeasure;
}

/**
 * A folder-level file every dump of a run is coded with: a global codebook.
 *
 * @typeParam Shared The file opened (models, and its checksum).
 */
export interface SharedFile<Shared> {
  /** The file's name in the output folder, e.g. `global_codebook.json`. */
  readonly fileName: string;
  /** What it is, for people, e.g. `global codebook`. */
  readonly title: string;
  /** The file's bytes for the symbol counts of all dumps. */
  fromCounts(k: Fp16Histograms, v: Fp16Histograms): Uint8Array;
  /**
   * Reads the file.
   *
   * @throws {KvbitsFormatError} When it breaks its format.
   * @throws {KvbitsDataError} When a table cannot be a model.
   */
  open(bytes: Uint8Array): Shared;
}

/** How an existing dump differs from what a run would write. */
export type ExistingDumpDifference =
  /** It was coded with another codebook mode. */
  | { readonly codebook: CodebookMode }
  /** It was coded with another shared file, of this name. */
  | { readonly sharedFile: string };

/** What a run with a `--codebook` mode codes its dumps with. */
export interface ModelsUsed {
  /** The codebook mode the outputs record; null when the layout has none. */
  readonly codebook: CodebookMode | null;
  /** Words for people, e.g. `global codebook` or `adaptive models`. */
  readonly description: string;
}

/**
 * A codec with the layout of what it writes.
 *
 * @typeParam Shared Its folder-level data (a global codebook opened), or
 * `undefined` for a layout without one.
 */
export interface Layout<Shared = unknown> {
  /** Value of `--codec`, e.g. `huffman`; also the prefix of analyze's files. */
  readonly name: string;
  /** Name for people, e.g. `Huffman`. */
  readonly title: string;
  /** Name of the layout, e.g. `bitstream_huffman` or `kvbits_ctx`. */
  readonly layout: string;
  /**
   * The `--codebook` modes that give outputs of their own, default first:
   * `global` and `per-dump`, or only `per-dump` for a layout whose dumps carry
   * their own (adaptive) models.
   */
  readonly codebookModes: readonly CodebookMode[];
  /** What its metadata is, for people: `JSON`, or `headers and meta`. */
  readonly metaKind: string;
  /** The folder-level file a `global` run writes first; absent when it has none. */
  readonly sharedFile?: SharedFile<Shared>;
  /**
   * What a run with a codebook mode codes with.
   *
   * @param mode The `--codebook` mode asked for.
   */
  modelsUsed(mode: CodebookMode): ModelsUsed;
  /** The name of the file that marks a dump complete, for an input meta name. */
  markerFileName(metaName: string): string;
  /** The input meta name of a marker file of this layout, or undefined. */
  metaNameOfMarker(fileName: string): string | undefined;
  /**
   * Encodes one dump into its files.
   *
   * @param dump The dump.
   * @param shared The folder's shared data, for a `global` run.
   * @throws {RangeError} When the tensors do not fit the meta shape, or a symbol
   * has no code in `shared`.
   */
  encodeDump(dump: DumpToEncode, shared?: Shared): DumpOutputs;
  /**
   * Reads a dump's marker file.
   *
   * @param metaName The input meta name its file name gives.
   * @param marker The marker's bytes.
   * @throws {KvbitsFormatError} When it breaks the layout's format.
   * @throws {KvbitsDataError} When it is corrupt.
   */
  openDump(metaName: string, marker: Uint8Array): OpenedDump<Shared>;
  /**
   * How an existing marker differs from what this run would write (undefined
   * when it does not): another codebook mode, another shared file. `marker` is
   * only called when the answer depends on the file.
   *
   * @throws {KvbitsFormatError} When the marker cannot be read as one.
   */
  existingDumpDifference(
    marker: () => Uint8Array,
    mode: CodebookMode,
    shared?: Shared,
  ): ExistingDumpDifference | undefined;
  /**
   * A layout like this one that keeps its working memory from one call to the
   * next, for one thread (a job's lane, a bench row): coding many small dumps
   * then allocates nothing per dump. Absent when the layout keeps none.
   */
  withScratch?(): Layout<Shared>;
  /**
   * The coding core alone, as `deno task bench` times it: K and V coded with no
   * checksum, meta or file. `bytes` is what the coded data occupies.
   */
  encodeWords(
    dump: DumpToEncode,
    shared?: Shared,
  ): { readonly bytes: number; readonly coded: unknown };
  /** Decodes what {@link Layout.encodeWords} returned into `into`. */
  decodeWords(coded: unknown, into: DumpWords, shared?: Shared): void;
  /** What the coded data of a dump spends on each plane, K and V apart. */
  planeBits(
    dump: DumpToEncode,
    shared?: Shared,
  ): { k: PlaneBits; v: PlaneBits };
}
