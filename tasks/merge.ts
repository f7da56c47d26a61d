/**
 * `deno task merge a.kvp b.kvp -o c.kvp`: packs combined into one, blocks copied
 * without coding them again.
 *
 * @module
 */

import { mergePacks } from "../src/jobs/pack_merge_job.ts";
import {
  EXIT_CODES,
  formatBytes,
  printJson,
  runTask,
  type TaskCommand,
  type TaskDefinition,
} from "./_cli.ts";

const MERGE: TaskDefinition = {
  name: "merge",
  summary:
    "combine packs into one, copying their blocks (nothing is coded again).",
  operands: {
    name: "packs",
    value: "PACK",
    path: true,
    help: "the packs to merge, in the order their blocks go into the output",
  },
  flags: {
    out: {
      type: "string",
      required: true,
      short: "o",
      path: true,
      value: "FILE",
      help: "the merged pack; - writes it to standard output",
    },
    json: {
      type: "boolean",
      help:
        "print the summary as one JSON object (on stderr when the pack goes to stdout)",
    },
    "no-fsync": {
      type: "boolean",
      help: "do not flush the merged pack to the disk",
    },
  },
  notes: [
    "Every input is checked (its whole-pack CRC-32) before anything is written; a\n" +
    "damaged input, inputs of different dump coders, or a path in two inputs are\n" +
    "refused (exit 3). The output is written under a temporary name and renamed.",
  ],
  exitCodes: {
    fatal: "refused or failed (a damaged input, a path in two inputs, ...)",
  },
};

/** `kvbits merge`. */
export const command: TaskCommand = {
  definition: MERGE,
  main: async (flags) => {
    const inputs = flags.packs as string[];
    const output = flags.out as string;
    const say = output === "-" ? console.error : console.log;
    const report = await mergePacks({
      inputs,
      output,
      durable: !flags["no-fsync"],
    });
    if (flags.json) {
      const summary = { task: MERGE.name, exitCode: EXIT_CODES.ok, ...report };
      if (output === "-") console.error(JSON.stringify(summary, null, 2));
      else printJson(summary);
    } else {
      say(
        `Merged: ${inputs.length} packs, ${report.blocks} blocks, ${report.entries} entries into ${
          flags.out === "-" ? "standard output" : output
        } (${formatBytes(report.packBytes)}); ${report.seconds.toFixed(2)} s`,
      );
    }
    return EXIT_CODES.ok;
  },
};

if (import.meta.main) await runTask(command.definition, command.main);
