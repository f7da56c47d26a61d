/**
 * The fuzz harness: real dumps encoded with every registered stream codec (per-dump
 * and global codebooks) and with ctx (`.kvc` files), then mutated thousands of
 * ways, stream bytes and JSON alike, header and payload bytes of `.kvc` files,
 * and decoded as the jobs decode them. Used by `tests/fuzz_test.ts`, short in the
 * suite and long with `deno task fuzz`.
 *
 * Every case must end in one of two ways: the decode returns exactly the original
 * dump (meta text, K and V), or it throws `KvbitsDataError` / `KvbitsFormatError`
 * (or the dump's file is missing or not UTF-8, which the jobs report per file).
 * A decode that returns other bytes is allowed only when the mutation removed
 * kvbits' integrity record, so that verify reports the dump as unchecked (a
 * `.kvc` file has no such way out: its checksums are part of its header).
 * Anything else is a violation.
 *
 * @module
 */

import { join } from "@std/path";
import { crc32 } from "../src/codec/crc32.ts";
import { KvbitsDataError } from "../src/codec/errors.ts";
import { countFp16Symbols, newFp16Histograms } from "../src/codec/histogram.ts";
import {
  type BitstreamMeta,
  parseBitstreamMeta,
} from "../src/format/bitstream_meta.ts";
import {
  decodeCtxDumpFile,
  encodeCtxDumpFile,
} from "../src/format/ctx_dump_file.ts";
import { parseDumpMeta } from "../src/format/dump_meta.ts";
import {
  decodeDump,
  encodeDump,
  type GlobalCodebook,
} from "../src/format/encoded_dump.ts";
import { firstDifference } from "../src/format/first_difference.ts";
import { KvbitsFormatError } from "../src/format/format_error.ts";
import { fp16BytesOfWords } from "../src/format/fp16_tensor.ts";
import {
  globalCodebookText,
  parseGlobalCodebook,
} from "../src/format/global_codebook.ts";
import { utf8Text } from "../src/format/json_fields.ts";
import { pythonJsonDumps } from "../src/format/python_json.ts";
import {
  type CodebookMode,
  type PerStream,
  STREAM_NAMES,
  type StreamCodec,
} from "../src/format/stream_codec.ts";
import { STREAM_CODECS } from "../src/format/stream_codecs.ts";
import { findFiles } from "../src/dump/find_files.ts";
import { readInputMeta, readInputTensors } from "../src/dump/input_dump.ts";
import { KV_SAMPLE, seededRandom } from "./_helpers.ts";

/** A dump before encoding. */
interface PlainDump {
  readonly metaName: string;
  readonly metaText: string;
  readonly k: Uint16Array;
  readonly v: Uint16Array;
}

/** A dump as a bitstream folder holds it: the files decode reads, and what they must give. */
export interface FuzzBase {
  readonly codec: StreamCodec<unknown>;
  readonly mode: CodebookMode;
  readonly name: string;
  /** The per-dump meta file's bytes. */
  readonly meta: Uint8Array;
  /** Stream files by name (as the meta names them). */
  readonly streams: ReadonlyMap<string, Uint8Array>;
  /** The folder's global codebook file, for `global`. */
  readonly codebook?: Uint8Array;
  /** Another valid global codebook (of a subset of the dumps), for `global`. */
  readonly otherCodebook?: Uint8Array;
  /** The bytes decode must restore. */
  readonly original: { metaText: string; k: Uint8Array; v: Uint8Array };
}

/** One case: the files as mutated. */
export interface FuzzFiles {
  meta: Uint8Array;
  streams: Map<string, Uint8Array>;
  codebook?: Uint8Array;
}

/** How a case ended. */
export type FuzzOutcome =
  | "decoded, equal, checked"
  | "decoded, equal, unchecked (integrity key removed)"
  | "decoded, differs, unchecked (integrity key removed)"
  | "KvbitsFormatError (meta or codebook JSON)"
  | "KvbitsDataError from a table (code lengths / frequencies)"
  | "KvbitsDataError from a decoder (stream)"
  | "KvbitsDataError: count exceeds stream capacity"
  | "KvbitsDataError: global codebook missing"
  | "KvbitsDataError: global codebook CRC differs"
  | "KvbitsDataError: K/V CRC differs"
  | "KvbitsDataError: meta CRC differs"
  | "stream file missing (meta names another file)"
  | "VIOLATION";

/** What a run found. */
export interface FuzzStats {
  readonly cases: number;
  readonly seed: number;
  readonly byOutcome: Map<FuzzOutcome, number>;
  readonly byMutation: Map<string, number>;
  /**
   * Cases whose decoders returned wrong bytes without complaint, so that only a
   * checksum (K/V CRC, meta CRC, codebook CRC) stopped them.
   */
  readonly silentWrongCaughtByChecksum: number;
  /** The same, by the checksum that stopped them. */
  readonly silentWrongByChecksum: Map<FuzzOutcome, number>;
  /** Cases that ended otherwise than allowed, with what to reproduce them. */
  readonly violations: string[];
  /** Slowest case, in milliseconds, and its description. */
  readonly slowest: { ms: number; what: string };
  readonly seconds: number;
}

