/**
 * `deno task merge a.kvp b.kvp -o c.kvp`: packs combined into one, blocks copied
 * without coding them again.
 *
 * @module
 */

import { parseArgs } from "@std/cli";
import { mergePacks } from "../src/jobs/pack_merge_job.ts";
import { KvbitsJobError } from "../src/jobs/job_error.ts";
import { KvbitsFileError } from "../src/dump/file_error.ts";
import { KvbitsDataError } from "../src/codec/errors.ts";
import { EXIT_CODES, formatBytes, printJson } from "./_cli.ts";

const HELP =
  `kvbits merge: combine packs into one, copying their blocks (nothing is coded again).

Usage: deno task merge PACK PACK... -o OUT [--no-fsync] [--json]

  -o, --out FILE   the merged pack (- writes it to standard output)
  --no-fsync       do not flush the merged pack to the disk
  --json           print the summary as one JSON object
  --help, -h       show this help

Every input is checked (its whole-pack CRC-32) before anything is written; a
damaged input, inputs of different dump coders, or a path in two inputs are
refused (exit 3). The output is written under a temporary name and renamed.

Exit codes: 0 success, 3 refused or failed, 64 usage error.`;

if (import.meta.main) {
  const args = parseArgs(Deno.args, {
    string: ["out"],
    boolean: ["help", "no-fsync", "json"],
    alias: { o: "out", h: "help" },
    unknown: (arg: string) => {
      if (arg.startsWith("-") && arg !== "-") {
        console.error(`kvbits merge: unknown flag ${arg}`);
        console.error(`Run "deno task merge --help" for the flags.`);
        Deno.exit(EXIT_CODES.usage);
      }
      return true;
    },
  });
  if (args.help) {
    console.log(HELP);
    Deno.exit(EXIT_CODES.ok);
  }
  const inputs = args._.map(String);
  const output = args.out as string | undefined;
  if (inputs.length === 0 || output === undefined || output === "") {
    console.error("kvbits merge: give the packs to merge and -o OUT");
    console.error(`Run "deno task merge --help" for the flags.`);
    Deno.exit(EXIT_CODES.usage);
  }
  const say = output === "-" ? console.error : console.log;
  try {
    const report = await mergePacks({
      inputs,
      output,
      durable: !args["no-fsync"],
    });
    if (args.json) {
      const summary = { task: "merge", exitCode: 0, ...report };
      if (output === "-") console.error(JSON.stringify(summary, null, 2));
      else printJson(summary);
    } else {
      say(
        `Merged: ${inputs.length} packs, ${report.blocks} blocks, ${report.entries} entries into ${output} (${
          formatBytes(report.packBytes)
        }); ${report.seconds.toFixed(2)} s`,
      );
    }
    Deno.exit(EXIT_CODES.ok);
  } catch (error) {
    if (
      error instanceof KvbitsJobError || error instanceof KvbitsFileError ||
      error instanceof KvbitsDataError
    ) {
      console.error(`kvbits merge: ${error.message}`);
      Deno.exit(EXIT_CODES.fatal);
    }
    throw error;
  }
}
