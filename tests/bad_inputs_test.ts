/**
 * Every bad input we know of, run through the tasks as a user runs them: each
 * gets the documented exit code and one line that names the file and the
 * problem, never a stack trace. `docs/bad-inputs.md` is this list's output: the
 * test fails when the file is stale, and
 * `deno test -A tests/bad_inputs_test.ts -- --update` rewrites it.
 */

import { assert, assertEquals, assertNotMatch } from "@std/assert";
import { join } from "@std/path";
import { huffmanStreamCodec } from "../src/format/huffman_stream_codec.ts";
import { encodeFolder } from "../src/jobs/encode_job.ts";
import { encodePack } from "../src/jobs/pack_encode_job.ts";
import { EXIT_CODES } from "../tasks/_cli.ts";
import {
  listFiles,
  REFERENCE,
  ROOT,
  runTaskScript,
  withTempDir,
  writeDumpFolder,
} from "./_helpers.ts";

/** One bad input: how to make it, the command, and which line the user reads. */
interface BadInput {
  /** The bad input, for docs/bad-inputs.md. */
  readonly input: string;
  /** The task to run. */
  readonly task: "encode" | "decode" | "verify" | "analyze";
  /** Its arguments, relative to the case folder (the working folder of the run). */
  readonly args: readonly string[];
  /** Prepares the case folder, a copy of the template (see `makeTemplate`). */
  readonly setup?: (dir: string) => Promise<void>;
  /** Deno permissions, when not the task's own (`dir` is the case folder). */
  readonly permissions?: (dir: string) => string[];
  /** The exit code the user gets. */
  readonly exit: number;
  /** The line the user reads about it: the first output line matching (stderr first). */
  readonly line?: RegExp;
}

const editJson = async (
  path: string,
  edit: (fields: Record<string, unknown>) => void,
) => {
  const fields = JSON.parse(await Deno.readTextFile(path));
  edit(fields);
  await Deno.writeTextFile(path, JSON.stringify(fields));
};
const META = "bits/l0/bitstream_meta_t0_2.json";

/**
 * `pred/`: a predictor folder for `dumps/` (its tensors one FP16 step off), and
 * `p.kvp`: `dumps/` packed against it.
 */
const packWithPredictor = async (dir: string) => {
  await copyTree(join(dir, "dumps"), join(dir, "pred"));
  for (const name of ["k_t0_2.bin", "v_t0_2.bin", "k_t2_3.bin", "v_t2_3.bin"]) {
    const path = join(dir, "pred/l0", name);
    const words = new Uint16Array((await Deno.readFile(path)).buffer);
    await Deno.writeFile(
      path,
      new Uint8Array(words.map((word) => word ^ 1).buffer),
    );
  }
  await encodePack({
    dumpDir: join(dir, "dumps"),
    pack: join(dir, "p.kvp"),
    predictorDir: join(dir, "pred"),
    durable: false,
  });
};
const META_PER_DUMP = "bits-pd/l0/bitstream_meta_t0_2.json";

