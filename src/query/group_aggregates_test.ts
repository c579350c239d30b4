import assert from "node:assert/strict";
import { type Clock, FieldType, type Point, silentLogger } from "../core/mod.ts";
import { denoFileSystem } from "../runtime/mod.ts";
import { StorageEngine } from "../storage/mod.ts";
import { encodeJson } from "./encode_json.ts";
import { executeQuery } from "./executor.ts";
import type { QueryStore } from "./store.ts";
import { MemoryStore } from "./_memory_store_test_helper.ts";

// Grouped aggregates over many series, against a reference computed here from the points: the
// shard finds each series' group by its tag values (group_finder.ts) and aggregates it with one
// reused aggregator per measurement (shard_exec.ts SeriesAggregator). A wrong group, or a state
// or scratch flag of one series left for the next, changes an answer below.
//
// Two stores: the storage engine (two segments and a head, blocks of 4 values, so whole blocks
// are answered from their statistics and the rest decoded), and the in-memory store over
// 20-minute shard groups of 2 partitions (so partials of several shards are folded).

const HOUR = 3_600_000;
const T0 = Math.floor(1_700_000_000_000 / HOUR) * HOUR;
const NOW = BigInt(T0 + 2 * HOUR) * 1_000_000n;
const SERIES = 60;
const STEPS = 12;
const STEP_MS = 5 * 60_000;
const clock: Clock = {
  nowMs: () => T0 + 2 * HOUR,
  nowNanos: () => NOW,
  monotonicMs: () => 0,
};

interface Sample {
  tags: Record<string, string>;
  t: number;
  v: number;
}

/**
 * Series i: host h<i>, region r<i%4>, rack k<i%3> except every 7th (no rack). Each has its own
 * millisecond offset (no two points of a group share a time) and skips some steps (empty
 * buckets); every value is distinct and a multiple of 1/4 (sums are exact in any order).
 */
function samples(): Sample[] {
  const out: Sample[] = [];
  for (let i = 0; i < SERIES; i++) {
    const tags: Record<string, string> = { host: `h${String(i).padStart(2, "0")}` };
    if (i % 7 !== 0) tags.rack = `k${i % 3}`;
    tags.region = `r${i % 4}`;
    for (let j = 0; j < STEPS; j++) {
      if (j % ((i % 5) + 2) === 1) continue;
      out.push({ tags, t: T0 + j * STEP_MS + i, v: ((i * STEPS + j) * 37) % 720 / 4 - 40 });
    }
  }
  return out;
}

const FNS = ["count", "sum", "mean", "min", "max", "first", "last"] as const;
type Fn = typeof FNS[number];

interface Spec {
  fns: readonly Fn[];
  groupBy: readonly string[] | "*";
  interval?: number;
  fill?: "null" | "0" | "none";
  range?: [number, number];
  /** A condition on a tag or a field: series it holds for whole are read from statistics. */
  where?: { text: string; keeps: (p: Sample) => boolean };
  /**
   * SLIMIT and SOFFSET; InfluxDB applies them per shard, so only over the engine's one shard
   * (the in-memory store's shards would each keep their own window).
   */
  slimit?: { limit: number; offset: number };
}

function queryOf(s: Spec): string {
  const terms = [
    ...(s.range ? [`time >= ${s.range[0]}ms AND time < ${s.range[1]}ms`] : []),
    ...(s.where ? [`(${s.where.text})`] : []),
  ];
  const where = terms.length > 0 ? ` WHERE ${terms.join(" AND ")}` : "";
  const by = [
    ...(s.interval ? [`time(${s.interval / 60_000}m)`] : []),
    ...(s.groupBy === "*" ? ["*"] : s.groupBy),
  ];
  const group = by.length > 0 ? ` GROUP BY ${by.join(", ")}` : "";
  const fill = s.fill ? ` fill(${s.fill})` : "";
  const slimit = s.slimit ? ` SLIMIT ${s.slimit.limit} SOFFSET ${s.slimit.offset}` : "";
  return `SELECT ${s.fns.map((f) => `${f}(v)`).join(", ")} FROM m${where}${group}${fill}${slimit}`;
}

type Cell = number | null;

