/**
 * The work of the folder jobs on one dump, as messages: what a worker (or the
 * job's own thread, with `--jobs 1`) is asked to do with a dump and what it
 * answers. The jobs find and select the dumps, hand each to a lane of a
 * {@link DumpTaskLane} pool (see worker_pool.ts) and add up the answers; every
 * file of a dump is read and written by the lane that handles it.
 *
 * Why messages and not functions: a task and its reply cross between threads by
 * structured clone, so they hold only plain data (paths, meta text, codebook
 * text, counts); histograms travel back as transferred buffers. A lane is set up
 * once per phase (codec, global codebook, folders) and then handles tasks one at
 * a time, in the order given; a task carries a batch of dumps (a message costs
 * more than coding a single-token dump), and its reply one result per dump.
 *
 * Why the output does not depend on the number of lanes: each dump's files are
 * a function of the dump and of the set-up alone, and the global codebook comes
 * from integer counts, whose sum is the same in any order.
 *
 * Every codec runs here the same way: the set-up names the codec, the lane looks
 * it up in the registry (`codecNamed`, so a worker needs nothing else), encodes
 * a dump into the files of its layout (`Layout.encodeDump`) and reads one back
 * with `readBitstreamDump`.
 *
 * Writing follows the protocol of `src/dump/` (see write_dump_files.ts): a
 * dump's old marker removed before its new files, the marker last, through a
 * temporary file. encode writes a dump's other files in place and flushes
 * nothing (the job flushes everything once at its end, then writes the
 * manifest); decode writes every file through a temporary file and, when
 * `durable`, flushes them and the folder before the marker. The job holds the
 * output folder's lock and removes what killed runs left.
 *
 * @module
 */

import { basename, dirname, join } from "../dump/path.ts";
import { crc32 } from "../codec/crc32.ts";
import {
  countFp16Symbols,
  type Fp16Histograms,
  newFp16Histograms,
} from "../codec/histogram.ts";
import { type Codec, codecNamed } from "../format/codecs.ts";
import { type DumpMeta, parseDumpMeta } from "../format/dump_meta.ts";
import { fp16BytesOfWords } from "../format/fp16_tensor.ts";
import type { CodebookMode } from "../format/stream_codec.ts";
import { fileErrorOf, KvbitsFileError } from "../dump/file_error.ts";
import {
  missingTensorReason,
  readInputMeta,
  readInputTensors,
} from "../dump/input_dump.ts";
import { pathExistsSync } from "../dump/path_exists.ts";
import { FolderListing } from "../dump/folder_listing.ts";
import {
  type FileReader,
  readBoundedFileSync,
  readFileSync,
  RegularFiles,
  reusedFileReader,
} from "../dump/read_file.ts";
import { firstDifference } from "../format/first_difference.ts";
import { writeFilesThenMarker } from "../dump/write_dump_files.ts";
import { type BitstreamFolder, readBitstreamDump } from "./bitstream_folder.ts";
import { mentionOption } from "./job_error.ts";
import type { DumpOutcome } from "./job_report.ts";
import { compareWithOriginal } from "./original_dump.ts";
import {
  type DumpSelection,
  SELECT_ALL,
  selectionSkipReason,
  tensorNamingAMeta,
} from "./dump_selection.ts";

const OVERWRITE = mentionOption("overwrite");

/** A dump to count or encode: where its meta is, and the meta's text. */
export interface DumpToCode {
  /** The meta file, relative to the dump folder. */
  readonly relativePath: string;
  /**
   * The meta file's text, when a lane read it already (in the count pass):
   * without it the lane reads the meta and applies the selection itself.
   */
  readonly metaText?: string;
}

/** Sets a lane up for counting and encoding a dump folder. */
export interface EncodeSetupTask {
  readonly kind: "encode-setup";
  /** The `--codec` name. */
  readonly codec: string;
  /** The dump folder. */
  readonly dumpDir: string;
  /** The bitstream folder. */
  readonly outDir: string;
  /** Replace existing outputs. */
  readonly overwrite: boolean;
  /** `--codebook`: an existing dump coded otherwise is not skipped. */
  readonly codebook: CodebookMode;
  /** The selection flags (default: every dump). */
  readonly selection?: DumpSelection;
  /** Flush every file to the disk before the marker of its dump. */
  readonly durable: boolean;
  /** The shared file's bytes (a global codebook), for a `global` run (after counting). */
  readonly sharedBytes?: Uint8Array;
  /**
   * An earlier run into the folder was interrupted (its manifest is
   * incomplete): a dump whose marker exists is decoded and checked before it is
   * kept, since a power cut may have left its files incomplete.
   */
  readonly checkExisting?: boolean;
}