/** The bad inputs, in the order of docs/bad-inputs.md. */
const BAD_INPUTS: readonly BadInput[] = [
  // encode: folders
  {
    input: "dump folder missing",
    task: "encode",
    args: ["--dump-dir", "nope", "--out-dir", "out"],
    exit: 3,
  },
  {
    input: "dump folder is a file",
    task: "encode",
    args: ["--dump-dir", "afile", "--out-dir", "out"],
    exit: 3,
  },
  {
    input: "output folder is the dump folder",
    task: "encode",
    args: ["--dump-dir", "dumps", "--out-dir", "dumps/."],
    exit: 3,
  },
  {
    input: "output folder is a file",
    task: "encode",
    args: ["--dump-dir", "dumps", "--out-dir", "afile"],
    exit: 3,
  },
  {
    input: "no `meta_*.json` below the dump folder",
    task: "encode",
    args: ["--dump-dir", "empty", "--out-dir", "out"],
    exit: 1,
  },
  {
    input: "a folder below the dump folder cannot be read",
    task: "encode",
    args: ["--dump-dir", "dumps", "--out-dir", "out"],
    permissions: (dir) => [
      "--allow-read",
      "--allow-write",
      `--deny-read=${join(dir, "dumps/l0")}`,
    ],
    exit: 3,
  },
  {
    input: "not allowed to write the output folder",
    task: "encode",
    args: ["--dump-dir", "dumps", "--out-dir", "out"],
    permissions: (dir) => ["--allow-read", `--allow-write=${join(dir, "x")}`],
    exit: 3,
  },
  // encode: dumps (the other dump is encoded; skips alone keep exit 0)
  {
    input: "meta file is not valid JSON",
    task: "encode",
    args: ["--dump-dir", "dumps", "--out-dir", "out"],
    setup: (dir) =>
      Deno.writeTextFile(join(dir, "dumps/l0/meta_t0_2.json"), '{"layer_id": '),
    exit: 2,
  },
  {
    input: "meta file is not UTF-8",
    task: "encode",
    args: ["--dump-dir", "dumps", "--out-dir", "out"],
    setup: (dir) =>
      Deno.writeFile(
        join(dir, "dumps/l0/meta_t0_2.json"),
        new Uint8Array([0x7b, 0xff, 0x7d]),
      ),
    exit: 2,
  },
  {
    input: "meta key missing",
    task: "encode",
    args: ["--dump-dir", "dumps", "--out-dir", "out"],
    setup: (dir) =>
      editJson(join(dir, "dumps/l0/meta_t0_2.json"), (f) => delete f.head_dim),
    exit: 2,
  },
  {
    input: "meta key of the wrong type",
    task: "encode",
    args: ["--dump-dir", "dumps", "--out-dir", "out"],
    setup: (dir) =>
      editJson(join(dir, "dumps/l0/meta_t0_2.json"), (f) => f.seq_len = "2"),
    exit: 2,
  },
  {
    input: "meta shape beyond kvbits' limit of 2^30 elements per tensor",
    task: "encode",
    args: ["--dump-dir", "dumps", "--out-dir", "out"],
    setup: (dir) =>
      editJson(
        join(dir, "dumps/l0/meta_t0_2.json"),
        (f) => f.seq_len = 2 ** 28,
      ),
    exit: 2,
  },
  {
    input: "`k_file` outside the meta's folder",
    task: "encode",
    args: ["--dump-dir", "dumps", "--out-dir", "out"],
    setup: (dir) =>
      editJson(
        join(dir, "dumps/l0/meta_t0_2.json"),
        (f) => f.k_file = "../../secret.bin",
      ),
    exit: 2,
  },
  {
    input: "meta file is a dangling link",
    task: "encode",
    args: ["--dump-dir", "dumps", "--out-dir", "out"],
    setup: (dir) =>
      Deno.symlink("nowhere.json", join(dir, "dumps/l0/meta_t9_10.json")),
    exit: 2,
  },
  {
    input: "k file missing",
    task: "encode",
    args: ["--dump-dir", "dumps", "--out-dir", "out"],
    setup: (dir) => Deno.remove(join(dir, "dumps/l0/k_t0_2.bin")),
    exit: 0,
  },
  {
    input: "tensor size does not match the meta shape",
    task: "encode",
    args: ["--dump-dir", "dumps", "--out-dir", "out"],
    setup: (dir) =>
      Deno.writeFile(join(dir, "dumps/l0/v_t0_2.bin"), new Uint8Array(30)),
    exit: 2,
  },
  {
    input: "tensor size is odd",
    task: "encode",
    args: ["--dump-dir", "dumps", "--out-dir", "out"],
    setup: (dir) =>
      Deno.writeFile(join(dir, "dumps/l0/v_t0_2.bin"), new Uint8Array(31)),
    exit: 2,
  },
  {
    input: "`bytes_per_elem` is not 2",
    task: "encode",
    args: ["--dump-dir", "dumps", "--out-dir", "out"],
    setup: (dir) =>
      editJson(
        join(dir, "dumps/l0/meta_t0_2.json"),
        (f) => f.bytes_per_elem = 4,
      ),
    exit: 0,
  },
  {
    input: "meta file starts with a UTF-8 byte order mark",
    task: "encode",
    args: ["--dump-dir", "dumps", "--out-dir", "out"],
    setup: async (dir) => {
      const path = join(dir, "dumps/l0/meta_t0_2.json");
      const bytes = await Deno.readFile(path);
      await Deno.writeFile(path, new Uint8Array([0xef, 0xbb, 0xbf, ...bytes]));
    },
    exit: 2,
  },
  {
    input: "meta file with arrays nested 5,000 deep",
    task: "encode",
    args: ["--dump-dir", "dumps", "--out-dir", "out"],
    setup: (dir) =>
      Deno.writeTextFile(
        join(dir, "dumps/l0/meta_t0_2.json"),
        `{"deep": ${"[".repeat(5000)}${"]".repeat(5000)}}`,
      ),
    exit: 2,
  },
  {
    input: "meta file larger than 1 MiB",
    task: "encode",
    args: ["--dump-dir", "dumps", "--out-dir", "out"],
    setup: (dir) => Deno.truncate(join(dir, "dumps/l0/meta_t0_2.json"), 2e6),
    exit: 2,
  },
  {
    input: "`k_file` with a backslash (read as a folder separator)",
    task: "encode",
    args: ["--dump-dir", "dumps", "--out-dir", "out"],
    setup: (dir) =>
      editJson(
        join(dir, "dumps/l0/meta_t0_2.json"),
        (f) => f.k_file = "k\\t0_2.bin",
      ),
    exit: 0,
  },
  {
    input: "`k_file` names another dump's meta file",
    task: "encode",
    args: ["--dump-dir", "dumps", "--out-dir", "out"],
    setup: (dir) =>
      editJson(
        join(dir, "dumps/l0/meta_t0_2.json"),
        (f) => f.k_file = "meta_t2_3.json",
      ),
    exit: 2,
  },
  {
    input: "tensor file far larger than its meta says (3 GB, sparse)",
    task: "encode",
    args: ["--dump-dir", "dumps", "--out-dir", "out"],
    setup: (dir) => Deno.truncate(join(dir, "dumps/l0/k_t0_2.bin"), 3e9),
    exit: 2,
  },
  {
    input: "a FIFO in place of a tensor file",
    task: "encode",
    args: ["--dump-dir", "dumps", "--out-dir", "out"],
    setup: async (dir) => {
      await Deno.remove(join(dir, "dumps/l0/v_t0_2.bin"));
      await new Deno.Command("mkfifo", {
        args: [join(dir, "dumps/l0/v_t0_2.bin")],
      }).output();
    },
    exit: 2,
  },
  {
    input: "ctx: meta shape of no tokens and 2^30 channels",
    task: "encode",
    args: ["--dump-dir", "dumps", "--out-dir", "out", "--codec", "ctx"],
    setup: async (dir) => {
      await editJson(join(dir, "dumps/l0/meta_t0_2.json"), (f) => {
        f.seq_len = 0;
        f.kv_heads = 32768;
        f.head_dim = 32768;
      });
      await Deno.writeFile(join(dir, "dumps/l0/k_t0_2.bin"), new Uint8Array());
      await Deno.writeFile(join(dir, "dumps/l0/v_t0_2.bin"), new Uint8Array());
    },
    exit: 2,
  },
  // encode: the output folder
  {
    input: "output folder inside the dump folder, holding dumps",
    task: "encode",
    args: ["--dump-dir", "dumps", "--out-dir", "dumps/l0"],
    exit: 3,
  },
  {
    input: "a path in the output folder is a file",
    task: "encode",
    args: ["--dump-dir", "dumps", "--out-dir", "out"],
    setup: async (dir) => {
      await Deno.mkdir(join(dir, "out"));
      await Deno.writeTextFile(join(dir, "out/l0"), "a file\n");
    },
    exit: 2,
  },
  {
    input: "lock file name holds a symbolic link",
    task: "encode",
    args: ["--dump-dir", "dumps", "--out-dir", "out"],
    setup: async (dir) => {
      await Deno.mkdir(join(dir, "out"));
      await Deno.symlink(join(dir, "afile"), join(dir, "out/.kvbits-lock"));
    },
    exit: 3,
  },
  {
    input: "a second layout into a folder of another",
    task: "encode",
    args: ["--dump-dir", "dumps", "--out-dir", "bits", "--codec", "ctx"],
    exit: 3,
  },
  // encode: what is already in the output folder
  {
    input: "dumps already encoded (no `--overwrite`)",
    task: "encode",
    args: ["--dump-dir", "dumps", "--out-dir", "bits"],
    exit: 0,
  },
  {
    input: "global codebook on disk differs from the selected dumps'",
    task: "encode",
    args: ["--dump-dir", "dumps", "--out-dir", "bits", "--stage", "prefill"],
    exit: 3,
  },
  {
    input:
      "another stage with `--overwrite` would change the codebook of dumps it does not re-encode",
    task: "encode",
    args: [
      "--dump-dir",
      "dumps",
      "--out-dir",
      "bits",
      "--stage",
      "prefill",
      "--overwrite",
    ],
    exit: 3,
  },
  {
    input: "a dump on disk was encoded with the other codebook mode",
    task: "encode",
    args: [
      "--dump-dir",
      "dumps",
      "--out-dir",
      "bits",
      "--codebook",
      "per-dump",
    ],
    exit: 2,
  },
  {
    input: "an interrupted run left a temporary file",
    task: "encode",
    args: ["--dump-dir", "dumps", "--out-dir", "bits"],
    setup: (dir) =>
      Deno.writeFile(
        join(dir, "bits/l0/.k_hi6_meta_t0_2.huff.kvbits-tmp-99999-3"),
        new Uint8Array(3),
      ),
    exit: 0,
    line: /^removed/,
  },
  {
    input: "an interrupted run left its lock file",
    task: "encode",
    args: ["--dump-dir", "dumps", "--out-dir", "bits"],
    setup: (dir) =>
      Deno.writeTextFile(join(dir, "bits/.kvbits-lock"), "99999\n"),
    exit: 0,
    line: /^Encoded:/,
  },
  // verify and decode: folders
  {
    input: "bitstream folder missing",
    task: "verify",
    args: ["--bitstream-dir", "nope"],
    exit: 3,
  },
  {
    input: "no bitstream meta in the folder",
    task: "verify",
    args: ["--bitstream-dir", "dumps"],
    exit: 1,
  },
  {
    input: "decode output folder is the bitstream folder",
    task: "decode",
    args: ["--bitstream-dir", "bits", "--out-dir", "bits"],
    exit: 3,
  },
  {
    input: "decode output folder is a file",
    task: "decode",
    args: ["--bitstream-dir", "bits", "--out-dir", "afile"],
    exit: 3,
  },
  {
    input: "decode output holds a file decode did not write",
    task: "decode",
    args: ["--bitstream-dir", "bits", "--out-dir", "restored"],
    setup: async (dir) => {
      await Deno.mkdir(join(dir, "restored/l0"), { recursive: true });
      await Deno.writeTextFile(join(dir, "restored/l0/k_t0_2.bin"), "mine\n");
    },
    exit: 2,
  },
  {
    input: "dump already restored (no `--overwrite`)",
    task: "decode",
    args: ["--bitstream-dir", "bits", "--out-dir", "dumps"],
    exit: 0,
  },
  // verify: corrupt streams
  {
    input: "stream file truncated",
    task: "verify",
    args: ["--bitstream-dir", "bits"],
    setup: async (dir) => {
      const path = join(dir, "bits/l0/k_lo10_meta_t0_2.huff");
      const bytes = await Deno.readFile(path);
      await Deno.writeFile(path, bytes.subarray(0, bytes.length - 2));
    },
    exit: 2,
  },
  {
    input: "stream file with bytes appended",
    task: "verify",
    args: ["--bitstream-dir", "bits"],
    setup: async (dir) => {
      const path = join(dir, "bits/l0/v_hi6_meta_t0_2.huff");
      const bytes = await Deno.readFile(path);
      await Deno.writeFile(path, new Uint8Array([...bytes, 0, 0]));
    },
    exit: 2,
  },
  {
    input: "stream file with a flipped bit (decodes, to wrong values)",
    task: "verify",
    args: ["--bitstream-dir", "bits-pd"],
    setup: async (dir) => {
      // Sixteen equally frequent mantissas: every 4-bit pattern is a code.
      const path = join(dir, "bits-pd/l0/k_lo10_meta_t0_2.huff");
      const bytes = await Deno.readFile(path);
      bytes[3] ^= 0x10;
      await Deno.writeFile(path, bytes);
    },
    exit: 2,
  },
  {
    input: "stream file missing",
    task: "verify",
    args: ["--bitstream-dir", "bits"],
    setup: (dir) => Deno.remove(join(dir, "bits/l0/v_lo10_meta_t0_2.huff")),
    exit: 2,
  },
  // verify: the manifest
  {
    input: "a dump deleted (its bitstream meta)",
    task: "verify",
    args: ["--bitstream-dir", "bits"],
    setup: (dir) => Deno.remove(join(dir, META)),
    exit: 2,
  },
  {
    input: "a bitstream meta renamed",
    task: "verify",
    args: ["--bitstream-dir", "bits"],
    setup: (dir) =>
      Deno.rename(
        join(dir, META),
        join(dir, "bits/l0/bitstream_meta_t0_9.json"),
      ),
    exit: 2,
    line: /t0_9/,
  },
  {
    input: "a bitstream meta replaced by another dump's",
    task: "verify",
    args: ["--bitstream-dir", "bits"],
    setup: (dir) =>
      Deno.copyFile(
        join(dir, "bits-pd/l0/bitstream_meta_t0_2.json"),
        join(dir, META),
      ),
    exit: 2,
  },
  {
    input: "a stray dump of another layout",
    task: "verify",
    args: ["--bitstream-dir", "bits"],
    setup: (dir) =>
      Deno.writeTextFile(join(dir, "bits/l0/meta_t0_2.kvc"), "KVC"),
    exit: 2,
  },
  {
    input: "the last encode into the folder was interrupted",
    task: "verify",
    args: ["--bitstream-dir", "bits"],
    setup: async (dir) => {
      const path = join(dir, "bits/kvbits_manifest.json");
      const text = await Deno.readTextFile(path);
      await Deno.writeTextFile(
        path,
        text.replace('"complete": true', '"complete": false'),
      );
    },
    exit: 2,
  },
  {
    input: "manifest is not valid JSON",
    task: "verify",
    args: ["--bitstream-dir", "bits"],
    setup: (dir) =>
      Deno.writeTextFile(join(dir, "bits/kvbits_manifest.json"), "{"),
    exit: 2,
  },
  // verify: corrupt meta
  {
    input: "bitstream meta is not valid JSON",
    task: "verify",
    args: ["--bitstream-dir", "bits"],
    setup: (dir) => Deno.writeTextFile(join(dir, META), '{"layer_id":0,'),
    exit: 2,
  },
  {
    input: "bitstream meta edited (`layer_id` changed)",
    task: "verify",
    args: ["--bitstream-dir", "bits"],
    setup: (dir) => editJson(join(dir, META), (f) => f.layer_id = 1),
    exit: 2,
  },
  {
    input: "`num_elements` disagrees with the shape",
    task: "verify",
    args: ["--bitstream-dir", "bits"],
    setup: (dir) => editJson(join(dir, META), (f) => f.num_elements = 33),
    exit: 2,
  },
  {
    input:
      "shape and `num_elements` both inflated (more symbols than the streams hold)",
    task: "verify",
    args: ["--bitstream-dir", "bits"],
    setup: (dir) =>
      editJson(join(dir, META), (f) => {
        f.seq_len = 2 ** 20;
        f.num_elements = 2 ** 23;
      }),
    exit: 2,
  },
  {
    input: "shape beyond kvbits' limit of 2^30 elements per tensor",
    task: "verify",
    args: ["--bitstream-dir", "bits"],
    setup: (dir) =>
      editJson(join(dir, META), (f) => {
        f.seq_len = 2 ** 40;
        f.num_elements = 2 ** 43;
      }),
    exit: 2,
  },
  {
    input: "per-dump code lengths break the Kraft inequality",
    task: "verify",
    args: ["--bitstream-dir", "bits-pd"],
    setup: (dir) =>
      editJson(join(dir, META_PER_DUMP), (f) => {
        f.k_hi6_code_lengths = (f.k_hi6_code_lengths as number[]).map((n) =>
          n > 0 ? 1 : 0
        );
        (f.k_hi6_code_lengths as number[])[0] = 1;
        (f.k_hi6_code_lengths as number[])[1] = 1;
      }),
    exit: 2,
  },
  {
    input: "a code length of the wrong type",
    task: "verify",
    args: ["--bitstream-dir", "bits-pd"],
    setup: (dir) =>
      editJson(join(dir, META_PER_DUMP), (f) => {
        (f.v_lo10_code_lengths as unknown[])[7] = "4";
      }),
    exit: 2,
  },
  {
    input: "stream file name points outside the folder",
    task: "verify",
    args: ["--bitstream-dir", "bits"],
    setup: (dir) =>
      editJson(join(dir, META), (f) => f.k_hi6_file = "../../k.huff"),
    exit: 2,
  },
  {
    input: "kvbits record of a newer format",
    task: "verify",
    args: ["--bitstream-dir", "bits"],
    setup: (dir) =>
      editJson(
        join(dir, META),
        (f) => (f.kvbits as { format: number }).format = 2,
      ),
    exit: 2,
  },
  // verify: the global codebook
  {
    input: "global codebook missing",
    task: "verify",
    args: ["--bitstream-dir", "bits"],
    setup: (dir) => Deno.remove(join(dir, "bits/global_codebook.json")),
    exit: 2,
  },
  {
    input: "global codebook replaced by another valid one",
    task: "verify",
    args: ["--bitstream-dir", "bits"],
    setup: async (dir) => {
      await encodeFolder({
        dumpDir: join(dir, "dumps"),
        outDir: join(dir, "other"),
        codec: huffmanStreamCodec,
        codebook: "global",
        overwrite: false,
        stage: "decode",
        minSeqLen: 0,
        maxSeqLen: 0,
        durable: false,
      });
      await Deno.copyFile(
        join(dir, "other/global_codebook.json"),
        join(dir, "bits/global_codebook.json"),
      );
    },
    exit: 2,
  },
  {
    input: "global codebook is not valid JSON",
    task: "verify",
    args: ["--bitstream-dir", "bits"],
    setup: (dir) =>
      Deno.writeTextFile(join(dir, "bits/global_codebook.json"), "{"),
    exit: 2,
  },
  // verify: what cannot be checked, or differs from the originals
  {
    input: "reference output (no checksums) verified without originals",
    task: "verify",
    args: ["--bitstream-dir", "reference"],
    setup: (dir) =>
      copyTree(join(REFERENCE, "huffman-per-dump"), join(dir, "reference")),
    exit: 2,
    line: /^Unchecked/,
  },
  {
    input: "an original differs from its decoded dump",
    task: "verify",
    args: ["--bitstream-dir", "bits", "--orig-dump-dir", "dumps"],
    setup: async (dir) => {
      const path = join(dir, "dumps/l0/k_t0_2.bin");
      const bytes = await Deno.readFile(path);
      bytes[5] ^= 1;
      await Deno.writeFile(path, bytes);
    },
    exit: 2,
  },
  // analyze
  {
    input: "analyze: bitstream folder missing",
    task: "analyze",
    args: ["--bitstream-dir", "nope", "--out-dir", "report"],
    exit: 3,
  },
  {
    input: "analyze: output folder is a file",
    task: "analyze",
    args: ["--bitstream-dir", "bits", "--out-dir", "afile"],
    exit: 3,
  },
  {
    input: "analyze: a bitstream meta is not valid JSON",
    task: "analyze",
    args: ["--bitstream-dir", "bits", "--out-dir", "report"],
    setup: (dir) => Deno.writeTextFile(join(dir, META), "[1,"),
    exit: 2,
  },
  {
    input: "analyze: output folder is the bitstream folder",
    task: "analyze",
    args: ["--bitstream-dir", "bits", "--out-dir", "bits"],
    exit: 3,
  },
  {
    input: "analyze: output folder is the originals",
    task: "analyze",
    args: [
      "--bitstream-dir",
      "bits",
      "--orig-dump-dir",
      "dumps",
      "--out-dir",
      "dumps",
    ],
    exit: 3,
  },
  // packs coded against a predictor folder
  {
    input: "pack: predictor folder missing",
    task: "encode",
    args: ["--dump-dir", "dumps", "--predictor-dir", "nope", "--pack", "p.kvp"],
    exit: 3,
  },
  {
    input: "pack: a predictor dump of another shape",
    task: "encode",
    args: ["--dump-dir", "dumps", "--predictor-dir", "pred", "--pack", "p.kvp"],
    setup: async (dir) => {
      await copyTree(join(dir, "dumps"), join(dir, "pred"));
      await editJson(join(dir, "pred/l0/meta_t0_2.json"), (fields) => {
        fields.kv_heads = 2;
        fields.head_dim = 4;
      });
    },
    exit: 3,
  },
  {
    input: "pack: predicted dumps decoded without their predictor folder",
    task: "decode",
    args: ["--pack", "p.kvp", "--out-dir", "out"],
    setup: packWithPredictor,
    exit: 2,
  },
  {
    input: "pack: a predictor value one FP16 step off",
    task: "verify",
    args: ["--pack", "p.kvp", "--predictor-dir", "pred"],
    setup: async (dir) => {
      await packWithPredictor(dir);
      const path = join(dir, "pred/l0/v_t0_2.bin");
      const bytes = await Deno.readFile(path);
      bytes[6] ^= 1;
      await Deno.writeFile(path, bytes);
    },
    exit: 2,
  },
  {
    input: "pack: the predictor folder lacks a predicted dump",
    task: "decode",
    args: ["--pack", "p.kvp", "--predictor-dir", "pred", "--out-dir", "out"],
    setup: async (dir) => {
      await packWithPredictor(dir);
      await Deno.remove(join(dir, "pred/l0/meta_t2_3.json"));
    },
    exit: 2,
  },
  // usage
  {
    input: "unknown flag",
    task: "encode",
    args: ["--dump-dir", "dumps", "--out", "x"],
    exit: 64,
  },
  {
    input: "negative number",
    task: "encode",
    args: ["--dump-dir", "dumps", "--out-dir", "out", "--max-seq-len", "-1"],
    exit: 64,
  },
];

