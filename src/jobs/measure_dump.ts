/**
 * The sizes `analyze` reports for one dump of a bitstream folder, whatever its
 * layout: its files' sizes (a one-file payload split by plane bits), and the
 * original files' sizes when the originals are given.
 *
 * @module
 */

import { basename, dirname, join } from "../dump/path.ts";
import type { CodebookMode } from "../format/stream_codec.ts";
import type { DumpSizes } from "../format/metrics.ts";
import { fileErrorOf, KvbitsFileError } from "../dump/file_error.ts";
import { fileSize } from "../dump/folder_info.ts";
import { readWholeFile } from "../dump/read_file.ts";
import type { BitstreamFolder } from "./bitstream_folder.ts";

/** Where a dump's original tensors are, and their shape. */
export interface OriginalTensors {
  /** The K file, relative to the original dump folder. */
  readonly k: string;
  /** The V file, relative to the original dump folder. */
  readonly v: string;
  /** The dump's run (`run_id`). */
  readonly runId: string;
  /** Heads of K and V. */
  readonly kvHeads: number;
  /** Channels of a head. */
  readonly headDim: number;
}

/** One dump measured. */
export interface MeasuredDump {
  /** Its row of the metrics. */
  readonly sizes: DumpSizes;
  /**
   * Its original K and V files, relative to the original dump folder, with the
   * run and shape of their tensors.
   */
  readonly originals: OriginalTensors;
  /** The codebook it was coded with, for layouts that have codebooks. */
  readonly codebook?: CodebookMode;
}

/**
 * Reads and measures one dump of an opened bitstream folder.
 *
 * @param folder The opened folder (with a codec).
 * @param metaFile The dump's marker file, relative to the folder.
 * @param origDumpDir The original dump folder, to take raw sizes from the
 * original files; without it they are 2 bytes per element.
 * @returns The dump's sizes.
 * @throws {KvbitsFileError} Naming the file that cannot be read or decoded.
 *
 * @example
 * ```ts
 * import { measureDump } from "./measure_dump.ts";
 * import { openBitstreamFolder } from "./bitstream_folder.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const fixtures = new URL("../../fixtures/", import.meta.url).pathname;
 * const folder = await openBitstreamFolder(`${fixtures}reference/huffman-per-dump`);
 * const measured = await measureDump(folder, folder.metaFiles[0], `${fixtures}kv-sample`);
 * assertEquals(measured.sizes.kRaw, 2 * measured.sizes.numElements);
 * assertEquals(measured.codebook, "per-dump");
 * ```
 */
export async function measureDump(
  folder: BitstreamFolder,
  metaFile: string,
  origDumpDir?: string,
): Promise<MeasuredDump> {
  const codec = folder.codec!;
  const markerPath = join(folder.dir, metaFile);
  const metaName = codec.metaNameOfMarker(basename(metaFile));
  if (metaName === undefined) {
    throw new KvbitsFileError(markerPath, `not a ${codec.name} dump file`);
  }
  let measure;
  try {
    const opened = codec.openDump(metaName, await readWholeFile(markerPath));
    const sizes: number[] = [];
    for (const { name } of opened.companions) {
      sizes.push(await fileSize(join(dirname(markerPath), name)));
    }
    measure = opened.measure(sizes);
  } catch (error) {
    throw fileErrorOf(markerPath, error);
  }
  const { input, numElements } = measure;
  const rawSize = (file: string) =>
    origDumpDir === undefined
      ? Promise.resolve(2 * numElements)
      : fileSize(join(origDumpDir, dirname(metaFile), file));
  return {
    sizes: {
      runId: input.runId,
      layerId: input.layerId,
      stage: input.stage,
      seqLen: input.seqLen,
      numElements,
      kRaw: await rawSize(input.kFile),
      vRaw: await rawSize(input.vFile),
      kHi6: measure.kHi6,
      kLo10: measure.kLo10,
      vHi6: measure.vHi6,
      vLo10: measure.vLo10,
      metaBytes: measure.metaBytes,
      ...(measure.planes ? { planes: measure.planes } : {}),
    },
    originals: {
      k: join(dirname(metaFile), input.kFile),
      v: join(dirname(metaFile), input.vFile),
      runId: input.runId,
      kvHeads: input.kvHeads,
      headDim: input.headDim,
    },
    codebook: measure.codebook,
  };
}
