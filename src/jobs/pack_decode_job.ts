/**
 * `decode --pack` and `verify --pack`: restore a pack's tree into a folder, or
 * check it in memory (against its checksums, and the originals when given).
 *
 * Read me first:
 * - Nothing is written that did not pass its CRC-32: a file, or a dump's three
 *   files, are written after the entry's CRC-32 holds, a dump's meta last.
 * - A damaged or truncated pack is decoded as far as it goes: every intact
 *   entry is restored, every lost one is named (or, where the pack no longer
 *   says what was there, where the damage is), and the job reports failure.
 * - With a selection from a file, blocks are found through the index and those
 *   without a selected entry are not read; otherwise the pack is read front to
 *   back and its whole-pack CRC-32 checked.
 *
 * @module
 */

import { openPackInput, type PackInput } from "../dump/pack_input.ts";
import {
  listTree,
  makeTreeFolder,
  readTreeFile,
  treePathExists,
  writeTreeFile,
} from "../dump/pack_tree.ts";
import { syncFolders } from "../dump/write_dump_files.ts";
import {
  decodePackEntries,
  dumpMetaOfEntry,
  type RestoredEntry,
} from "../format/pack_block.ts";
import { packSelection } from "../format/pack_selection.ts";
import type { DumpOutcome, ProgressListener } from "./job_report.ts";
import {
  type PackDamage,
  type PackEnding,
  type PackVisitor,
  readPackByIndex,
  readPackIndex,
  readPackInOrder,
} from "./pack_reader.ts";
import { openOutputFolder } from "./output_folder.ts";

/** What {@link decodePack} and {@link verifyPack} share. */
export interface PackReadOptions {
  /** The pack, or `-` for standard input. */
  readonly pack: string;
  /** `--only` patterns (`pack_selection.ts`); none restores everything. */
  readonly only?: readonly string[];
  /** Called after each block. */
  readonly onProgress?: ProgressListener;
}

/** What {@link decodePack} needs. */
export interface PackDecodeOptions extends PackReadOptions {
  /** The folder to restore into (made when missing). */
  readonly outDir: string;
  /** Replace files that exist already (otherwise such entries fail). */
  readonly overwrite?: boolean;
  /** Flush what is written (default true). */
  readonly durable?: boolean;
}

/** What {@link verifyPack} needs. */
export interface PackVerifyOptions extends PackReadOptions {
  /** The folder the pack was made from, to compare with byte for byte. */
  readonly origDumpDir?: string;
}

/** What a pack job did. */
export interface PackReadReport {
  /** Entries (files, dumps, folders) restored or checked. */
  readonly entries: number;
  /** Entries that could not be, by path, with why (kept alone, so that memory
   * does not grow with the pack). */
  readonly failures: DumpOutcome[];
  /** Damage found, with what it cost. */
  readonly damage: PackDamage[];
  /** How the reading ended (undefined when the pack was read by its index). */
  readonly ending: PackEnding | undefined;
  /** Dumps restored or checked. */
  readonly dumps: number;
  /** Files restored or checked (a dump's three included). */
  readonly files: number;
  /** Bytes of the files restored or checked. */
  readonly outputBytes: number;
  /** Bytes of the pack. */
  readonly packBytes: number;
  /** Originals with no entry in the pack (verify with originals). */
  readonly notInPack: string[];
  /** Wall time of the job. */
  readonly seconds: number;
}

type Sink = (restored: RestoredEntry) => string | undefined;

async function restorePack(
  options: PackReadOptions,
  sink: Sink,
): Promise<Omit<PackReadReport, "notInPack" | "seconds">> {
  const only = options.only !== undefined && options.only.length > 0
    ? packSelection(options.only)
    : undefined;
  const failures: DumpOutcome[] = [];
  const damage: PackDamage[] = [];
  let entries = 0, dumps = 0, files = 0, outputBytes = 0, blocks = 0;
  const visitor: PackVisitor = {
    damage: (found) => damage.push(found),
    async block(block) {
      if (
        only !== undefined &&
        !block.entries.some((entry) =>
          entry.kind === "dump"
            ? ((dump) => typeof dump !== "string" && only(entry, dump))(
              dumpMetaOfEntry(entry),
            )
            : only(entry)
        )
      ) return;
      const { bytes } = await block.payload();
      // A path twice in a block is refused; across blocks, the second finds the
      // first in the output folder (unless --overwrite).
      const seen = new Set<string>();
      for (const restored of decodePackEntries(block.entries, bytes, only)) {
        const path = restored.entry.path;
        let problem = restored.problem;
        const paths = restored.files.map((file) => file.path);
        if (problem === undefined) {
          const twice = paths.find((path) => seen.has(path));
          if (twice !== undefined) problem = `${twice} is in the pack twice`;
        }
        for (const path of paths) seen.add(path);
        problem ??= sink(restored);
        if (problem !== undefined) {
          failures.push({
            dump: path,
            status: "failed",
            reason: `${path}: ${problem}`,
          });
          continue;
        }
        entries++;
        if (restored.entry.kind === "dump") dumps++;
        for (const file of restored.files) {
          files++;
          outputBytes += file.bytes.length;
        }
      }
      blocks++;
      options.onProgress?.({
        phase: "restoring",
        done: blocks,
        total: 0,
        bytes: outputBytes,
      });
    },
  };
  using input = openPackInput(options.pack);
  let ending: PackEnding | undefined;
  const index = only !== undefined && input.size !== undefined
    ? readPackIndex(input)
    : undefined;
  if (index !== undefined && typeof index !== "string") {
    await readPackByIndex(input, index, visitor);
  } else {
    if (typeof index === "string") {
      damage.push({ offset: 0, detail: `index not usable: ${index}` });
    }
    ending = await readPackInOrder(input, visitor);
  }
  return {
    entries,
    failures,
    damage,
    ending,
    dumps,
    files,
    outputBytes,
    packBytes: packBytesOf(input, ending),
  };
}

