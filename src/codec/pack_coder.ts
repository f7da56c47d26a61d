/**
 * The pack's coder: the dumps of a block coded one after another, with models,
 * channel states and a row dictionary carried from each dump to the next.
 *
 * Read me first:
 * - A block is coded by one {@link PackBlockEncoder} and decoded by one
 *   {@link PackBlockDecoder}, dump by dump in the same order; each dump's bytes
 *   are separate (the container frames them), but they only decode after the
 *   block's earlier dumps. Nothing is shared between blocks.
 * - Each element of a coded row is coded as in the `ctx` codec (`ctx_codec.ts`):
 *   `hi6` and the top 2 mantissa bits with adaptive models picked by the
 *   channel's running state (`ctx_model.ts`), the low byte raw. The difference
 *   is what carries: the models and channel states of a layer and kind go on
 *   from dump to dump (`pack_models.ts`), so a decode step's single token is
 *   coded with the statistics of every earlier dump of its layer, in this run and
 *   in the block's earlier runs.
 * - Rows the block has seen before are not coded again: every token's K and V
 *   rows enter the block's row dictionary (`pack_row_dictionary.ts`). A row equal
 *   to an earlier row of its kind (in this dump or any earlier one of the block)
 *   is a reference to it. A K row whose token's V row is such a reference (the
 *   same token in layer 0 of a RoPE model, at another position, in this run or
 *   another) is predicted by rotating the earlier token's K row by the distance
 *   between their positions, and codes each element's distance in FP16 steps
 *   from the prediction (`rotary_prediction.ts`; an element more than 31 steps
 *   off escapes to the usual coding).
 * - Positions are `seqStart + row` when the context gives `seqStart`, else the
 *   tokens the group has had so far in the block.
 * - Dump layout, integers unsigned LEB128 varints:
 *
 *   | part | content |
 *   | --- | --- |
 *   | K list | runs, then per run: its first row minus the end of the previous run, `2 * code + (length > 1)` and, when that bit is set, the length minus 2, where `code` is `2 * distance + rotated`: each row of the run refers to the entry `distance` before its own (token ids count the block's tokens), copied or rotated |
 *   | V list | the same, with `code` the distance alone |
 *   | rotation | only when a K entry is rotated: 1 byte pairing (1 half, 2 interleaved) and the RoPE base |
 *   | rANS stream | its length, then the four-lane stream (`rans.ts`), left out (length 0) when the dump has no symbol: K's rows, then V's, in row order; a coded element puts `hi6` and top on lanes 0 and 1 (even channel) or 2 and 3 (odd), a rotated row's residual on lane 0 or 2. A dump of at most 4,096 coded elements (rotated ones included) puts every channel on lanes 0 and 1 and its stream holds only their two states (8 bytes, then the words) |
 *   | raw bytes | the low byte of every element coded with `hi6`, same order, to the end |
 *
 * - Decoding is bounded by the shape and checked: list entries must name a row
 *   of the dump and a usable earlier entry of the same row length, the stream is
 *   read only while whole words remain and must end with the rANS end check, the
 *   raw bytes must be used exactly. Corrupt input ends in `KvbitsDataError` or in
 *   wrong words that the container's CRC catches; state memory is fixed (the
 *   dictionary's ring, at most `MAX_MODEL_SETS` model sets). What a dump's
 *   decoding allocates is bounded by its shape (a run of references codes any
 *   number of rows in a few bytes, so the bytes cannot bound it): the caller
 *   passes shapes it has checked (the container's index).
 * - A dump given a predictor (the same dump made by a cheaper model, for
 *   `--predictor-dir`) is coded by `predicted_dump_coder.ts` instead: its bytes
 *   are that coder's (fingerprints of the predictor, then residuals against it),
 *   with its own models carried across the block's predicted dumps; nothing of it
 *   enters this coder's models or dictionary. The container records which dumps
 *   were predicted and hands the decoder the same predictor.
 *
 * @module
 */

