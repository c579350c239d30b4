/**
 * mean() GROUP BY time(1m) over 1,000,000 float points (100 series x 10,000 points, one point
 * every 10 s) in the in-memory store: per-shard partial states, merge, fill, encode-free; the
 * same over four shard groups, and raw rows of many series at equal times.
 */
import { ShardsStore } from "./_shards_store.ts";
import { executeQuery } from "../src/query/executor.ts";
import type { FieldColumn, SeriesRef } from "../src/query/store.ts";
import { FieldType } from "../src/core/point.ts";

const SERIES = 100;
const POINTS = 10_000;
const START_MS = 1678886400000;
const STEP_MS = 10_000;

// A store whose columns are prebuilt typed arrays, so the bench measures the query engine,
// not the helper's map-based storage; `groups` splits the time range into that many shard
// groups (the coordinator then merges their partials as it does over a real database).
class ColumnStore extends ShardsStore {
  constructor(groups = 1) {
    super();
    const refs: SeriesRef[] = [];
    const perGroup = POINTS / groups;
    const cols = Array.from({ length: groups }, () => new Map<number, FieldColumn>());
    for (let s = 0; s < SERIES; s++) {
      const host = `h${String(s).padStart(3, "0")}`;
      refs.push({
        id: s,
        key: `cpu,host=${host}`,
        measurement: "cpu",
        tags: [{ key: "host", value: host }],
      });
      for (let g = 0; g < groups; g++) {
        const timesMs = new Float64Array(perGroup);
        const values = new Float64Array(perGroup);
        for (let k = 0; k < perGroup; k++) {
          const i = g * perGroup + k;
          timesMs[k] = START_MS + i * STEP_MS;
          values[k] = (i * 7 + s) % 100;
        }
        cols[g].set(s, {
          type: FieldType.Float,
          length: perGroup,
          timesMs,
          timesSubMs: new Float64Array(perGroup),
          values,
        });
      }
    }
    for (const group of cols) {
      this.shardList.push({
        measurements: () => ["cpu"],
        series: () => refs,
        fieldTypes: () => new Map([["usage", FieldType.Float]]),
        readField: (ref) => Promise.resolve(group.get(ref.id)),
      });
    }
  }
}

const store = new ColumnStore();
const grouped = new ColumnStore(4);
const END = BigInt(START_MS + POINTS * STEP_MS) * 1_000_000n;
const RANGE = `time >= ${START_MS}ms AND time < ${END}`;
const options = { database: "db", nowNs: END };

Deno.bench("exec: mean(usage) GROUP BY time(1m) over 1M points", async () => {
  await executeQuery(
    store,
    `SELECT mean(usage) FROM cpu WHERE ${RANGE} GROUP BY time(1m)`,
    options,
  );
});
Deno.bench("exec: mean(usage) GROUP BY time(1m), host over 1M points", async () => {
  await executeQuery(
    store,
    `SELECT mean(usage) FROM cpu WHERE ${RANGE} GROUP BY time(1m), host`,
    options,
  );
});
Deno.bench("exec: max(usage) over 1M points (no GROUP BY)", async () => {
  await executeQuery(store, `SELECT max(usage) FROM cpu WHERE ${RANGE}`, options);
});
Deno.bench(
  "exec: mean(usage) GROUP BY time(1m), host over 1M points in 4 shard groups",
  async () => {
    await executeQuery(
      grouped,
      `SELECT mean(usage) FROM cpu WHERE ${RANGE} GROUP BY time(1m), host`,
      options,
    );
  },
);
// Raw rows of 100 series at the same times: every row ties with 99 others (merge order).
const RAW_END_MS = START_MS + 1_000 * STEP_MS;
Deno.bench("exec: raw usage, 100 series x 1,000 points at equal times", async () => {
  await executeQuery(
    store,
    `SELECT usage FROM cpu WHERE time >= ${START_MS}ms AND time < ${RAW_END_MS}ms`,
    options,
  );
});