/** Reads the fixture dumps and adds a few synthetic edge cases. */
async function corpusDumps(): Promise<PlainDump[]> {
  const dumps: PlainDump[] = [];
  for (
    const relative of await findFiles(
      KV_SAMPLE,
      (name) => /^meta_.+\.json$/.test(name),
    )
  ) {
    const path = join(KV_SAMPLE, relative);
    const { text, meta } = await readInputMeta(path);
    const { k, v } = await readInputTensors(
      path.slice(0, path.lastIndexOf("/")),
      meta,
    );
    dumps.push({
      metaName: relative.slice(relative.lastIndexOf("/") + 1, -5),
      metaText: text,
      k,
      v,
    });
  }
  const random = seededRandom(1);
  const synthetic = (
    name: string,
    words: Uint16Array,
    seqLen: number,
    extra: Record<string, unknown> = {},
  ) => {
    const meta = {
      layer_id: 0,
      seq_start: 0,
      seq_len: seqLen,
      kv_heads: 1,
      head_dim: seqLen === 0 ? 1 : words.length / seqLen,
      bytes_per_elem: 2,
      stage: "decode",
      run_id: "fuzz",
      k_file: `k_${name}.bin`,
      v_file: `v_${name}.bin`,
      ...extra,
    };
    dumps.push({
      metaName: `meta_${name}`,
      metaText: pythonJsonDumps(meta),
      k: words,
      v: words.slice().reverse(),
    });
  };
  synthetic("empty", new Uint16Array(0), 0);
  synthetic("constant", new Uint16Array(64).fill(0x3c00), 1);
  synthetic(
    "patterns",
    Uint16Array.from({ length: 512 }, () => Math.floor(random() * 65536)),
    4,
  );
  // Not in the dumper's style: restored from the meta_text kvbits stores.
  dumps.push({
    ...dumps[dumps.length - 1],
    metaName: "meta_pretty",
    metaText: JSON.stringify(JSON.parse(dumps[dumps.length - 1].metaText)) +
      "\n",
  });
  return dumps;
}

/** The global codebook of some dumps: its file's bytes and models. */
function globalCodebookOf(
  codec: StreamCodec<unknown>,
  dumps: readonly PlainDump[],
): { bytes: Uint8Array; codebook: GlobalCodebook<unknown> } {
  const k = newFp16Histograms();
  const v = newFp16Histograms();
  for (const dump of dumps) {
    countFp16Symbols(dump.k, k);
    countFp16Symbols(dump.v, v);
  }
  const models = {
    k_hi6: codec.modelFromCounts(k.hi6, "k_hi6"),
    k_lo10: codec.modelFromCounts(k.lo10, "k_lo10"),
    v_hi6: codec.modelFromCounts(v.hi6, "v_hi6"),
    v_lo10: codec.modelFromCounts(v.lo10, "v_lo10"),
  };
  const bytes = new TextEncoder().encode(globalCodebookText(codec, models));
  return { bytes, codebook: { models, crc32: crc32(bytes) } };
}

/**
 * Encodes the corpus with every registered codec and both codebook modes.
 *
 * @returns One base per (codec, mode, dump).
 */
export async function buildFuzzBases(): Promise<FuzzBase[]> {
  const dumps = await corpusDumps();
  const bases: FuzzBase[] = [];
  for (const codec of STREAM_CODECS) {
    const global = globalCodebookOf(codec, dumps);
    // A valid codebook of other counts: every symbol of the corpus keeps a code.
    const other = globalCodebookOf(codec, [...dumps, ...dumps.slice(0, 3)]);
    for (const mode of ["per-dump", "global"] as const) {
      for (const dump of dumps) {
        const encoded = encodeDump(
          { ...dump, meta: parseDumpMeta(dump.metaText) },
          codec,
          mode === "global" ? global.codebook : undefined,
        );
        bases.push({
          codec,
          mode,
          name: dump.metaName,
          meta: encoded.meta.bytes,
          streams: new Map(encoded.streams.map((f) => [f.name, f.bytes])),
          codebook: mode === "global" ? global.bytes : undefined,
          otherCodebook: mode === "global" ? other.bytes : undefined,
          original: {
            metaText: dump.metaText,
            k: fp16BytesOfWords(dump.k).slice(),
            v: fp16BytesOfWords(dump.v).slice(),
          },
        });
      }
    }
  }
  return bases;
}

/** A file the meta names is not there (the jobs report "file not found"). */
class MissingFile extends Error {}

/**
 * Decodes a dump from its files as `readBitstreamDump` does, in memory.
 *
 * @param codec The folder's codec.
 * @param files The files.
 * @param options `trustChecksums: false` decodes without the integrity checks
 * (to see what the decoders alone return).
 * @returns The parsed meta and decoded tensors.
 */