import { ByteReader, ByteWriter } from "./byte_io.ts";
import {
  decodeCodedRow,
  decodePredictedRow,
  ODD_CHANNEL_LANES,
  recordCodedRow,
  recordPredictedRow,
  RowDecoder,
  type RowOutput,
  rowOutput,
  type TensorModels,
} from "./ctx_rows.ts";
import { PackModelSets } from "./pack_models.ts";
import { PackRowDictionary } from "./pack_row_dictionary.ts";
import {
  PredictedDumpDecoder,
  PredictedDumpEncoder,
  type PredictorTensors,
} from "./predicted_dump_coder.ts";
import { ransEncodedBound, ransEncodeInto } from "./rans.ts";
import {
  orderedFp16,
  predictRotatedRow,
  ROTARY_BASES,
  ROTARY_PAIRING,
  rotaryAngles,
  rotaryFrequencies,
  type RotaryPairing,
} from "./rotary_prediction.ts";

/** The shape of a dump's K and V: `[tokens, heads, headDim]` each. */
export interface PackDumpShape {
  /** Token rows (`seq_len`). */
  readonly tokens: number;
  /** KV heads per row. */
  readonly heads: number;
  /** Channels per head. */
  readonly headDim: number;
}

/** Where a dump belongs: what decides the state it shares. */
export interface PackDumpContext {
  /**
   * Dumps of one group share carried models: the container passes
   * `${run_id}\u0000${layer_id}`. (Models are in fact shared by every dump of
   * the block with the same layer, kind and row shape, across runs; the group
   * keys them only for dumps without a layer, and counts positions.)
   */
  readonly group: string;
  /** layer_id when known, else -1. */
  readonly layer: number;
  /**
   * Sequence position of the dump's first token (`seq_start`), when known;
   * otherwise the tokens of the group's earlier dumps in the block.
   */
  readonly seqStart?: number;
}

/** Largest tensor a dump may hold: 2^30 elements, as `ctx`. */
export const PACK_MAX_ELEMENTS = 2 ** 30;

/** Row distances whose angles a rotation keeps (256 KB at head_dim 128). */
const ROTATION_DISTANCES = 256;
/** Rows the encoder predicts to choose a rotation (or none). */
const ROTARY_TRIAL_ROWS = 8;
const STREAM = "pack dump";
const KIND_NAMES = ["K", "V"] as const;
/**
 * Dumps with at most this many coded elements (a decode step's token, a few
 * tokens) put every channel on lanes 0 and 1: the unused lanes' states need not
 * be stored, which saves 8 of the stream's 16 header bytes (a decode step of
 * kv-real codes in about 480 bytes). Larger dumps keep four lanes for speed.
 */
const TWO_LANE_ELEMENTS = 4096;

function checkShape(shape: PackDumpShape): {
  rowLength: number;
  count: number;
} {
  const { tokens, heads, headDim } = shape;
  // Three checks written out: no array or object per dump.
  checkCount("tokens", tokens);
  checkCount("heads", heads);
  checkCount("headDim", headDim);
  const rowLength = heads * headDim;
  const count = tokens * rowLength;
  if (count > PACK_MAX_ELEMENTS || tokens > PACK_MAX_ELEMENTS) {
    throw new RangeError(
      `Cannot code a dump of ${tokens} tokens and ${count} elements per tensor: at most 2^30 of each are supported`,
    );
  }
  return { rowLength, count };
}

function checkCount(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(
      `Cannot code a dump with ${name} ${value}: a non-negative integer is needed`,
    );
  }
}

/** The carried state both sides keep: models, dictionary, group positions. */
class BlockState {
  readonly models: PackModelSets;
  readonly dictionary: PackRowDictionary;
  readonly #positions = new Map<string, number>();
  /** Model owner keys made so far, by layer (or group): made once each. */
  readonly #owners = new Map<number | string, string>();
  #rotation: Rotation | undefined;

  constructor(arenaWords: number | undefined, decoding: boolean) {
    this.models = new PackModelSets(decoding);
    this.dictionary = new PackRowDictionary(arenaWords);
  }

  /** Starts a new block: as a new state, in the same memory. */
  reset(): void {
    this.models.clear();
    this.dictionary.clear();
    this.#positions.clear();
    this.#owners.clear();
    this.#rotation = undefined;
  }