function packBytesOf(input: PackInput, ending: PackEnding | undefined): number {
  return input.size ?? ending?.packBytes ?? 0;
}

/**
 * Restores a pack's tree (or the selected part of it) into a folder.
 *
 * @param options The pack, the folder, the selection, overwrite, durability.
 * @returns What was restored and what was lost.
 * @throws {KvbitsJobError} When the output folder cannot be used.
 * @throws {KvbitsDataError} When the input is not a pack.
 *
 * @example
 * ```ts
 * import { decodePack } from "./pack_decode_job.ts";
 * import { encodePack } from "./pack_encode_job.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const out = await Deno.makeTempDir();
 * await encodePack({ dumpDir: "fixtures/kv-sample", pack: `${out}/s.kvp`, durable: false });
 * const report = await decodePack({ pack: `${out}/s.kvp`, outDir: `${out}/r`, durable: false, only: ["layer=5"] });
 * assertEquals([report.dumps, report.files, report.damage], [16, 48, []]);
 * await Deno.remove(out, { recursive: true });
 * ```
 */
export async function decodePack(
  options: PackDecodeOptions,
): Promise<PackReadReport> {
  const started = performance.now();
  const outDir = options.outDir;
  const durable = options.durable ?? true;
  const folders = new Set<string>();
  const lock = await openOutputFolder(outDir, {});
  let report;
  try {
    report = await restorePack(options, (restored) => {
      if (restored.entry.kind === "folder") {
        makeTreeFolder(outDir, restored.entry.path);
        return undefined;
      }
      if (!options.overwrite) {
        const existing = restored.files.find((file) =>
          treePathExists(outDir, file.path)
        );
        if (existing !== undefined) {
          return `${existing.path} exists in the output folder (--overwrite replaces it)`;
        }
      }
      for (const file of restored.files) {
        writeTreeFile(outDir, file.path, file.bytes, { durable, folders });
      }
      return undefined;
    });
    if (durable) await syncFolders(folders);
  } finally {
    await lock.release();
  }
  // The folder exists even when the pack holds nothing (as the tree did).
  makeTreeFolder(outDir, ".");
  return {
    ...report,
    notInPack: [],
    seconds: (performance.now() - started) / 1000,
  };
}

/**
 * Checks a pack: decodes every entry in memory against its CRC-32, and against
 * the original files when their folder is given (then also lists originals the
 * pack does not hold).
 *
 * @param options The pack, the originals, the selection.
 * @returns What was checked and what failed.
 * @throws {KvbitsDataError} When the input is not a pack.
 *
 * @example
 * ```ts
 * import { verifyPack } from "./pack_decode_job.ts";
 * import { encodePack } from "./pack_encode_job.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const out = await Deno.makeTempDir();
 * await encodePack({ dumpDir: "fixtures/kv-sample", pack: `${out}/s.kvp`, durable: false });
 * const report = await verifyPack({ pack: `${out}/s.kvp`, origDumpDir: "fixtures/kv-sample" });
 * assertEquals([report.dumps, report.ending?.complete, report.notInPack], [51, true, []]);
 * await Deno.remove(out, { recursive: true });
 * ```
 */
export async function verifyPack(
  options: PackVerifyOptions,
): Promise<PackReadReport> {
  const started = performance.now();
  const orig = options.origDumpDir;
  const checked = new Set<string>();
  const report = await restorePack(options, (restored) => {
    if (orig === undefined) return undefined;
    for (const file of restored.files) {
      checked.add(file.path);
      let original: Uint8Array;
      try {
        original = readTreeFile(orig, file.path);
      } catch (error) {
        return `the original cannot be read: ${(error as Error).message}`;
      }
      if (!sameBytes(original, file.bytes)) {
        return `${file.path} differs from the original`;
      }
    }
    if (restored.entry.kind === "folder") checked.add(restored.entry.path);
    return undefined;
  });
  const notInPack: string[] = [];
  if (orig !== undefined && (options.only ?? []).length === 0) {
    const listing = listTree(orig);
    for (const path of [...listing.files, ...listing.emptyFolders]) {
      if (!checked.has(path)) notInPack.push(path);
    }
  }
  return {
    ...report,
    notInPack,
    seconds: (performance.now() - started) / 1000,
  };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