export function decodeFiles(
  codec: StreamCodec<unknown>,
  files: FuzzFiles,
  options: { trustChecksums?: boolean } = {},
): { meta: BitstreamMeta; k: Uint8Array; v: Uint8Array; checked: boolean } {
  let meta = parseBitstreamMeta(utf8Text(files.meta, "bitstream meta"), codec);
  let global: GlobalCodebook<unknown> | undefined;
  if (meta.codebook === "global" && files.codebook !== undefined) {
    const models = parseGlobalCodebook(
      utf8Text(files.codebook, "global codebook"),
      codec,
    );
    global = { models, crc32: crc32(files.codebook) };
  }
  if (options.trustChecksums === false) {
    meta = { ...meta, integrity: undefined };
  }
  const streams = {} as PerStream<Uint8Array>;
  for (const stream of STREAM_NAMES) {
    const bytes = files.streams.get(meta.streamFiles[stream]);
    if (bytes === undefined) throw new MissingFile();
    streams[stream] = bytes;
  }
  const decoded = decodeDump(meta, streams, codec, global);
  return {
    meta,
    k: fp16BytesOfWords(decoded.k),
    v: fp16BytesOfWords(decoded.v),
    checked: decoded.integrityChecked,
  };
}

type Random = () => number;
type Mutation = (files: FuzzFiles, base: FuzzBase, random: Random) => string;

const int = (random: Random, n: number) => Math.floor(random() * n);
const pick = <T>(random: Random, items: readonly T[]): T =>
  items[int(random, items.length)];

const WRONG_VALUES: readonly unknown[] = [
  null,
  true,
  "x",
  "",
  [],
  {},
  -1,
  1.5,
  2 ** 53,
  1e308,
  "0",
  [1, 2],
];

function streamName(files: FuzzFiles, random: Random): string {
  return pick(random, [...files.streams.keys()]);
}

function mutateBytes(
  bytes: Uint8Array,
  random: Random,
): { bytes: Uint8Array; what: string } {
  const n = bytes.length;
  const kind = int(random, 10);
  switch (kind) {
    case 0:
      return {
        bytes: bytes.slice(0, int(random, n)),
        what: "truncated at random",
      };
    case 1:
      return {
        bytes: bytes.slice(0, Math.max(0, n - 1)),
        what: "truncated by one byte",
      };
    case 2: {
      const extra = Uint8Array.from(
        { length: 1 + int(random, 16) },
        () => int(random, 256),
      );
      const out = new Uint8Array(n + extra.length);
      out.set(bytes);
      out.set(extra, n);
      return { bytes: out, what: "extended with random bytes" };
    }
    case 3: {
      const out = new Uint8Array(n + 1 + int(random, 4));
      out.set(bytes);
      return { bytes: out, what: "extended with zero bytes" };
    }
    case 4:
    case 5: {
      if (n === 0) return { bytes, what: "bit flip of an empty file" };
      const out = bytes.slice();
      const flips = kind === 4 ? 1 : 2 + int(random, 15);
      for (let i = 0; i < flips; i++) {
        const bit = int(random, n * 8);
        out[bit >>> 3] ^= 0x80 >>> (bit & 7);
      }
      return {
        bytes: out,
        what: flips === 1 ? "one bit flipped" : "bits flipped",
      };
    }
    case 6: {
      if (n === 0) return { bytes, what: "byte set in an empty file" };
      const out = bytes.slice();
      out[int(random, n)] = int(random, 256);
      return { bytes: out, what: "a byte set at random" };
    }
    case 7: {
      const out = bytes.slice();
      const start = int(random, n + 1);
      out.fill(0, start, start + 1 + int(random, 64));
      return { bytes: out, what: "a range zeroed" };
    }
    case 8:
      return { bytes: new Uint8Array(0), what: "emptied" };
    default:
      return {
        bytes: Uint8Array.from({ length: n }, () => int(random, 256)),
        what: "random bytes of the same length",
      };
  }
}

/** Applies a change to the meta as a JSON object and writes it back compactly. */
function editMeta(
  files: FuzzFiles,
  edit: (fields: Record<string, unknown>) => string,
): string {
  const fields = JSON.parse(new TextDecoder().decode(files.meta)) as Record<
    string,
    unknown
  >;
  const what = edit(fields);
  files.meta = new TextEncoder().encode(JSON.stringify(fields));
  return what;
}

function tableKeys(base: FuzzBase): string[] {
  return STREAM_NAMES.map((stream) => `${stream}${base.codec.tableKeySuffix}`);
}

