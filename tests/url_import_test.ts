/**
 * `mod.ts` imported by URL, as another Deno program would: the repository is
 * served over HTTP on 127.0.0.1 and a separate `deno run`, with no configuration,
 * no import map, a fresh module cache and no permission but importing from that
 * server, runs `tests/_url_import_probe.ts` from there. That proves the module
 * graph of `mod.ts` has no bare specifiers and needs no permissions.
 */

import { assert, assertEquals } from "@std/assert";
import { join } from "@std/path";
import {
  type CodecResult,
  PLANE_CODECS,
  roundTripEveryCodec,
  sampleTensor,
} from "./_url_import_probe.ts";
import { ROOT, withTempDir } from "./_helpers.ts";

/** Serves the repository's files read-only, recording every path asked for. */
function serveRepository(): {
  server: Deno.HttpServer<Deno.NetAddr>;
  requested: string[];
} {
  const requested: string[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request) => {
      const path = decodeURIComponent(new URL(request.url).pathname);
      requested.push(path);
      if (path.split("/").includes("..")) {
        return new Response("no", { status: 403 });
      }
      try {
        const body = await Deno.readFile(join(ROOT, path));
        const type = path.endsWith(".ts")
          ? "application/typescript; charset=utf-8"
          : "application/octet-stream";
        return new Response(body, { headers: { "content-type": type } });
      } catch {
        return new Response("not found", { status: 404 });
      }
    },
  );
  return { server, requested };
}

Deno.test("the probe's round trips pass in this process (so a failure by URL is about the URL)", () => {
  const results = roundTripEveryCodec(sampleTensor(512));
  assertEquals(Object.keys(results), Object.keys(PLANE_CODECS));
  for (const result of Object.values(results)) {
    assert(result.ok && result.dump);
  }
});

Deno.test("mod.ts imported by URL with only --allow-import round-trips a tensor through every codec", async () => {
  const { server, requested } = serveRepository();
  try {
    await withTempDir(async (cache) => {
      const origin = `http://127.0.0.1:${server.addr.port}`;
      const output = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--no-config",
          "--no-lock",
          "--no-prompt",
          "--quiet",
          "--check=all",
          `--allow-import=127.0.0.1:${server.addr.port}`,
          `${origin}/tests/_url_import_probe.ts`,
        ],
        // An empty module cache: everything comes from the server now. The
        // working folder is outside the repository, so no deno.json is near.
        cwd: cache,
        env: { DENO_DIR: cache, NO_COLOR: "1" },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(output.stderr);
      assertEquals(output.code, 0, stderr);
      const report = JSON.parse(new TextDecoder().decode(output.stdout)) as {
        moduleUrl: string;
        originalCrc32: number;
        codecs: Record<string, CodecResult>;
      };
      assertEquals(report.moduleUrl, `${origin}/tests/_url_import_probe.ts`);
      assertEquals(
        Object.keys(report.codecs).sort(),
        Object.keys(PLANE_CODECS).sort(),
      );
      for (const [name, result] of Object.entries(report.codecs)) {
        assert(result.ok, `${name} did not round-trip`);
        assert(result.dump, `${name} did not round-trip a dump`);
        assertEquals(result.crc32, report.originalCrc32, name);
        assert(result.words > 4096, name);
        assert(result.encodedBytes < result.words * 2, `${name} compressed`);
      }
      // The graph is mod.ts, the codec layer and the file formats as data:
      // nothing else (no file system, no job) was fetched.
      assert(requested.includes("/mod.ts"));
      const outside = requested.filter((path) =>
        path !== "/mod.ts" && path !== "/tests/_url_import_probe.ts" &&
        !/^\/src\/(codec|format)\/[a-z0-9_]+\.ts$/.test(path)
      );
      assertEquals(outside, []);
    });
  } finally {
    await server.shutdown();
  }
});