async function copyTree(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const entry of Deno.readDir(from)) {
    if (entry.isDirectory) {
      await copyTree(join(from, entry.name), join(to, entry.name));
    } else await Deno.copyFile(join(from, entry.name), join(to, entry.name));
  }
}

/**
 * The folder every case starts from: `dumps/` (two small dumps of one layer),
 * `bits/` (encoded with a global codebook), `bits-pd/` (per-dump), `empty/` and
 * `afile`.
 */
async function makeTemplate(dir: string): Promise<void> {
  await writeDumpFolder(join(dir, "dumps"), [
    {
      // Sixteen distinct mantissas of one exponent: a complete 4-bit lo10 code.
      folder: "l0",
      name: "meta_t0_2",
      k: Uint16Array.from({ length: 16 }, (_, i) => 0x3c00 + i * 37),
      v: Uint16Array.from({ length: 16 }, (_, i) => 0xb800 + (i % 3) * 5),
      seqLen: 2,
    },
    {
      folder: "l0",
      name: "meta_t2_3",
      k: Uint16Array.from({ length: 8 }, (_, i) => 0x3000 + i),
      seqLen: 1,
    },
  ]);
  for (
    const [outDir, codebook] of [["bits", "global"], [
      "bits-pd",
      "per-dump",
    ]] as const
  ) {
    await encodeFolder({
      dumpDir: join(dir, "dumps"),
      outDir: join(dir, outDir),
      codec: huffmanStreamCodec,
      codebook,
      overwrite: false,
      stage: "both",
      minSeqLen: 0,
      maxSeqLen: 0,
      durable: false,
    });
  }
  await Deno.mkdir(join(dir, "empty"));
  await Deno.writeTextFile(join(dir, "afile"), "not a folder\n");
}

