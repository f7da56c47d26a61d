/**
 * `--only`: which entries of a pack to restore, by path glob, stage or layer.
 *
 * Read me first:
 * - A pattern is `stage=<stage>`, `layer=<list>` (numbers and ranges, `0,2,4-7`)
 *   or a path glob (`*` and `?` within a path part, `**` across parts, `[...]`
 *   a character class). A glob selects the paths it matches and everything
 *   below a folder it matches, as tar does with a folder name.
 * - Patterns of one kind add up (any may match); kinds narrow each other (all
 *   must match). Stage and layer select dumps only; a dump matches a glob when
 *   its meta, K or V path does.
 *
 * @module
 */

import type { PackDumpMeta } from "./pack_dump_meta.ts";
import type { PackEntry } from "./pack_table.ts";

/** Which entries to restore. */
export type PackSelection = (entry: PackEntry, dump?: PackDumpMeta) => boolean;

/**
 * Builds the selection of a list of `--only` patterns.
 *
 * @param patterns The patterns (none selects everything).
 * @returns The selection.
 * @throws {RangeError} When a `stage=` or `layer=` pattern is malformed (the
 * message names it).
 *
 * @example
 * ```ts
 * import { packSelection } from "./pack_selection.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const only = packSelection(["run_a/**", "README.md"]);
 * assertEquals(only({ kind: "file", path: "run_a/x/y.txt", size: 0, crc: 0 }), true);
 * assertEquals(only({ kind: "file", path: "run_b/y.txt", size: 0, crc: 0 }), false);
 * assertEquals(packSelection(["run_a"])({ kind: "folder", path: "run_a/empty" }), true);
 * ```
 */
export function packSelection(patterns: readonly string[]): PackSelection {
  const globs: RegExp[] = [];
  const stages: string[] = [];
  const layers: [number, number][] = [];
  for (const pattern of patterns) {
    if (pattern.startsWith("stage=")) {
      const stage = pattern.slice(6);
      if (stage === "") throw new RangeError(`--only ${pattern}: no stage`);
      stages.push(stage);
    } else if (pattern.startsWith("layer=")) {
      for (const part of pattern.slice(6).split(",")) {
        const match = /^(\d+)(?:-(\d+))?$/.exec(part);
        if (match === null) {
          throw new RangeError(
            `--only ${pattern}: "${part}" is not a layer or a range like 2-5`,
          );
        }
        layers.push([Number(match[1]), Number(match[2] ?? match[1])]);
      }
    } else {
      globs.push(globRegExp(pattern));
    }
  }
  const matchesPath = (path: string) => {
    if (globs.some((glob) => glob.test(path))) return true;
    let at = path.lastIndexOf("/");
    while (at > 0) {
      const folder = path.slice(0, at);
      if (globs.some((glob) => glob.test(folder))) return true;
      at = folder.lastIndexOf("/");
    }
    return false;
  };
  return (entry, dump) => {
    if (stages.length > 0 || layers.length > 0) {
      if (dump === undefined) return false;
      if (stages.length > 0 && !stages.includes(dump.meta.stage)) return false;
      const layer = dump.meta.layerId;
      if (
        layers.length > 0 &&
        !layers.some(([low, high]) => low <= layer && layer <= high)
      ) return false;
    }
    if (globs.length === 0) return true;
    return matchesPath(entry.path) ||
      (dump !== undefined &&
        (matchesPath(dump.kPath) || matchesPath(dump.vPath)));
  };
}

function globRegExp(glob: string): RegExp {
  let source = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === "*" && glob[i + 1] === "*") {
      // `**/` matches zero or more whole parts; a trailing `**` anything.
      if (glob[i + 2] === "/") {
        source += "(?:.*/)?";
        i += 2;
      } else {
        source += ".*";
        i++;
      }
    } else if (c === "*") source += "[^/]*";
    else if (c === "?") source += "[^/]";
    else if (c === "[") {
      const end = glob.indexOf("]", i + 2);
      if (end < 0) source += "\\[";
      else {
        const body = glob.slice(i + 1, end).replace(/^!/, "^")
          .replace(/\\/g, "\\\\");
        source += `[${body}]`;
        i = end;
      }
    } else source += c.replace(/[.+^${}()|\\\]]/g, "\\$&");
  }
  return new RegExp(`^${source}$`);
}
