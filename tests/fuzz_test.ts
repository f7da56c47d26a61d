/**
 * Fuzzing: mutated encoded dumps, for every registered codec (the stream codecs'
 * folders and ctx's `.kvc` files), end in an exact decode or a typed error, and
 * wrong bytes never pass verify.
 *
 * In the suite it runs a few thousand seeded cases (a few seconds). `deno task
 * fuzz` runs the long mode; flags after the task name (or after `--` of `deno
 * test`) change it: `--cases=N`, `--job-cases=N`, `--seed=N`, `--long`.
 */

import { assert, assertEquals } from "@std/assert";
import { join } from "@std/path";
import type { CodebookMode } from "../src/format/stream_codec.ts";
import { STREAM_CODECS } from "../src/format/stream_codecs.ts";
import { decodeFolder } from "../src/jobs/decode_job.ts";
import { encodeFolder } from "../src/jobs/encode_job.ts";
import { verifyFolder } from "../src/jobs/verify_job.ts";
import {
  buildCtxFuzzBases,
  buildFuzzBases,
  fuzzReport,
  mutate,
  runCtxFuzz,
  runFuzz,
} from "./_fuzz.ts";
import { KV_SAMPLE, listFiles, seededRandom, withTempDir } from "./_helpers.ts";

function flag(name: string): string | undefined {
  const prefix = `--${name}=`;
  const given = Deno.args.find((arg) =>
    arg === `--${name}` || arg.startsWith(prefix)
  );
  return given === undefined
    ? undefined
    : given.startsWith(prefix)
    ? given.slice(prefix.length)
    : "";
}

const LONG = flag("long") !== undefined;
const CASES = Number(flag("cases") ?? (LONG ? 300_000 : 10_000));
const JOB_CASES = Number(flag("job-cases") ?? (LONG ? 300 : 24));
const SEED = Number(flag("seed") ?? 20_251_127);

Deno.test(`fuzz: ${CASES} mutated dumps (streams, meta JSON, codebooks) of every codec end in an exact decode or a typed error`, async () => {
  const bases = await buildFuzzBases();
  const stats = runFuzz(bases, CASES, SEED);
  console.log(fuzzReport(stats));
  assertEquals(stats.violations, []);
  // The run exercised what it claims to: decodes that succeed, decoder errors,
  // format errors, and corruptions only the checksums stopped.
  const seen = (name: string) => (stats.byOutcome.get(name as never) ?? 0) > 0;
  assert(seen("decoded, equal, checked"));
  assert(seen("KvbitsDataError from a decoder (stream)"));
  assert(seen("KvbitsFormatError (meta or codebook JSON)"));
  assert(seen("KvbitsDataError: K/V CRC differs"));
  assert(stats.silentWrongCaughtByChecksum > 0);
});

Deno.test(`fuzz: ${CASES} mutated .kvc files (header, meta section, plans, rANS stream, raw bytes) end in an exact decode or a typed error`, async () => {
  const bases = await buildCtxFuzzBases();
  const stats = runCtxFuzz(bases, CASES, SEED);
  console.log(fuzzReport(stats, ["ctx"]));
  assertEquals(stats.violations, []);
  const seen = (name: string) => (stats.byOutcome.get(name as never) ?? 0) > 0;
  assert(seen("decoded, equal, checked"));
  assert(seen("KvbitsDataError from a decoder (stream)"));
  assert(seen("KvbitsDataError: K/V CRC differs"));
  assert(seen("KvbitsDataError: meta CRC differs"));
  assert(stats.silentWrongCaughtByChecksum > 0);
});

/** A small encoded folder per codec and codebook mode, written by the real job. */
async function encodedFolders(root: string) {
  const dumps = join(root, "dumps");
  // Six dumps of two models: small enough to copy per case.
  for (
    const relative of [
      "llama6L-kjv-ruth/layer_0/meta_t0_128.json",
      "llama6L-kjv-ruth/layer_0/meta_t384_385.json",
      "llama6L-kjv-ruth/layer_5/meta_t390_391.json",
      "gpt2L4-fortune-wisdom/layer_0/meta_t448_449.json",
      "gpt2L4-fortune-wisdom/layer_0/meta_t450_451.json",
      "gpt2L4-fortune-wisdom/layer_0/meta_t460_461.json",
    ]
  ) {
    const from = join(KV_SAMPLE, relative);
    const folder = relative.slice(0, relative.lastIndexOf("/"));
    await Deno.mkdir(join(dumps, folder), { recursive: true });
    const meta = JSON.parse(await Deno.readTextFile(from));
    for (
      const file of [
        relative.slice(folder.length + 1),
        meta.k_file,
        meta.v_file,
      ]
    ) {
      await Deno.copyFile(
        join(KV_SAMPLE, folder, file),
        join(dumps, folder, file),
      );
    }
  }
  const folders: { codec: string; mode: CodebookMode; dir: string }[] = [];
  for (const codec of STREAM_CODECS) {
    for (const mode of ["global", "per-dump"] as const) {
      const dir = join(root, `${codec.name}-${mode}`);
      await encodeFolder({
        dumpDir: dumps,
        outDir: dir,
        codec,
        codebook: mode,
        overwrite: false,
        stage: "both",
        minSeqLen: 0,
        maxSeqLen: 0,
        durable: false,
      });
      folders.push({ codec: codec.name, mode, dir });
    }
  }
  return { dumps, folders };
}

