/**
 * Encodes a dump folder on a worker only (`--jobs 2` without the thread's lane),
 * for the crash test: every file is then written by that one worker, dump after
 * dump in path order, so that the crash-test hook (which counts the writes of
 * a thread) stops it at a known file.
 *
 * Usage: `deno run -A tests/_encode_on_workers.ts DUMP_DIR OUT_DIR CODEC`
 * (per-dump codebooks for the stream codecs).
 */

import { codecNamed } from "../src/format/codecs.ts";
import { encodeFolder } from "../src/jobs/encode_job.ts";

const [dumpDir, outDir, codecName] = Deno.args;
const codec = codecNamed(codecName);
if (!codec) throw new Error(`no codec ${codecName}`);
const report = await encodeFolder({
  dumpDir,
  outDir,
  codec,
  codebook: "per-dump",
  overwrite: false,
  stage: "both",
  minSeqLen: 0,
  maxSeqLen: 0,
  jobs: 2,
  threadLane: false,
});
console.log(report.outcomes.filter((o) => o.status === "done").length);
