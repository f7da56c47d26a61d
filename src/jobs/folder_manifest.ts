/**
 * The manifest of a bitstream folder in the jobs (`src/format/manifest.ts` for
 * its bytes): encode starts it (marked incomplete) before it changes the
 * folder and finishes it last; decode and verify check the folder against it.
 *
 * What the checks catch, that the dumps' own checksums cannot: a dump deleted
 * (its marker gone: "missing"), renamed or moved to another layer folder (its
 * marker under a name the manifest does not list, and the listed one missing),
 * replaced by another dump's file (its CRC-32 differs), and a marker of another
 * layout dropped into the folder (not listed; the other dumps still decode).
 *
 * @module
 */

import { basename, dirname, join } from "../dump/path.ts";
import { crc32 } from "../codec/crc32.ts";
import { type Codec, codecNamed, codecOfMarkerFile } from "../format/codecs.ts";
import { utf8Text } from "../format/json_fields.ts";
import {
  type Manifest,
  MANIFEST_FILE_NAME,
  manifestText,
  parseManifest,
} from "../format/manifest.ts";
import { fileErrorOf } from "../dump/file_error.ts";
import { findFiles } from "../dump/find_files.ts";
import { pathExistsSync } from "../dump/path_exists.ts";
import { readFileSync } from "../dump/read_file.ts";
import {
  syncFolderSync,
  writeFileAtomicSync,
} from "../dump/write_file_atomic.ts";
import { KvbitsJobError } from "./job_error.ts";
import type { DumpOutcome } from "./job_report.ts";

/** A folder's manifest as read: absent, read, or unreadable (with why). */
export interface FolderManifest {
  /** The manifest, when the file exists and is valid. */
  readonly manifest?: Manifest;
  /** Why the file cannot be used, when it exists but is bad. */
  readonly problem?: string;
}

/**
 * Reads the manifest of a bitstream folder.
 *
 * @param dir The bitstream folder.
 * @returns The manifest, nothing when there is none, or the problem.
 *
 * @example
 * ```ts
 * import { readFolderManifest } from "./folder_manifest.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const dir = await Deno.makeTempDir();
 * assertEquals(readFolderManifest(dir), {});
 * await Deno.writeTextFile(`${dir}/kvbits_manifest.json`, "{");
 * assertEquals(readFolderManifest(dir).problem?.startsWith(`${dir}/kvbits_manifest.json: manifest is not valid JSON`), true);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function readFolderManifest(dir: string): FolderManifest {
  const path = join(dir, MANIFEST_FILE_NAME);
  try {
    if (!pathExistsSync(path)) return {};
    const text = utf8Text(readFileSync(path, undefined, checkSize), "manifest");
    return { manifest: parseManifest(text) };
  } catch (error) {
    return { problem: fileErrorOf(path, error).message };
  }
}

/** 64 bytes a dump is plenty; a manifest of 2^22 dumps stays below 256 MiB. */
function checkSize(size: number): void {
  if (size > 256 * 1024 * 1024) {
    throw new Error(`size is ${size} bytes: too large for a manifest`);
  }
}

/**
 * Writes a folder's manifest through a temporary file; when `durable`, flushes
 * it and the folder, so that it is on the disk after everything before it.
 *
 * @param dir The bitstream folder.
 * @param manifest What to record.
 * @param durable Flush the file and the folder.
 * @throws {KvbitsJobError} When it cannot be written.
 *
 * @example
 * ```ts
 * import { readFolderManifest, writeFolderManifest } from "./folder_manifest.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const dir = await Deno.makeTempDir();
 * const manifest = { codec: "huffman", complete: true, dumps: new Map([["l0/bitstream_meta_t0_1.json", 7]]) };
 * writeFolderManifest(dir, manifest, false);
 * assertEquals(readFolderManifest(dir), { manifest });
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function writeFolderManifest(
  dir: string,
  manifest: Manifest,
  durable: boolean,
): void {
  const path = join(dir, MANIFEST_FILE_NAME);
  try {
    writeFileAtomicSync(
      path,
      new TextEncoder().encode(manifestText(manifest)),
      {
        durable,
      },
    );
    if (durable) syncFolderSync(dir);
  } catch (error) {
    throw new KvbitsJobError(fileErrorOf(path, error).message);
  }
}

/** What encode knows of its output folder before it writes. */
export interface EncodeStart {
  /** The entries of the folder's manifest before this run (updated by it). */
  readonly dumps: Map<string, number>;
  /**
   * An earlier encode was interrupted (its manifest is incomplete): dumps it may
   * have written are checked by decoding before being kept.
   */
  readonly interrupted: boolean;
  /** The folder had a manifest before this run. */
  readonly hadManifest: boolean;
  /**
   * Marks the manifest incomplete, once, before the run's first change to the
   * folder: from then on an interruption is seen.
   */
  readonly beforeFirstWrite: () => void;
  /** Whether `beforeFirstWrite` was called. */
  readonly changed: () => boolean;
}

