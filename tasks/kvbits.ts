/**
 * `kvbits`: the one command, with a subcommand per task
 * (`deno task kvbits encode ...`, or `kvbits encode ...` compiled). The task
 * names of deno.json (`deno task encode ...`) are aliases that run the same
 * modules.
 *
 * Each subcommand is a module of `tasks/` exporting `command` (a
 * {@link TaskCommand}); it is loaded only when asked for, so that `kvbits verify`
 * does not load the bench.
 *
 * @module
 */

import { packRequested } from "./_pack_flag.ts";
import {
  EXIT_CODES,
  kvbitsCommand,
  runTask,
  type TaskCommand,
  versionText,
} from "./_cli.ts";

/**
 * The subcommands that work on a pack when given `--pack`, loaded only then:
 * the pack's modules (node:crypto among them) would cost every folder job
 * about 30 ms of start-up.
 */
const PACK_RUNNERS: Readonly<
  Record<string, (args: readonly string[]) => Promise<void>>
> = {
  encode: async (args) =>
    (await import("./_pack_encode.ts")).runPackEncode(args),
  decode: async (args) =>
    (await import("./_pack_decode.ts")).runPackDecode(args),
  verify: async (args) =>
    (await import("./_pack_decode.ts")).runPackVerify(args),
  analyze: async (args) =>
    (await import("./_pack_analyze.ts")).runPackAnalyze(args),
};

/** A subcommand: what it does in one line, and how to load it. */
interface Subcommand {
  /** One line for `kvbits --help`. */
  readonly summary: string;
  /** Loads the module that exports the subcommand's `command`. */
  readonly load: () => Promise<{ command?: TaskCommand }>;
}

/** The subcommands, in the order `--help` lists them. */
const SUBCOMMANDS: Readonly<Record<string, Subcommand>> = {
  encode: {
    summary: "code a dump folder into one pack (--pack) or a bitstream folder",
    load: () => import("./encode.ts"),
  },
  decode: {
    summary:
      "restore a dump folder from a pack or a bitstream folder, byte for byte",
    load: () => import("./decode.ts"),
  },
  verify: {
    summary: "decode in memory and check every dump (CRC-32 or originals)",
    load: () => import("./verify.ts"),
  },
  analyze: {
    summary:
      "ratio tables of packs and bitstream folders; --report: an HTML page",
    load: () => import("./analyze.ts"),
  },
  merge: {
    summary: "combine packs into one without coding them again",
    load: () => import("./merge.ts"),
  },
  list: {
    summary: "list what a pack holds",
    // The pack's task: named by URL, so that a build without it still runs.
    load: () => import(new URL("./list.ts", import.meta.url).href),
  },
  bench: {
    summary: "ratio and speed of every codec beside zstd",
    load: () => import("./bench.ts"),
  },
  demo: {
    summary: "encode, verify and analyze the bundled fixtures",
    load: () => import("./demo.ts"),
  },
};

/** `kvbits --help`. */
function helpText(): string {
  const command = kvbitsCommand();
  const width = Math.max(
    ...Object.keys(SUBCOMMANDS).map((name) => name.length),
  );
  return [
    `${versionText()}: lossless coder for FP16 KV-cache dumps`,
    "",
    `Usage: ${command} <command> [flags]`,
    "",
    "Commands:",
    ...Object.entries(SUBCOMMANDS).map(([name, sub]) =>
      `  ${name.padEnd(width + 2)}${sub.summary}`
    ),
    "",
    "Flags:",
    "  -h, --help     show this help",
    "  -V, --version  show kvbits' version",
    "",
    `Run "${command} <command> --help" for a command's flags and exit codes.`,
    "Relative paths are taken from the folder you run the command in.",
  ].join("\n");
}

/**
 * Runs `kvbits <command> [flags]`: dispatches to the subcommand, or answers
 * `--help`, `help <command>` and `--version` itself.
 *
 * @param args The command line.
 * @returns Only when the subcommand returns; subcommands exit with their code.
 */
async function main(args: readonly string[]): Promise<number> {
  const [first, ...rest] = args;
  if (first === undefined) {
    console.error(helpText());
    return EXIT_CODES.usage;
  }
  if (first === "--help" || first === "-h") {
    console.log(helpText());
    return EXIT_CODES.ok;
  }
  if (first === "--version" || first === "-V") {
    console.log(versionText());
    return EXIT_CODES.ok;
  }
  const helpOf = first === "help" && rest.length > 0;
  const name = helpOf ? rest[0] : first;
  const subcommand = Object.hasOwn(SUBCOMMANDS, name)
    ? SUBCOMMANDS[name]
    : undefined;
  if (subcommand === undefined) {
    console.error(
      `kvbits: unknown command ${JSON.stringify(name)}; the commands are ${
        Object.keys(SUBCOMMANDS).join(", ")
      }`,
    );
    console.error(`Run "${kvbitsCommand()} --help" for more.`);
    return EXIT_CODES.usage;
  }
  const packRunner = helpOf ? undefined : PACK_RUNNERS[name];
  if (packRunner !== undefined && packRequested(rest)) {
    await packRunner(rest);
    return EXIT_CODES.ok;
  }
  let module;
  try {
    module = await subcommand.load();
  } catch (error) {
    if (!(error instanceof TypeError) || !/not found/i.test(error.message)) {
      throw error;
    }
    module = undefined;
  }
  if (module?.command === undefined) {
    console.error(`kvbits: ${name} is not part of this build of kvbits`);
    return EXIT_CODES.usage;
  }
  await runTask(
    module.command.definition,
    module.command.main,
    helpOf ? ["--help"] : rest,
  );
  return EXIT_CODES.ok;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
