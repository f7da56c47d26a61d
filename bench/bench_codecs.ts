/**
 * The codecs `deno task bench` measures, each as a small adapter: what its codec
 * work is (encode and decode every dump of a corpus in memory), what it writes
 * (coded bytes, and meta: JSON, or headers), what it spends on each plane, and
 * how the whole-folder jobs run it.
 *
 * Every stream codec of `STREAM_CODECS` appears twice, with a global codebook and
 * with per-dump codebooks. A codec of another shape (a dump-level coder with a
 * layout of its own, as `ctx`) joins the bench with one more {@link BenchCodec}
 * in {@link benchCodecs}: its `encode` and `decode` call its coding core on the
 * dumps in memory, `sizes` says what a folder of it holds, `planeBits` what it
 * spends on each plane, and `encodeFlags` are its `--codec` (the whole-folder
 * runs are the tasks themselves).
 *
 * @module
 */

import { crc32 } from "../src/codec/crc32.ts";
import {
  ctxDecode,
  ctxEncode,
  ctxPlaneBits,
  CtxScratch,
  type TensorShape,
} from "../src/codec/ctx_codec.ts";
import { countFp16Symbols, newFp16Histograms } from "../src/codec/histogram.ts";
import {
  ctxDumpFileCodec,
  encodeCtxDumpFile,
} from "../src/format/ctx_dump_file.ts";
import {
  decodeDumpStreams,
  type DumpStreams,
  type DumpWords,
  encodeDumpStreams,
} from "../src/format/dump_streams.ts";
import { encodeDump } from "../src/format/encoded_dump.ts";
import { globalCodebookText } from "../src/format/global_codebook.ts";
import {
  type CodebookMode,
  type PerStream,
  STREAM_NAMES,
  type StreamCodec,
} from "../src/format/stream_codec.ts";
import { STREAM_CODECS } from "../src/format/stream_codecs.ts";
import type { BenchDump } from "./bench_corpus.ts";

/** What a codec's encode of a corpus produced, for its decode and the ratios. */
export interface BenchEncoding {
  /** Bytes of the coded streams of all dumps. */
  readonly streamBytes: number;
  /** Whatever the codec's `decode` needs. */
  readonly state: unknown;
}