/**
 * Prepares an output folder for encode, before anything is written into it:
 * refuses a folder that holds dumps of another layout (or whose manifest names
 * another codec, or cannot be read); the run then calls `beforeFirstWrite`,
 * which marks the manifest incomplete.
 *
 * @param outDir The output folder (locked by the caller).
 * @param codec The codec of this run.
 * @param durable Flush the manifest.
 * @returns The previous entries, and whether an earlier run was interrupted.
 * @throws {KvbitsJobError} Naming the folder and the dumps in the way.
 *
 * @example
 * ```ts
 * import { startEncodeManifest } from "./folder_manifest.ts";
 * import { huffmanStreamCodec } from "../format/huffman_stream_codec.ts";
 * import { assertEquals, assertRejects } from "@std/assert";
 *
 * const dir = await Deno.makeTempDir();
 * const start = await startEncodeManifest(dir, huffmanStreamCodec, false);
 * assertEquals([start.dumps.size, start.interrupted, start.changed()], [0, false, false]);
 * start.beforeFirstWrite();
 * assertEquals((await Deno.readTextFile(`${dir}/kvbits_manifest.json`)).includes('"complete": false'), true);
 * await Deno.writeTextFile(`${dir}/meta_t0_1.kvc`, "");
 * await assertRejects(() => startEncodeManifest(dir, huffmanStreamCodec, false), Error, "holds dumps of layout kvbits_ctx");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function startEncodeManifest(
  outDir: string,
  codec: Codec,
  durable: boolean,
): Promise<EncodeStart> {
  const { manifest, problem } = readFolderManifest(outDir);
  if (problem !== undefined) {
    throw new KvbitsJobError(
      `--out-dir ${problem}; move it away to start the folder's record anew (verify checks its dumps against it)`,
    );
  }
  const markers = await findFiles(
    outDir,
    (name) => codecOfMarkerFile(name) !== undefined,
  );
  const foreign = markers.filter((path) =>
    codecOfMarkerFile(basename(path)) !== codec
  );
  const other = manifest && manifest.codec !== codec.name
    ? manifest.codec
    : foreign.length
    ? codecOfMarkerFile(basename(foreign[0]))!.name
    : undefined;
  if (other !== undefined) {
    const layout = codecOfMarkerFile(basename(foreign[0] ?? ""))?.layout ??
      other;
    throw new KvbitsJobError(
      `--out-dir ${outDir} holds dumps of layout ${layout}${
        foreign.length ? ` (e.g. ${foreign[0]})` : ""
      }: encode ${codec.name} into a folder of its own (one layout a folder, so that decode, verify and analyze can read it)`,
    );
  }
  const dumps = new Map(manifest?.dumps ?? []);
  let marked = false;
  return {
    dumps,
    interrupted: manifest?.complete === false,
    hadManifest: manifest !== undefined,
    beforeFirstWrite: () => {
      if (marked) return;
      marked = true;
      writeFolderManifest(
        outDir,
        { codec: codec.name, complete: false, dumps: new Map(dumps) },
        durable,
      );
    },
    changed: () => marked,
  };
}

/**
 * The CRC-32 of a marker file, read in full.
 *
 * @param path The marker file.
 * @returns Its CRC-32.
 *
 * @example
 * ```ts
 * import { markerCrc32 } from "./folder_manifest.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "123456789");
 * assertEquals(markerCrc32(path), 0xcbf43926);
 * await Deno.remove(path);
 * ```
 */
export function markerCrc32(path: string): number {
  return crc32(readFileSync(path));
}

/** A bitstream folder's dumps checked against its manifest. */
export interface ManifestCheck {
  /** Markers to decode: listed in the manifest (all of them without one). */
  readonly listed: readonly string[];
  /** Failed outcomes: listed but missing, present but not listed, incomplete. */
  readonly failures: readonly DumpOutcome[];
  /** Expected CRC-32 of each listed marker's bytes. */
  readonly expected?: Readonly<Record<string, number>>;
}

