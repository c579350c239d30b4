import assert from "node:assert/strict";
import fc from "fast-check";
import { type Clock, FieldType, type Point, silentLogger } from "../core/mod.ts";
import { denoFileSystem } from "../runtime/mod.ts";
import { StorageEngine } from "../storage/mod.ts";
import { MemoryStore, type TestPoint } from "./_memory_store_test_helper.ts";
import { tagFilterOf } from "./condition.ts";
import { encodeJson } from "./encode_json.ts";
import { executeQuery } from "./executor.ts";
import { parseQuery } from "./parser.ts";
import type { SelectStatement } from "./ast.ts";
import type { QueryStore, ShardReader } from "./store.ts";

// Tag conditions answered through the storage engine's series index must give exactly the
// answers of the in-memory store, which has no index and scans every series.

const NOW_MS = 1_700_000_000_000;
const NOW = BigInt(NOW_MS) * 1_000_000n;
const clock: Clock = { nowMs: () => NOW_MS, nowNanos: () => NOW, monotonicMs: () => 0 };

const VALUES = ["a", "b", "c", "d"];
const seriesArb = fc.record({
  m: fc.constantFrom("cpu", "mem"),
  host: fc.constantFrom(...VALUES),
  rack: fc.constantFrom("", ...VALUES),
  dc: fc.constantFrom("", "x", "y"),
  points: fc.array(fc.integer({ min: -50, max: 50 }), { minLength: 1, maxLength: 3 }),
});

const tagTerm = fc.oneof(
  fc.tuple(
    fc.constantFrom("host", "rack", "dc", "nope"),
    fc.constantFrom("=", "!=", "<>"),
    fc.constantFrom("", ...VALUES, "x"),
    fc.boolean(),
  ).map(([k, op, v, flip]) => (flip ? `'${v}' ${op} ${k}` : `${k} ${op} '${v}'`)),
  fc.tuple(
    fc.constantFrom("host", "rack", "dc", "nope"),
    fc.constantFrom("=~", "!~"),
    fc.constantFrom("^a", "[bc]", "^$", ".", "x|d"),
  ).map(([k, op, re]) => `${k} ${op} /${re}/`),
);
const condArb = fc.letrec<{ c: string }>((tie) => ({
  c: fc.oneof(
    { depthSize: "small" },
    tagTerm,
    tagTerm,
    fc.constantFrom("v > 0", "v <= 10", "rack::tag = 'a'"),
    fc.tuple(tie("c"), fc.constantFrom("AND", "OR"), tie("c")).map(([l, op, r]) =>
      `(${l} ${op} ${r})`
    ),
  ),
})).c;

const statements = (cond: string) => [
  `SELECT count(v), sum(v), last(v) FROM cpu, mem WHERE ${cond} GROUP BY host, rack`,
  `SELECT v, host, dc FROM cpu WHERE ${cond}`,
  `SHOW SERIES WHERE ${cond}`,
  `SHOW MEASUREMENTS WHERE ${cond}`,
  `SHOW TAG KEYS WHERE ${cond}`,
  `SHOW TAG VALUES WITH KEY =~ /./ WHERE ${cond}`,
  `SHOW TAG VALUES FROM cpu WITH KEY IN (host, dc) WHERE ${cond}`,
  `SHOW SERIES CARDINALITY WHERE ${cond}`,
  `SHOW SERIES EXACT CARDINALITY WHERE ${cond}`,
  `SHOW TAG VALUES EXACT CARDINALITY WITH KEY = rack WHERE ${cond}`,
  `SHOW MEASUREMENT EXACT CARDINALITY WHERE ${cond}`,
];
const UNCONDITIONED = [
  "SHOW TAG KEYS",
  "SHOW TAG VALUES WITH KEY =~ /^(host|rack)$/",
  "SHOW TAG VALUES FROM mem WITH KEY != host",
  "SHOW TAG KEY EXACT CARDINALITY",
  "SHOW TAG VALUES EXACT CARDINALITY WITH KEY = host",
  "SHOW SERIES",
];