/** One table row: the command, its exit code and the line the user reads. */
interface Row {
  readonly input: string;
  readonly command: string;
  readonly exit: number;
  readonly line: string;
}

async function runCase(template: string, root: string, index: number) {
  const bad = BAD_INPUTS[index];
  const dir = join(root, `case-${index}`);
  await copyTree(template, dir);
  await bad.setup?.(dir);
  const run = await runTaskScript(
    bad.task,
    bad.args,
    bad.permissions?.(dir) ??
      (bad.task === "verify"
        ? ["--allow-read"]
        : ["--allow-read", "--allow-write"]),
    dir,
  );
  const lines = [...run.stderr.split("\n"), ...run.stdout.split("\n")].filter(
    (line) => line.trim() !== "",
  );
  const line = lines.find((l) => bad.line?.test(l) ?? true) ?? "";
  const what = `${bad.input}: deno task ${bad.task} ${bad.args.join(" ")}`;
  assertEquals(run.code, bad.exit, `${what}\n${run.stderr}`);
  assertNotMatch(run.stderr, /^\s+at /m, `${what}: no stack trace`);
  assert(line !== "", what);
  const row: Row = {
    input: bad.input,
    command: `${bad.task} ${bad.args.join(" ")}`,
    exit: run.code,
    // Paths are absolute (taken from where the task ran): show them from there.
    line: line.trim().replaceAll(`${dir}/`, ""),
  };
  await Deno.remove(dir, { recursive: true });
  return row;
}

