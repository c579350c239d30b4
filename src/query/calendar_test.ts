import { equal, throws } from "node:assert/strict";
import { MemoryStore } from "./_memory_store_test_helper.ts";
import { encodeJson } from "./encode_json.ts";
import { executeQuery } from "./executor.ts";
import { parseQuery } from "./parser.ts";
import { printQuery } from "./print.ts";

const NOW = 1764000000000000000n;

// One point a day at 12:00 UTC from 2022-12-30 to 2023-04-02.
async function newStore(): Promise<MemoryStore> {
  const store = new MemoryStore({ shardGroupNs: 604_800_000_000_000n, partitions: 1 });
  await store.createDatabase("db");
  const lines: string[] = [];
  for (let d = Date.UTC(2022, 11, 30, 12); d <= Date.UTC(2023, 3, 2, 12); d += 86_400_000) {
    lines.push(`m v=1i ${d}000000`);
  }
  store.writeLines("db", lines.join("\n"));
  return store;
}

async function run(store: MemoryStore, q: string): Promise<string> {
  return encodeJson(await executeQuery(store, q, { database: "db", nowNs: NOW })).trimEnd();
}

Deno.test("GROUP BY time(1mo): buckets are calendar months (31, 28, 31 days)", async () => {
  const store = await newStore();
  equal(
    await run(
      store,
      "SELECT count(v) FROM m WHERE time >= '2023-01-01T00:00:00Z' AND time < '2023-04-01T00:00:00Z' GROUP BY time(1mo)",
    ),
    '{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","count"],"values":[["2023-01-01T00:00:00Z",31],["2023-02-01T00:00:00Z",28],["2023-03-01T00:00:00Z",31]]}]}]}',
  );
});

Deno.test("GROUP BY time(1mo) with tz(): local months, across the DST change", async () => {
  const store = await newStore();
  equal(
    await run(
      store,
      "SELECT count(v) FROM m WHERE time >= '2023-02-01T05:00:00Z' AND time < '2023-04-01T04:00:00Z' GROUP BY time(1mo) tz('America/New_York')",
    ),
    '{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","count"],"values":[["2023-02-01T00:00:00-05:00",28],["2023-03-01T00:00:00-05:00",31]]}]}]}',
  );
});

Deno.test("GROUP BY time(1y) and time(3mo)", async () => {
  const store = await newStore();
  equal(
    await run(
      store,
      "SELECT count(v) FROM m WHERE time >= '2022-01-01T00:00:00Z' AND time < '2024-01-01T00:00:00Z' GROUP BY time(1y) fill(none)",
    ),
    '{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","count"],"values":[["2022-01-01T00:00:00Z",2],["2023-01-01T00:00:00Z",92]]}]}]}',
  );
  equal(
    await run(
      store,
      "SELECT count(v) FROM m WHERE time >= '2023-01-01T00:00:00Z' AND time < '2023-07-01T00:00:00Z' GROUP BY time(3mo)",
    ),
    '{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","count"],"values":[["2023-01-01T00:00:00Z",90],["2023-04-01T00:00:00Z",2]]}]}]}',
  );
});

Deno.test("calendar intervals print back and leave InfluxQL durations alone", () => {
  const q = "SELECT count(v) FROM m GROUP BY time(1mo); SELECT count(v) FROM m GROUP BY time(2y)";
  equal(printQuery(parseQuery(q)), q);
  const [s] = parseQuery("SELECT count(v) FROM m GROUP BY time(1m)");
  equal(
    s.kind === "select" && s.dimensions[0].kind === "time" && s.dimensions[0].months,
    undefined,
  );
  throws(() => parseQuery("SELECT count(v) FROM m WHERE time > now() - 1mo"));
});