function mutateTable(table: unknown, random: Random): string {
  if (!Array.isArray(table)) return "table not an array";
  const used = table.flatMap((value, i) => (value > 0 ? [i] : []));
  switch (int(random, 7)) {
    case 0: {
      const i = int(random, table.length);
      table[i] = int(random, 41);
      return "one entry set at random (wrong length/frequency)";
    }
    case 1: {
      if (used.length === 0) return "no used entry to change";
      const i = pick(random, used);
      table[i] = Math.max(0, table[i] + (random() < 0.5 ? -1 : 1));
      return "one used entry off by one (Kraft / frequency change)";
    }
    case 2:
      for (const i of used) table[i] = 1;
      return "every used entry set to 1 (Kraft violation / flat frequencies)";
    case 3:
      if (used.length === 0) return "no used entry to zero";
      table[pick(random, used)] = 0;
      return "a used symbol's entry zeroed";
    case 4:
      table.length = int(random, table.length);
      return "table truncated";
    case 5:
      table.push(1);
      return "table extended";
    default:
      table[int(random, table.length)] = pick(random, WRONG_VALUES);
      return "table entry of a wrong type or range";
  }
}

/** Every mutation, by name: byte-level on streams, text and JSON level on the meta and codebook. */
const MUTATIONS: Record<string, Mutation> = {
  "stream bytes": (files, _base, random) => {
    const name = streamName(files, random);
    const { bytes, what } = mutateBytes(files.streams.get(name)!, random);
    files.streams.set(name, bytes);
    return what;
  },
  "streams swapped": (files, _base, random) => {
    const names = [...files.streams.keys()];
    const a = int(random, names.length);
    const b = (a + 1 + int(random, names.length - 1)) % names.length;
    const bytes = files.streams.get(names[a])!;
    files.streams.set(names[a], files.streams.get(names[b])!);
    files.streams.set(names[b], bytes);
    return `${names[a].slice(0, 6)} and ${names[b].slice(0, 6)}`;
  },
  "meta bytes": (files, _base, random) => {
    const { bytes, what } = mutateBytes(files.meta, random);
    files.meta = bytes;
    return what;
  },
  "meta text": (files, _base, random) => {
    const text = new TextDecoder().decode(files.meta);
    const at = int(random, text.length);
    const kind = int(random, 3);
    const inserted = pick(random, ["0", "9", '"', ",", "}", "\u00ff", " "]);
    const out = kind === 0
      ? text.slice(0, at) + text.slice(at + 1)
      : kind === 1
      ? text.slice(0, at) + inserted + text.slice(at)
      : text.slice(0, at) + inserted + text.slice(at + 1);
    files.meta = new TextEncoder().encode(out);
    return ["character deleted", "character inserted", "character replaced"][
      kind
    ];
  },
  "meta key deleted": (files, _base, random) =>
    editMeta(files, (fields) => {
      const key = pick(random, Object.keys(fields));
      delete fields[key];
      return key.replace(/^[kv]_(hi6|lo10)_/, "<stream>_");
    }),
  "meta key of a wrong type": (files, _base, random) =>
    editMeta(files, (fields) => {
      const key = pick(random, Object.keys(fields));
      fields[key] = pick(random, WRONG_VALUES);
      return key.replace(/^[kv]_(hi6|lo10)_/, "<stream>_");
    }),
  "meta count changed": (files, _base, random) =>
    editMeta(files, (fields) => {
      const key = pick(random, [
        "num_elements",
        "seq_len",
        "kv_heads",
        "head_dim",
      ]);
      const value = fields[key] as number;
      fields[key] = pick(random, [
        value + 1,
        value - 1,
        0,
        value * 2,
        2 ** 31,
        2 ** 40,
      ]);
      return key;
    }),
  "meta counts changed consistently": (files, _base, random) =>
    editMeta(files, (fields) => {
      const factor = pick(random, [0, 2, 3, 1 << 20]);
      fields.seq_len = (fields.seq_len as number) * factor;
      fields.num_elements = (fields.num_elements as number) * factor;
      return factor === 0
        ? "to zero"
        : factor > 3
        ? "to 2^20 times (capacity)"
        : "multiplied";
    }),
  "meta table": (files, base, random) =>
    editMeta(files, (fields) => {
      const present = tableKeys(base).filter((key) => key in fields);
      if (present.length === 0) {
        // A global-codebook dump: give it a table anyway, or make it per-dump.
        fields.codebook = "per-dump";
        return "codebook set to per-dump without tables";
      }
      return mutateTable(fields[pick(random, present)], random);
    }),
  "meta codebook mode": (files, _base, random) =>
    editMeta(files, (fields) => {
      fields.codebook = pick(random, ["global", "per-dump", "other"]);
      return `set to ${fields.codebook}`;
    }),
  "meta stream file name": (files, base, random) =>
    editMeta(files, (fields) => {
      const key = `${pick(random, STREAM_NAMES)}_file`;
      fields[key] = pick(random, [
        ...base.streams.keys(),
        "missing.huff",
        "../outside.huff",
        "/abs.huff",
        "",
        "a/../../b",
      ]);
      return `${key.slice(0, 6)} -> ${fields[key]}`.replace(
        /_meta_.*$/,
        "_<dump>",
      );
    }),
  "meta kvbits record": (files, _base, random) =>
    editMeta(files, (fields) => {
      const kvbits = fields.kvbits as Record<string, unknown>;
      const kind = int(random, 8);
      switch (kind) {
        case 0: {
          const key = pick(random, ["k_crc32", "v_crc32", "meta_crc32"]);
          kvbits[key] = ((kvbits[key] as number) ^ (1 << int(random, 32))) >>>
            0;
          return `${key} bit flipped`;
        }
        case 1:
          if (kvbits.codebook_crc32 === undefined) {
            kvbits.codebook_crc32 = 12345;
            return "codebook_crc32 added";
          }
          kvbits.codebook_crc32 = (kvbits.codebook_crc32 as number) + 1;
          return "codebook_crc32 changed";
        case 2:
          kvbits.format = 2;
          return "format 2";
        case 3:
          delete fields.kvbits;
          return "kvbits key removed (reference-like)";
        case 4:
          fields.kvbits = pick(random, WRONG_VALUES);
          return "kvbits of a wrong type";
        case 5: {
          const key = pick(random, Object.keys(kvbits));
          delete kvbits[key];
          return `kvbits.${key} removed`;
        }
        case 6:
          kvbits.meta_text = typeof kvbits.meta_text === "string"
            ? (kvbits.meta_text as string).replace(/\d/, "7")
            : '{"layer_id": 0}';
          return "meta_text changed or added";
        default:
          kvbits[pick(random, ["k_crc32", "v_crc32", "meta_crc32"])] = pick(
            random,
            WRONG_VALUES,
          );
          return "a checksum of a wrong type";
      }
    }),
  "meta input key changed": (files, _base, random) =>
    editMeta(files, (fields) => {
      const kind = int(random, 5);
      switch (kind) {
        case 0:
          fields.layer_id = (fields.layer_id as number) + 1;
          return "layer_id + 1";
        case 1:
          fields.stage = fields.stage === "decode" ? "prefill" : "decode";
          return "stage swapped";
        case 2:
          fields.k_file = "k_renamed.bin";
          return "k_file renamed";
        case 3:
          fields.extra_key = 1;
          return "unknown key added";
        default: {
          const entries = Object.entries(fields);
          const i = int(random, entries.length - 1);
          [entries[i], entries[i + 1]] = [entries[i + 1], entries[i]];
          for (const key of Object.keys(fields)) delete fields[key];
          Object.assign(fields, Object.fromEntries(entries));
          return "two keys reordered";
        }
      }
    }),
  "codebook": (files, base, random) => {
    if (files.codebook === undefined) {
      files.codebook = base.otherCodebook ??
        new TextEncoder().encode('{"codebook":"global"}');
      return "codebook file added to a per-dump folder";
    }
    const kind = int(random, 5);
    switch (kind) {
      case 0:
        files.codebook = undefined;
        return "codebook file deleted";
      case 1:
        files.codebook = base.otherCodebook;
        return "replaced by another valid codebook";
      case 2: {
        const fields = JSON.parse(new TextDecoder().decode(files.codebook));
        const what = mutateTable(fields[pick(random, tableKeys(base))], random);
        files.codebook = new TextEncoder().encode(JSON.stringify(fields));
        return what;
      }
      case 3: {
        const fields = JSON.parse(new TextDecoder().decode(files.codebook));
        fields.codebook = pick(random, ["per-dump", 1, null]);
        files.codebook = new TextEncoder().encode(JSON.stringify(fields));
        return "codebook key changed";
      }
      default: {
        const { bytes, what } = mutateBytes(files.codebook, random);
        files.codebook = bytes;
        return what;
      }
    }
  },
};