/** The answer as InfluxDB gives it, computed from the samples. */
function expected(s: Spec, all: readonly Sample[]): unknown[] {
  const points = all.filter((p) =>
    (s.range === undefined || (p.t >= s.range[0] && p.t < s.range[1])) &&
    (s.where === undefined || s.where.keeps(p))
  );
  const groups = new Map<string, { tags: Record<string, string>; points: Sample[] }>();
  // GROUP BY * is every tag key: a series without a rack is in the group of rack "".
  const keys = s.groupBy === "*"
    ? [...new Set(all.flatMap((p) => Object.keys(p.tags)))]
    : s.groupBy;
  for (const p of points) {
    const tags: Record<string, string> = {};
    for (const k of keys) tags[k] = p.tags[k] ?? "";
    const key = JSON.stringify(Object.entries(tags).sort());
    let g = groups.get(key);
    if (g === undefined) groups.set(key, g = { tags, points: [] });
    g.points.push(p);
  }
  const lone = s.fns.length === 1 && !["count", "sum", "mean"].includes(s.fns[0]);
  const reduce = (ps: Sample[]): { cells: Cell[]; t?: number } => {
    if (ps.length === 0) return { cells: s.fns.map((f) => (f === "count" ? 0 : null)) };
    const by = (better: (a: Sample, b: Sample) => boolean) =>
      ps.reduce((a, b) => (better(b, a) ? b : a));
    const picks: Record<Fn, Sample | undefined> = {
      count: undefined,
      sum: undefined,
      mean: undefined,
      min: by((a, b) => a.v < b.v),
      max: by((a, b) => a.v > b.v),
      first: by((a, b) => a.t < b.t),
      last: by((a, b) => a.t > b.t),
    };
    const sum = ps.reduce((n, p) => n + p.v, 0);
    const cells = s.fns.map((f) =>
      f === "count" ? ps.length : f === "sum" ? sum : f === "mean" ? sum / ps.length : picks[f]!.v
    );
    return { cells, t: lone ? picks[s.fns[0]]!.t : undefined };
  };
  const out = [];
  let ordered = [...groups.values()].sort((a, b) => compareTags(a.tags, b.tags));
  if (s.slimit) {
    // InfluxDB's window is over its tag-set keys: the keys with a value, then those values, so
    // a group without a rack ("region|r0") comes after those with one ("rack|region|k0|r0").
    const setKey = (tags: Record<string, string>) => {
      const keys = Object.keys(tags).filter((k) => tags[k] !== "").sort();
      return [...keys, ...keys.map((k) => tags[k])].join("|");
    };
    const window = new Set(
      [...ordered].sort((a, b) => (setKey(a.tags) < setKey(b.tags) ? -1 : 1))
        .slice(s.slimit.offset, s.slimit.offset + s.slimit.limit),
    );
    ordered = ordered.filter((g) => window.has(g));
  }
  for (const g of ordered) {
    const values: Cell[][] = [];
    if (s.interval === undefined) {
      const r = reduce(g.points);
      values.push([r.t ?? (s.range ? s.range[0] : 0), ...r.cells]);
    } else {
      const from = Math.floor(s.range![0] / s.interval),
        to = Math.floor((s.range![1] - 1) / s.interval);
      for (let b = from; b <= to; b++) {
        const ps = g.points.filter((p) => Math.floor(p.t / s.interval!) === b);
        if (ps.length === 0 && s.fill === "none") continue;
        const r = reduce(ps);
        const cells = ps.length === 0 && s.fill === "0" ? r.cells.map(() => 0) : r.cells;
        values.push([b * s.interval, ...cells]);
      }
    }
    const series: Record<string, unknown> = { name: "m" };
    if (s.groupBy === "*" || s.groupBy.length > 0) series.tags = g.tags;
    series.columns = ["time", ...s.fns];
    series.values = values;
    out.push(series);
  }
  return out;
}

function compareTags(a: Record<string, string>, b: Record<string, string>): number {
  const ka = Object.keys(a).sort(), kb = Object.keys(b).sort();
  for (let i = 0; i < Math.min(ka.length, kb.length); i++) {
    if (ka[i] !== kb[i]) return ka[i] < kb[i] ? -1 : 1;
    if (a[ka[i]] !== b[kb[i]]) return a[ka[i]] < b[kb[i]] ? -1 : 1;
  }
  return ka.length - kb.length;
}

/** Means folded across shards may differ in the last bits: numbers compared to 1e-9. */
function rounded(x: unknown): unknown {
  if (typeof x === "number") return Math.round(x * 1e9) / 1e9;
  if (Array.isArray(x)) return x.map(rounded);
  if (x !== null && typeof x === "object") {
    return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, rounded(v)]));
  }
  return x;
}

const SPECS: Spec[] = ([
  { fns: FNS, groupBy: ["host"] },
  { fns: FNS, groupBy: ["region", "rack"] },
  { fns: FNS, groupBy: ["rack"] },
  { fns: FNS, groupBy: [] },
  { fns: ["count", "sum"], groupBy: "*" },
  { fns: ["min"], groupBy: ["rack"] },
  { fns: ["max"], groupBy: ["region"] },
  { fns: ["first"], groupBy: ["rack", "region"] },
  { fns: ["last"], groupBy: ["host"] },
  { fns: FNS, groupBy: ["region", "rack"], interval: 10 * 60_000, fill: "null" },
  { fns: FNS, groupBy: ["rack"], interval: 10 * 60_000, fill: "0" },
  { fns: FNS, groupBy: ["host"], interval: 10 * 60_000, fill: "none" },
  { fns: FNS, groupBy: ["host"], interval: 30 * 60_000, fill: "null" },
  { fns: ["count", "mean"], groupBy: ["region"], interval: 5 * 60_000 },
  // Series of rack k1 pass whole (their statistics answer), the others point by point.
  ...[["host"], ["region"]].map((groupBy) => ({
    fns: FNS,
    groupBy,
    where: {
      text: "rack = 'k1' OR v > 20",
      keeps: (p: Sample) => p.tags.rack === "k1" || p.v > 20,
    },
  })),
] as Spec[]).map((s) => (s.interval ? { ...s, range: [T0, T0 + HOUR] } : s));

