/**
 * `epochnexus import` as a real process against a real server: line protocol, CSV, NDJSON
 * (one gzipped), stdin, the summary of rejects and the exit codes.
 */
import assert from "node:assert/strict";
import { startServer } from "../_server.ts";
import { gzip } from "./_app.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

async function runCli(args: string[], stdin?: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", `${ROOT}src/cli/main.ts`, ...args],
    env: { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const out = await child.output();
  return {
    code: out.code,
    stderr: new TextDecoder().decode(out.stderr),
  };
}

Deno.test({
  name: "import: files of every format and stdin, with a summary of rejects",
  sanitizeResources: false,
  fn: async () => {
    const server = await startServer();
    const dir = await Deno.makeTempDir();
    try {
      await Deno.writeTextFile(
        `${dir}/a.lp`,
        "imp,src=lp v=1 1000000000\nimp,src=lp v= 2000000000\nimp,src=lp v=3 3000000000\n",
      );
      await Deno.writeTextFile(
        `${dir}/b.csv`,
        "time,measurement,src,v\n4,imp,csv,4\n5,imp,csv,oops\n",
      );
      await Deno.writeFile(
        `${dir}/c.ndjson.gz`,
        await gzip(
          '{"measurement":"imp","tags":{"src":"nd"},"value":6,"timestamp":6}\n{"bad":1}\n',
        ),
      );
      const files = [`${dir}/a.lp`, `${dir}/b.csv`, `${dir}/c.ndjson.gz`];
      const r = await runCli([
        "import",
        ...files,
        "--url",
        server.url,
        "--tags",
        "src",
        "--types",
        "v:float",
        "--progress",
        "false",
      ]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(
        r.stderr,
        /imported 4 points from 3 files .*; 3 points rejected \(3 did not decode, 0 refused/,
      );
      assert.match(r.stderr, /a\.lp:2: missing field value/);
      assert.match(r.stderr, /b\.csv: record 2 column v: column "v": "oops" is not a valid float/);
      assert.match(r.stderr, /c\.ndjson\.gz:2: unknown key "bad"/);

      const stdin = await runCli(
        [
          "import",
          "-",
          "--format",
          "lp",
          "--precision",
          "s",
          "--url",
          server.url,
          "--progress",
          "false",
        ],
        "imp,src=stdin v=7 7\n",
      );
      assert.equal(stdin.code, 0, stdin.stderr);
      assert.match(stdin.stderr, /imported 1 points from stdin/);

      const q = encodeURIComponent("SELECT count(v) FROM imp GROUP BY src");
      const result = await (await fetch(`${server.url}/query?db=epochnexus&q=${q}`)).json();
      const counts = Object.fromEntries(
        result.results[0].series.map((s: { tags: { src: string }; values: number[][] }) => [
          s.tags.src,
          s.values[0][1],
        ]),
      );
      assert.deepEqual(counts, { csv: 1, lp: 2, stdin: 1 });

      const unknown = await runCli(["import", `${dir}/x.bin`, "--url", server.url]);
      assert.equal(unknown.code, 2);
      assert.match(unknown.stderr, /cannot tell the format/);
    } finally {
      await server.stop();
      await Deno.remove(dir, { recursive: true });
      await Deno.remove(server.dataDir, { recursive: true }).catch(() => {});
    }
  },
});
