/**
 * The codecs `deno task bench` measures: every codec of the registry (`CODECS`),
 * once per codebook mode that gives outputs of its own, through the one
 * {@link Layout} interface: `encodeWords`/`decodeWords` are its codec work on
 * dumps in memory, `encodeDump` says what a folder of it holds, `planeBits` what
 * it spends on each plane, and its `--codec` and `--codebook` run the
 * whole-folder jobs. A codec added to the registry is benched with no change
 * here.
 *
 * @module
 */

import { countFp16Symbols, newFp16Histograms } from "../src/codec/histogram.ts";
import { type Codec, CODECS } from "../src/format/codecs.ts";
import type { DumpWords, PlaneBits } from "../src/format/layout.ts";
import type { CodebookMode } from "../src/format/stream_codec.ts";
import type { BenchDump } from "./bench_corpus.ts";

/** What a codec's encode of a corpus produced, for its decode and the ratios. */
export interface BenchEncoding {
  /** Bytes of the coded streams of all dumps. */
  readonly streamBytes: number;
  /** Whatever the codec's `decode` needs. */
  readonly state: unknown;
}

/** One row of the codec table: a codec with a codebook mode. */
export interface BenchRow {
  /** The `--codec` name. */
  readonly codec: string;
  /** The codebook mode, as `--codebook` takes it (or `-` when it has none). */
  readonly codebook: string;
  /**
   * Codec work of encoding every dump, in memory: modelling (a global codebook's
   * histogram pass included) and coding. No checksum, no JSON, no file.
   */
  encode(dumps: readonly BenchDump[]): BenchEncoding;
  /** Codec work of decoding every dump of `encoding` into `into` (one entry per dump). */
  decode(encoding: BenchEncoding, into: readonly DumpWords[]): void;
  /**
   * Bytes a folder encode writes: coded data (streams, or a one-file layout's
   * payloads), and meta (JSON meta files and codebook, or the files' headers
   * and compact meta).
   */
  sizes(
    dumps: readonly BenchDump[],
  ): { streamBytes: number; metaBytes: number };
  /**
   * What the coded data spends on each plane, K and V apart: a stream codec's
   * stream bytes (padding included), a context codec's code lengths.
   */
  planeBits(dumps: readonly BenchDump[]): { k: PlaneBits; v: PlaneBits };
  /**
   * The flags that make `deno task encode` write this codec's folders, e.g.
   * `["--codec", "huffman", "--codebook", "global"]`; `verify` needs none (it
   * recognises the layout).
   */
  readonly encodeFlags: readonly string[];
}

/** What the adapter's encode leaves for its decode. */
interface BenchState {
  /** The shared file's bytes, for a `global` run. */
  readonly sharedBytes?: Uint8Array;
  readonly coded: readonly unknown[];
}

/**
 * The bench adapter of a codec with a codebook mode, on its {@link Layout}.
 *
 * @param codec A codec of the registry.
 * @param mode A codebook mode of its `codebookModes`.
 * @returns Its bench adapter.
 *
 * @example Encode and decode two dumps in memory
 * ```ts
 * import { benchRowOf } from "./bench_codecs.ts";
 * import { codecNamed } from "../src/format/codecs.ts";
 * import { parseDumpMeta } from "../src/format/dump_meta.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const metaText = '{"layer_id": 0, "seq_len": 1, "kv_heads": 1, "head_dim": 2, "bytes_per_elem": 2, "stage": "decode", "k_file": "k.bin", "v_file": "v.bin"}';
 * const dump = (k: number[]) => ({
 *   relativePath: "meta_t0_1.json", metaName: "meta_t0_1", metaText,
 *   meta: parseDumpMeta(metaText), k: Uint16Array.from(k), v: Uint16Array.from(k),
 * });
 * const dumps = [dump([0x3c00, 0x3c01]), dump([0xbc00, 0x3c01])];
 * for (const [name, mode] of [["huffman", "global"], ["ctx", "per-dump"]] as const) {
 *   const bench = benchRowOf(codecNamed(name)!, mode);
 *   const encoding = bench.encode(dumps);
 *   const into = dumps.map(() => ({ k: new Uint16Array(2), v: new Uint16Array(2) }));
 *   bench.decode(encoding, into);
 *   assertEquals(into[1].k, dumps[1].k);
 * }
 * ```
 */