/**
 * Bits a codec spends on one plane kind of all the K (or all the V) tensors of
 * a corpus, in total.
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

/** One row of the codec table: a codec with a codebook mode. */
export interface BenchCodec {
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

/** The state a stream codec's encode leaves for its decode. */
interface StreamState<Model> {
  readonly global?: PerStream<number[]>;
  readonly dumps: readonly DumpStreams[];
}

/**
 * The bench adapter of a stream codec with a codebook mode.
 *
 * @param codec A stream codec.
 * @param codebook `global` or `per-dump`.
 * @returns Its bench adapter.
 *
 * @example Encode and decode two dumps in memory
 * ```ts
 * import { streamBenchCodec } from "./bench_codecs.ts";
 * import { huffmanStreamCodec } from "../src/format/huffman_stream_codec.ts";
 * import { parseDumpMeta } from "../src/format/dump_meta.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const metaText = '{"layer_id": 0, "seq_len": 1, "kv_heads": 1, "head_dim": 2, "bytes_per_elem": 2, "stage": "decode", "k_file": "k.bin", "v_file": "v.bin"}';
 * const dump = (k: number[]) => ({
 *   relativePath: "meta_t0_1.json", metaName: "meta_t0_1", metaText,
 *   meta: parseDumpMeta(metaText), k: Uint16Array.from(k), v: Uint16Array.from(k),
 * });
 * const dumps = [dump([0x3c00, 0x3c01]), dump([0xbc00, 0x3c01])];
 * const bench = streamBenchCodec(huffmanStreamCodec, "global");
 * const encoding = bench.encode(dumps);
 * const into = dumps.map(() => ({ k: new Uint16Array(2), v: new Uint16Array(2) }));
 * bench.decode(encoding, into);
 * assertEquals(into[1].k, dumps[1].k);
 * ```
 */
export function streamBenchCodec<Model>(
  codec: StreamCodec<Model>,
  codebook: CodebookMode,
): BenchCodec {
  const globalModels = (dumps: readonly BenchDump[]): PerStream<Model> => {
    const k = newFp16Histograms();
    const v = newFp16Histograms();
    for (const dump of dumps) {
      countFp16Symbols(dump.k, k);
      countFp16Symbols(dump.v, v);
    }
    return {
      k_hi6: codec.modelFromCounts(k.hi6, "k_hi6"),
      k_lo10: codec.modelFromCounts(k.lo10, "k_lo10"),
      v_hi6: codec.modelFromCounts(v.hi6, "v_hi6"),
      v_lo10: codec.modelFromCounts(v.lo10, "v_lo10"),
    };
  };
  return {
    codec: codec.name,
    codebook,
    encode(dumps) {
      const models = codebook === "global" ? globalModels(dumps) : undefined;
      let streamBytes = 0;
      const coded = dumps.map((dump) => {
        const streams = encodeDumpStreams(dump, codec, models);
        for (const stream of STREAM_NAMES) {
          streamBytes += streams.streams[stream].length;
        }
        return streams;
      });
      const state: StreamState<Model> = {
        // A decoder reads the global codebook as tables: keep them, not the models.
        global: models && {
          k_hi6: codec.tableOf(models.k_hi6),
          k_lo10: codec.tableOf(models.k_lo10),
          v_hi6: codec.tableOf(models.v_hi6),
          v_lo10: codec.tableOf(models.v_lo10),
        },
        dumps: coded,
      };
      return { streamBytes, state };
    },
    decode(encoding, into) {
      const state = encoding.state as StreamState<Model>;
      const fromTables = (tables: PerStream<number[]>): PerStream<Model> => ({
        k_hi6: codec.modelFromTable(tables.k_hi6, "k_hi6"),
        k_lo10: codec.modelFromTable(tables.k_lo10, "k_lo10"),
        v_hi6: codec.modelFromTable(tables.v_hi6, "v_hi6"),
        v_lo10: codec.modelFromTable(tables.v_lo10, "v_lo10"),
      });
      const global = state.global && fromTables(state.global);
      for (let i = 0; i < state.dumps.length; i++) {
        const { streams, tables } = state.dumps[i];
        const words = into[i];
        decodeDumpStreams(
          streams,
          words.k.length,
          codec,
          global ?? fromTables(tables!),
          words,
        );
      }
    },
    sizes(dumps) {
      let streamBytes = 0;
      let metaBytes = 0;
      let global;
      if (codebook === "global") {
        const models = globalModels(dumps);
        const text = new TextEncoder().encode(
          globalCodebookText(codec, models),
        );
        metaBytes += text.length;
        global = { models, crc32: crc32(text) };
      }
      for (const dump of dumps) {
        const encoded = encodeDump(dump, codec, global);
        for (const file of encoded.streams) streamBytes += file.bytes.length;
        metaBytes += encoded.meta.bytes.length;
      }
      return { streamBytes, metaBytes };
    },
    planeBits(dumps) {
      const models = codebook === "global" ? globalModels(dumps) : undefined;
      const bits = { k_hi6: 0, k_lo10: 0, v_hi6: 0, v_lo10: 0 };
      let elements = 0;
      for (const dump of dumps) {
        const { streams } = encodeDumpStreams(dump, codec, models);
        for (const stream of STREAM_NAMES) {
          bits[stream] += 8 * streams[stream].length;
        }
        elements += dump.k.length;
      }
      return {
        k: { elements, hi6: bits.k_hi6, lo10: bits.k_lo10, other: 0 },
        v: { elements, hi6: bits.v_hi6, lo10: bits.v_lo10, other: 0 },
      };
    },
    encodeFlags: ["--codec", codec.name, "--codebook", codebook],
  };
}

/** What the ctx adapter's encode leaves for its decode. */
interface CtxState {
  readonly payloads: readonly Uint8Array[];
  readonly shapes: readonly TensorShape[];
}

function shapeOf(dump: BenchDump): TensorShape {
  const { meta } = dump;
  return { tokens: meta.seqLen, heads: meta.kvHeads, headDim: meta.headDim };
}

/**
 * The bench adapter of the `ctx` codec: its coding core (`ctxEncode` and
 * `ctxDecode`: K and V of a dump in one payload, adaptive models, no table) on
 * each dump in memory; a folder of it holds one `.kvc` file per dump, whose
 * header and compact meta are its meta bytes.
 *
 * @returns Its bench adapter.
 *
 * @example A round trip, and what a folder would hold
 * ```ts
 * import { ctxBenchCodec } from "./bench_codecs.ts";
 * import { parseDumpMeta } from "../src/format/dump_meta.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const metaText = '{"layer_id": 0, "seq_len": 2, "kv_heads": 1, "head_dim": 2, "bytes_per_elem": 2, "stage": "prefill", "k_file": "k.bin", "v_file": "v.bin"}';
 * const k = Uint16Array.from([0x3c00, 0x3c01, 0x3c00, 0x3c01]);
 * const dumps = [{ relativePath: "meta_t0_2.json", metaName: "meta_t0_2", metaText, meta: parseDumpMeta(metaText), k, v: k }];
 * const bench = ctxBenchCodec();
 * const encoding = bench.encode(dumps);
 * const into = [{ k: new Uint16Array(4), v: new Uint16Array(4) }];
 * bench.decode(encoding, into);
 * assertEquals(into[0].v, k);
 * assertEquals(bench.sizes(dumps).streamBytes, encoding.streamBytes);
 * ```
 */
export function ctxBenchCodec(): BenchCodec {
  return {
    codec: ctxDumpFileCodec.name,
    codebook: "-",
    encode(dumps) {
      let streamBytes = 0;
      const scratch = new CtxScratch(); // one working memory for the corpus
      const payloads = dumps.map((dump) => {
        const payload = ctxEncode([dump.k, dump.v], shapeOf(dump), { scratch });
        streamBytes += payload.length;
        return payload;
      });
      const state: CtxState = { payloads, shapes: dumps.map(shapeOf) };
      return { streamBytes, state };
    },
    decode(encoding, into) {
      const { payloads, shapes } = encoding.state as CtxState;
      const scratch = new CtxScratch();
      for (let i = 0; i < payloads.length; i++) {
        // The decoder makes its own arrays: copied out, as a caller would use them.
        const [k, v] = ctxDecode(payloads[i], 2, shapes[i], { scratch });
        into[i].k.set(k);
        into[i].v.set(v);
      }
    },
    sizes(dumps) {
      let streamBytes = 0;
      let metaBytes = 0;
      for (const dump of dumps) {
        const file = encodeCtxDumpFile(dump);
        streamBytes += file.payloadBytes;
        metaBytes += file.metaBytes;
      }
      return { streamBytes, metaBytes };
    },
    planeBits(dumps) {
      const sum = () => ({
        elements: 0,
        hi6: 0,
        lo10: 0,
        lo10Top: 0,
        lo10Raw: 0,
        other: 0,
      });
      const k = sum();
      const v = sum();
      for (const dump of dumps) {
        const planes = ctxPlaneBits([dump.k, dump.v], shapeOf(dump));
        for (const [into, bits] of [[k, planes[0]], [v, planes[1]]] as const) {
          into.elements += bits.elements;
          into.hi6 += bits.hi6;
          into.lo10Top += bits.mantissaTop;
          into.lo10Raw += bits.mantissaRaw;
          into.lo10 += bits.mantissaTop + bits.mantissaRaw;
          into.other += bits.plan + bits.residuals;
        }
      }
      return { k, v };
    },
    encodeFlags: ["--codec", ctxDumpFileCodec.name],
  };
}

/**
 * Every codec the bench measures: each stream codec with a global and with
 * per-dump codebooks, in `--codec` order, then ctx.
 *
 * @returns The adapters.
 *
 * @example
 * ```ts
 * import { benchCodecs } from "./bench_codecs.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(benchCodecs().slice(0, 2).map((c) => `${c.codec} ${c.codebook}`), [
 *   "huffman global",
 *   "huffman per-dump",
 * ]);
 * ```
 */
export function benchCodecs(): BenchCodec[] {
  return [
    ...STREAM_CODECS.flatMap((codec) =>
      (["global", "per-dump"] as const).map((codebook) =>
        streamBenchCodec(codec, codebook)
      )
    ),
    ctxBenchCodec(),
  ];
}