const README = join(ROOT, "README.md");
const TABLE_FILE = join(ROOT, "docs", "bad-inputs.md");
const UPDATE = "deno test -A tests/bad_inputs_test.ts -- --update";

/** The whole of docs/bad-inputs.md around its table. */
function pageOf(table: string): string {
  return [
    "# What kvbits does with bad input",
    "",
    `<!-- generated by tests/bad_inputs_test.ts from its list of bad inputs; rewrite with: ${UPDATE} -->`,
    "",
    "Each row is a case the test suite runs through the task as a user would:",
    "the exit code they get and the line that says what is wrong (the first",
    "line of the output, stderr first, that the case looks for). Exit codes: 0",
    "done (skips alone included), 1 nothing to do, 2 some dumps failed, 3 the",
    "job cannot run, 64 usage.",
    "",
    table,
    "",
  ].join("\n");
}

function tableOf(rows: readonly Row[]): string {
  const cell = (text: string) => text.replaceAll("|", "\\|");
  return [
    "| bad input | command (`deno task ...`) | exit | what the user sees |",
    "| --- | --- | --: | --- |",
    ...rows.map((row) =>
      `| ${cell(row.input)} | \`${cell(row.command)}\` | ${row.exit} | \`${
        cell(row.line)
      }\` |`
    ),
  ].join("\n");
}

