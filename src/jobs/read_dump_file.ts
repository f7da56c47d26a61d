/**
 * Reading one dump of a one-file layout (see `DumpFileCodec`) and decoding it in
 * memory, as `readBitstreamDump` does for the four-stream layouts.
 *
 * @module
 */

import { basename, join } from "@std/path";
import type { DumpFileCodec } from "../format/dump_file_codec.ts";
import { fileErrorOf } from "../dump/file_error.ts";
import { type FileReader, readWholeFile } from "../dump/read_file.ts";
import type { ReadBitstreamDump } from "./bitstream_folder.ts";

/**
 * Reads and decodes one dump file.
 *
 * @param dir The bitstream folder.
 * @param dumpFile The dump's file, relative to the folder.
 * @param codec The folder's codec.
 * @param read How to read the file (role `dump`); `readWholeFile` by default.
 * @returns The restored meta, the decoded tensors (checked against their
 * checksums) and the file's byte split.
 * @throws {KvbitsFileError} Naming the file: unreadable, corrupt, or a part that
 * fails its checksum.
 *
 * @example
 * ```ts
 * import { readDumpFile } from "./read_dump_file.ts";
 * import { encodeFolder } from "./encode_job.ts";
 * import { ctxDumpFileCodec } from "../format/ctx_dump_file.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const outDir = await Deno.makeTempDir();
 * await encodeFolder({
 *   dumpDir: new URL("../../fixtures/kv-sample", import.meta.url).pathname, outDir,
 *   codec: ctxDumpFileCodec, codebook: "per-dump", overwrite: false,
 *   stage: "both", minSeqLen: 0, maxSeqLen: 0,
 * });
 * const dump = await readDumpFile(outDir, "llama6L-kjv-ruth/layer_0/meta_t0_128.kvc", ctxDumpFileCodec);
 * assertEquals([dump.inputMetaName, dump.decoded.k.length, dump.decoded.integrityChecked], ["meta_t0_128.json", 128 * 128, true]);
 * await Deno.remove(outDir, { recursive: true });
 * ```
 */
export async function readDumpFile(
  dir: string,
  dumpFile: string,
  codec: DumpFileCodec,
  read: FileReader = readWholeFile,
): Promise<ReadBitstreamDump> {
  const path = join(dir, dumpFile);
  const metaName = codec.metaNameOf(basename(dumpFile));
  if (metaName === undefined) {
    throw fileErrorOf(path, new Error(`not a ${codec.name} dump file`));
  }
  try {
    const bytes = await read(path, "dump");
    const decoded = codec.decode(bytes, metaName);
    return {
      meta: { input: decoded.input, inputText: decoded.inputText },
      decoded: { k: decoded.k, v: decoded.v, integrityChecked: true },
      inputMetaName: `${metaName}.json`,
      payloadBytes: decoded.payloadBytes,
      metaBytes: decoded.metaBytes,
    };
  } catch (error) {
    throw fileErrorOf(path, error);
  }
}