  /** The first position of a dump, and the group's position after it. */
  firstPosition(shape: PackDumpShape, context: PackDumpContext): number {
    const { seqStart } = context;
    if (
      seqStart !== undefined &&
      (!Number.isSafeInteger(seqStart) || seqStart < 0)
    ) {
      throw new RangeError(
        `Cannot code a dump at seqStart ${seqStart}: a non-negative integer is needed`,
      );
    }
    const next = this.#positions.get(context.group) ?? 0;
    const first = context.seqStart ?? next;
    this.#positions.set(context.group, first + shape.tokens);
    return first;
  }

  modelsOf(
    context: PackDumpContext,
    kind: number,
    shape: PackDumpShape,
  ): TensorModels {
    const { layer } = context;
    let owner = this.#owners.get(layer >= 0 ? layer : context.group);
    if (owner === undefined) {
      owner = layer >= 0 ? `L${layer}` : `G${context.group}`;
      this.#owners.set(layer >= 0 ? layer : context.group, owner);
    }
    return this.models.get(owner, kind, shape.heads, shape.headDim);
  }

  /** The rotation last used, when it fits the shape. */
  lastRotation(shape: PackDumpShape): Rotation | undefined {
    const r = this.#rotation;
    return r && r.heads === shape.heads && r.headDim === shape.headDim
      ? r
      : undefined;
  }

  /** The rotation of a pairing and base for a shape (the last one kept). */
  rotation(
    pairing: RotaryPairing,
    base: number,
    shape: PackDumpShape,
  ): Rotation {
    const r = this.#rotation;
    if (
      r && r.pairing === pairing && r.base === base &&
      r.heads === shape.heads && r.headDim === shape.headDim
    ) {
      return r;
    }
    return this.#rotation = {
      pairing,
      base,
      heads: shape.heads,
      headDim: shape.headDim,
      frequencies: rotaryFrequencies(shape.headDim, base),
      angles: new Map(),
      predicted: new Uint16Array(shape.heads * shape.headDim),
    };
  }

  /** Predicts token `user`'s K row from entry `source`'s into `rotation.predicted`. */
  predict(rotation: Rotation, source: number, user: number): Uint16Array {
    const d = this.dictionary;
    const distance = d.position(user) - d.position(source);
    // Distances recur (a repeated stretch of tokens keeps one; kv-real's 521
    // rotated rows have 177): their angles once each.
    let angles = rotation.angles.get(distance);
    if (angles === undefined) {
      if (rotation.angles.size >= ROTATION_DISTANCES) rotation.angles.clear();
      const half = rotation.frequencies.length;
      angles = { cos: new Float64Array(half), sin: new Float64Array(half) };
      rotaryAngles(distance, rotation.frequencies, angles.cos, angles.sin);
      rotation.angles.set(distance, angles);
    }
    predictRotatedRow(
      d.rowChunk(source),
      d.rowStart(source, 0),
      rotation.heads,
      rotation.headDim,
      rotation.pairing,
      angles.cos,
      angles.sin,
      rotation.predicted,
    );
    return rotation.predicted;
  }
}

interface Rotation {
  readonly pairing: RotaryPairing;
  readonly base: number;
  readonly heads: number;
  readonly headDim: number;
  readonly frequencies: Float64Array;
  /** Cosines and sines by row distance, as computed so far. */
  readonly angles: Map<number, { cos: Float64Array; sin: Float64Array }>;
  readonly predicted: Uint16Array;
}

/** How a dump's rows are coded: per row, the entry it copies or rotates, or -1. */
interface DumpPlan {
  /** Entry id of the dump's first token (when the dictionary is used). */
  readonly first: number;
  readonly kSource: Int32Array;
  readonly kRotated: Uint8Array;
  readonly vSource: Int32Array;
  rotation: Rotation | undefined;
}

// ---------------------------------------------------------------- encoding --

