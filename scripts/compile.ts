/**
 * `deno task compile`: the standalone executable `dist/kvbits`, every subcommand
 * in one file (see `entry_points.ts` for its permissions, and why).
 *
 * `deno compile` joins the program to a runtime base, `denort`, which it downloads
 * for the target on first use, or takes from the `DENORT_BIN` environment
 * variable. A base that is not a denort (the deno CLI itself, say) gives a binary
 * that runs as the deno CLI and ignores the program: every binary built for this
 * machine is therefore run once with `--help` before it is reported as built.
 *
 * @module
 */

import { join, resolve } from "@std/path";
import { KvbitsJobError } from "../src/jobs/job_error.ts";
import { EXIT_CODES, runTask, type TaskDefinition } from "../tasks/_cli.ts";
import {
  binaryName,
  COMPILE_TARGETS,
  compileArgs,
  ENTRY_POINTS,
  OPTIONAL_MODULES,
  permissionFlags,
  ROOT,
} from "./entry_points.ts";

const COMPILE: TaskDefinition = {
  name: "compile",
  summary:
    "build the standalone executable kvbits (every subcommand) with its permissions baked in.",
  flags: {
    "out-dir": {
      type: "string",
      default: "dist",
      value: "DIR",
      help: "folder for the executables",
    },
    target: {
      type: "string",
      choices: COMPILE_TARGETS,
      value: "TARGET",
      help:
        "build for another OS and CPU (the names get the target appended; default: this machine)",
    },
    "write-dir": {
      type: "string",
      value: "DIR",
      help:
        "confine the executable's writes to DIR (made absolute), and give it nothing but reading besides; default: --allow-all (see scripts/entry_points.ts)",
    },
  },
  notes: [
    "deno compile needs its runtime base (denort) for the target: it downloads it on\n" +
    "first use, or takes the file named by DENORT_BIN. The executable built for this\n" +
    "machine is run with --help before it is reported, so that a base that is not a\n" +
    "denort (the deno CLI, say) is caught.",
  ],
  exitCodes: {
    fatal: "a build failed, or an executable built does not run kvbits",
  },
};

/** How far a build's stderr is echoed when it fails. */
const ERROR_LINES = 8;

/** The output of `deno compile` that says the base could not be had. */
const BASE_PROBLEM = /base binary|denort/i;

if (import.meta.main) {
  await runTask(COMPILE, async (flags) => {
    const outDir = flags["out-dir"] as string;
    const target = flags.target as string | undefined;
    const writeDir = flags["write-dir"] as string | undefined;
    const writeDirs = writeDir === undefined ? [] : [resolve(writeDir)];
    const decoder = new TextDecoder();
    const include = [];
    for (const path of OPTIONAL_MODULES) {
      if (await Deno.stat(join(ROOT, path)).then(() => true, () => false)) {
        include.push(path);
      }
    }
    for (const entry of ENTRY_POINTS) {
      const output = await new Deno.Command(Deno.execPath(), {
        args: compileArgs(entry, { outDir, target, writeDirs, include }),
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      const path = `${outDir}/${binaryName(entry, target)}`;
      if (!output.success) {
        // Deno's error and its causes, without the (empty) backtrace after them.
        const text = decoder.decode(output.stderr).split("Stack backtrace")[0]
          .trim().split("\n").slice(-ERROR_LINES).join("\n");
        throw new KvbitsJobError(
          `deno compile of ${entry.source} failed:\n${text}` +
            (BASE_PROBLEM.test(text)
              ? "\ndeno compile could not get its runtime base (denort) for the target: " +
                "let it download it once, or set DENORT_BIN to the denort binary of " +
                `this Deno version (${Deno.version.deno}) for the target`
              : ""),
        );
      }
      if (target === undefined) await checkRunsKvbits(path, entry.task);
      const megabytes = (await Deno.stat(path)).size / 1e6;
      console.log(
        `Built ${path} (${megabytes.toFixed(0)} MB) with ${
          ["--no-prompt", ...permissionFlags(entry, writeDirs)].join(" ")
        }`,
      );
    }
    return EXIT_CODES.ok;
  });
}

/** Runs a binary built for this machine with `--help`: it must be kvbits. */
async function checkRunsKvbits(path: string, task: string): Promise<void> {
  const output = await new Deno.Command(path, {
    args: ["--help"],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).output();
  const text = new TextDecoder().decode(output.stdout);
  if (output.success && text.startsWith(`${task} `)) return;
  const first = (text || new TextDecoder().decode(output.stderr)).trim()
    .split("\n")[0];
  // Leave no executable that looks like kvbits but is not.
  await Deno.remove(path);
  const base = Deno.env.get("DENORT_BIN");
  throw new KvbitsJobError(
    `${path} was built but does not run kvbits (its --help printed ${
      JSON.stringify(first)
    }): the runtime base ${
      base ? `DENORT_BIN=${base}` : "deno compile used"
    } is not a denort. Point DENORT_BIN at the denort binary of Deno ${Deno.version.deno}, or unset it`,
  );
}