/** The table's cells, whitespace-insensitive (deno fmt pads the columns). */
function cellsOf(table: string): string[][] {
  return table.trim().split("\n").filter((line) => !/^\|[\s:|-]+\|$/.test(line))
    .map((line) =>
      line.trim().replace(/^\||\|$/g, "").split(/(?<!\\)\|/).map((cell) =>
        cell.trim()
      )
    );
}

Deno.test("every bad input gets its exit code and one line naming the problem; docs/bad-inputs.md is this list's output", async () => {
  const rows: Row[] = [];
  await withTempDir(async (root) => {
    const template = join(root, "template");
    await makeTemplate(template);
    // Two at a time: each case has its own folder.
    for (let i = 0; i < BAD_INPUTS.length; i += 2) {
      const batch = [i, i + 1].filter((j) => j < BAD_INPUTS.length);
      rows.push(
        ...await Promise.all(batch.map((j) => runCase(template, root, j))),
      );
    }
    // Nothing outside the case folders was touched.
    assertEquals(
      (await listFiles(root)).filter((f) => !f.startsWith("template/")),
      [],
    );
  });
  const table = tableOf(rows);
  if (Deno.args.includes("--update") || Deno.args.includes("--update-readme")) {
    await Deno.writeTextFile(TABLE_FILE, pageOf(table));
    const fmt = await new Deno.Command(Deno.execPath(), {
      args: ["fmt", TABLE_FILE],
      stdout: "null",
      stderr: "null",
    }).output();
    assert(fmt.success);
    return;
  }
  const page = await Deno.readTextFile(TABLE_FILE).catch(() => "");
  const tableStart = page.indexOf("\n| bad input ");
  assertEquals(
    cellsOf(page.slice(tableStart)),
    cellsOf(table),
    `docs/bad-inputs.md is out of date: run ${UPDATE}`,
  );
  // The text above the table, whitespace-insensitive (deno fmt wraps it).
  const words = (text: string) => text.trim().split(/\s+/);
  assertEquals(
    words(page.slice(0, tableStart)),
    words(pageOf(table).slice(0, pageOf(table).indexOf("\n| bad input "))),
    `docs/bad-inputs.md's text is out of date: run ${UPDATE}`,
  );
});