/**
 * Codes the dumps of one block in order, carrying models, channel states and
 * the row dictionary from each dump to the next.
 *
 * @example Two decode steps of one layer, the second coded with what the first taught
 * ```ts
 * import { PackBlockDecoder, PackBlockEncoder } from "./pack_coder.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const shape = { tokens: 1, heads: 1, headDim: 4 };
 * const context = { group: "run\u00000", layer: 0 };
 * const dumps = [
 *   { k: Uint16Array.from([0x3c00, 0xbc01, 0x3555, 0x0001]), v: Uint16Array.from([1, 2, 3, 4]) },
 *   { k: Uint16Array.from([0x3c10, 0xbc11, 0x3556, 0x8000]), v: Uint16Array.from([1, 2, 3, 4]) },
 * ];
 * const encoder = new PackBlockEncoder();
 * const coded = dumps.map(({ k, v }) => encoder.encodeDump(shape, k, v, context));
 * const decoder = new PackBlockDecoder();
 * assertEquals(coded.map((bytes) => decoder.decodeDump(bytes, shape, context)), dumps);
 * ```
 */
export class PackBlockEncoder {
  readonly #state: BlockState;
  #predicted?: PredictedDumpEncoder;
  #stream = new Uint8Array(0);
  #out: RowOutput = rowOutput(
    new Uint32Array(0),
    new Uint8Array(0),
    ODD_CHANNEL_LANES,
  );

  /**
   * A fresh block.
   *
   * @param arenaWords Size of the row dictionary's ring in words (tests use
   * small rings; encoder and decoder must agree).
   */
  constructor(arenaWords?: number) {
    this.#state = new BlockState(arenaWords, false);
  }

  /**
   * Starts a new block, as a new encoder would, reusing this one's memory (a
   * lane coding block after block allocates no state per block).
   */
  reset(): void {
    this.#state.reset();
    this.#predicted = undefined;
  }

  /**
   * Codes one dump after the block's earlier ones.
   *
   * @param shape The shape of K and V.
   * @param k K, `tokens * heads * headDim` FP16 words.
   * @param v V, same length.
   * @param context The dump's group and layer.
   * @param predictor The predictor dump's K and V, to code this dump against
   * (`predicted_dump_coder.ts`); the decoder must be given the same.
   * @returns The dump's bytes (a fresh array).
   * @throws {RangeError} When the shape is invalid or a tensor's length differs.
   */
  encodeDump(
    shape: PackDumpShape,
    k: Uint16Array,
    v: Uint16Array,
    context: PackDumpContext,
    predictor?: PredictorTensors,
  ): Uint8Array {
    if (predictor !== undefined) {
      this.#predicted ??= new PredictedDumpEncoder();
      return this.#predicted.encodeDump(shape, k, v, context.group, predictor);
    }
    const { rowLength, count } = checkShape(shape);
    if (k.length !== count || v.length !== count) {
      const [name, tensor] = k.length !== count ? ["K", k] : ["V", v];
      throw new RangeError(
        `Cannot pack a dump: ${name} has ${tensor.length} elements, the shape needs ${count}`,
      );
    }
    const state = this.#state;
    const plan = this.#plan(shape, k, v, context);
    // Two records and a raw byte per coded element, three and one for a
    // rotated one (a residual that escapes).
    const elements = codedElements(
      plan.kSource,
      plan.kRotated,
      plan.vSource,
      rowLength,
    );
    let rotated = 0;
    for (let t = 0; t < plan.kRotated.length; t++) rotated += plan.kRotated[t];
    const bound = 2 * elements + rotated * rowLength;
    if (this.#out.records.length < bound || this.#out.raw.length < elements) {
      this.#out = rowOutput(
        new Uint32Array(bound),
        new Uint8Array(elements),
        ODD_CHANNEL_LANES,
      );
    }
    const out = this.#out;
    out.recordCount = 0;
    out.rawCount = 0;
    const twoLanes = elements <= TWO_LANE_ELEMENTS;
    out.oddLanes = twoLanes ? 0 : ODD_CHANNEL_LANES;
    const kModels = state.modelsOf(context, 0, shape);
    const vModels = state.modelsOf(context, 1, shape);
    for (let t = 0; t < shape.tokens; t++) {
      if (plan.kSource[t] >= 0) {
        if (plan.kRotated[t] === 0) continue;
        const predicted = state.predict(
          plan.rotation!,
          plan.kSource[t],
          plan.first + t,
        );
        recordPredictedRow(
          k,
          t * rowLength,
          predicted,
          rowLength,
          kModels,
          out,
        );
        continue;
      }
      recordCodedRow(k, t * rowLength, rowLength, kModels, out);
    }
    for (let t = 0; t < shape.tokens; t++) {
      if (plan.vSource[t] >= 0) continue;
      recordCodedRow(v, t * rowLength, rowLength, vModels, out);
    }
    // The stream goes into reused space; only the dump's bytes are new.
    let stream = this.#stream;
    let streamStart = 0;
    if (out.recordCount > 0) {
      const bound = ransEncodedBound(out.recordCount);
      if (stream.length < bound) stream = this.#stream = new Uint8Array(bound);
      streamStart = ransEncodeInto(
        out.records,
        out.recordCount,
        stream,
        stream.length,
      );
    } else {
      streamStart = stream.length;
    }
    // Lanes 2 and 3 of a two-lane dump coded nothing: their states (bytes
    // 8..15) are left out.
    const skipped = twoLanes && streamStart < stream.length ? 8 : 0;
    const streamLength = stream.length - streamStart - skipped;
    const header = new ByteWriter(32);
    writeList(header, plan.kSource, plan.first, plan.kRotated);
    writeList(header, plan.vSource, plan.first, undefined);
    if (plan.rotation) {
      header.byte(plan.rotation.pairing);
      header.varint(plan.rotation.base);
    }
    header.varint(streamLength);
    const bytes = new Uint8Array(header.length + streamLength + out.rawCount);
    bytes.set(header.finish());
    let at = header.length;
    if (skipped > 0) {
      bytes.set(stream.subarray(streamStart, streamStart + 8), at);
      bytes.set(stream.subarray(streamStart + 16), at + 8);
    } else {
      bytes.set(stream.subarray(streamStart), at);
    }
    at += streamLength;
    bytes.set(out.raw.subarray(0, out.rawCount), at);
    return bytes;
  }

  /** Reserves the dump's entries, finds repeats, chooses a rotation. */
  #plan(
    shape: PackDumpShape,
    k: Uint16Array,
    v: Uint16Array,
    context: PackDumpContext,
  ): DumpPlan {
    const state = this.#state;
    const { tokens, heads, headDim } = shape;
    const rowLength = heads * headDim;
    const dictionary = state.dictionary;
    const firstPosition = state.firstPosition(shape, context);
    let plan: DumpPlan = {
      first: -1,
      kSource: new Int32Array(tokens).fill(-1),
      kRotated: new Uint8Array(tokens),
      vSource: new Int32Array(tokens).fill(-1),
      rotation: undefined,
    };
    if (tokens === 0 || rowLength === 0) return plan;
    if (!dictionary.fits(tokens, rowLength)) return plan;
    const first = dictionary.reserve(tokens, rowLength, firstPosition);
    plan = { ...plan, first };
    const candidates: number[] = [];
    for (let t = 0; t < tokens; t++) {
      const id = first + t;
      const start = t * rowLength;
      dictionary.copyRow(id, 0, k, start, true);
      dictionary.copyRow(id, 1, v, start, true);
      // Tokens hashed two at a time (their rows follow each other).
      if (t % 2 === 0) dictionary.hashRows(k, v, start, id, t + 1 < tokens);
      const vSource = dictionary.findAndRemember(1, v, start, id);
      const kSource = dictionary.findAndRemember(0, k, start, id);
      plan.vSource[t] = vSource;
      plan.kSource[t] = kSource;
      if (kSource < 0 && vSource >= 0 && headDim % 2 === 0) {
        candidates.push(t);
      }
    }
    const rotation = candidates.length > 0
      ? this.#chooseRotation(shape, k, first, candidates, plan.vSource)
      : undefined;
    if (rotation) {
      plan.rotation = rotation;
      for (const t of candidates) {
        plan.kSource[t] = plan.vSource[t];
        plan.kRotated[t] = 1;
      }
    }
    return plan;
  }

  /**
   * The rotation, of the pairings and bases kvbits knows, that puts the most
   * elements of the first {@link ROTARY_TRIAL_ROWS} candidate rows within one
   * FP16 step of their prediction; none unless that is at least half of them.
   */
  #chooseRotation(
    shape: PackDumpShape,
    k: Uint16Array,
    first: number,
    candidates: readonly number[],
    vSource: Int32Array,
  ): Rotation | undefined {
    const rows = candidates.slice(0, ROTARY_TRIAL_ROWS);
    const enough = rows.length * shape.heads * shape.headDim;
    // The block's last rotation first: a model keeps its RoPE.
    const last = this.#state.lastRotation(shape);
    if (last && 2 * this.#hits(last, k, first, rows, vSource) >= enough) {
      return last;
    }
    let best: { pairing: RotaryPairing; base: number } | undefined;
    let bestHits = 0;
    for (const base of ROTARY_BASES) {
      for (const pairing of [ROTARY_PAIRING.half, ROTARY_PAIRING.interleaved]) {
        const rotation = this.#state.rotation(pairing, base, shape);
        const hits = this.#hits(rotation, k, first, rows, vSource);
        if (hits > bestHits) {
          bestHits = hits;
          best = { pairing, base };
        }
      }
    }
    if (!best || 2 * bestHits < enough) return undefined;
    return this.#state.rotation(best.pairing, best.base, shape);
  }

  /** Elements of `rows` of K within one FP16 step of their rotation. */
  #hits(
    rotation: Rotation,
    k: Uint16Array,
    first: number,
    rows: readonly number[],
    vSource: Int32Array,
  ): number {
    const rowLength = rotation.heads * rotation.headDim;
    let hits = 0;
    for (const t of rows) {
      const predicted = this.#state.predict(rotation, vSource[t], first + t);
      for (let j = 0; j < rowLength; j++) {
        const residual = orderedFp16(k[t * rowLength + j]) -
          orderedFp16(predicted[j]);
        if (residual >= -1 && residual <= 1) hits++;
      }
    }
    return hits;
  }
}

