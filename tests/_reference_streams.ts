/**
 * Walks a reference bitstream folder stream by stream, for tests that re-encode
 * the reference outputs: each dump's four planes from the original tensors, the
 * stream's table (from the dump's meta, or the folder's global codebook) and the
 * reference's coded bytes.
 */

import { join } from "@std/path";
import { splitFp16Planes } from "../mod.ts";
import { listFiles } from "./_helpers.ts";

type Json = Record<string, unknown>;

/** One reference stream to compare with. */
export interface ReferenceStream {
  /** The dump's bitstream meta file, relative to the folder. */
  readonly metaFile: string;
  /** `k_hi6`, `k_lo10`, `v_hi6` or `v_lo10`. */
  readonly stream: string;
  /** The plane's symbols, split from the original tensor. */
  readonly symbols: Uint8Array | Uint16Array;
  /** The stream's table as the reference wrote it (code lengths or frequencies). */
  readonly table: number[];
  /** The reference's coded bytes of the stream. */
  readonly expected: Uint8Array;
}

/** Where a layout keeps its files: e.g. `bitstream_`, `global_codebook.json`, `_code_lengths`. */
export interface ReferenceLayout {
  readonly metaPrefix: string;
  readonly globalCodebookFile: string;
  readonly tableKeySuffix: string;
}

/**
 * Calls `visit` for every stream of every dump of a reference folder, in path
 * order, and returns how many streams it visited.
 */
export async function forEachReferenceStream(
  referenceDir: string,
  dumpDir: string,
  layout: ReferenceLayout,
  visit: (reference: ReferenceStream) => void,
): Promise<number> {
  const files = await listFiles(referenceDir);
  const global = files.includes(layout.globalCodebookFile)
    ? JSON.parse(
      await Deno.readTextFile(join(referenceDir, layout.globalCodebookFile)),
    ) as Json
    : undefined;
  const metaPattern = new RegExp(`(^|/)${layout.metaPrefix}meta_.*\\.json$`);
  let visited = 0;
  for (const metaFile of files.filter((name) => metaPattern.test(name))) {
    const meta = JSON.parse(
      await Deno.readTextFile(join(referenceDir, metaFile)),
    ) as Json;
    const folder = metaFile.slice(0, metaFile.lastIndexOf("/"));
    const tables = meta.codebook === "global" ? global! : meta;
    for (const tensor of ["k", "v"] as const) {
      const bytes = await Deno.readFile(
        join(dumpDir, folder, meta[`${tensor}_file`] as string),
      );
      const planes = splitFp16Planes(new Uint16Array(bytes.buffer));
      for (const plane of ["hi6", "lo10"] as const) {
        const stream = `${tensor}_${plane}`;
        visit({
          metaFile,
          stream,
          symbols: planes[plane],
          table: tables[`${stream}${layout.tableKeySuffix}`] as number[],
          expected: await Deno.readFile(
            join(referenceDir, folder, meta[`${stream}_file`] as string),
          ),
        });
        visited++;
      }
    }
  }
  return visited;
}
