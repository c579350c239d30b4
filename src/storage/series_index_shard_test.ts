import assert from "node:assert/strict";
import fc from "fast-check";
import { type Clock, FieldType, type Point, silentLogger } from "../core/mod.ts";
import { denoFileSystem } from "../runtime/mod.ts";
import { StorageEngine } from "./engine.ts";
import type { SegmentReader } from "./segment/mod.ts";

// The shard's series index is built on the first query and then kept current by the head,
// flushes, compactions and drops: after any sequence of them it must list exactly the series a
// model holds, and a restart (which builds it afresh from the sources) must agree.

const NOW = 1_700_000_000_000;
const ALL = [-(2n ** 63n), 2n ** 63n - 1n] as const;
const HOSTS = ["a", "b", "c", "d", "e", "f"];

function clock(): Clock {
  return {
    nowMs: () => NOW,
    nowNanos: () => BigInt(NOW) * 1_000_000n,
    monotonicMs: () => NOW,
  };
}

function open(dir: string) {
  return StorageEngine.open({
    dir,
    fs: denoFileSystem,
    clock: clock(),
    logger: silentLogger,
    maintenanceIntervalMs: 0,
    blockValues: 4,
    compactionFanout: 2,
  });
}

function point(m: string, host: string, rack: string, timeMs: number): Point {
  const tags = rack === "" ? [{ key: "host", value: host }] : [
    { key: "host", value: host },
    { key: "rack", value: rack },
  ];
  return {
    measurement: m,
    tags,
    // A field per host: after a drop its name must leave the measurement's field types.
    fields: [
      { key: "v", type: FieldType.Float, value: timeMs % 97 },
      { key: `f_${host}`, type: FieldType.Float, value: 1 },
    ],
    timeMs,
    timeSubMs: 0,
  };
}

const keyOf = (m: string, host: string, rack: string) =>
  `${m},host=${host}${rack === "" ? "" : ",rack=" + rack}`;

type Op =
  | { kind: "write"; m: string; host: string; rack: string; n: number }
  | { kind: "flush" }
  | { kind: "compact" }
  | { kind: "drop"; host: string }
  | { kind: "delete"; host: string }
  | { kind: "query" };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant("write" as const),
    m: fc.constantFrom("cpu", "mem"),
    host: fc.constantFrom(...HOSTS),
    rack: fc.constantFrom("", "r1", "r2"),
    n: fc.integer({ min: 1, max: 6 }),
  }),
  fc.constant({ kind: "flush" as const }),
  fc.constant({ kind: "compact" as const }),
  fc.record({ kind: fc.constant("drop" as const), host: fc.constantFrom(...HOSTS) }),
  fc.record({ kind: fc.constant("delete" as const), host: fc.constantFrom(...HOSTS) }),
  fc.constant({ kind: "query" as const }),
);

function check(engine: StorageEngine, model: Set<string>, label: string): void {
  for (const m of ["cpu", "mem"]) {
    const listed = new Set<string>();
    for (const view of engine.shards("db", "autogen", ...ALL)) {
      const list = view.series(m);
      const keys = list.map((s) => s.key);
      assert.deepEqual(keys, keys.slice().sort(), `${label}: ${m} in key order`);
      for (const k of keys) listed.add(k);
      for (const host of HOSTS) {
        const want = list.filter((s) => s.tags.some((t) => t.key === "host" && t.value === host));
        assert.deepEqual(
          view.seriesWhere(m, { op: "=", key: "host", value: host }).map((s) => s.key),
          want.map((s) => s.key),
          `${label}: ${m} host=${host}`,
        );
      }
      const noRack = list.filter((s) => !s.tags.some((t) => t.key === "rack"));
      assert.deepEqual(
        view.seriesWhere(m, { op: "=", key: "rack", value: "" }).map((s) => s.key),
        noRack.map((s) => s.key),
      );
    }
    const want = [...model].filter((k) => k.startsWith(m + ",")).sort();
    assert.deepEqual([...listed].sort(), want, `${label}: series of ${m}`);
    // Field types, cached per source and inherited by flushed and compacted segments, name
    // exactly the fields of the series that remain.
    const fields = new Set<string>();
    for (const view of engine.shards("db", "autogen", ...ALL)) {
      for (const name of view.fieldTypes(m).keys()) fields.add(name);
    }
    const wantFields = new Set(want.length > 0 ? ["v"] : []);
    for (const k of want) wantFields.add(`f_${/host=([a-z])/.exec(k)![1]}`);
    assert.deepEqual([...fields].sort(), [...wantFields].sort(), `${label}: fields of ${m}`);
  }
}

