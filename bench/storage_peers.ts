/**
 * Bytes on disk per value of EpochNexus, InfluxDB 1.6.7 and VictoriaMetrics 1.79.5, measured the
 * same way for all three: each system started on loopback with a fresh folder (EpochNexus as its
 * real server process), fed the same line protocol on `/write` (one writer, 5000 lines a body),
 * settled its own way and waited for on its own counters (peers/systems.ts: heads flushed and
 * compaction quiet; InfluxDB snapshotted and fully compacted; VictoriaMetrics flushed and
 * force-merged), the values it stores counted with a query (a system that dropped any fails the
 * run), then its whole data folder measured with `du` (WAL, index, everything: allocated blocks,
 * and apparent sizes beside). EpochNexus's folder includes its shared Raft log (its WAL), measured
 * once the node has trimmed it as a settled node does (peers/systems.ts), and printed by part.
 *
 * Data sets (`--data`, all by default):
 * - `cpu`: TSBS-like cpu data (storage_data.ts), the data the float codec's prefix code was
 *   fitted to;
 * - `mixed`: integer counters, gauges with few values, sparse series, string and boolean status
 *   fields (mixed_data.ts);
 * - `node`: a real recording of Prometheus node_exporter on this machine, made by
 *   `deno run -A bench/node_scrape.ts` (40 min at 1 s: about 1.2M samples) into
 *   `bench/results/node_scrape.lp.gz` (`NODE_DATA=` another file); skipped with a note if absent.
 *
 *   deno task bench:storage-peers [--data cpu,mixed,node] [--systems epochnexus,influxdb,victoriametrics]
 *   HOURS=6 (hours of cpu and mixed data)   BLOCK_VALUES=1000 (EpochNexus values per block)
 *
 * Prints one line per system and data set, EpochNexus's segment bytes by part, and a summary
 * table; writes bench/results/storage_peers.json. Exit 1 when a system fails.
 * @module
 */
import { denoFileSystem } from "../src/runtime/mod.ts";
import { encodingName } from "../src/storage/codecs/mod.ts";
import { BlockCache, SegmentReader } from "../src/storage/segment/mod.ts";
import { ensurePeersInstalled } from "./peers/install.ts";
import { influxChecksum } from "./peers/queries.ts";
import {
  DB,
  diskUsage,
  loadAverage,
  type Precision,
  runStamp,
  startEpochNexus,
  startInfluxDB,
  startVictoriaMetrics,
  type System,
} from "./peers/systems.ts";
import { mixedDataLines } from "./mixed_data.ts";
import { nodeDataLines } from "./node_scrape.ts";
import { cpuDataLines, HOURS } from "./storage_data.ts";

type Chunks = AsyncIterable<{ lines: string; valueCount: number }>;

interface DataSet {
  name: string;
  description: string;
  precision: Precision;
  chunks(): Chunks;
}

function flag(name: string, fallback: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 && Deno.args[i + 1] ? Deno.args[i + 1] : fallback;
}

async function* fromSync(chunks: Iterable<{ lines: string; valueCount: number }>): Chunks {
  yield* chunks;
}

const NODE_DATA = Deno.env.get("NODE_DATA") ?? "bench/results/node_scrape.lp.gz";
const DATA_SETS: Record<string, DataSet> = {
  cpu: {
    name: "cpu",
    description: `TSBS-like cpu, 100 hosts x 10 float fields every 10 s, ${HOURS} h`,
    precision: "ns",
    chunks: () => fromSync(cpuDataLines(5000)),
  },
  mixed: {
    name: "mixed",
    description: `counters, few-valued gauges, sparse series, status strings/booleans, ${HOURS} h`,
    precision: "ns",
    chunks: () => fromSync(mixedDataLines(5000)),
  },
  node: {
    name: "node",
    description: `node_exporter recording ${NODE_DATA}`,
    precision: "ms",
    chunks: () => nodeDataLines(NODE_DATA, 5000),
  },
};

