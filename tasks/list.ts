/**
 * `deno task list --pack FILE`: what a pack holds, one line per entry (like
 * `tar -t`), and its totals (like `zstd -l`).
 *
 * @module
 */

import { listPack } from "../src/jobs/pack_list_job.ts";
import {
  EXIT_CODES,
  formatBytes,
  OUTPUT_FLAGS,
  printJson,
  ratioOrNull,
  runTask,
  type TaskCommand,
  type TaskDefinition,
  UsageError,
} from "./_cli.ts";

const LIST: TaskDefinition = {
  exitCodes: { dumpsFailed: true, fatal: true },
  name: "list",
  summary: "list the files and dumps a pack holds, with their sizes.",
  flags: {
    pack: {
      type: "string",
      required: true,
      path: true,
      value: "FILE",
      help: "pack to list; - reads it from standard input",
    },
    only: {
      type: "string",
      repeatable: true,
      value: "PATTERN",
      help: "list only what matches (as decode --only)",
    },
    json: OUTPUT_FLAGS.json,
  },
  notes: [
    "Columns: kind, block, bytes restored, bytes in the pack (a dump's meta is\n" +
    "counted in the table, not here), layer and stage of dumps, path. From a file\n" +
    "only the index and entry tables are read. dump* is a dump coded against a\n" +
    "predictor dump (decoding it needs --predictor-dir).",
  ],
};

/** `kvbits list`. */
export const command: TaskCommand = {
  definition: LIST,
  main: async (flags) => {
    const report = await listPack({
      pack: flags.pack as string,
      only: flags.only as string[],
    }).catch((error) => {
      if (error instanceof RangeError && error.message.startsWith("--only")) {
        throw new UsageError(error.message);
      }
      throw error;
    });
    const code = report.damage.length > 0
      ? EXIT_CODES.dumpsFailed
      : EXIT_CODES.ok;
    for (const damage of report.damage) {
      console.error(`damaged ${damage.detail}`);
    }
    const restored = report.entries.reduce((sum, e) => sum + e.bytes, 0);
    if (flags.json) {
      printJson({
        task: "list",
        exitCode: code,
        layout: "pack",
        blocks: report.blocks,
        bytes: { pack: report.packBytes, restored },
        ratio: ratioOrNull(restored, report.packBytes),
        entries: report.entries,
        damage: report.damage.map(({ offset, detail }) => ({ offset, detail })),
      });
      return code;
    }
    for (const entry of report.entries) {
      const dump = entry.kind === "dump"
        ? `L${entry.layer} ${entry.stage}`.padEnd(12)
        : "".padEnd(12);
      const kind = entry.predicted ? "dump*" : entry.kind;
      console.log(
        `${kind.padEnd(6)} ${String(entry.block).padStart(4)} ${
          String(entry.bytes).padStart(12)
        } ${String(entry.codedBytes).padStart(12)}  ${dump} ${entry.path}`,
      );
    }
    const dumps = report.entries.filter((e) => e.kind === "dump").length;
    console.log(
      `${report.entries.length} entries (${dumps} dumps) in ${report.blocks} block${
        report.blocks === 1 ? "" : "s"
      }: ${formatBytes(restored)} restored from a pack of ${
        formatBytes(report.packBytes)
      }` +
        ((flags.only as string[]).length === 0
          ? `, ratio ${(restored / Math.max(1, report.packBytes)).toFixed(4)}`
          : ""),
    );
    return code;
  },
};

if (import.meta.main) await runTask(command.definition, command.main);
