/**
 * GROUP BY * over many series with several tag keys: the grouping itself (one point a series,
 * so finding and ordering groups is the work), as process CPU per query (the machine is
 * shared). `GB_SERIES` (default 50,000) series of `GB_KEYS` (default 6) tag keys; the key that
 * sorts first ("a_id") is distinct per series, the worst case for a tree of one Map level per
 * key. Run against another tree by copying this file and bench/_shards_store.ts there (A/B):
 * `deno run -A bench/group_by_star_bench.ts`.
 */
import { ShardsStore } from "./_shards_store.ts";
import { executeQuery } from "../src/query/executor.ts";
import type { FieldColumn, SeriesRef } from "../src/query/store.ts";
import { FieldType } from "../src/core/point.ts";
import { cpuUsage } from "node:process";

const SERIES = Number(Deno.env.get("GB_SERIES") ?? 50_000);
const KEYS = Number(Deno.env.get("GB_KEYS") ?? 6);
const ROUNDS = Number(Deno.env.get("GB_ROUNDS") ?? 5);
const T_MS = 1678886400000;

class SeriesStore extends ShardsStore {
  constructor() {
    super();
    const refs: SeriesRef[] = [];
    const col: FieldColumn = {
      type: FieldType.Float,
      length: 1,
      timesMs: new Float64Array([T_MS]),
      timesSubMs: new Float64Array(1),
      values: new Float64Array([1]),
    };
    for (let s = 0; s < SERIES; s++) {
      const tags = [{ key: "a_id", value: `id${s}` }];
      for (let k = 1; k < KEYS; k++) tags.push({ key: `k${k}`, value: `v${s % (3 + k * 7)}` });
      refs.push({
        id: s,
        key: "m," + tags.map((t) => `${t.key}=${t.value}`).join(","),
        measurement: "m",
        tags,
      });
    }
    refs.sort((a, b) => (a.key < b.key ? -1 : 1));
    this.shardList.push({
      measurements: () => ["m"],
      series: () => refs,
      fieldTypes: () => new Map([["v", FieldType.Float]]),
      readField: () => Promise.resolve(col),
    });
  }
}

const store = new SeriesStore();
const options = { database: "db", nowNs: BigInt(T_MS + 1000) * 1_000_000n };
for (
  const q of [
    "SELECT count(v) FROM m GROUP BY *",
    "SELECT v FROM m GROUP BY *",
    "SELECT count(v) FROM m GROUP BY a_id, k1",
    "SELECT count(v) FROM m GROUP BY k1, k2",
    "SELECT count(v) FROM m GROUP BY k1",
  ]
) {
  const times: number[] = [];
  let n = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const c0 = cpuUsage();
    const [res] = await executeQuery(store, q, options);
    const c = cpuUsage(c0);
    times.push((c.user + c.system) / 1000);
    n = res.series?.length ?? 0;
  }
  times.sort((a, b) => a - b);
  console.log(
    `${q} | ${SERIES} series x ${KEYS} keys | ${n} series out | CPU ms min ${
      times[0].toFixed(0)
    } ` +
      `median ${times[times.length >> 1].toFixed(0)} max ${times[times.length - 1].toFixed(0)}`,
  );
}