/** Mutation names with weights: streams and meta JSON get most cases. */
const MUTATION_WEIGHTS: readonly [string, number][] = [
  ["stream bytes", 30],
  ["streams swapped", 3],
  ["meta bytes", 6],
  ["meta text", 6],
  ["meta key deleted", 5],
  ["meta key of a wrong type", 5],
  ["meta count changed", 6],
  ["meta counts changed consistently", 4],
  ["meta table", 10],
  ["meta codebook mode", 3],
  ["meta stream file name", 4],
  ["meta kvbits record", 8],
  ["meta input key changed", 5],
  ["codebook", 8],
];

function pickMutation(random: Random): string {
  const total = MUTATION_WEIGHTS.reduce((sum, [, weight]) => sum + weight, 0);
  let at = random() * total;
  for (const [name, weight] of MUTATION_WEIGHTS) {
    if ((at -= weight) < 0) return name;
  }
  return MUTATION_WEIGHTS[0][0];
}

/**
 * Applies one to three random mutations to a copy of a base's files.
 *
 * @param base The base.
 * @param random The case's random numbers.
 * @returns The mutated files and a description of what was done.
 */
export function mutate(
  base: FuzzBase,
  random: Random,
): { files: FuzzFiles; names: string[]; what: string } {
  const files: FuzzFiles = {
    meta: base.meta.slice(),
    streams: new Map(base.streams),
    codebook: base.codebook,
  };
  const count = random() < 0.75 ? 1 : random() < 0.7 ? 2 : 3;
  const names: string[] = [];
  const details: string[] = [];
  for (let i = 0; i < count; i++) {
    const name = pickMutation(random);
    try {
      details.push(`${name}: ${MUTATIONS[name](files, base, random)}`);
    } catch {
      // A JSON-level mutation after a byte-level one that broke the JSON.
      details.push(`${name}: not applicable`);
    }
    names.push(name);
  }
  return { files, names, what: details.join("; ") };
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return firstDifference(a, b) === -1;
}