/**
 * Writes a K or V list as runs: consecutive rows that refer the same distance
 * back (and, for K, are all rotated or all not) are one entry.
 */
/**
 * Elements a dump codes with symbols: those of rows that copy no entry (rotated
 * K rows code their residuals).
 */
function codedElements(
  kSource: Int32Array,
  kRotated: Uint8Array,
  vSource: Int32Array,
  rowLength: number,
): number {
  let rows = 0;
  for (let t = 0; t < kSource.length; t++) {
    if (kSource[t] < 0 || kRotated[t] === 1) rows++;
    if (vSource[t] < 0) rows++;
  }
  return rows * rowLength;
}

function writeList(
  writer: ByteWriter,
  sources: Int32Array,
  first: number,
  rotated: Uint8Array | undefined,
): void {
  const code = (row: number) => {
    const distance = first + row - sources[row];
    return rotated ? 2 * distance + rotated[row] : distance;
  };
  const starts: number[] = [];
  for (let row = 0; row < sources.length; row++) {
    if (sources[row] < 0) continue;
    if (
      row === 0 || sources[row - 1] < 0 || code(row) !== code(row - 1)
    ) {
      starts.push(row);
    }
  }
  writer.varint(starts.length);
  let end = 0;
  for (const start of starts) {
    let length = 1;
    while (
      start + length < sources.length && sources[start + length] >= 0 &&
      code(start + length) === code(start)
    ) {
      length++;
    }
    writer.varint(start - end);
    writer.varint(2 * code(start) + (length > 1 ? 1 : 0));
    if (length > 1) writer.varint(length - 2);
    end = start + length;
  }
}

