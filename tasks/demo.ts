/**
 * `deno task demo`: the main job on the bundled fixtures. Encodes
 * `fixtures/kv-sample` with every codec and codebook mode into `out/demo/`,
 * verifies each folder against the originals, analyzes it, and prints a ratio
 * table.
 *
 * @module
 */

import { join } from "../src/dump/path.ts";
import { CODECS } from "../src/format/codecs.ts";
import { analyzeFolder } from "../src/jobs/analyze_job.ts";
import { encodeFolder } from "../src/jobs/encode_job.ts";
import { countOutcomes } from "../src/jobs/job_report.ts";
import { verifyFolder } from "../src/jobs/verify_job.ts";
import {
  EXIT_CODES,
  flagsIn,
  runTask,
  type TaskCommand,
  type TaskDefinition,
} from "./_cli.ts";

const DEMO: TaskDefinition = {
  name: "demo",
  summary:
    "encode, verify and analyze the bundled fixtures with every codec; print the ratios.",
  flags: {
    "dump-dir": {
      type: "string",
      default: "fixtures/kv-sample",
      short: "d",
      path: true,
      value: "DIR",
      help: "dump folder to use",
    },
    "out-dir": {
      type: "string",
      default: "out/demo",
      short: "o",
      path: true,
      value: "DIR",
      help: "where to write one bitstream folder per codec and codebook mode",
    },
  },
  exitCodes: {
    dumpsFailed: "a dump failed to encode or verify",
    fatal: true,
  },
};

/** `kvbits demo`. */
export const command: TaskCommand = {
  definition: DEMO,
  main: async (flags) => {
    const dumpDir = flags["dump-dir"] as string;
    const outRoot = flags["out-dir"] as string;
    const header = [
      "codec",
      "codebook",
      "dumps",
      "verified",
      "K ratio",
      "V ratio",
      "KV ratio",
      "KV, every file",
      "encode MB/s",
    ];
    const rows: string[][] = [];
    let failures = 0;
    for (const codec of CODECS) {
      for (const codebook of codec.codebookModes) {
        // A codec that learns as it codes (ctx) has no codebook to name.
        const used = codec.modelsUsed(codebook).codebook;
        const name = used ? `${codec.name}-${used}` : codec.name;
        const outDir = join(outRoot, name);
        const encoded = await encodeFolder({
          dumpDir,
          outDir,
          codec,
          codebook,
          overwrite: true,
          stage: "both",
          minSeqLen: 0,
          maxSeqLen: 0,
          // Scratch output: "encode MB/s" measures coding, not disk flushes.
          durable: false,
        });
        const verified = await verifyFolder({
          bitstreamDir: outDir,
          origDumpDir: dumpDir,
        });
        const analysis = await analyzeFolder({
          bitstreamDir: outDir,
          origDumpDir: dumpDir,
          outDir,
          includeMeta: false,
        });
        const encodedCounts = countOutcomes(encoded.outcomes);
        const verifiedCounts = countOutcomes(verified.outcomes);
        failures += encodedCounts.failed + verifiedCounts.failed;
        for (const outcome of [...encoded.outcomes, ...verified.outcomes]) {
          if (outcome.status === "failed") {
            console.error(`failed  ${flagsIn(outcome.reason ?? "")}`);
          }
        }
        const t = analysis.withoutMeta;
        rows.push([
          codec.name,
          used ?? "(adaptive)",
          String(encodedCounts.done),
          `${verified.checkedAgainstOriginals}/${verified.outcomes.length}`,
          t.kRatio.toFixed(4),
          t.vRatio.toFixed(4),
          t.kvRatio.toFixed(4),
          analysis.withMeta.kvRatio.toFixed(4),
          (encoded.rawBytes / 1e6 / encoded.seconds).toFixed(1),
        ]);
      }
    }
    const widths = header.map((title, i) =>
      Math.max(title.length, ...rows.map((row) => row[i].length))
    );
    const line = (cells: string[]) =>
      cells.map((cell, i) =>
        i < 2 ? cell.padEnd(widths[i]) : cell.padStart(widths[i])
      )
        .join("  ");
    console.log(`kvbits demo on ${dumpDir} (outputs in ${outRoot}/)`);
    console.log(line(header));
    for (const row of rows) console.log(line(row));
    console.log(
      "Ratios: original bytes / coded bytes; 'KV, every file' counts every file written\n" +
        "(the JSON of the reference layouts and their codebook; ctx's headers). ctx has no\n" +
        "codebook: its models adapt as they code.",
    );
    return failures > 0 ? EXIT_CODES.dumpsFailed : EXIT_CODES.ok;
  },
};

if (import.meta.main) await runTask(command.definition, command.main);