/** Sorts an error into an outcome, or undefined when it is not allowed. */
function outcomeOfError(error: unknown): FuzzOutcome | undefined {
  if (error instanceof MissingFile) {
    return "stream file missing (meta names another file)";
  }
  if (error instanceof KvbitsFormatError) {
    return "KvbitsFormatError (meta or codebook JSON)";
  }
  if (!(error instanceof KvbitsDataError)) return undefined;
  const detail = error.detail;
  if (/^decoded (K|V) has CRC-32/.test(detail)) {
    return "KvbitsDataError: K/V CRC differs";
  }
  if (/^(decoded|restored) meta has CRC-32/.test(detail)) {
    return "KvbitsDataError: meta CRC differs";
  }
  if (/coded with a different/.test(detail)) {
    return "KvbitsDataError: global codebook CRC differs";
  }
  if (/uses the global codebook but/.test(detail)) {
    return "KvbitsDataError: global codebook missing";
  }
  if (/cannot hold the \d+ symbols/.test(detail)) {
    return "KvbitsDataError: count exceeds stream capacity";
  }
  if (error.bitOffset === undefined) {
    return "KvbitsDataError from a table (code lengths / frequencies)";
  }
  return "KvbitsDataError from a decoder (stream)";
}

const CHECKSUM_OUTCOMES: ReadonlySet<FuzzOutcome> = new Set([
  "KvbitsDataError: K/V CRC differs",
  "KvbitsDataError: meta CRC differs",
  "KvbitsDataError: global codebook CRC differs",
]);

/**
 * Runs `cases` seeded cases over the bases.
 *
 * @param bases From {@link buildFuzzBases}.
 * @param cases Number of cases.
 * @param seed Seed of the case sequence; case `i` uses seed `seed + i`, so one
 * case can be replayed alone.
 * @returns Statistics and violations.
 */
export function runFuzz(
  bases: readonly FuzzBase[],
  cases: number,
  seed: number,
): FuzzStats {
  const started = performance.now();
  const byOutcome = new Map<FuzzOutcome, number>();
  const byMutation = new Map<string, number>();
  const violations: string[] = [];
  let silentWrong = 0;
  const silentWrongByChecksum = new Map<FuzzOutcome, number>();
  let slowest = { ms: 0, what: "" };
  for (let i = 0; i < cases; i++) {
    const random = seededRandom(seed + i);
    const base = bases[int(random, bases.length)];
    const { files, names, what } = mutate(base, random);
    const label = `case seed ${
      seed + i
    }: ${base.codec.name} ${base.mode} ${base.name}: ${what}`;
    for (const name of names) {
      byMutation.set(name, (byMutation.get(name) ?? 0) + 1);
    }
    const caseStarted = performance.now();
    let outcome: FuzzOutcome;
    try {
      const result = decodeFiles(base.codec, files);
      const equal = result.meta.inputText === base.original.metaText &&
        equalBytes(result.k, base.original.k) &&
        equalBytes(result.v, base.original.v);
      if (result.checked) {
        outcome = equal ? "decoded, equal, checked" : "VIOLATION";
        if (!equal) violations.push(`${label}: wrong bytes passed the checks`);
      } else {
        outcome = equal
          ? "decoded, equal, unchecked (integrity key removed)"
          : "decoded, differs, unchecked (integrity key removed)";
      }
    } catch (error) {
      const sorted = outcomeOfError(error);
      if (sorted === undefined) {
        outcome = "VIOLATION";
        violations.push(
          `${label}: untyped ${(error as Error)?.name}: ${
            (error as Error)?.message
          }`,
        );
      } else {
        outcome = sorted;
        if (
          CHECKSUM_OUTCOMES.has(sorted) && decodesWithoutChecks(base, files)
        ) {
          silentWrong++;
          silentWrongByChecksum.set(
            sorted,
            (silentWrongByChecksum.get(sorted) ?? 0) + 1,
          );
        }
      }
    }
    const ms = performance.now() - caseStarted;
    if (ms > slowest.ms) slowest = { ms, what: label };
    byOutcome.set(outcome, (byOutcome.get(outcome) ?? 0) + 1);
  }
  return {
    cases,
    seed,
    byOutcome,
    byMutation,
    silentWrongCaughtByChecksum: silentWrong,
    silentWrongByChecksum,
    violations,
    slowest,
    seconds: (performance.now() - started) / 1000,
  };
}

/**
 * True when the decoders alone (checksums ignored, the recorded codebook taken
 * as the folder's) return wrong bytes for these files without an error: the
 * checksum was the only thing that caught the corruption.
 */
