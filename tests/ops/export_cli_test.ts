/**
 * `epochnexus export` as a real process against a real server: line protocol, CSV and NDJSON
 * exports read back by `epochnexus import` into other databases hold exactly the points written
 * (int64 and uint64 extremes, nanosecond times before 1970 and near 2262, escapes); the line
 * protocol file is accepted by InfluxDB 1.6.7 as it is and answers there as here.
 */
import assert from "node:assert/strict";
import { query, startServer, writeLines } from "../_server.ts";
import { startInfluxd } from "../_influxd.ts";
import { parseLineProtocol } from "../../src/ingest/mod.ts";
import { formatLineProtocol } from "../../src/ingest/mod.ts";
import { runCliOk } from "./_cli.ts";

/** A deterministic data set of every type, in line protocol. */
function dataset(): string[] {
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const lines: string[] = [];
  const base = 1_700_000_000_000_000_000n;
  for (let i = 0; i < 6000; i++) {
    const t = base + BigInt(i) * 43_000_123_457n + BigInt(Math.floor(rnd() * 999_999));
    const host = `host\\ ${i % 9}\\,a\\=b`;
    const usage = i % 10 === 0 ? "3" : String(rnd() * 100);
    const count = i === 1 ? "-9223372036854775808" : i === 2 ? "9223372036854775807" : String(i);
    lines.push(
      `cpu,host=${host},region=r${i % 3} usage=${usage},count=${count}i,ok=${i % 2 === 0} ${t}`,
    );
    if (i % 4 === 0) {
      const msg = `say \\"hi\\", a=b \\\\ é ${i}`;
      lines.push(`log\\ lines,level=l${i % 5} msg="${msg}" ${t + 1n}`);
    }
    if (i % 50 === 0) {
      const total = i === 0 ? "18446744073709551615" : String(i * 1000);
      lines.push(`counters total=${total}u ${t}`);
    }
  }
  lines.push("cpu,host=old,region=r0 usage=1.5 -1000000123");
  lines.push("cpu,host=future,region=r0 usage=2.5 9000000000000000001");
  return lines;
}

/** Lines parsed and printed again with sorted fields, sorted: comparable whatever the order. */
function normalized(text: string): string[] {
  const { points, errors } = parseLineProtocol(new TextEncoder().encode(text), {
    defaultTime: { ms: 0, subMs: 0 },
  });
  assert.deepEqual(errors, []);
  return points.map((p) =>
    formatLineProtocol({ ...p, fields: [...p.fields].sort((a, b) => (a.key < b.key ? -1 : 1)) })
  ).sort();
}

Deno.test({
  name: "export -> import round trip in lp, csv and ndjson; the lp file reads into influxd",
  sanitizeResources: false,
  async fn() {
    const server = await startServer();
    const influxd = await startInfluxd();
    const dir = await Deno.makeTempDir({ prefix: "epochnexus-export-" });
    try {
      const lines = dataset();
      await query(server.url, "CREATE DATABASE src");
      for (let i = 0; i < lines.length; i += 5000) {
        const w = await writeLines(server.url, "src", lines.slice(i, i + 5000).join("\n"));
        assert.equal(w.status, 204, w.body);
      }
      const expected = normalized(lines.join("\n"));

      // Line protocol, in small windows (many requests, each window within the budget).
      const lp = `${dir}/src.lp`;
      const run = await runCliOk([
        "export",
        "--url",
        server.url,
        "--db",
        "src",
        "--out",
        lp,
        "--window-values",
        "3000",
      ]);
      const values = parseLineProtocol(new TextEncoder().encode(lines.join("\n")), {
        defaultTime: { ms: 0, subMs: 0 },
      }).points.reduce((n, p) => n + p.fields.length, 0);
      const windows = Number(
        /exported (\d+) values of src\.autogen in (\d+) windows/
          .exec(run.stderr)?.[2],
      );
      assert.match(run.stderr, new RegExp(`exported ${values} values`), run.stderr);
      assert.ok(windows >= values / 3000, `${windows} windows of at most 3000 values`);
      const text = await Deno.readTextFile(lp);
      assert.ok(
        text.startsWith("# DML\n# CONTEXT-DATABASE:src\n# CONTEXT-RETENTION-POLICY:autogen\n"),
      );
      assert.deepEqual(normalized(text), expected);

      // Each format read back by `epochnexus import` into a database of its own, exported again.
      for (const format of ["lp", "csv", "ndjson"] as const) {
        const file = `${dir}/out.${format}`;
        const exported = await runCliOk([
          "export",
          "--url",
          server.url,
          "--db",
          "src",
          "--format",
          format,
          "--out",
          file,
        ]);
        const hint = /read it back with: epochnexus import FILE (.*)/.exec(exported.stderr)?.[1];
        assert.ok(format === "lp" || hint, exported.stderr);
        const db = `copy_${format}`;
        await query(server.url, `CREATE DATABASE ${db}`);
        const imported = await runCliOk([
          "import",
          file,
          "--url",
          server.url,
          "--db",
          db,
          "--progress",
          "false",
          ...(hint ? hint.split(" ") : []),
        ]);
        assert.match(imported.stderr, / 0 points rejected/, imported.stderr);
        const again = await runCliOk(["export", "--url", server.url, "--db", db]);
        assert.deepEqual(
          normalized(new TextDecoder().decode(again.stdout)),
          expected,
          `${format} round trip`,
        );
      }

      // The line protocol file as influxd reads it (InfluxDB 1.6 has no unsigned integers).
      const r = await fetch(`${influxd.url}/query`, {
        method: "POST",
        body: new URLSearchParams({ q: "CREATE DATABASE src" }),
      });
      await r.body?.cancel();
      const body = text.split("\n").filter((l) => !l.startsWith("counters")).join("\n");
      const w = await fetch(`${influxd.url}/write?db=src`, { method: "POST", body });
      assert.equal(w.status, 204, await w.text());
      for (const q of ["SELECT * FROM cpu GROUP BY *", 'SELECT * FROM "log lines" GROUP BY *']) {
        const ask = async (url: string) =>
          await (await fetch(`${url}/query?db=src&epoch=ns&q=${encodeURIComponent(q)}`)).text();
        assert.equal(await ask(server.url), await ask(influxd.url), q);
      }
    } finally {
      await server.stop();
      await influxd.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
