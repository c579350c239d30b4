/**
 * Bytes on disk per value of the peers on the same TSBS-like cpu data as storage_bench.ts:
 * VictoriaMetrics (/usr/bin/victoria-metrics) and InfluxDB 1.6.7 (/usr/bin/influxd), each on
 * loopback ports with a temporary folder, written through their InfluxDB line-protocol endpoint,
 * flushed/compacted, measured, stopped and removed.
 *
 *   HOURS=6 deno run -A bench/storage_peers.ts
 *
 * @module
 */
import { freePort } from "../tests/_server.ts";
import { cpuDataLines } from "./storage_data.ts";

async function du(dir: string): Promise<number> {
  let total = 0;
  for await (const e of Deno.readDir(dir)) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory) total += await du(p);
    else if (e.isFile) total += (await Deno.stat(p)).size;
  }
  return total;
}

async function list(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory) out.push(...await list(p));
    else out.push(p);
  }
  return out;
}

async function waitFor(url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const r = await fetch(url);
      await r.body?.cancel();
      if (r.status < 500) return;
    } catch { /* starting */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms`);
}

async function post(url: string, body: string): Promise<void> {
  const r = await fetch(url, { method: "POST", body });
  const text = await r.text();
  if (r.status >= 300) throw new Error(`${url}: ${r.status} ${text.slice(0, 300)}`);
}

async function writeAll(writeUrl: string): Promise<number> {
  let values = 0;
  for (const { lines, valueCount } of cpuDataLines(2000)) {
    await post(writeUrl, lines);
    values += valueCount;
  }
  return values;
}

async function victoriaMetrics(): Promise<{ bytes: number; values: number; note?: string }> {
  const dir = await Deno.makeTempDir({ prefix: "epochnexus-vm-" });
  const port = freePort();
  const child = new Deno.Command("/usr/bin/victoria-metrics", {
    args: [
      `-storageDataPath=${dir}`,
      `-httpListenAddr=127.0.0.1:${port}`,
      "-retentionPeriod=100y",
      "-loggerLevel=ERROR",
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(`${url}/health`);
    const values = await writeAll(`${url}/write`);
    await fetch(`${url}/internal/force_flush`).then((r) => r.body?.cancel());
    await new Promise((r) => setTimeout(r, 2000));
    await fetch(`${url}/internal/force_merge`).then((r) => r.body?.cancel());
    await new Promise((r) => setTimeout(r, 5000));
    return { bytes: await du(dir), values };
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await Deno.remove(dir, { recursive: true });
  }
}

async function influxd(): Promise<{ bytes: number; values: number; note?: string }> {
  const dir = await Deno.makeTempDir({ prefix: "epochnexus-influxd-" });
  const port = freePort(), rpc = freePort();
  await Deno.writeTextFile(
    `${dir}/influxdb.conf`,
    `reporting-disabled = true
bind-address = "127.0.0.1:${rpc}"
[meta]
  dir = "${dir}/meta"
[data]
  dir = "${dir}/data"
  wal-dir = "${dir}/wal"
  query-log-enabled = false
  cache-snapshot-write-cold-duration = "1s"
  compact-full-write-cold-duration = "2s"
[http]
  bind-address = "127.0.0.1:${port}"
  log-enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
[logging]
  level = "error"
`,
  );
  const child = new Deno.Command("/usr/bin/influxd", {
    args: ["-config", `${dir}/influxdb.conf`],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(`${url}/ping`);
    await post(`${url}/query?q=${encodeURIComponent("CREATE DATABASE bench")}`, "");
    const values = await writeAll(`${url}/write?db=bench`);
    // Wait (bounded: 90 s) until the WAL is snapshotted and every shard fully compacted
    // (one TSM file per shard, no temp files), so the figure is InfluxDB's best.
    for (let i = 0; i < 90; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      const files = await list(`${dir}/data`);
      const perShard = new Map<string, number>();
      for (const f of files.filter((f) => f.endsWith(".tsm"))) {
        const shard = f.slice(0, f.lastIndexOf("/"));
        perShard.set(shard, (perShard.get(shard) ?? 0) + 1);
      }
      const done = perShard.size > 0 && [...perShard.values()].every((n) => n === 1) &&
        !files.some((f) => f.endsWith(".tmp")) && await du(`${dir}/wal`) < 64 * 1024;
      if (done) break;
    }
    const tsm = (await list(`${dir}/data`)).filter((f) => f.endsWith(".tsm"));
    let tsmBytes = 0;
    for (const f of tsm) tsmBytes += (await Deno.stat(f)).size;
    // The series file (_series) preallocates its segments: report TSM files alone too.
    return {
      bytes: await du(`${dir}/data`),
      values,
      note: `TSM files alone: ${(tsmBytes / values).toFixed(3)} B/value`,
    };
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await Deno.remove(dir, { recursive: true });
  }
}

const only = Deno.env.get("PEERS")?.split(",");
for (
  const [name, run] of [["VictoriaMetrics", victoriaMetrics], ["InfluxDB 1.6.7", influxd]] as const
) {
  if (only && !only.some((o) => name.toLowerCase().startsWith(o.toLowerCase()))) continue;
  try {
    const t0 = performance.now();
    const { bytes, values, note } = await run();
    console.log(
      `${name}: ${values} values, ${bytes} bytes on disk = ${
        (bytes / values).toFixed(3)
      } B/value ` +
        `(${((performance.now() - t0) / 1000).toFixed(1)} s)${note ? `; ${note}` : ""}`,
    );
  } catch (error) {
    console.log(`${name}: not measured: ${(error as Error).message}`);
  }
}
