/**
 * The verify job: decode every dump in memory and check it, against the original
 * files when given, otherwise against the checksums kvbits recorded.
 *
 * @module
 */

import { decodeFolder, type DecodeReport } from "./decode_job.ts";
import type { ProgressListener } from "./job_report.ts";

/** What to verify. */
export interface VerifyOptions {
  /** The bitstream folder (`--bitstream-dir`). */
  readonly bitstreamDir: string;
  /** The original dump folder (`--orig-dump-dir`), for a bit-for-bit comparison. */
  readonly origDumpDir?: string;
  /** Called after each dump. */
  readonly onProgress?: ProgressListener;
  /**
   * Dumps handled at once (`--jobs`): this thread and `jobs - 1` workers;
   * default: one per CPU. The outcome is the same for any value.
   */
  readonly jobs?: number;
  /** Whether this thread decodes dumps too (default true). */
  readonly threadLane?: boolean;
}

/**
 * Decodes every dump of a bitstream folder without writing anything and checks it:
 * bit for bit against `origDumpDir` when given, and against kvbits' recorded
 * checksums whenever the meta has them. Dumps that neither check can confirm
 * (reference outputs verified without originals) are counted as `unchecked`.
 *
 * @param options The folders.
 * @returns The outcome of each dump and what was checked.
 * @throws {KvbitsJobError} When a folder is missing or mixes layouts.
 *
 * @example Reference outputs have no checksums: only the originals can confirm them
 * ```ts
 * import { verifyFolder } from "./verify_job.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const fixtures = new URL("../../fixtures/", import.meta.url).pathname;
 * const bitstreamDir = `${fixtures}reference/huffman-per-dump`;
 * assertEquals((await verifyFolder({ bitstreamDir })).unchecked, 4);
 * const report = await verifyFolder({ bitstreamDir, origDumpDir: `${fixtures}kv-sample` });
 * assertEquals([report.checkedAgainstOriginals, report.unchecked], [4, 0]);
 * ```
 */
export function verifyFolder(options: VerifyOptions): Promise<DecodeReport> {
  return decodeFolder({ ...options, overwrite: false });
}
