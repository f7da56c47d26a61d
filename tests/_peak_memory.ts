/**
 * Runs one job in this process and prints its failures and then `peak <bytes>`,
 * the process's peak resident memory (VmHWM, Linux): how the reliability tests
 * bound a job's memory. Usage: `deno run -A tests/_peak_memory.ts encode|decode
 * '<options as JSON>'` (`codec` by name).
 */

import { codecNamed } from "../src/format/codecs.ts";
import { decodeFolder } from "../src/jobs/decode_job.ts";
import { encodeFolder } from "../src/jobs/encode_job.ts";

const [job, json] = Deno.args;
const options = JSON.parse(json);
const report = job === "encode"
  ? await encodeFolder({
    codebook: "global",
    overwrite: false,
    stage: "both",
    minSeqLen: 0,
    maxSeqLen: 0,
    durable: false,
    jobs: 1,
    ...options,
    codec: codecNamed(options.codec ?? "huffman")!,
  })
  : await decodeFolder({
    overwrite: false,
    durable: false,
    jobs: 1,
    ...options,
  });
for (const outcome of report.outcomes) {
  if (outcome.status !== "done") console.log(outcome.reason);
}
const status = await Deno.readTextFile("/proc/self/status");
const kilobytes = Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1]);
console.log(`peak ${kilobytes * 1024}`);
