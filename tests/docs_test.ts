/**
 * The documents hold together: every `FORMAT.md §n` the code cites is a section
 * of docs/FORMAT.md, every relative link of the README, DEVELOPERS.md and docs/
 * leads to a file (and heading) that exists, and the README stays short.
 */

import { assert, assertEquals } from "@std/assert";
import { dirname, join, relative } from "@std/path";
import { ROOT } from "./_helpers.ts";

/** The README is for users: under 15 KB (formats, notes and figures go in docs/). */
const README_LIMIT_BYTES = 15 * 1024;

const CITING_FOLDERS = ["src", "tasks", "tests", "bench", "scripts"];

async function filesBelow(dir: string, ending: string): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) files.push(...await filesBelow(path, ending));
    else if (entry.isFile && entry.name.endsWith(ending)) files.push(path);
  }
  return files.sort();
}

/** Section numbers of `## n.` and `### n.m` headings. */
function sectionNumbers(markdown: string): Set<string> {
  return new Set(
    [...markdown.matchAll(/^#{2,3} (\d+(?:\.\d+)?)\.? /gm)].map((m) => m[1]),
  );
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to dashes. */
function anchorOf(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, "")
    .replaceAll(" ", "-");
}

function anchorsOf(markdown: string): Set<string> {
  const withoutCode = markdown.replace(/^```[\s\S]*?^```/gm, "");
  return new Set(
    [...withoutCode.matchAll(/^#+ (.+)$/gm)].map((m) => anchorOf(m[1])),
  );
}

Deno.test("every FORMAT.md §n cited in the code is a section of docs/FORMAT.md", async () => {
  const format = await Deno.readTextFile(join(ROOT, "docs", "FORMAT.md"));
  const sections = sectionNumbers(format);
  assert(sections.has("1") && sections.has("6.1"), "FORMAT.md has no sections");
  const missing: string[] = [];
  let citations = 0;
  for (const folder of CITING_FOLDERS) {
    for (const file of await filesBelow(join(ROOT, folder), ".ts")) {
      const text = await Deno.readTextFile(file);
      // "FORMAT.md §3", "FORMAT.md §3 and §4", "FORMAT.md §1, §3, §4".
      for (
        const m of text.matchAll(/FORMAT\.md (§[\d.]+(?:(?:,| and) §[\d.]+)*)/g)
      ) {
        for (const [, n] of m[1].matchAll(/§(\d+(?:\.\d+)?)/g)) {
          citations++;
          if (!sections.has(n)) missing.push(`${relative(ROOT, file)}: §${n}`);
        }
      }
    }
  }
  assert(citations > 0, "no citation of FORMAT.md found in the code");
  assertEquals(missing, [], "citations of sections FORMAT.md does not have");
});

Deno.test("relative links in the README, DEVELOPERS.md and docs/ lead to files and headings that exist", async () => {
  const documents = [
    join(ROOT, "README.md"),
    join(ROOT, "DEVELOPERS.md"),
    ...await filesBelow(join(ROOT, "docs"), ".md"),
  ];
  const broken: string[] = [];
  for (const document of documents) {
    const text = await Deno.readTextFile(document);
    const withoutCode = text.replace(/^```[\s\S]*?^```/gm, "");
    for (const [, target] of withoutCode.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target)) continue; // https:, mailto:
      const [path, anchor] = target.split("#");
      const file = path === "" ? document : join(dirname(document), path);
      let linked: string;
      try {
        linked = await Deno.readTextFile(file);
      } catch {
        broken.push(`${relative(ROOT, document)}: ${target} (no such file)`);
        continue;
      }
      if (anchor !== undefined && !anchorsOf(linked).has(anchor)) {
        broken.push(`${relative(ROOT, document)}: ${target} (no such heading)`);
      }
    }
  }
  assertEquals(broken, []);
});

Deno.test("the README stays under 15 KB", async () => {
  const { size } = await Deno.stat(join(ROOT, "README.md"));
  assert(
    size < README_LIMIT_BYTES,
    `README.md is ${size} bytes; move formats, notes and figures to docs/`,
  );
});
