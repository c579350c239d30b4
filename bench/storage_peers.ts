/**
 * Bytes on disk per value of EpochNexus and its peers on the same TSBS-like cpu data as
 * storage_bench.ts. EpochNexus: the storage engine in-process (flush, compaction to the end),
 * with a breakdown of the segment bytes by what they hold (timestamps, float payload by
 * encoding, block framing, index, series keys). Peers: VictoriaMetrics (/usr/bin/victoria-metrics)
 * and InfluxDB 1.6.7 (/usr/bin/influxd), each on loopback ports with a temporary folder, written
 * through their InfluxDB line-protocol endpoint, flushed/compacted, measured, stopped and removed.
 *
 *   HOURS=6 deno run -A bench/storage_peers.ts
 *   PEERS=epoch deno run -A bench/storage_peers.ts        (one system: epoch, victoria, influx)
 *   BLOCK_VALUES=4096 PEERS=epoch deno run -A ...         (EpochNexus values per block; 1000)
 *
 * @module
 */
import { silentLogger } from "../src/core/mod.ts";
import { denoFileSystem, systemClock } from "../src/runtime/mod.ts";
import { encodingName } from "../src/storage/codecs/mod.ts";
import { StorageEngine } from "../src/storage/mod.ts";
import { BlockCache, SegmentReader } from "../src/storage/segment/mod.ts";
import { startInfluxd } from "../tests/_influxd.ts";
import { spawnVictoriaMetrics } from "./peers/systems.ts";
import { cpuDataLines, writeCpuData } from "./storage_data.ts";

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

/** Where the bytes of the `.seg` files go, summed over every segment under `dir`. */
async function segmentBreakdown(dir: string): Promise<Map<string, number>> {
  const parts = new Map<string, number>();
  const add = (k: string, n: number) => parts.set(k, (parts.get(k) ?? 0) + n);
  for (const path of (await list(dir)).filter((f) => f.endsWith(".seg"))) {
    const file = await Deno.readFile(path);
    const seg = await SegmentReader.open(denoFileSystem, path, new BlockCache(0));
    try {
      let blocks = 0;
      for (const s of seg.series.values()) {
        add(
          "series keys (UTF-8 key bytes inside the index)",
          new TextEncoder().encode(s.key).length,
        );
        for (const f of s.fields.values()) {
          for (const b of f.blocks) {
            const view = new DataView(file.buffer, file.byteOffset + b.offset);
            const t = view.getUint32(4, true);
            blocks += 4 + b.length;
            add("block framing (crc32c + ts length)", 8);
            add("timestamps", t);
            const id = file[b.offset + 8 + t];
            add(`values: ${encodingName(id) ?? `0x${id.toString(16)}`}`, b.length - 4 - t);
          }
        }
      }
      add("segment header + footer", 8 + 24);
      add("index (all of it, keys included)", file.length - 32 - blocks);
    } finally {
      seg.close();
    }
  }
  return parts;
}

async function epochNexus(): Promise<{ bytes: number; values: number; note?: string }> {
  const dir = await Deno.makeTempDir({ prefix: "epochnexus-self-" });
  try {
    const engine = await StorageEngine.open({
      dir,
      fs: denoFileSystem,
      clock: systemClock,
      logger: silentLogger,
      maintenanceIntervalMs: 0,
      flushHeadBytes: 64 * 1024 * 1024,
      blockCacheValues: 0,
      maxSeriesPerDatabase: 0,
      blockValues: Number(Deno.env.get("BLOCK_VALUES") ?? "1000"),
    });
    await engine.createDatabase("bench");
    const values = await writeCpuData(engine, "bench");
    await engine.flush();
    while ((await engine.compact()) > 0) { /* to the end */ }
    await engine.close();
    const parts = await segmentBreakdown(`${dir}/data`);
    let bytes = 0;
    for (const [k, n] of parts) if (!k.startsWith("series keys")) bytes += n;
    const lines = [...parts].sort((a, b) => b[1] - a[1]).map(([k, n]) =>
      `    ${k.padEnd(52)} ${String(n).padStart(11)} B ${
        (n / values).toFixed(4).padStart(8)
      } B/value`
    );
    return { bytes, values, note: `segments (.seg) only, by part:\n${lines.join("\n")}` };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function victoriaMetrics(): Promise<{ bytes: number; values: number; note?: string }> {
  const dir = await Deno.makeTempDir({ prefix: "epochnexus-vm-" });
  const { url, process: child } = await spawnVictoriaMetrics([
    `-storageDataPath=${dir}`,
    "-retentionPeriod=100y",
    "-loggerLevel=ERROR",
  ]);
  try {
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
  const influx = await startInfluxd({
    data: ['cache-snapshot-write-cold-duration = "1s"', 'compact-full-write-cold-duration = "2s"'],
  });
  const { url, dir } = influx;
  try {
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
    await influx.stop();
  }
}

const only = Deno.env.get("PEERS")?.split(",");
for (
  const [name, run] of [
    ["EpochNexus", epochNexus],
    ["VictoriaMetrics", victoriaMetrics],
    ["InfluxDB 1.6.7", influxd],
  ] as const
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