async function copyFolder(from: string, to: string) {
  for (const file of await listFiles(from)) {
    await Deno.mkdir(join(to, file, ".."), { recursive: true });
    await Deno.copyFile(join(from, file), join(to, file));
  }
}

Deno.test(`fuzz through the jobs: ${JOB_CASES} corrupted folders; each dump is restored exactly or fails with one line naming its file, and nothing of a failed dump is written`, async () => {
  await withTempDir(async (root) => {
    const { dumps, folders } = await encodedFolders(root);
    const bases = await buildFuzzBases();
    let failedDumps = 0;
    let doneDumps = 0;
    for (let i = 0; i < JOB_CASES; i++) {
      const random = seededRandom(SEED + 1_000_000 + i);
      const folder = folders[Math.floor(random() * folders.length)];
      const work = join(root, `case-${i}`);
      const bits = join(work, "bits");
      await copyFolder(folder.dir, bits);
      // Mutate one dump's files with the format-level mutations.
      const metaFiles = (await listFiles(bits)).filter((f) =>
        /(^|\/)[a-z]+_meta_.*\.json$/.test(f)
      );
      const metaFile = metaFiles[Math.floor(random() * metaFiles.length)];
      const dir = join(bits, metaFile, "..");
      const streams = new Map<string, Uint8Array>();
      const meta = JSON.parse(await Deno.readTextFile(join(bits, metaFile)));
      for (const key of Object.keys(meta).filter((k) => /_file$/.test(k))) {
        if (/^[kv]_(hi6|lo10)_file$/.test(key)) {
          streams.set(meta[key], await Deno.readFile(join(dir, meta[key])));
        }
      }
      const codec = STREAM_CODECS.find((c) => c.name === folder.codec)!;
      const codebookPath = join(bits, codec.globalCodebookFile);
      const base = bases.find((b) =>
        b.codec === codec && b.mode === folder.mode
      )!;
      const { files, what } = mutate({
        ...base,
        meta: await Deno.readFile(join(bits, metaFile)),
        streams,
        codebook: folder.mode === "global"
          ? await Deno.readFile(codebookPath)
          : undefined,
      }, random);
      await Deno.writeFile(join(bits, metaFile), files.meta);
      for (const [name, bytes] of files.streams) {
        await Deno.writeFile(join(dir, name), bytes);
      }
      if (files.codebook === undefined) {
        await Deno.remove(codebookPath).catch(() => {});
      } else await Deno.writeFile(codebookPath, files.codebook);

      const label =
        `job case ${i} (${folder.codec} ${folder.mode}, ${metaFile}): ${what}`;
      const restored = join(work, "restored");
      const verified = await verifyFolder({ bitstreamDir: bits });
      const decoded = await decodeFolder({
        bitstreamDir: bits,
        outDir: restored,
        overwrite: false,
        durable: false,
      });
      assertEquals(
        verified.outcomes.map((o) => [o.dump, o.status]),
        decoded.outcomes.map((o) => [o.dump, o.status]),
        label,
      );
      const restoredFiles: string[] = await listFiles(restored).catch(() => []);
      for (const outcome of decoded.outcomes) {
        const restoredMeta = outcome.dump.replace(
          /[a-z]+_(meta_[^/]*\.json)$/,
          "$1",
        );
        if (outcome.status === "done") {
          doneDumps++;
          continue;
        }
        failedDumps++;
        const reason = outcome.reason!;
        assert(!reason.includes("\n"), `${label}: one line: ${reason}`);
        assert(reason.startsWith(bits), `${label}: names a file: ${reason}`);
        assert(
          !restoredFiles.includes(restoredMeta),
          `${label}: a failed dump's meta was restored`,
        );
      }
      // Restored files equal the originals, except those of a mutated dump that
      // lost its checksums: verify reports it as unchecked.
      const mayDiffer = new Set<string>();
      if (decoded.unchecked > 0) {
        const restoredMeta = metaFile.replace(
          /[a-z]+_(meta_[^/]*\.json)$/,
          "$1",
        );
        const folder = restoredMeta.slice(0, restoredMeta.lastIndexOf("/") + 1);
        mayDiffer.add(restoredMeta);
        const text = await Deno.readTextFile(join(restored, restoredMeta))
          .catch(() => "{}");
        const fields = (() => {
          try {
            return JSON.parse(text);
          } catch {
            return {};
          }
        })();
        mayDiffer.add(folder + fields.k_file).add(folder + fields.v_file);
        assert(verified.unchecked > 0, label);
      }
      for (const file of restoredFiles) {
        if (mayDiffer.has(file)) continue;
        assertEquals(
          await Deno.readFile(join(restored, file)),
          await Deno.readFile(join(dumps, file)),
          `${label}: ${file}`,
        );
      }
      // A failed dump leaves no file behind at all: its tensors are written after
      // it decoded and passed its checks, never before.
      assertEquals(restoredFiles.length, 3 * doneDumpsOf(decoded), label);
      await Deno.remove(work, { recursive: true });
    }
    console.log(
      `fuzz through the jobs: ${JOB_CASES} folders, ${doneDumps} dumps restored exactly, ${failedDumps} failed with one line naming the file`,
    );
    assert(failedDumps > 0);
  });
});

function doneDumpsOf(report: { outcomes: readonly { status: string }[] }) {
  return report.outcomes.filter((outcome) => outcome.status === "done").length;
}