function decodesWithoutChecks(base: FuzzBase, files: FuzzFiles): boolean {
  try {
    const result = decodeFiles(base.codec, files, { trustChecksums: false });
    return !(
      result.meta.inputText === base.original.metaText &&
      equalBytes(result.k, base.original.k) &&
      equalBytes(result.v, base.original.v)
    );
  } catch {
    return false;
  }
}

/**
 * A report of a run for people: outcomes, mutations, silent corruptions caught.
 *
 * @param stats A run's statistics.
 * @param codecs The codecs it covered.
 * @returns Lines of text.
 */
export function fuzzReport(
  stats: FuzzStats,
  codecs: readonly string[] = STREAM_CODECS.map((codec) => codec.name),
): string {
  const lines = [
    `fuzz: ${stats.cases} cases (seed ${stats.seed}) over ${
      codecs.join(", ")
    } in ${stats.seconds.toFixed(1)} s; slowest case ${
      stats.slowest.ms.toFixed(1)
    } ms`,
    `slowest: ${stats.slowest.what}`,
    "outcomes:",
    ...[...stats.byOutcome].sort((a, b) => b[1] - a[1]).map(([name, n]) =>
      `  ${String(n).padStart(7)}  ${name}`
    ),
    "mutations applied:",
    ...[...stats.byMutation].sort((a, b) => b[1] - a[1]).map(([name, n]) =>
      `  ${String(n).padStart(7)}  ${name}`
    ),
    `decoded to wrong bytes with no decoder error, stopped only by a checksum: ${stats.silentWrongCaughtByChecksum} (${
      (100 * stats.silentWrongCaughtByChecksum / stats.cases).toFixed(1)
    }% of cases)`,
    ...[...stats.silentWrongByChecksum].map(([name, n]) =>
      `  ${String(n).padStart(7)}  ${name.replace("KvbitsDataError: ", "")}`
    ),
    `violations: ${stats.violations.length}`,
    ...stats.violations.slice(0, 20).map((line) => `  ${line}`),
  ];
  return lines.join("\n");
}

/** A dump as a `ctx` folder holds it: one `.kvc` file, and what it must give. */
export interface CtxFuzzBase {
  /** The input meta name (the file is `<name>.kvc`). */
  readonly name: string;
  /** The file's bytes. */
  readonly file: Uint8Array;
  /** Where its payload starts (after the header and meta section). */
  readonly payloadOffset: number;
  /** The bytes decode must restore. */
  readonly original: { metaText: string; k: Uint8Array; v: Uint8Array };
}

/**
 * Encodes the corpus (fixture dumps and synthetic edge cases) as `.kvc` files.
 *
 * @returns One base per dump.
 */
export async function buildCtxFuzzBases(): Promise<CtxFuzzBase[]> {
  return (await corpusDumps()).map((dump) => {
    const encoded = encodeCtxDumpFile({
      ...dump,
      meta: parseDumpMeta(dump.metaText),
    });
    return {
      name: dump.metaName,
      file: encoded.bytes,
      payloadOffset: encoded.metaBytes,
      original: {
        metaText: dump.metaText,
        k: fp16BytesOfWords(dump.k).slice(),
        v: fp16BytesOfWords(dump.v).slice(),
      },
    };
  });
}

type CtxMutation = (
  file: Uint8Array,
  base: CtxFuzzBase,
  bases: readonly CtxFuzzBase[],
  random: Random,
) => { file: Uint8Array; what: string };

/** Changes bytes in `[from, to)` of a copy of `file`: bit flips, a set byte, a zeroed run. */
function mutateRange(
  file: Uint8Array,
  from: number,
  to: number,
  random: Random,
): { file: Uint8Array; what: string } {
  const out = file.slice();
  if (to <= from) return { file: out, what: "empty range, unchanged" };
  switch (int(random, 4)) {
    case 0: {
      const bit = 8 * from + int(random, 8 * (to - from));
      out[bit >>> 3] ^= 0x80 >>> (bit & 7);
      return { file: out, what: "one bit flipped" };
    }
    case 1: {
      const flips = 2 + int(random, 15);
      for (let i = 0; i < flips; i++) {
        const bit = 8 * from + int(random, 8 * (to - from));
        out[bit >>> 3] ^= 0x80 >>> (bit & 7);
      }
      return { file: out, what: "bits flipped" };
    }
    case 2:
      out[from + int(random, to - from)] = int(random, 256);
      return { file: out, what: "a byte set at random" };
    default: {
      const start = from + int(random, to - from);
      out.fill(0, start, Math.min(to, start + 1 + int(random, 64)));
      return { file: out, what: "a range zeroed" };
    }
  }
}