/** Over the engine only (see Spec.slimit). */
const ONE_SHARD_SPECS: Spec[] = [
  { fns: ["count", "max"], groupBy: ["host"], slimit: { limit: 5, offset: 3 } },
  { fns: ["sum"], groupBy: ["region", "rack"], slimit: { limit: 4, offset: 0 } },
];

async function check(store: QueryStore, label: string, specs = SPECS): Promise<void> {
  const all = samples();
  for (const spec of specs) {
    const q = queryOf(spec);
    const body = JSON.parse(
      encodeJson(await executeQuery(store, q, { database: "db", nowNs: NOW }), { epoch: "ms" }),
    );
    const got = body.results[0];
    assert.equal(got.error, undefined, `${label}: ${q}`);
    assert.deepEqual(rounded(got.series ?? []), rounded(expected(spec, all)), `${label}: ${q}`);
  }
}

function point(s: Sample): Point {
  return {
    measurement: "m",
    tags: Object.entries(s.tags).sort().map(([key, value]) => ({ key, value })),
    fields: [{ key: "v", type: FieldType.Float, value: s.v }],
    timeMs: s.t,
    timeSubMs: 0,
  };
}

Deno.test("grouped aggregates over many series answer as computed from their points (engine)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "group_aggregates_" });
  const engine = await StorageEngine.open({
    dir,
    fs: denoFileSystem,
    clock,
    logger: silentLogger,
    maintenanceIntervalMs: 0,
    blockValues: 4,
    warmUpAtOpen: false,
  });
  try {
    await engine.createDatabase("db");
    const all = samples();
    // Two segments and a head: a series' points come from three places.
    const at = (from: number, to: number) =>
      all.filter((p) => p.t >= T0 + from * STEP_MS && p.t < T0 + to * STEP_MS).map(point);
    await engine.write("db", undefined, at(0, 6));
    await engine.flush();
    await engine.write("db", undefined, at(6, 10));
    await engine.flush();
    await engine.write("db", undefined, at(10, STEPS));
    await check(engine, "engine", [...SPECS, ...ONE_SHARD_SPECS]);
  } finally {
    await engine.close({ flush: false });
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("grouped aggregates over many series answer as computed from their points (shards)", async () => {
  const store = new MemoryStore({ shardGroupNs: 20n * 60_000_000_000n, partitions: 2 });
  await store.createDatabase("db");
  const lines = samples().map((s) =>
    `m,${Object.entries(s.tags).sort().map(([k, v]) => `${k}=${v}`).join(",")} v=${s.v} ${
      BigInt(s.t) * 1_000_000n
    }`
  );
  store.writeLines("db", lines.join("\n"));
  await check(store, "memory");
});

Deno.test("GROUP BY * over a subquery merges the lanes of one tag set into one group", async () => {
  // A raw subquery's rows of one series that share a time go to parallel lanes of the same tags
  // (subquery.ts ResultShard), whose series keys differ: GROUP BY * is one group per tag set,
  // not per series key (InfluxDB 1.6: one series m, sum 15).
  const store = new MemoryStore({ shardGroupNs: 3_600_000_000_000n, partitions: 1 });
  await store.createDatabase("db");
  store.writeLines(
    "db",
    "m,host=a v=1 1000000000\nm,host=b v=2 1000000000\nm,host=c v=4 1000000000\n" +
      "m,host=a v=8 2000000000\n",
  );
  const answer = async (q: string) =>
    JSON.parse(encodeJson(await executeQuery(store, q, { database: "db", nowNs: NOW })))
      .results[0];
  assert.deepEqual(
    (await answer("SELECT sum(v), count(v) FROM (SELECT v FROM m) GROUP BY *")).series,
    [{
      name: "m",
      columns: ["time", "sum", "count"],
      values: [[
        "1970-01-01T00:00:00Z",
        15,
        4,
      ]],
    }],
  );
  // The inner GROUP BY host keeps a lane per host, then more lanes where a host's rows share a
  // time: the outer GROUP BY * still has one series per host.
  const byHost = await answer(
    "SELECT sum(v) FROM (SELECT v, host FROM m GROUP BY host) GROUP BY *",
  );
  assert.deepEqual(
    byHost.series.map((s: { tags: unknown; values: unknown[][] }) => [s.tags, s.values[0][1]]),
    [[{ host: "a" }, 9], [{ host: "b" }, 2], [{ host: "c" }, 4]],
  );
});