const BLOCK_VALUES = Deno.env.get("BLOCK_VALUES") ?? "1000";
const STARTERS: Record<string, () => Promise<System>> = {
  epochnexus: () => startEpochNexus({ EPOCHNEXUS_SEGMENT_BLOCK_VALUES: BLOCK_VALUES }),
  influxdb: startInfluxDB,
  victoriametrics: startVictoriaMetrics,
};

/** The timestamp of a line protocol line, in milliseconds. */
function lineTimeMs(line: string, precision: Precision): number {
  const t = Number(line.slice(line.lastIndexOf(" ") + 1));
  return precision === "ns" ? t / 1e6 : precision === "s" ? t * 1000 : t;
}

/** Values the system stores, counted by its own query language. */
async function storedValues(system: System, firstMs: number, lastMs: number): Promise<number> {
  if (system.name.startsWith("Victoria")) {
    const params = new URLSearchParams({
      query: `sum(count_over_time({__name__=~".+"}[${Math.ceil(lastMs - firstMs) + 1000}ms]))`,
      time: String((lastMs + 1) / 1000),
      nocache: "1",
    });
    const r = await fetch(`${system.url}/api/v1/query?${params}`);
    const body = await r.json();
    if (!r.ok) throw new Error(`count query: ${JSON.stringify(body).slice(0, 300)}`);
    return Number(body.data.result[0]?.value[1] ?? 0);
  }
  const params = new URLSearchParams({ db: DB, q: "SELECT count(*) FROM /.*/" });
  const r = await fetch(`${system.url}/query?${params}`);
  const body = await r.json();
  if (!r.ok || body.results?.[0]?.error) {
    throw new Error(`count query: ${JSON.stringify(body).slice(0, 300)}`);
  }
  return influxChecksum(body);
}

/** A segment file's name (minGen-maxGen.seg; other logs may use `.seg` too). */
const SEGMENT_FILE = /^\d{10}-\d{10}\.seg$/;

/** Where the bytes of EpochNexus's segment files anywhere under `dir` go (whatever the layout). */
async function segmentBreakdown(dir: string): Promise<Map<string, number>> {
  const parts = new Map<string, number>();
  const add = (k: string, n: number) => parts.set(k, (parts.get(k) ?? 0) + n);
  const files: string[] = [];
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(d)) {
      if (e.isDirectory) await walk(`${d}/${e.name}`);
      else if (SEGMENT_FILE.test(e.name)) files.push(`${d}/${e.name}`);
    }
  };
  await walk(dir);
  for (const path of files) {
    const file = await Deno.readFile(path);
    const seg = await SegmentReader.open(denoFileSystem, path, new BlockCache(0));
    try {
      let blocks = 0;
      for (const s of seg.series.values()) {
        for (const f of s.fields.values()) {
          for (const b of f.blocks) {
            const t = new DataView(file.buffer, file.byteOffset + b.offset).getUint32(4, true);
            blocks += 4 + b.length;
            add("block framing (crc32c + ts length)", 8);
            add("timestamps", t);
            const id = file[b.offset + 8 + t];
            add(`values: ${encodingName(id) ?? `0x${id.toString(16)}`}`, b.length - 4 - t);
          }
        }
      }
      add("segment header + footer", 8 + 24);
      add("segment index (series keys included)", file.length - 32 - blocks);
    } finally {
      seg.close();
    }
  }
  return parts;
}

interface Row {
  data: string;
  system: string;
  values: number;
  allocatedBytes: number;
  apparentBytes: number;
  ingestSeconds: number;
  settled: string;
  load: string;
}

