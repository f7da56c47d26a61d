/**
 * `--pack FILE`: what makes encode, decode and verify work on a pack instead of a
 * bitstream folder. The tasks look for it before parsing their flags and hand the
 * command line to the pack task of the same name.
 *
 * @module
 */

import { type FlagDefinition, kvbitsCommand } from "./_cli.ts";

/** `--predictor-dir DIR`: the pack tasks' predictor folder. */
export const PREDICTOR_DIR_FLAG = {
  "predictor-dir": {
    type: "string",
    path: true,
    value: "DIR",
    help:
      "predictor folder: the same tree made by a cheaper model on the same tokens; dumps with a counterpart there are coded against it (decode and verify need the same folder, bit for bit)",
  },
} as const satisfies Record<string, FlagDefinition>;

/**
 * Whether a command line asks for a pack (`--pack X` or `--pack=X`).
 *
 * @param args The command line.
 * @returns True when `--pack` is among the flags.
 *
 * @example
 * ```ts
 * import { packRequested } from "./_pack_flag.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(packRequested(["--dump-dir", "d", "--pack", "-"]), true);
 * assertEquals(packRequested(["--pack=x.kvp"]), true);
 * assertEquals(packRequested(["--bitstream-dir", "b"]), false);
 * ```
 */
export function packRequested(args: readonly string[]): boolean {
  return args.some((arg) => arg === "--pack" || arg.startsWith("--pack="));
}

/**
 * Where a pack task prints its summary: stderr when the pack itself goes to
 * stdout, stdout otherwise.
 *
 * @param pack The `--pack` value.
 * @returns The print function.
 *
 * @example
 * ```ts
 * import { summaryPrinter } from "./_pack_flag.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(summaryPrinter("-"), console.error);
 * ```
 */
export function summaryPrinter(pack: string): (line: string) => void {
  return pack === "-" ? console.error : console.log;
}

/**
 * The help paragraph of a folder task that points to its pack form, which
 * `--help` shows only when `--pack` is given.
 *
 * @param task The task's name.
 * @param form The task's pack flags, e.g. `--dump-dir D --pack FILE`.
 * @returns The paragraph.
 *
 * @example
 * ```ts
 * import { packFormNote } from "./_pack_flag.ts";
 * import { assertStringIncludes } from "@std/assert";
 *
 * assertStringIncludes(packFormNote("list", "--pack FILE"), "list --pack FILE --help");
 * ```
 */
export function packFormNote(task: string, form: string): string {
  const command = `${kvbitsCommand()} ${task}`;
  return `For a pack (one file that holds a whole dump folder): ${command} ${form};\n` +
    `"${command} --pack FILE --help" lists its flags.`;
}