// ---------------------------------------------------------------- decoding --

/**
 * Decodes the dumps of one block, in the order they were encoded, with the
 * same shapes and contexts. A dump that fails (a `KvbitsDataError`, or words
 * whose CRC the container refuses) leaves the carried state wrong: the block's
 * later dumps cannot be decoded by this decoder (each block starts afresh, so
 * other blocks are unaffected).
 *
 * @example A corrupt dump is a data error
 * ```ts
 * import { KvbitsDataError } from "./errors.ts";
 * import { PackBlockDecoder, PackBlockEncoder } from "./pack_coder.ts";
 * import { assertThrows } from "@std/assert";
 *
 * const shape = { tokens: 2, heads: 1, headDim: 4 };
 * const context = { group: "g", layer: -1 };
 * const words = Uint16Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
 * const bytes = new PackBlockEncoder().encodeDump(shape, words, words, context);
 * assertThrows(
 *   () => new PackBlockDecoder().decodeDump(bytes.subarray(0, bytes.length - 1), shape, context),
 *   KvbitsDataError,
 * );
 * ```
 */
export class PackBlockDecoder {
  readonly #state: BlockState;
  #predicted?: PredictedDumpDecoder;
  #bytes = new Uint8Array(0);
  /** K and V's reused space, when the caller takes each dump before the next. */
  #output: Uint16Array[] | undefined;