Deno.test("series index: kept current through writes, flushes, compactions, drops, restarts", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 25 }), async (ops) => {
      const dir = await Deno.makeTempDir();
      let engine = await open(dir);
      try {
        await engine.createDatabase("db");
        const model = new Set<string>();
        let t = NOW - 3_600_000;
        check(engine, model, "empty"); // builds the index before any write
        for (const [i, op] of ops.entries()) {
          switch (op.kind) {
            case "write": {
              // The first point of a series sits at a fixed early time that no DELETE covers,
              // so deletes never empty a series (compaction would then forget it).
              const pts = [point(op.m, op.host, op.rack, NOW - 7_200_000)];
              for (let j = 0; j < op.n; j++) pts.push(point(op.m, op.host, op.rack, t += 1000));
              await engine.write("db", undefined, pts);
              model.add(keyOf(op.m, op.host, op.rack));
              break;
            }
            case "flush":
              await engine.flush();
              break;
            case "compact":
              await engine.compact();
              break;
            case "drop":
            case "delete":
              await engine.deleteSeries("db", {
                seriesFilter: (_m, tags) =>
                  tags.some((x) => x.key === "host" && x.value === op.host),
                minNs: op.kind === "drop" ? ALL[0] : BigInt(NOW - 3_600_000) * 1_000_000n,
                maxNs: ALL[1],
                dropSeries: op.kind === "drop",
              });
              if (op.kind === "drop") {
                for (const k of [...model]) if (k.includes(`,host=${op.host}`)) model.delete(k);
              }
              break;
            case "query":
              check(engine, model, `after op ${i}`);
          }
        }
        check(engine, model, "end");
        await engine.close();
        engine = await open(dir);
        check(engine, model, "restart");
      } finally {
        await engine.close();
        await Deno.remove(dir, { recursive: true });
      }
    }),
    { numRuns: 25 },
  );
});

Deno.test("series index: a series emptied by DELETE goes once compaction rewrote its segments", async () => {
  const dir = await Deno.makeTempDir();
  let engine = await open(dir);
  const listed = () =>
    engine.shards("db", "autogen", ...ALL).flatMap((v) => v.series("cpu").map((s) => s.key));
  try {
    await engine.createDatabase("db");
    await engine.write("db", undefined, [point("cpu", "a", "", NOW - 1000)]);
    await engine.flush();
    assert.deepEqual(listed(), ["cpu,host=a"]); // the index is built here
    await engine.deleteSeries("db", {
      seriesFilter: (_m, tags) => tags[0].value === "a",
      minNs: ALL[0],
      maxNs: ALL[1],
      dropSeries: false,
    });
    assert.deepEqual(listed(), ["cpu,host=a"], "DELETE keeps the series while a source has it");
    await engine.write("db", undefined, [point("cpu", "b", "", NOW - 500)]);
    await engine.flush();
    assert.equal(await engine.compact(), 1);
    assert.deepEqual(listed(), ["cpu,host=b"]);
    await engine.close();
    engine = await open(dir);
    assert.deepEqual(listed(), ["cpu,host=b"], "a restart builds the same index");
  } finally {
    await engine.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("field types: a flushed or compacted segment inherits only exact types (drops before and after the flush)", async () => {
  const dir = await Deno.makeTempDir();
  const engine = await open(dir);
  const fieldsOf = () =>
    [
      ...new Set(
        engine.shards("db", "autogen", ...ALL).flatMap((v) => [...v.fieldTypes("cpu").keys()]),
      ),
    ]
      .sort();
  const drop = (host: string) =>
    engine.deleteSeries("db", {
      seriesFilter: (_m, tags) => tags[0].value === host,
      minNs: ALL[0],
      maxNs: ALL[1],
      dropSeries: true,
    });
  try {
    await engine.createDatabase("db");
    await engine.write(
      "db",
      undefined,
      ["a", "b", "c", "d"].map((h) => point("cpu", h, "", NOW - 1000)),
    );
    assert.deepEqual(fieldsOf(), ["f_a", "f_b", "f_c", "f_d", "v"]);
    await drop("a"); // in the active head: its own type map still names f_a
    await engine.flush();
    assert.deepEqual(fieldsOf(), ["f_b", "f_c", "f_d", "v"], "flushed after a drop in the head");
    await drop("b"); // after the flush: a tombstone over the segment
    assert.deepEqual(fieldsOf(), ["f_c", "f_d", "v"], "a drop after the flush");
    await engine.write("db", undefined, [point("cpu", "e", "", NOW - 900)]);
    await engine.flush();
    assert.deepEqual(fieldsOf(), ["f_c", "f_d", "f_e", "v"]);
    assert.equal(await engine.compact(), 1);
    assert.deepEqual(fieldsOf(), ["f_c", "f_d", "f_e", "v"], "after compaction");
    await drop("c");
    assert.deepEqual(fieldsOf(), ["f_d", "f_e", "v"], "a drop after compaction");
  } finally {
    await engine.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("series index: built after a flush, it holds the segment's own key strings and tags arrays, not copies", async () => {
  const dir = await Deno.makeTempDir();
  const engine = await open(dir);
  try {
    await engine.createDatabase("db");
    await engine.write("db", undefined, HOSTS.map((h, i) => point("cpu", h, "r1", NOW - i)));
    await engine.flush();
    const [view] = engine.shards("db", "autogen", ...ALL);
    // The view's sources are private: read the segment's parsed entries through them.
    type Segments = { sources: { kind: string; segment?: { reader: SegmentReader } }[] };
    const reader = (view as unknown as Segments).sources.find((s) => s.kind === "segment")!
      .segment!.reader;
    const listed = view.series("cpu"); // builds the shard's index
    const parsed = new Map(reader.seriesOf("cpu").map((s) => [s.key, s]));
    assert.equal(listed.length, HOSTS.length);
    for (const s of listed) {
      assert.equal(s.tags, parsed.get(s.key)!.tags, `tags of ${s.key}`);
      assert.deepEqual(s.tags.map((t) => t.value), [/host=(\w)/.exec(s.key)![1], "r1"]);
    }
  } finally {
    await engine.close();
    await Deno.remove(dir, { recursive: true });
  }
});