async function both(list: ReturnType<typeof seriesArb.generate>["value"][]) {
  const memory = new MemoryStore({ partitions: 1 });
  await memory.createDatabase("db");
  const dir = await Deno.makeTempDir();
  const engine = await StorageEngine.open({
    dir,
    fs: denoFileSystem,
    clock,
    logger: silentLogger,
    maintenanceIntervalMs: 0,
  });
  await engine.createDatabase("db");
  const tests: TestPoint[] = [];
  const points: Point[] = [];
  for (const s of list) {
    const tags: Record<string, string> = { host: s.host };
    if (s.rack !== "") tags.rack = s.rack;
    if (s.dc !== "") tags.dc = s.dc;
    s.points.forEach((v, i) => {
      const ms = NOW_MS - 60_000 + i * 1000;
      tests.push({ measurement: s.m, tags, fields: { v }, ns: BigInt(ms) * 1_000_000n });
      points.push({
        measurement: s.m,
        tags: Object.keys(tags).sort().map((key) => ({ key, value: tags[key] })),
        fields: [{ key: "v", type: FieldType.Integer, value: v }],
        timeMs: ms,
        timeSubMs: 0,
      });
    });
  }
  memory.writeTestPoints("db", tests);
  await engine.write("db", undefined, points);
  const close = async () => {
    await engine.close();
    await Deno.remove(dir, { recursive: true });
  };
  return { memory, engine, close };
}

async function answer(store: MemoryStore | StorageEngine, q: string): Promise<string> {
  const results = await executeQuery(store, q, { database: "db", nowNs: NOW });
  return encodeJson(results, {}).trimEnd();
}

Deno.test("series index: tag conditions answer as a full scan does (property)", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(seriesArb, { minLength: 1, maxLength: 25 }),
      fc.array(condArb, { minLength: 1, maxLength: 3 }),
      fc.boolean(),
      async (list, conds, flush) => {
        const { memory, engine, close } = await both(list);
        try {
          if (flush) await engine.flush();
          for (const q of [...conds.flatMap(statements), ...UNCONDITIONED]) {
            assert.equal(await answer(engine, q), await answer(memory, q), q);
          }
          // DROP SERIES resolves its series through the index too: what remains is what SHOW
          // SERIES listed minus what SHOW SERIES WHERE listed (both checked above).
          const keys = async (q: string) => {
            const [r] = await executeQuery(engine, q, { database: "db", nowNs: NOW });
            return (r.series?.[0]?.values ?? []).map((row) => String(row[0]));
          };
          const cond = conds[0];
          const all = await keys("SHOW SERIES");
          const hit = new Set(await keys(`SHOW SERIES WHERE ${cond}`));
          const [dropped] = await executeQuery(engine, `DROP SERIES WHERE ${cond}`, {
            database: "db",
            nowNs: NOW,
          });
          if (dropped.error === undefined) {
            assert.deepEqual(await keys("SHOW SERIES"), all.filter((k) => !hit.has(k)), cond);
          } else assert.match(dropped.error, /fields not supported/);
        } finally {
          await close();
        }
      },
    ),
    { numRuns: 40 },
  );
});

const filterOf = (where: string, fields: string[] = []) => {
  const stmt = parseQuery(`SELECT * FROM m WHERE ${where}`)[0] as SelectStatement;
  const f = tagFilterOf(
    stmt.condition,
    (n, t) => t === "tag" ? false : t === "field" || fields.includes(n),
  );
  return JSON.parse(JSON.stringify(f ?? null, (_k, v) => (typeof v === "function" ? "re" : v)));
};