/** Counts the symbols of some dumps (pass 1 of a global codebook). */
export interface CountTask {
  readonly kind: "count";
  readonly dumps: readonly DumpToCode[];
}

/** Encodes some dumps and writes their files. */
export interface EncodeTask {
  readonly kind: "encode";
  readonly dumps: readonly DumpToCode[];
}

/** Sets a lane up for decoding (or verifying) a bitstream folder. */
export interface DecodeSetupTask {
  readonly kind: "decode-setup";
  /** The bitstream folder. */
  readonly bitstreamDir: string;
  /** The `--codec` name of its layout. */
  readonly codec: string;
  /** Its shared file's bytes (a global codebook), when it has a valid one. */
  readonly sharedBytes?: Uint8Array;
  /** Why the shared file cannot be used, when it is bad. */
  readonly globalProblem?: string;
  /** Where to restore the dumps, if anywhere. */
  readonly outDir?: string;
  /** The original dump folder to compare with, if any. */
  readonly origDumpDir?: string;
  /** Replace dumps already restored. */
  readonly overwrite: boolean;
  /** Flush every file to the disk before the meta of its dump. */
  readonly durable: boolean;
  /**
   * CRC-32 of each dump's marker file by its relative path, from the folder's
   * manifest: a marker that differs fails before anything is written.
   */
  readonly expectedCrc32?: Readonly<Record<string, number>>;
}

/** Decodes some dumps, checks them and writes them when asked to. */
export interface DecodeTask {
  readonly kind: "decode";
  /** The dumps' meta files, relative to the bitstream folder. */
  readonly metaFiles: readonly string[];
}

/** Everything a lane can be asked. */
export type DumpTask =
  | EncodeSetupTask
  | CountTask
  | EncodeTask
  | DecodeSetupTask
  | DecodeTask;

/** A set-up is done. */
export interface SetUpReply {
  readonly kind: "set-up";
}

/**
 * A dump's symbols were counted (or could not be). The counts themselves travel
 * once per task, summed over its dumps, in {@link DoneReply.counts}: one pair of
 * histograms per dump (17 KiB) would make the job's memory grow with the folder.
 */
export interface CountedResult {
  readonly kind: "counted";
  /**
   * The outcome of a dump that is not selected: its meta cannot be read, the
   * selection flags skip it, or a tensor file is missing. Then it adds no
   * counts, and none of the fields below are set.
   */
  readonly unselected?: DumpOutcome;
  /** The meta's text, for the encode pass. */
  readonly metaText?: string;
  /** Why the dump cannot be read, when it cannot; then it adds no counts. */
  readonly failure?: string;
  /** K and V bytes counted. */
  readonly bytes: number;
}

/** Symbol counts of K and of V, summed over a count task's readable dumps. */
export interface BatchCounts {
  /** Histograms of K. */
  readonly k: Fp16Histograms;
  /** Histograms of V. */
  readonly v: Fp16Histograms;
}

/** What encoding a dump did. */
export interface EncodedResult {
  readonly kind: "encoded";
  readonly outcome: DumpOutcome;
  /**
   * The dump was selected: its meta was read, the selection flags took it and
   * its tensor files exist.
   */
  readonly selected: boolean;
  /** K and V bytes encoded (0 unless done). */
  readonly rawBytes: number;
  /** Stream bytes written. */
  readonly streamBytes: number;
  /** Meta bytes written. */
  readonly metaBytes: number;
  /** CRC-32 of the dump's marker file as written (when done). */
  readonly markerCrc32?: number;
  /** Paths of the files written, for the job to flush at its end. */
  readonly written?: readonly string[];
}