Deno.test("the exit codes in README.md and in every task's --help are the ones the tasks use", async () => {
  const readme = await Deno.readTextFile(README);
  const documented = [...readme.matchAll(/^\| (\d+) +\| /gm)].map((m) =>
    Number(m[1])
  );
  assertEquals(documented, Object.values(EXIT_CODES));
  const help = await runTaskScript("encode", ["--help"]);
  for (const code of Object.values(EXIT_CODES)) {
    assert(new RegExp(`^  ${code} `, "m").test(help.stdout), `--help: ${code}`);
  }
});

Deno.test("no task writes inside an input folder: the inputs are byte for byte the same after every task", async () => {
  await withTempDir(async (root) => {
    await makeTemplate(root);
    const before = new Map<string, Uint8Array>();
    for (const file of await listFiles(root)) {
      before.set(file, await Deno.readFile(join(root, file)));
    }
    const runs: [string, string[]][] = [
      ["encode", ["--dump-dir", "dumps", "--out-dir", "o/enc"]],
      ["encode", ["--dump-dir", "dumps", "--out-dir", "o/enc", "--overwrite"]],
      ["decode", ["--bitstream-dir", "bits", "--out-dir", "o/dec"]],
      [
        "decode",
        ["--bitstream-dir", "bits", "--orig-dump-dir", "dumps", "--verify"],
      ],
      ["verify", ["--bitstream-dir", "bits-pd", "--orig-dump-dir", "dumps"]],
      [
        "analyze",
        [
          "--bitstream-dir",
          "bits",
          "--orig-dump-dir",
          "dumps",
          "--out-dir",
          "o/an",
        ],
      ],
    ];
    for (const [task, args] of runs) {
      const run = await runTaskScript(task, args, undefined, root);
      assertEquals(run.code, 0, `${task}: ${run.stderr}`);
    }
    const after = (await listFiles(root)).filter((f) => !f.startsWith("o/"));
    assertEquals(after, [...before.keys()]);
    for (const [file, bytes] of before) {
      assertEquals(await Deno.readFile(join(root, file)), bytes, file);
    }
  });
});