/**
 * Checks the markers found in a bitstream folder against its manifest: which to
 * decode, and the failures (missing dumps, dumps not listed, markers of another
 * layout, an unreadable or incomplete manifest). Without a manifest (reference
 * outputs, folders of older kvbits), every marker is decoded.
 *
 * @param dir The bitstream folder.
 * @param found Markers of the folder's layout, relative, sorted.
 * @param strays Markers of other layouts, relative.
 * @param record The folder's manifest as read.
 * @returns What to decode and what failed.
 *
 * @example
 * ```ts
 * import { checkAgainstManifest } from "./folder_manifest.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const manifest = { codec: "ctx", complete: true, dumps: new Map([["a.kvc", 1], ["b.kvc", 2]]) };
 * const check = checkAgainstManifest("d", ["a.kvc", "c.kvc"], [], { manifest });
 * assertEquals(check.listed, ["a.kvc"]);
 * assertEquals(check.failures.map((outcome) => outcome.dump), ["b.kvc", "c.kvc"]);
 * ```
 */
export function checkAgainstManifest(
  dir: string,
  found: readonly string[],
  strays: readonly string[],
  record: FolderManifest,
): ManifestCheck {
  const failures: DumpOutcome[] = strays.map((dump) => ({
    dump,
    status: "failed",
    reason: `${
      join(dir, dump)
    }: a dump of another layout than the folder's; not decoded (decode each layout from a folder of its own)`,
  }));
  const manifestPath = join(dir, MANIFEST_FILE_NAME);
  const { manifest, problem } = record;
  if (problem !== undefined) {
    failures.push({
      dump: MANIFEST_FILE_NAME,
      status: "failed",
      reason: problem,
    });
  }
  if (manifest === undefined) {
    return { listed: found, failures: sorted(failures) };
  }
  if (!manifest.complete) {
    failures.push({
      dump: MANIFEST_FILE_NAME,
      status: "failed",
      reason:
        `${manifestPath}: the last encode into this folder did not finish; run it again to complete the folder and its manifest`,
    });
    return { listed: found, failures: sorted(failures) };
  }
  const present = new Set(found);
  for (const dump of manifest.dumps.keys()) {
    if (!present.has(dump)) {
      failures.push({
        dump,
        status: "failed",
        reason: `${
          join(dir, dump)
        }: missing; the manifest lists it (deleted, renamed or moved?)`,
      });
    }
  }
  const listed: string[] = [];
  for (const dump of found) {
    if (manifest.dumps.has(dump)) {
      listed.push(dump);
      continue;
    }
    failures.push({
      dump,
      status: "failed",
      reason: `${
        join(dir, dump)
      }: not in the manifest of this folder (renamed, moved or copied in?); not decoded`,
    });
  }
  return {
    listed,
    failures: sorted(failures),
    expected: Object.fromEntries(manifest.dumps),
  };
}

function sorted(outcomes: DumpOutcome[]): DumpOutcome[] {
  return outcomes.sort((a, b) =>
    a.dump < b.dump ? -1 : a.dump > b.dump ? 1 : 0
  );
}

/**
 * The relative path of a dump's marker in the output folder.
 *
 * @param relativeMeta The input meta, relative to the dump folder.
 * @param markerName The marker's file name.
 * @returns Its path relative to the output folder.
 *
 * @example
 * ```ts
 * import { markerPathOf } from "./folder_manifest.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(markerPathOf("l0/meta_t0_1.json", "meta_t0_1.kvc"), "l0/meta_t0_1.kvc");
 * assertEquals(markerPathOf("meta_t0_1.json", "meta_t0_1.kvc"), "meta_t0_1.kvc");
 * ```
 */
export function markerPathOf(relativeMeta: string, markerName: string): string {
  const folder = dirname(relativeMeta);
  return folder === "." ? markerName : `${folder}/${markerName}`;
}

/**
 * The layout a bitstream folder's manifest names, when it has a valid one: what
 * the readers open the folder as, so that a stray marker of another layout
 * does not make the whole folder unreadable.
 *
 * @param dir The bitstream folder.
 * @returns The codec of its layout, or undefined.
 *
 * @example
 * ```ts
 * import { layoutOfManifest } from "./folder_manifest.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(layoutOfManifest("/nonexistent/kvbits"), undefined);
 * ```
 */
export function layoutOfManifest(dir: string): Codec | undefined {
  const codec = readFolderManifest(dir).manifest?.codec;
  return codec === undefined ? undefined : codecNamed(codec);
}