  /**
   * A fresh block.
   *
   * @param arenaWords Size of the row dictionary's ring, as given to the encoder.
   * @param reuseOutput Decode every dump's K and V into the same two buffers
   * (grown as needed): each result is valid until the next call only, and a
   * block allocates no output per dump (less garbage for the collector).
   */
  constructor(arenaWords?: number, reuseOutput = false) {
    this.#state = new BlockState(arenaWords, true);
    if (reuseOutput) this.#output = [new Uint16Array(0), new Uint16Array(0)];
  }

  /**
   * Starts a new block, as a new decoder would, reusing this one's memory
   * (also after a dump that failed).
   */
  reset(): void {
    this.#state.reset();
    this.#predicted = undefined;
  }

  /**
   * Space for `count` words of K (`kind` 0) or V (1); a reused one holds the
   * last dump's words until every row is decoded over them.
   */
  #tensor(kind: number, count: number): Uint16Array {
    const output = this.#output;
    if (output === undefined) return new Uint16Array(count);
    if (output[kind].length < count) output[kind] = new Uint16Array(count);
    return output[kind].subarray(0, count);
  }

  /** Working memory of at least `length` bytes for the rANS stream. */
  #buffer(length: number): Uint8Array {
    if (this.#bytes.length < length) this.#bytes = new Uint8Array(length);
    return this.#bytes;
  }

  /**
   * Decodes the block's next dump.
   *
   * @param bytes The dump's bytes from {@link PackBlockEncoder.encodeDump}.
   * @param shape Its shape.
   * @param context Its group and layer, as given to the encoder.
   * @param predictor The predictor dump the encoder was given, when it was.
   * @returns K and V.
   * @throws {KvbitsPredictorMismatchError} When the predictor is not the
   * encoder's (nothing decoded; the decoder stays usable for this dump).
   * @throws {KvbitsDataError} When the bytes are corrupt or truncated (the
   * decoder is then of no further use).
   * @throws {RangeError} When the shape is invalid.
   */
  decodeDump(
    bytes: Uint8Array,
    shape: PackDumpShape,
    context: PackDumpContext,
    predictor?: PredictorTensors,
  ): { k: Uint16Array; v: Uint16Array } {
    if (predictor !== undefined) {
      this.#predicted ??= new PredictedDumpDecoder();
      return this.#predicted.decodeDump(
        bytes,
        shape,
        context.group,
        predictor,
        this.#output === undefined
          ? undefined
          : (kind, count) => this.#tensor(kind, count),
      );
    }
    const { rowLength, count } = checkShape(shape);
    const { tokens } = shape;
    const state = this.#state;
    const dictionary = state.dictionary;
    const firstPosition = state.firstPosition(shape, context);
    const reader = new ByteReader(bytes, STREAM);
    const useDictionary = tokens > 0 && rowLength > 0 &&
      dictionary.fits(tokens, rowLength);
    const first = useDictionary
      ? dictionary.reserve(tokens, rowLength, firstPosition)
      : -1;
    const kRotated = new Uint8Array(tokens);
    const kSource = readList(
      reader,
      tokens,
      rowLength,
      first,
      kRotated,
      0,
      dictionary,
    );
    const vSource = readList(
      reader,
      tokens,
      rowLength,
      first,
      undefined,
      1,
      dictionary,
    );
    let rotation: Rotation | undefined;
    if (kRotated.includes(1)) {
      const at = reader.offset;
      const pairing = reader.byte();
      const base = reader.varint();
      if (
        (pairing !== ROTARY_PAIRING.half &&
          pairing !== ROTARY_PAIRING.interleaved) ||
        base < 2 ||
        shape.headDim % 2 !== 0
      ) {
        throw reader.error(
          `rotation (pairing ${pairing}, base ${base}, head_dim ${shape.headDim}) is impossible`,
          at,
        );
      }
      rotation = state.rotation(pairing as RotaryPairing, base, shape);
    }
    const streamStart = reader.offset;
    const streamLength = reader.varint();
    if (streamLength > reader.remaining) {
      throw reader.error(
        `rANS stream of ${streamLength} bytes is longer than the ${reader.remaining} bytes left`,
        streamStart,
      );
    }
    const streamOffset = reader.offset;
    const stream = reader.bytes(streamLength);
    if (reader.remaining > 2 * count) {
      throw reader.error(
        `${reader.remaining} raw bytes follow the rANS stream, the shape allows ${
          2 * count
        }`,
      );
    }
    const raw = reader.bytes(reader.remaining);
    const twoLanes = codedElements(kSource, kRotated, vSource, rowLength) <=
      TWO_LANE_ELEMENTS;
    const decoder = new RowDecoder({
      stream,
      offset: streamOffset,
      raw,
      rowLength,
      fourLanes: !twoLanes,
      name: STREAM,
      empty: true,
      buffer: (length) => this.#buffer(length),
    });
    const k = this.#tensor(0, count), v = this.#tensor(1, count);
    const kModels = state.modelsOf(context, 0, shape);
    const vModels = state.modelsOf(context, 1, shape);
    for (let t = 0; t < tokens; t++) {
      const start = t * rowLength;
      const source = kSource[t];
      if (source >= 0 && kRotated[t] === 0) {
        dictionary.copyRow(source, 0, k, start, false);
      } else if (source >= 0) {
        const predicted = state.predict(rotation!, source, first + t);
        decodePredictedRow(
          k,
          start,
          predicted,
          rowLength,
          kModels,
          decoder,
          "K",
          t,
        );
      } else {
        decodeCodedRow(k, start, rowLength, kModels, decoder, "K", t);
      }
      if (first >= 0) dictionary.copyRow(first + t, 0, k, start, true);
    }
    for (let t = 0; t < tokens; t++) {
      const start = t * rowLength;
      const source = vSource[t];
      if (source >= 0) {
        dictionary.copyRow(source, 1, v, start, false);
      } else {
        decodeCodedRow(v, start, rowLength, vModels, decoder, "V", t);
      }
      if (first >= 0) dictionary.copyRow(first + t, 1, v, start, true);
    }
    decoder.finish();
    return { k, v };
  }
}