/** What decoding a dump did. */
export interface DecodedResult {
  readonly kind: "decoded";
  readonly outcome: DumpOutcome;
  /** The tensors matched kvbits' recorded checksums. */
  readonly byChecksum: boolean;
  /** The dump equals its originals. */
  readonly againstOriginals: boolean;
  /** Decoded, but nothing could confirm it. */
  readonly unchecked: boolean;
  /** K and V bytes decoded. */
  readonly rawBytes: number;
  /** Stream bytes read. */
  readonly streamBytes: number;
  /** Meta bytes read. */
  readonly metaBytes: number;
}

/** What happened to one dump of a task. */
export type DumpResult = CountedResult | EncodedResult | DecodedResult;

/** The results of a task's dumps, in the task's order. */
export interface DoneReply {
  readonly kind: "done";
  readonly results: readonly DumpResult[];
  /** For a count task: the counts of all its readable dumps. */
  readonly counts?: BatchCounts;
}

/**
 * The lane died while handling the task (a worker that crashed): the dump it
 * was on failed. (The pool runs the task's dumps again one by one, so that only
 * the dump at fault is reported lost.)
 */
export interface LostReply {
  readonly kind: "lost";
  /** What the worker said, one line. */
  readonly reason: string;
}

/** Everything a lane can answer. */
export type DumpTaskReply = SetUpReply | DoneReply | LostReply;

/**
 * The buffers a reply can hand over instead of copying: the histograms.
 *
 * @param reply A reply.
 * @returns The buffers to transfer with it.
 *
 * @example
 * ```ts
 * import { transferablesOf } from "./dump_tasks.ts";
 * import { newFp16Histograms } from "../codec/histogram.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const counts = { k: newFp16Histograms(), v: newFp16Histograms() };
 * const results = [{ kind: "counted", bytes: 0 }] as const;
 * assertEquals(transferablesOf({ kind: "done", results, counts }).length, 2);
 * assertEquals(transferablesOf({ kind: "set-up" }), []);
 * ```
 */
export function transferablesOf(reply: DumpTaskReply): ArrayBuffer[] {
  if (reply.kind !== "done" || !reply.counts) return [];
  const { k, v } = reply.counts;
  // Each once: a histogram's two planes may share a buffer.
  return [
    ...new Set(
      [k.hi6, k.lo10, v.hi6, v.lo10].map((array) =>
        array.buffer as ArrayBuffer
      ),
    ),
  ];
}

/** A lane's encode set-up, resolved. */
interface EncodeState {
  readonly task: EncodeSetupTask;
  readonly codec: Codec;
  readonly global?: unknown;
}

/** A lane's decode set-up, resolved. */
interface DecodeState {
  readonly task: DecodeSetupTask;
  readonly folder: BitstreamFolder;
}

function codecOfSetUp(name: string): Codec {
  const codec = codecNamed(name);
  if (!codec) throw new Error(`Cannot set up a lane: no codec ${name}`);
  // One lane codes its dumps one after another: one working memory for all.
  return codec.withScratch?.() ?? codec;
}

/** The shared file a set-up carries, opened by its codec. */
function sharedOfSetUp(codec: Codec, bytes: Uint8Array | undefined): unknown {
  return bytes === undefined ? undefined : codec.sharedFile?.open(bytes);
}

/**
 * One lane: handles dump tasks one at a time, with its own read buffers and
 * output-folder cache. A worker holds one; `--jobs 1` runs one in the job's
 * thread.
 *
 * @example Counting a fixture dump in the job's own thread
 * ```ts
 * import { DumpTaskLane } from "./dump_tasks.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const dumpDir = new URL("../../fixtures/kv-sample", import.meta.url).pathname;
 * const relativePath = "llama6L-kjv-ruth/layer_0/meta_t0_128.json";
 * const metaText = await Deno.readTextFile(`${dumpDir}/${relativePath}`);
 * const lane = new DumpTaskLane();
 * await lane.run({ kind: "encode-setup", codec: "huffman", dumpDir, outDir: "unused", overwrite: false, codebook: "global", durable: false });
 * const reply = await lane.run({ kind: "count", dumps: [{ relativePath, metaText }] });
 * const result = reply.kind === "done" ? reply.results[0] : undefined;
 * assertEquals(result?.kind === "counted" && result.bytes, 2 * 128 * 2 * 64 * 2);
 * ```
 */
