/**
 * The sizes `analyze` reports for a dump of a one-file layout (see
 * `DumpFileCodec`): the file decoded, its payload split between K and V and between
 * planes by what the codec's model spends on each.
 *
 * @module
 */

import { dirname, join } from "@std/path";
import type {
  DumpFileCodec,
  TensorPlaneBits,
} from "../format/dump_file_codec.ts";
import type { DumpSizes } from "../format/metrics.ts";
import type { DumpMeta } from "../format/dump_meta.ts";
import { fileErrorOf } from "../dump/file_error.ts";
import { readWholeFile } from "../dump/read_file.ts";

/**
 * Splits a payload of `payloadBytes` between K and V and, within each, between
 * `hi6` and the rest (`lo10` and references), in proportion to the bits the model
 * spends on each: whole bytes that add up to the payload exactly.
 *
 * @param payloadBytes Bytes of coded tensors in the file.
 * @param k K's plane bits.
 * @param v V's plane bits.
 * @returns Bytes attributed to each of the four stream columns of the metrics.
 *
 * @example
 * ```ts
 * import { splitPayload } from "./measure_dump_file.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const planes = { elements: 8, hi6: 24, mantissaTop: 16, mantissaRaw: 64, other: 0 };
 * assertEquals(splitPayload(30, planes, planes), { kHi6: 3, kLo10: 12, vHi6: 3, vLo10: 12 });
 * ```
 */
export function splitPayload(
  payloadBytes: number,
  k: TensorPlaneBits,
  v: TensorPlaneBits,
): { kHi6: number; kLo10: number; vHi6: number; vLo10: number } {
  const total = (p: TensorPlaneBits) =>
    p.hi6 + p.mantissaTop + p.mantissaRaw + p.other;
  const kBits = total(k), vBits = total(v);
  const kBytes = kBits + vBits > 0
    ? Math.round(payloadBytes * kBits / (kBits + vBits))
    : Math.round(payloadBytes / 2);
  const vBytes = payloadBytes - kBytes;
  const kHi6 = kBits > 0 ? Math.round(kBytes * k.hi6 / kBits) : 0;
  const vHi6 = vBits > 0 ? Math.round(vBytes * v.hi6 / vBits) : 0;
  return { kHi6, kLo10: kBytes - kHi6, vHi6, vLo10: vBytes - vHi6 };
}

/**
 * Decodes one dump file and measures it for `analyze`.
 *
 * @param dir The bitstream folder.
 * @param dumpFile The dump's file, relative to the folder.
 * @param codec The folder's codec.
 * @param origDumpDir The original dump folder, to take raw sizes from the original
 * files; without it they are 2 bytes per element.
 * @returns The dump's sizes, with the bits of each plane, and its input meta
 * (which names its original files).
 * @throws {KvbitsFileError} Naming the file that cannot be read or decoded.
 *
 * @example
 * ```ts
 * import { measureDumpFile } from "./measure_dump_file.ts";
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
 * const sizes = await measureDumpFile(outDir, "llama6L-kjv-ruth/layer_0/meta_t0_128.kvc", ctxDumpFileCodec);
 * const file = await Deno.stat(`${outDir}/llama6L-kjv-ruth/layer_0/meta_t0_128.kvc`);
 * assertEquals(sizes.kHi6 + sizes.kLo10 + sizes.vHi6 + sizes.vLo10 + sizes.metaBytes, file.size);
 * assertEquals(sizes.planes!.k.elements, 128 * 128);
 * await Deno.remove(outDir, { recursive: true });
 * ```
 */
export async function measureDumpFile(
  dir: string,
  dumpFile: string,
  codec: DumpFileCodec,
  origDumpDir?: string,
): Promise<DumpSizes & { readonly input: DumpMeta }> {
  const path = join(dir, dumpFile);
  const metaName = codec.metaNameOf(
    dumpFile.slice(dumpFile.lastIndexOf("/") + 1),
  );
  let decoded;
  try {
    decoded = codec.decode(await readWholeFile(path), metaName ?? "");
  } catch (error) {
    throw fileErrorOf(path, error);
  }
  const { input } = decoded;
  const planes = codec.planeBits(decoded);
  const rawSize = async (file: string) => {
    if (origDumpDir === undefined) return 2 * decoded.k.length;
    const original = join(origDumpDir, dirname(dumpFile), file);
    try {
      return (await Deno.stat(original)).size;
    } catch (error) {
      throw fileErrorOf(original, error);
    }
  };
  return {
    runId: input.runId,
    layerId: input.layerId,
    stage: input.stage,
    seqLen: input.seqLen,
    numElements: decoded.k.length,
    kRaw: await rawSize(input.kFile),
    vRaw: await rawSize(input.vFile),
    ...splitPayload(decoded.payloadBytes, planes.k, planes.v),
    metaBytes: decoded.metaBytes,
    planes,
    input,
  };
}