/** Reads a K or V list: per row, the entry it refers to, or -1. */
function readList(
  reader: ByteReader,
  tokens: number,
  rowLength: number,
  first: number,
  rotated: Uint8Array | undefined,
  kind: number,
  dictionary: PackRowDictionary,
): Int32Array {
  const sources = new Int32Array(tokens).fill(-1);
  const name = KIND_NAMES[kind];
  const runs = reader.varintAtMost(first < 0 ? 0 : tokens, `runs of ${name}`);
  let end = 0;
  for (let n = 0; n < runs; n++) {
    const at = reader.offset;
    const start = end + reader.varint();
    const value = reader.varint();
    const length = value % 2 === 1 ? reader.varint() + 2 : 1;
    let distance = (value - (value % 2)) / 2;
    let flag = 0;
    if (rotated) {
      flag = distance % 2;
      distance = (distance - flag) / 2;
    }
    if (start + length > tokens) {
      throw reader.error(
        `a run of ${length} rows of ${name} from row ${start} passes the ${tokens} rows`,
        at,
      );
    }
    for (let row = start; row < start + length; row++) {
      const source = first + row - distance;
      if (!dictionary.usable(source, first + row, rowLength)) {
        throw reader.error(
          `row ${row} of ${name} refers to entry ${source}, which the block does not hold`,
          at,
        );
      }
      sources[row] = source;
      if (rotated) rotated[row] = flag;
    }
    end = start + length;
  }
  return sources;
}