export function benchRowOf(layout: Codec, mode: CodebookMode): BenchRow {
  // A row codes its dumps one after another: one working memory for all.
  const codec = layout.withScratch?.() ?? layout;
  const shared = mode === "global" ? codec.sharedFile : undefined;
  const sharedBytesOf = (dumps: readonly BenchDump[]) => {
    if (!shared) return undefined;
    const k = newFp16Histograms();
    const v = newFp16Histograms();
    for (const dump of dumps) {
      countFp16Symbols(dump.k, k);
      countFp16Symbols(dump.v, v);
    }
    return shared.fromCounts(k, v);
  };
  const { codebook } = codec.modelsUsed(mode);
  return {
    codec: codec.name,
    codebook: codebook ?? "-",
    encode(dumps) {
      const sharedBytes = sharedBytesOf(dumps);
      const models = sharedBytes && shared!.open(sharedBytes);
      let streamBytes = 0;
      const coded = dumps.map((dump) => {
        const encoded = codec.encodeWords(dump, models);
        streamBytes += encoded.bytes;
        return encoded.coded;
      });
      const state: BenchState = { sharedBytes, coded };
      return { streamBytes, state };
    },
    decode(encoding, into) {
      const state = encoding.state as BenchState;
      // A decoder reads the shared file as bytes: opened here, timed.
      const models = state.sharedBytes && shared!.open(state.sharedBytes);
      for (let i = 0; i < state.coded.length; i++) {
        codec.decodeWords(state.coded[i], into[i], models);
      }
    },
    sizes(dumps) {
      let streamBytes = 0;
      let metaBytes = 0;
      const sharedBytes = sharedBytesOf(dumps);
      const models = sharedBytes && shared!.open(sharedBytes);
      if (sharedBytes) metaBytes += sharedBytes.length;
      for (const dump of dumps) {
        const outputs = codec.encodeDump(dump, models);
        streamBytes += outputs.streamBytes;
        metaBytes += outputs.metaBytes;
      }
      return { streamBytes, metaBytes };
    },
    planeBits(dumps) {
      const sharedBytes = sharedBytesOf(dumps);
      const models = sharedBytes && shared!.open(sharedBytes);
      const sum = () => ({
        elements: 0,
        hi6: 0,
        lo10: 0,
        lo10Top: undefined as number | undefined,
        lo10Raw: undefined as number | undefined,
        other: 0,
      });
      const k = sum();
      const v = sum();
      for (const dump of dumps) {
        const planes = codec.planeBits(dump, models);
        for (const [into, bits] of [[k, planes.k], [v, planes.v]] as const) {
          into.elements += bits.elements;
          into.hi6 += bits.hi6;
          into.lo10 += bits.lo10;
          into.other += bits.other;
          if (bits.lo10Top !== undefined) {
            into.lo10Top = (into.lo10Top ?? 0) + bits.lo10Top;
            into.lo10Raw = (into.lo10Raw ?? 0) + (bits.lo10Raw ?? 0);
          }
        }
      }
      return { k, v };
    },
    encodeFlags: codebook === null
      ? ["--codec", codec.name]
      : ["--codec", codec.name, "--codebook", codebook],
  };
}

/**
 * Every codec the bench measures: each codec of the registry with each of its
 * codebook modes, in `--codec` order.
 *
 * @returns The adapters.
 *
 * @example
 * ```ts
 * import { benchCodecs } from "./bench_codecs.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(benchCodecs().map((c) => `${c.codec} ${c.codebook}`), [
 *   "huffman global",
 *   "huffman per-dump",
 *   "arith global",
 *   "arith per-dump",
 *   "ctx -",
 * ]);
 * ```
 */
export function benchCodecs(): BenchRow[] {
  return CODECS.flatMap((codec) =>
    codec.codebookModes.map((mode) => benchRowOf(codec, mode))
  );
}