export class DumpTaskLane {
  /**
   * The regular files of the input folders, listed once a run: a dump's meta
   * and tensors are read without a `stat` each.
   */
  readonly #listed = new RegularFiles();
  readonly #read = reusedFileReader(this.#listed);
  /** Output folders this lane made or found: each is made once. */
  readonly #folders = new Set<string>();
  /** What output files exist, from a listing of each folder. */
  readonly #outputs = new FolderListing();
  /** Tensors read by the count pass, kept for the encode pass. */
  readonly #counted = new CountedTensors(this.#listed);
  #encode?: EncodeState;
  #decode?: DecodeState;

  /**
   * Handles one task, its dumps one after the other. Problems with a dump's
   * files or data come back in its result (a failed outcome); only a bug in
   * kvbits throws.
   *
   * @param task The task.
   * @returns The reply.
   */
  async run(task: DumpTask): Promise<DumpTaskReply> {
    switch (task.kind) {
      case "encode-setup": {
        // A run's first set-up; its second brings the codebook of what the
        // count pass kept.
        if (task.sharedBytes === undefined) {
          this.#counted.clear();
          this.#listed.clear();
        }
        const codec = codecOfSetUp(task.codec);
        this.#encode = {
          task,
          codec,
          global: sharedOfSetUp(codec, task.sharedBytes),
        };
        return { kind: "set-up" };
      }
      case "count": {
        const counts = { k: newFp16Histograms(), v: newFp16Histograms() };
        const results: DumpResult[] = [];
        for (const dump of task.dumps) {
          results.push(await this.#count(dump, counts));
        }
        return { kind: "done", results, counts };
      }
      case "encode": {
        const results: DumpResult[] = [];
        for (const dump of task.dumps) {
          results.push(await this.#encodeOne(dump));
        }
        return { kind: "done", results };
      }
      case "decode-setup":
        this.#decode = { task, folder: folderOf(task) };
        return { kind: "set-up" };
      case "decode": {
        const results: DumpResult[] = [];
        for (const metaFile of task.metaFiles) {
          results.push(await this.#decodeOne(metaFile));
        }
        return { kind: "done", results };
      }
    }
  }

  #encodeState(): EncodeState {
    if (!this.#encode) throw new Error("Cannot encode: the lane is not set up");
    return this.#encode;
  }

  async #count(dump: DumpToCode, into: BatchCounts): Promise<CountedResult> {
    const { task } = this.#encodeState();
    const selected = await this.#select(dump);
    if ("status" in selected) {
      return { kind: "counted", unselected: selected, bytes: 0 };
    }
    const { metaText, meta } = selected;
    const folder = dirname(join(task.dumpDir, dump.relativePath));
    try {
      // Into the keeper's buffers when they may be kept, else the lane's.
      const keep = this.#counted.hasRoom();
      const tensors = await readInputTensors(
        folder,
        meta,
        keep ? this.#counted.read : this.#read,
      );
      countFp16Symbols(tensors.k, into.k);
      countFp16Symbols(tensors.v, into.v);
      if (keep) {
        this.#counted.keep(dump.relativePath, { ...tensors, metaText, meta });
      }
      return {
        kind: "counted",
        metaText,
        bytes: tensors.k.byteLength + tensors.v.byteLength,
      };
    } catch (error) {
      const missing = missingTensorOutcome(
        dump.relativePath,
        folder,
        meta,
        error,
      );
      return missing ? { kind: "counted", unselected: missing, bytes: 0 } : {
        kind: "counted",
        metaText,
        bytes: 0,
        failure: fileErrorOf(dump.relativePath, error).message,
      };
    }
  }

  /**
   * Reads a dump's meta (unless the task carries its text) and applies the
   * selection flags: the meta, or the outcome of a dump not selected.
   */
  async #select(
    dump: DumpToCode,
  ): Promise<{ metaText: string; meta: DumpMeta } | DumpOutcome> {
    const { task } = this.#encodeState();
    const relativePath = dump.relativePath;
    const metaPath = join(task.dumpDir, relativePath);
    try {
      const { text, meta } = dump.metaText === undefined
        ? await readInputMeta(metaPath, this.#read)
        : { text: dump.metaText, meta: parseDumpMeta(dump.metaText) };
      const clash = tensorNamingAMeta(meta);
      if (clash !== undefined) throw new Error(clash);
      const skip = selectionSkipReason(meta, task.selection ?? SELECT_ALL);
      if (skip !== undefined) {
        return { dump: relativePath, status: "skipped", reason: skip };
      }
      return { metaText: text, meta };
    } catch (error) {
      return {
        dump: relativePath,
        status: "failed",
        reason: fileErrorOf(metaPath, error).message,
      };
    }
  }

  async #encodeOne(dump: DumpToCode): Promise<EncodedResult> {
    const { task, codec, global } = this.#encodeState();
    const relativePath = dump.relativePath;
    const metaName = basename(relativePath).replace(/\.json$/, "");
    const outFolder = join(task.outDir, dirname(relativePath));
    const metaOut = join(outFolder, codec.markerFileName(metaName));
    const nothing = { rawBytes: 0, streamBytes: 0, metaBytes: 0 };
    // A dump this lane counted was read and selected then: kept as it was.
    const kept = this.#counted.take(relativePath);
    const selected = kept ?? await this.#select(dump);
    if ("status" in selected) {
      return {
        kind: "encoded",
        outcome: selected,
        selected: false,
        ...nothing,
      };
    }
    const { metaText, meta } = selected;
    const folder = dirname(join(task.dumpDir, relativePath));
    try {
      const exists = !task.overwrite && this.#outputs.exists(metaOut);
      let problem = "";
      if (exists) {
        try {
          const difference = codec.existingDumpDifference(
            () => this.#read(metaOut, "existing meta"),
            task.codebook,
            global,
          );
          if (difference) {
            problem = "codebook" in difference
              ? `exists but was encoded with ${
                mentionOption("codebook")
              } ${difference.codebook}`
              : `exists but was encoded with another ${difference.sharedFile}`;
          }
        } catch (error) {
          problem = `exists but cannot be read (${
            fileErrorOf(metaOut, error).detail
          })`;
        }
      }
      // After an interrupted run, a dump kept only when it decodes.
      const keep = exists &&
        (problem !== "" || !task.checkExisting ||
          await this.#decodesCleanly(relativePath, metaOut));
      if (keep) {
        return {
          kind: "encoded",
          selected: true,
          outcome: problem === ""
            ? {
              dump: relativePath,
              status: "skipped",
              reason:
                `already encoded: ${metaOut} exists (use ${OVERWRITE} to replace it)`,
            }
            : {
              dump: relativePath,
              status: "failed",
              reason: new KvbitsFileError(
                metaOut,
                `${problem}; use ${OVERWRITE} to re-encode the dump`,
              ).message,
            },
          ...nothing,
        };
      }
      const { k, v } = kept ?? await readInputTensors(folder, meta, this.#read);
      const outputs = codec.encodeDump(
        { metaName, metaText, meta, k, v },
        global,
      );
      // The last file (the meta, or a one-file layout's only file) marks the
      // dump complete: an old one goes first, the new one comes last.
      const files = outputs.files.map((file) => ({
        // A layout's file names are plain names: no join needed.
        path: `${outFolder}/${file.name}`,
        bytes: file.bytes,
      }));
      // Nothing is flushed here: the job flushes every file (many at once) and
      // every folder once at its end, then writes the folder's manifest.
      const marker = files[files.length - 1];
      writeFilesThenMarker(files.slice(0, -1), marker, {
        durable: false,
        folders: this.#folders,
        markerAbsent: !exists && !task.overwrite,
        inPlace: true,
      });
      return {
        kind: "encoded",
        outcome: { dump: relativePath, status: "done" },
        selected: true,
        rawBytes: k.byteLength + v.byteLength,
        streamBytes: outputs.streamBytes,
        metaBytes: outputs.metaBytes,
        markerCrc32: crc32(marker.bytes),
        written: task.durable ? files.map((file) => file.path) : undefined,
      };
    } catch (error) {
      const missing = missingTensorOutcome(relativePath, folder, meta, error);
      return {
        kind: "encoded",
        outcome: missing ?? {
          dump: relativePath,
          status: "failed",
          reason: fileErrorOf(join(task.dumpDir, relativePath), error).message,
        },
        selected: missing === undefined,
        ...nothing,
      };
    }
  }

  /** Whether an existing output dump decodes and matches its checksums. */
  async #decodesCleanly(
    relativePath: string,
    metaOut: string,
  ): Promise<boolean> {
    const { task, codec, global } = this.#encodeState();
    const folder: BitstreamFolder = {
      dir: task.outDir,
      codec,
      metaFiles: [],
      global,
      codebookBytes: 0,
    };
    const markerFile = join(dirname(relativePath), basename(metaOut));
    try {
      const dump = await readBitstreamDump(folder, markerFile, this.#read);
      return dump.decoded.integrityChecked;
    } catch {
      return false;
    }
  }

  async #decodeOne(metaFile: string): Promise<DecodedResult> {
    if (!this.#decode) throw new Error("Cannot decode: the lane is not set up");
    const { task, folder } = this.#decode;
    const { outDir, origDumpDir } = task;
    const metaOut = outDir === undefined ? undefined : join(
      outDir,
      dirname(metaFile),
      `${folder.codec!.metaNameOfMarker(basename(metaFile))}.json`,
    );
    // As the job counted them: a dump whose checksums matched counts as checked
    // by checksum even when its originals then differ.
    let byChecksum = false;
    let againstOriginals = false;
    let unchecked = false;
    const nothing = { rawBytes: 0, streamBytes: 0, metaBytes: 0 };
    try {
      if (
        metaOut !== undefined && !task.overwrite &&
        this.#outputs.exists(metaOut)
      ) {
        return {
          kind: "decoded",
          outcome: {
            dump: metaFile,
            status: "skipped",
            reason:
              `already decoded: ${metaOut} exists (use ${OVERWRITE} to replace it)`,
          },
          byChecksum,
          againstOriginals,
          unchecked,
          ...nothing,
        };
      }
      // The marker's bytes as read, for the manifest's CRC-32.
      const markerPath = join(task.bitstreamDir, metaFile);
      let markerCrc32: number | undefined;
      const read: FileReader = (path, role, checkSize) => {
        const bytes = this.#read(path, role, checkSize);
        if (path === markerPath) markerCrc32 = crc32(bytes);
        return bytes;
      };
      const expected = task.expectedCrc32?.[metaFile];
      const checkMarker = () => {
        if (expected !== undefined && markerCrc32 !== expected) {
          throw new KvbitsFileError(
            markerPath,
            `differs from the folder's manifest (CRC-32 ${
              hex(markerCrc32)
            }, recorded ${hex(expected)}): replaced or edited after encoding`,
          );
        }
      };
      // A dump that does not decode says why; one that decodes but is not
      // the one encoded here (another dump's marker) fails by the manifest.
      const dump = await readBitstreamDump(folder, metaFile, read);
      checkMarker();
      const { decoded } = dump;
      byChecksum = decoded.integrityChecked;
      if (origDumpDir !== undefined) {
        await compareWithOriginal(origDumpDir, metaFile, dump, this.#read);
        againstOriginals = true;
      } else if (!decoded.integrityChecked) {
        unchecked = true;
      }
      if (metaOut !== undefined) {
        const { input, inputText } = decoded;
        const folderOut = dirname(metaOut);
        const tensors = [
          {
            path: join(folderOut, input.kFile),
            bytes: fp16BytesOfWords(decoded.k),
          },
          {
            path: join(folderOut, input.vFile),
            bytes: fp16BytesOfWords(decoded.v),
          },
        ];
        refuseForeignFiles(tensors, task.overwrite, this.#outputs);
        writeFilesThenMarker(
          tensors,
          { path: metaOut, bytes: new TextEncoder().encode(inputText) },
          { durable: task.durable, folders: this.#folders },
        );
        this.#outputs.wrote([...tensors.map((file) => file.path), metaOut]);
      }
      return {
        kind: "decoded",
        outcome: { dump: metaFile, status: "done" },
        byChecksum,
        againstOriginals,
        unchecked,
        rawBytes: decoded.k.byteLength + decoded.v.byteLength,
        streamBytes: decoded.streamBytes,
        metaBytes: decoded.metaBytes,
      };
    } catch (error) {
      return {
        kind: "decoded",
        outcome: {
          dump: metaFile,
          status: "failed",
          reason: fileErrorOf(join(task.bitstreamDir, metaFile), error).message,
        },
        byChecksum,
        againstOriginals,
        unchecked,
        ...nothing,
      };
    }
  }
}

/**
 * The outcome of a dump whose tensor file is missing (skipped, as the
 * selection does), when that is why reading it failed: found by reading, not
 * by asking first.
 */
function missingTensorOutcome(
  relativePath: string,
  folder: string,
  meta: DumpMeta,
  error: unknown,
): DumpOutcome | undefined {
  const cause = error instanceof KvbitsFileError ? error.cause : error;
  if (
    !(cause instanceof Deno.errors.NotFound) &&
    !(cause instanceof Deno.errors.NotADirectory)
  ) return undefined;
  const reason = missingTensorReason(folder, meta, pathExistsSync);
  return reason === undefined
    ? undefined
    : { dump: relativePath, status: "skipped", reason };
}

function hex(value: number | undefined): string {
  return (value ?? 0).toString(16).padStart(8, "0");
}

/**
 * Refuses to restore tensors over files that decode did not write: a tensor
 * named like a dump's meta (it would take another dump's place), and, without
 * `overwrite`, an existing file whose bytes differ (a file of the user's; a
 * killed run's own file is identical and no obstacle).
 */
function refuseForeignFiles(
  files: readonly { readonly path: string; readonly bytes: Uint8Array }[],
  overwrite: boolean,
  outputs: FolderListing,
): void {
  for (const { path, bytes } of files) {
    if (/^meta_.+\.json$/s.test(basename(path))) {
      throw new KvbitsFileError(
        path,
        "a tensor file named like a dump's meta (meta_*.json): not restored over another dump",
      );
    }
    if (overwrite || !outputs.exists(path)) continue;
    let same = false;
    try {
      same = firstDifference(
        readFileSync(path, undefined, (size) => {
          if (size !== bytes.length) throw new Error("other size");
        }),
        bytes,
      ) === -1;
    } catch {
      // Another size, or unreadable: not ours.
    }
    if (!same) {
      throw new KvbitsFileError(
        path,
        "exists, with other bytes than this dump's, and no meta beside it says decode wrote it; use --overwrite to replace it",
      );
    }
  }
}

/**
 * Bytes of tensors a lane keeps from the count pass of a global codebook for
 * the encode pass, which then reads them again only beyond it: a folder of many
 * small dumps is read once, not twice (two opens, stats and reads less per
 * dump), at a bounded cost in memory.
 */
const COUNTED_TENSORS_BUDGET = 64 * 1024 * 1024;

/**
 * Bytes of the chunks that kept tensors are read into: one allocation for
 * many small dumps (an allocation each cost more than reading them).
 */
const COUNTED_CHUNK = 4 * 1024 * 1024;

/** A dump as the count pass read it: its meta, parsed and selected, and its tensors. */
interface CountedDump {
  readonly metaText: string;
  readonly meta: DumpMeta;
  readonly k: Uint16Array;
  readonly v: Uint16Array;
}

/** Counted tensors, up to {@link COUNTED_TENSORS_BUDGET} bytes. */
class CountedTensors {
  readonly #tensors = new Map<string, CountedDump>();
  #bytes = 0;
  /** The chunk being filled, and its bytes used. */
  #chunk = new Uint8Array(0);
  #used = 0;

  /** Whether more tensors may be kept: read them with {@link read}. */
  hasRoom(): boolean {
    return this.#bytes < COUNTED_TENSORS_BUDGET;
  }

  readonly #listed: RegularFiles;

  /** @param listed The regular files of the input folders. */
  constructor(listed: RegularFiles) {
    this.#listed = listed;
  }

  /**
   * Reads a file into the chunks: its bytes stay valid while kept. A file
   * whose size the caller bounds to less than a chunk is read without `stat`
   * when listed as a regular file (into room for `limit + 1` bytes).
   */
  readonly read: FileReader = (path, _role, checkSize, limit) => {
    const room = (size: number) => {
      // 8-byte aligned: a tensor's words are a view, not a copy.
      let start = (this.#used + 7) & ~7;
      if (start + size > this.#chunk.length) {
        this.#chunk = new Uint8Array(Math.max(COUNTED_CHUNK, size));
        start = 0;
      }
      this.#used = start + size;
      return this.#chunk.subarray(start, start + size);
    };
    // Room for limit + 1 bytes is taken only for a read without `stat`.
    const direct = limit !== undefined && limit < COUNTED_CHUNK &&
      this.#listed.has(path);
    const bytes = readBoundedFileSync(
      path,
      direct ? this.#listed : undefined,
      direct ? room(limit + 1) : new Uint8Array(0),
      room,
      checkSize,
      limit,
    );
    // Only the bytes read stay taken.
    this.#used = bytes.byteOffset + bytes.length;
    return bytes;
  };

  /**
   * Keeps a dump's tensors, read with {@link read} (not into a lane's reused
   * buffers), when the budget allows.
   */
  keep(relativePath: string, tensors: CountedDump) {
    const bytes = tensors.k.byteLength + tensors.v.byteLength;
    if (this.#bytes + bytes > COUNTED_TENSORS_BUDGET) return;
    this.#bytes += bytes;
    this.#tensors.set(relativePath, tensors);
  }

  /** The kept tensors of a dump, handed over once. */
  take(relativePath: string): CountedDump | undefined {
    const tensors = this.#tensors.get(relativePath);
    if (tensors === undefined) return undefined;
    this.#tensors.delete(relativePath);
    this.#bytes -= tensors.k.byteLength + tensors.v.byteLength;
    return tensors;
  }

  /** Forgets everything (a new set-up). */
  clear(): void {
    this.#tensors.clear();
    this.#bytes = 0;
    this.#chunk = new Uint8Array(0);
    this.#used = 0;
  }
}

/** The opened folder a decode set-up describes (its dumps are given one by one). */
function folderOf(task: DecodeSetupTask): BitstreamFolder {
  const codec = codecOfSetUp(task.codec);
  return {
    dir: task.bitstreamDir,
    codec,
    metaFiles: [],
    global: sharedOfSetUp(codec, task.sharedBytes),
    globalProblem: task.globalProblem,
    codebookBytes: 0,
  };
}

/** The parts of a dedicated worker's global scope that a lane's server uses. */
export interface WorkerScope {
  /** Posts a message to the job's thread. */
  postMessage(message: unknown, options?: { transfer?: Transferable[] }): void;
  /** Receives the job's tasks. */
  onmessage:
    | ((event: MessageEvent<{ id: number; task: DumpTask }>) => void)
    | null;
}

/**
 * Serves a {@link DumpTaskLane} in a worker: posts `{ ready: true }`, then answers
 * each `{ id, task }` with `{ id, reply }`, one task at a time (a lane's read
 * buffers serve one dump), handing histogram buffers over instead of copying.
 *
 * @param scope The worker's global scope.
 * @param beforeTask Called with each task as it arrives (tests use it to make a
 * worker die on purpose); what it throws escapes, as a bug would.
 *
 * @example A scope that only records what is posted
 * ```ts
 * import { serveDumpTasks, type WorkerScope } from "./dump_tasks.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const posted: unknown[] = [];
 * const scope: WorkerScope = { postMessage: (message) => posted.push(message), onmessage: null };
 * serveDumpTasks(scope);
 * assertEquals(posted, [{ ready: true }]);
 * assertEquals(typeof scope.onmessage, "function");
 * ```
 */
export function serveDumpTasks(
  scope: WorkerScope,
  beforeTask?: (task: DumpTask) => void,
): void {
  const lane = new DumpTaskLane();
  let queue: Promise<void> = Promise.resolve();
  scope.onmessage = (event) => {
    const { id, task } = event.data;
    beforeTask?.(task);
    queue = queue.then(async () => {
      const reply = await lane.run(task);
      scope.postMessage({ id, reply }, { transfer: transferablesOf(reply) });
    });
  };
  scope.postMessage({ ready: true });
}
