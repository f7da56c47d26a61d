/**
 * `deno task bundle`: the `kvbits` command as one JavaScript file,
 * `dist/kvbits.js`, for people who have Deno and want one file: no import map, no
 * npm install, no other file. The bundle is run once with `--help` and read
 * permission only before it is reported.
 *
 * @module
 */

import { KvbitsJobError } from "../src/jobs/job_error.ts";
import { EXIT_CODES, runTask, type TaskDefinition } from "../tasks/_cli.ts";
import { bundleArgs, bundleName, ENTRY_POINTS } from "./entry_points.ts";

const BUNDLE: TaskDefinition = {
  name: "bundle",
  summary:
    "write the kvbits command as one JavaScript file that runs with deno run.",
  flags: {
    "out-dir": {
      type: "string",
      default: "dist",
      value: "DIR",
      help: "folder for the bundles",
    },
    minify: {
      type: "boolean",
      help: "minify the JavaScript",
    },
  },
  notes: [
    "Run the bundle with the permissions of the subcommand and no configuration, e.g.\n" +
    "  deno run --no-config --allow-read --allow-write=BITS dist/kvbits.js encode --dump-dir DUMPS --out-dir BITS\n" +
    "(verify needs --allow-read only; paths under /dev, such as /dev/shm, need --allow-all).",
  ],
  exitCodes: { fatal: "a bundle could not be written, or does not run" },
};

if (import.meta.main) {
  await runTask(BUNDLE, async (flags) => {
    const outDir = flags["out-dir"] as string;
    const decoder = new TextDecoder();
    for (const entry of ENTRY_POINTS) {
      const output = await new Deno.Command(Deno.execPath(), {
        args: bundleArgs(entry, outDir, flags.minify as boolean),
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      if (!output.success) {
        throw new KvbitsJobError(
          `deno bundle of ${entry.source} failed:\n${
            decoder.decode(output.stderr).trim()
          }`,
        );
      }
      const path = `${outDir}/${bundleName(entry)}`;
      const permissions = ["--allow-read"];
      const run = await new Deno.Command(Deno.execPath(), {
        args: ["run", "--no-config", ...permissions, path, "--help"],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      if (!decoder.decode(run.stdout).startsWith(`${entry.task} `)) {
        throw new KvbitsJobError(
          `${path} was written but does not run: ${
            decoder.decode(run.stderr).trim()
          }`,
        );
      }
      const kilobytes = (await Deno.stat(path)).size / 1e3;
      console.log(
        `Bundled ${path} (${
          kilobytes.toFixed(0)
        } kB): deno run --no-config --allow-read [--allow-write=DIR] ${path} <command> ...`,
      );
    }
    return EXIT_CODES.ok;
  });
}