async function measure(data: DataSet, start: () => Promise<System>): Promise<Row> {
  const system = await start();
  try {
    let values = 0, firstMs = Infinity, lastMs = -Infinity;
    const t0 = performance.now();
    for await (const { lines, valueCount } of data.chunks()) {
      await system.write(lines, data.precision);
      values += valueCount;
      const firstLine = lines.includes("\n") ? lines.slice(0, lines.indexOf("\n")) : lines;
      firstMs = Math.min(firstMs, lineTimeMs(firstLine, data.precision));
      lastMs = Math.max(lastMs, lineTimeMs(lines, data.precision));
    }
    const ingestSeconds = (performance.now() - t0) / 1000;
    const settled = await system.settle();
    const stored = await storedValues(system, firstMs, lastMs);
    if (stored !== values) {
      throw new Error(`${system.name} stores ${stored} values of the ${values} written`);
    }
    const bytes = await diskUsage(system.dataPaths);
    if (system.name === "EpochNexus") {
      const parts = await segmentBreakdown(system.dataDir);
      let segments = 0;
      for (const n of parts.values()) segments += n;
      // The shared Raft log (every partition's WAL) and its snapshots, as the node left them.
      const raft = await diskUsage([`${system.dataDir}/raft`]);
      parts.set("Raft log + snapshots (raft/; du)", raft.allocated);
      parts.set(
        "rest of the folder (catalogs, dirs, lock; du)",
        bytes.allocated - segments - raft.allocated,
      );
      for (const [k, n] of [...parts].sort((a, b) => b[1] - a[1])) {
        console.log(
          `    ${k.padEnd(52)} ${String(n).padStart(11)} B ${
            (n / values).toFixed(4).padStart(8)
          } B/value`,
        );
      }
    }
    return {
      data: data.name,
      system: system.name,
      values,
      allocatedBytes: bytes.allocated,
      apparentBytes: bytes.apparent,
      ingestSeconds,
      settled,
      load: await loadAverage(),
    };
  } finally {
    await system.stop();
    await system.remove();
  }
}

const dataNames = flag("data", "cpu,mixed,node").split(",");
const systemNames = flag("systems", "epochnexus,influxdb,victoriametrics").split(",");
for (const name of [...dataNames, ...systemNames]) {
  if (!(name in DATA_SETS) && !(name in STARTERS)) {
    console.error(`unknown data set or system: ${name}`);
    Deno.exit(2);
  }
}
await ensurePeersInstalled(systemNames);
const rows: Row[] = [];
const failures: string[] = [];
const loadBefore = await loadAverage();
for (const dataName of dataNames) {
  const data = DATA_SETS[dataName];
  if (dataName === "node" && !(await Deno.stat(NODE_DATA).catch(() => null))) {
    failures.push(`node: no recording at ${NODE_DATA}: run deno run -A bench/node_scrape.ts`);
    continue;
  }
  console.log(`${data.name}: ${data.description}`);
  for (const systemName of systemNames) {
    try {
      const row = await measure(data, STARTERS[systemName]);
      rows.push(row);
      console.log(
        `  ${row.system.padEnd(23)} ${row.values} values: ${row.allocatedBytes} B = ${
          (row.allocatedBytes / row.values).toFixed(3)
        } B/value (apparent ${(row.apparentBytes / row.values).toFixed(3)}); ingest ${
          row.ingestSeconds.toFixed(1)
        } s; ${row.settled}; load ${row.load}`,
      );
    } catch (error) {
      failures.push(`${data.name} ${systemName}: ${(error as Error).message}`);
      console.log(`  ${systemName}: FAILED: ${(error as Error).message}`);
    }
  }
}

console.log(`\nbytes/value, whole data folder after settling (du; apparent in brackets)`);
console.log(
  `load average ${loadBefore} before, ${await loadAverage()} after; ${await runStamp()}`,
);
const systems = [...new Set(rows.map((r) => r.system))];
console.log(["data set".padEnd(10), ...systems.map((s) => s.padEnd(24))].join(" | "));
for (const dataName of dataNames) {
  const cells = systems.map((s) => {
    const r = rows.find((x) => x.data === dataName && x.system === s);
    return (r
      ? `${(r.allocatedBytes / r.values).toFixed(2)} (${(r.apparentBytes / r.values).toFixed(2)})`
      : "n/a").padEnd(24);
  });
  console.log([dataName.padEnd(10), ...cells].join(" | "));
}
await Deno.mkdir("bench/results", { recursive: true });
await Deno.writeTextFile(
  "bench/results/storage_peers.json",
  JSON.stringify({ hours: HOURS, blockValues: BLOCK_VALUES, nodeData: NODE_DATA, rows }, null, 2),
);
for (const f of failures) console.error(`FAILED ${f}`);
if (failures.length > 0) Deno.exit(1);