Deno.test("tagFilterOf: tag terms of ANDs and ORs; fields, casts and other literals left out", () => {
  assert.deepEqual(filterOf("host = 'a'"), { op: "=", key: "host", value: "a" });
  assert.deepEqual(filterOf("'a' <> host"), { op: "!=", key: "host", value: "a" });
  assert.deepEqual(filterOf("host =~ /a/"), { op: "=~", key: "host", test: "re" });
  assert.deepEqual(filterOf("host = 'a' AND usage > 1", ["usage"]), {
    op: "=",
    key: "host",
    value: "a",
  });
  assert.deepEqual(filterOf("(host = 'a' OR host = 'b') AND dc !~ /x/ AND dc != 'y'"), {
    op: "AND",
    terms: [
      {
        op: "OR",
        terms: [{ op: "=", key: "host", value: "a" }, { op: "=", key: "host", value: "b" }],
      },
      { op: "!~", key: "dc", test: "re" },
      { op: "!=", key: "dc", value: "y" },
    ],
  });
  // A field (by schema or cast), an OR with a field, a number, a tag-to-tag comparison.
  assert.equal(filterOf("usage = 'a'", ["usage"]), null);
  assert.equal(filterOf("host::field = 'a'"), null);
  assert.equal(filterOf("host = 'a' OR usage > 1", ["usage"]), null);
  assert.equal(filterOf("host = 5"), null);
  assert.equal(filterOf("host = dc"), null);
  assert.deepEqual(filterOf("host::tag = 'a'", ["host"]), { op: "=", key: "host", value: "a" });
});

Deno.test("indexed readers: statements with tag conditions never list every series", async () => {
  const { engine, close } = await both([
    { m: "cpu", host: "a", rack: "b", dc: "x", points: [1, 2] },
    { m: "cpu", host: "b", rack: "", dc: "y", points: [3] },
    { m: "mem", host: "a", rack: "c", dc: "", points: [4] },
  ]);
  try {
    // A store over the engine whose shards count full listings.
    let listings = 0;
    const store: QueryStore = {
      databases: () => engine.databases(),
      createDatabase: (n) => engine.createDatabase(n),
      dropDatabase: (n) => engine.dropDatabase(n),
      retentionPolicies: (db) => engine.retentionPolicies(db),
      defaultRetentionPolicy: (db) => engine.defaultRetentionPolicy(db),
      shards: (db, rp, min, max) =>
        engine.shards(db, rp, min, max).map((view): ShardReader => ({
          measurements: () => view.measurements(),
          series: (m) => {
            listings++;
            return view.series(m);
          },
          seriesWhere: (m, filter) => view.seriesWhere(m, filter),
          tagKeys: (m) => view.tagKeys(m),
          tagValues: (m, key) => view.tagValues(m, key),
          fieldTypes: (m) => view.fieldTypes(m),
          readField: (series, field, min, max) => view.readField(series, field, min, max),
          readFieldSummaries: (series, field, min, max) =>
            view.readFieldSummaries(series, field, min, max),
        })),
    };
    const q = async (text: string) =>
      encodeJson(await executeQuery(store, text, { database: "db", nowNs: NOW }), {}).trimEnd();
    assert.match(
      await q("SELECT sum(v) FROM cpu WHERE host = 'a' GROUP BY rack"),
      /"tags":\{"rack":"b"\},"columns":\["time","sum"\],"values":\[\["1970-01-01T00:00:00Z",3\]\]/,
    );
    assert.match(
      await q("SHOW SERIES WHERE dc =~ /x|y/"),
      /cpu,dc=x,host=a,rack=b.*cpu,dc=y,host=b/,
    );
    assert.match(await q("SHOW TAG VALUES WITH KEY = host"), /\["host","a"\],\["host","b"\]/);
    assert.match(await q("SHOW TAG KEYS FROM mem"), /\["host"\],\["rack"\]/);
    assert.match(await q("SHOW MEASUREMENTS WHERE rack = 'c'"), /\[\["mem"\]\]/);
    assert.match(await q("SHOW TAG VALUES EXACT CARDINALITY WITH KEY = dc"), /"cpu".*\[\[2\]\]/);
    assert.equal(listings, 0);
  } finally {
    await close();
  }
});