/** Every mutation of a `.kvc` file, by name. */
const CTX_MUTATIONS: Record<string, CtxMutation> = {
  "file bytes": (file, _base, _bases, random) => {
    const { bytes, what } = mutateBytes(file, random);
    return { file: bytes, what };
  },
  "header and meta bytes": (file, base, _bases, random) =>
    mutateRange(file, 0, Math.min(base.payloadOffset, file.length), random),
  "payload bytes": (file, base, _bases, random) =>
    mutateRange(file, base.payloadOffset, file.length, random),
  // The repeat lists, predictors and stream length: small varints.
  "payload plan": (file, base, _bases, random) => {
    const out = file.slice();
    if (base.payloadOffset >= out.length) {
      return { file: out, what: "no payload" };
    }
    const at = base.payloadOffset +
      int(random, Math.min(8, out.length - base.payloadOffset));
    const delta = pick(random, [-2, -1, 1, 2, 64, 128]);
    out[at] = (out[at] + delta) & 0xff;
    return { file: out, what: `a plan byte ${delta > 0 ? "+" : ""}${delta}` };
  },
  "payload of another dump": (file, base, bases, random) => {
    const other = pick(random, bases);
    const out = new Uint8Array(
      base.payloadOffset + other.file.length - other.payloadOffset,
    );
    out.set(file.subarray(0, base.payloadOffset));
    out.set(other.file.subarray(other.payloadOffset), base.payloadOffset);
    return {
      file: out,
      what: other === base ? "its own payload" : "another dump's payload",
    };
  },
};

const CTX_MUTATION_WEIGHTS: readonly [string, number][] = [
  ["file bytes", 25],
  ["header and meta bytes", 15],
  ["payload bytes", 40],
  ["payload plan", 15],
  ["payload of another dump", 5],
];

/**
 * Runs `cases` seeded cases over `.kvc` files: one to three mutations each,
 * decoded as the jobs decode them. A decode must restore the exact dump or end
 * in a typed error; a `.kvc` decode is always checked.
 *
 * @param bases From {@link buildCtxFuzzBases}.
 * @param cases Number of cases.
 * @param seed Seed of the case sequence (case `i` uses `seed + i`).
 * @returns Statistics and violations.
 */
export function runCtxFuzz(
  bases: readonly CtxFuzzBase[],
  cases: number,
  seed: number,
): FuzzStats {
  const started = performance.now();
  const byOutcome = new Map<FuzzOutcome, number>();
  const byMutation = new Map<string, number>();
  const violations: string[] = [];
  let silentWrong = 0;
  const silentWrongByChecksum = new Map<FuzzOutcome, number>();
  let slowest = { ms: 0, what: "" };
  const total = CTX_MUTATION_WEIGHTS.reduce((sum, [, w]) => sum + w, 0);
  for (let i = 0; i < cases; i++) {
    const random = seededRandom(seed + i);
    const base = bases[int(random, bases.length)];
    let file = base.file;
    const details: string[] = [];
    const count = random() < 0.75 ? 1 : random() < 0.7 ? 2 : 3;
    for (let m = 0; m < count; m++) {
      let at = random() * total;
      let name = CTX_MUTATION_WEIGHTS[0][0];
      for (const [candidate, weight] of CTX_MUTATION_WEIGHTS) {
        if ((at -= weight) < 0) {
          name = candidate;
          break;
        }
      }
      const mutated = CTX_MUTATIONS[name](file, base, bases, random);
      file = mutated.file;
      details.push(`${name}: ${mutated.what}`);
      byMutation.set(name, (byMutation.get(name) ?? 0) + 1);
    }
    const label = `case seed ${seed + i}: ctx ${base.name}: ${
      details.join("; ")
    }`;
    const caseStarted = performance.now();
    let outcome: FuzzOutcome;
    try {
      const decoded = decodeCtxDumpFile(file, base.name);
      const equal = decoded.inputText === base.original.metaText &&
        equalBytes(fp16BytesOfWords(decoded.k), base.original.k) &&
        equalBytes(fp16BytesOfWords(decoded.v), base.original.v);
      outcome = equal ? "decoded, equal, checked" : "VIOLATION";
      if (!equal) violations.push(`${label}: wrong bytes passed the checks`);
    } catch (error) {
      const sorted = outcomeOfError(error);
      if (sorted === undefined) {
        outcome = "VIOLATION";
        violations.push(
          `${label}: untyped ${(error as Error)?.name}: ${
            (error as Error)?.message
          }`,
        );
      } else {
        outcome = sorted;
        // The checksums of a .kvc file are checked after its decoders returned
        // without complaint: a checksum error is a silent corruption caught.
        if (CHECKSUM_OUTCOMES.has(sorted)) {
          silentWrong++;
          silentWrongByChecksum.set(
            sorted,
            (silentWrongByChecksum.get(sorted) ?? 0) + 1,
          );
        }
      }
    }
    const ms = performance.now() - caseStarted;
    if (ms > slowest.ms) slowest = { ms, what: label };
    byOutcome.set(outcome, (byOutcome.get(outcome) ?? 0) + 1);
  }
  return {
    cases,
    seed,
    byOutcome,
    byMutation,
    silentWrongCaughtByChecksum: silentWrong,
    silentWrongByChecksum,
    violations,
    slowest,
    seconds: (performance.now() - started) / 1000,
  };
}
