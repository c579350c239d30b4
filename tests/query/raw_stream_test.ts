/**
 * A raw SELECT streams from storage to the answer (issue #15, bounded query memory): the JSON
 * and chunked answers are byte for byte the materialized ones (series order, influxd's merge of
 * equal times, ORDER BY time DESC, GROUP BY, several shards), the rows never count against
 * `max_query_memory_bytes` all at once, and a limit hit on the way ends the answer with the
 * statement's error inside one valid JSON document.
 */
import assert from "node:assert/strict";
import { type Clock, type Logger, silentLogger } from "../../src/core/mod.ts";
import { createApp } from "../../src/http/mod.ts";
import { configureQueries } from "../../src/http/query_handler.ts";
import {
  encodeChunks,
  executeQuery,
  jsonChunks,
  QueryInterruptedError,
  type QueryLimits,
} from "../../src/query/mod.ts";
import { denoFileSystem } from "../../src/runtime/mod.ts";
import { StorageEngine } from "../../src/storage/mod.ts";

const NOW_NS = 1_700_000_000_000_000_000n;
const clock: Clock = {
  nowMs: () => Number(NOW_NS / 1_000_000n),
  nowNanos: () => NOW_NS,
  monotonicMs: () => performance.now(),
};
const HOSTS = 12;
const TIMES = 1500;
/** 2023-03-10: the points span two 7-day shard groups (10 s apart, ~5 days, then a gap). */
const T0 = 1678406400;

interface SetupOptions {
  /** The server's monotonic clock (durations, the slow-query log). */
  monotonicMs?: () => number;
  /** The engine's (how long retired segments stay open). */
  engineMonotonicMs?: () => number;
  /** Segments merged at once (2: two flushes make a compaction). */
  compactionFanout?: number;
  /** The engine's background task period; 0 = none, the test calls compact() and maintain(). */
  maintenanceIntervalMs?: number;
  logger?: Logger;
  slowQueryMs?: number;
}

async function setup(limits?: QueryLimits, options: SetupOptions = {}) {
  const dir = await Deno.makeTempDir();
  // Small blocks: a series' rows come from many blocks (windows end with a block).
  const engine = await StorageEngine.open({
    dir,
    fs: denoFileSystem,
    clock: options.engineMonotonicMs ? { ...clock, monotonicMs: options.engineMonotonicMs } : clock,
    logger: silentLogger,
    blockValues: 100,
    compactionFanout: options.compactionFanout,
    maintenanceIntervalMs: options.maintenanceIntervalMs,
  });
  await engine.createDatabase("db");
  if (limits) configureQueries(engine, limits, () => performance.now());
  const app = createApp({
    engine,
    clock: options.monotonicMs ? { ...clock, monotonicMs: options.monotonicMs } : clock,
    logger: options.logger ?? silentLogger,
    slowQueryMs: options.slowQueryMs,
    defaultDatabase: "db",
    maxBodyBytes: 100_000_000,
  });
  const lines: string[] = [];
  for (let t = 0; t < TIMES; t++) {
    // Every host at the same instants: equal times, ordered by influxd's heap merge. The second
    // half lies a week later (another shard group).
    const ts = T0 + (t < TIMES / 2 ? t * 10 : 7 * 86400 + t * 10);
    for (let h = 0; h < HOSTS; h++) {
      const usage = ((t * 7919 + h * 104729) % 1000) / 10;
      let fields = `usage=${usage}`;
      if ((t + h) % 3 === 0) fields += `,n=${t * h}i`;
      if ((t + h) % 5 === 0) fields += `,s="${String.fromCharCode(97 + ((t * h) % 26))}"`;
      lines.push(`cpu,host=h${h},region=r${h % 3} ${fields} ${ts}`);
    }
    if (t % 4 === 0) lines.push(`mem,host=h${t % HOSTS} used=${t}i ${T0 + t * 10}`);
  }
  // Most points in segments, the last ones in the head (both are read in windows).
  const cut = Math.floor(lines.length * 0.8);
  for (const [part, flush] of [[lines.slice(0, cut), true], [lines.slice(cut), false]] as const) {
    const w = await app(
      new Request("http://node/write?db=db&precision=s", { method: "POST", body: part.join("\n") }),
    );
    assert.equal(w.status, 204, await w.text());
    if (flush) await engine.flush();
  }
  const get = async (params: Record<string, string>) => {
    const r = await app(
      new Request(`http://node/query?${new URLSearchParams({ db: "db", ...params })}`),
    );
    return { status: r.status, text: await r.text() };
  };
  /** The materialized answer: every row held, then encoded (the path before streaming). */
  const held = async (q: string, queryLimits: QueryLimits = {}) => {
    const results = await executeQuery(engine, q, {
      database: "db",
      nowNs: NOW_NS,
      limits: queryLimits,
    });
    return results;
  };
  return {
    app,
    engine,
    get,
    held,
    close: async () => {
      await engine.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

function bytesOf(chunks: Iterable<Uint8Array>): string {
  let out = "";
  const d = new TextDecoder();
  for (const c of chunks) out += d.decode(c, { stream: true });
  return out + d.decode();
}

const QUERIES = [
  "SELECT * FROM cpu",
  "SELECT usage, host FROM cpu WHERE usage > 50",
  "SELECT * FROM cpu GROUP BY host",
  "SELECT * FROM cpu GROUP BY * ORDER BY time DESC",
  "SELECT usage FROM cpu WHERE time >= '2023-03-12T00:00:00Z' AND time < '2023-03-20T00:00:00Z' ORDER BY time DESC",
  // String fields decide the order of equal times (influxd's heap ties).
  "SELECT s, usage FROM cpu",
  "SELECT s, n FROM cpu WHERE region = 'r1' ORDER BY time DESC",
  "SELECT * FROM cpu, mem",
  "SELECT usage * 2, host FROM cpu WHERE region = 'r2' AND n > 100",
  "SELECT used FROM mem tz('Europe/Paris')",
  "SELECT usage FROM cpu WHERE host = 'nope'",
  "SELECT count(usage) FROM cpu; SELECT usage FROM cpu WHERE host = 'h1'",
];

Deno.test("streamed JSON and chunked answers are the materialized answers, byte for byte", async () => {
  // A small budget makes small windows: about 90 points of a series at a time.
  const s = await setup({ maxMemoryBytes: 2 * 1024 * 1024 });
  try {
    for (const q of QUERIES) {
      const want = bytesOf(jsonChunks(await s.held(q)));
      const got = await s.get({ q });
      assert.equal(got.status, 200, q);
      assert.equal(got.text, want, q);
      const e = await s.get({ q, epoch: "ms" });
      assert.equal(e.text, bytesOf(jsonChunks(await s.held(q), { epoch: "ms" })), q);
      for (const size of ["1000", "0"]) {
        const lines = (await s.held(q)).flatMap((r) =>
          encodeChunks(r, { chunkSize: Number(size) })
        );
        const c = await s.get({ q, chunked: "true", chunk_size: size });
        assert.equal(c.text, lines.join(""), `${q} chunk_size=${size}`);
      }
    }
  } finally {
    await s.close();
  }
});

Deno.test("a streamed raw SELECT stays within a memory budget the held rows exceed", async () => {
  const limits: QueryLimits = { maxMemoryBytes: 4 * 1024 * 1024 };
  const s = await setup(limits);
  try {
    const q = "SELECT * FROM cpu";
    // Held whole, the 30,000 rows are charged far past 4 MiB ...
    const [heldResult] = await s.held(q, limits);
    assert.match(heldResult.error ?? "", /^query memory budget exceeded: SELECT \* FROM cpu/);
    // ... streamed, at most a window per series is held at once: the whole answer comes.
    const want = bytesOf(jsonChunks(await s.held(q)));
    const got = await s.get({ q });
    assert.equal(got.text, want);
    assert.equal(JSON.parse(got.text).results[0].series[0].values.length, HOSTS * TIMES);
    const chunked = await s.get({ q, chunked: "true", chunk_size: "5000" });
    const lines = chunked.text.trimEnd().split("\n").map((l) => JSON.parse(l));
    assert.equal(lines.length, Math.ceil((HOSTS * TIMES) / 5000));
    assert.ok(lines.every((l) => l.results[0].error === undefined), chunked.text.slice(0, 500));
  } finally {
    await s.close();
  }
});

Deno.test("a limit hit while streaming ends the answer with the statement's error", async () => {
  // Small windows (a quarter of 1 MiB of rows at once), and too few points for the whole answer.
  const s = await setup({ maxMemoryBytes: 1024 * 1024, maxPoints: 12_000 });
  try {
    const r = await s.get({ q: "SELECT usage FROM cpu" });
    assert.equal(r.status, 200);
    const body = JSON.parse(r.text);
    const result = body.results[0];
    assert.match(result.error, /^max-select-point limit exceeed: \(\d+\/12000\)$/);
    // The rows written before the limit stay in the answer, which is still one JSON document.
    const rows = result.series[0].values.length;
    assert.ok(rows > 0 && rows < HOSTS * TIMES, `rows ${rows}`);
    const c = await s.get({ q: "SELECT usage FROM cpu", chunked: "true" });
    const last = JSON.parse(c.text.trimEnd().split("\n").at(-1)!);
    assert.match(last.results[0].error, /^max-select-point limit exceeed/);
    // The query ended: its registry entry is gone (SHOW QUERIES lists only itself).
    const shown = JSON.parse((await s.get({ q: "SHOW QUERIES" })).text);
    assert.equal(shown.results[0].series[0].values.length, 1);
  } finally {
    await s.close();
  }
});

Deno.test("a streamed statement is timed, counted and logged when its stream ends, not at its first piece", async () => {
  // The server's monotonic clock moves only here: 10 s pass between the first chunk read and
  // the rest, so the duration and the slow-query log see them only if they wait for the end.
  let mono = 0;
  const warnings: { message: string; fields?: Record<string, unknown> }[] = [];
  const logger: Logger = {
    ...silentLogger,
    warn: (message: string, fields?: Record<string, unknown>) => warnings.push({ message, fields }),
  };
  // The first piece fits 12,000 points; the limit is hit by a later one, after the pause.
  const s = await setup({ maxMemoryBytes: 1024 * 1024, maxPoints: 12_000 }, {
    monotonicMs: () => mono,
    logger,
    slowQueryMs: 5_000,
  });
  try {
    const r = await s.app(
      new Request(
        `http://node/query?${new URLSearchParams({ db: "db", q: "SELECT usage FROM cpu" })}`,
      ),
    );
    assert.equal(r.status, 200);
    const reader = r.body!.getReader();
    const first = await reader.read();
    assert.ok(!first.done && first.value.byteLength > 0);
    assert.equal(warnings.length, 0, "not logged before its end");
    mono += 10_000;
    let text = new TextDecoder().decode(first.value, { stream: true });
    for (let i = 0; i < 10_000; i++) {
      const next = await reader.read();
      if (next.done) break;
      text += new TextDecoder().decode(next.value);
    }
    assert.match(JSON.parse(text).results[0].error, /^max-select-point limit exceeed/);

    const metrics = await (await s.app(new Request("http://node/metrics"))).text();
    const sample = (name: string) => {
      const line = metrics.split("\n").find((l) => l.startsWith(name + " "));
      return line === undefined ? undefined : Number(line.split(" ").at(-1));
    };
    const seconds = sample('epochnexus_query_duration_seconds_sum{kind="select"}');
    assert.ok(seconds !== undefined && seconds >= 10, `duration ${seconds} s covers the pause`);
    const slow = warnings.filter((w) => w.message === "slow query");
    assert.equal(slow.length, 1, JSON.stringify(warnings));
    assert.ok((slow[0].fields!.ms as number) >= 10_000, JSON.stringify(slow[0].fields));
    assert.equal(
      sample('epochnexus_query_limits_hit_total{limit="max_select_points"}'),
      1,
      "the limit hit midway is counted",
    );
    assert.equal(sample('epochnexus_queries_total{outcome="error"}'), 1, "its outcome is an error");
  } finally {
    await s.close();
  }
});

Deno.test("a compaction during a paused stream: the slow client still gets every row", async () => {
  let engineMs = 0;
  const s = await setup({ maxMemoryBytes: 1024 * 1024 }, {
    engineMonotonicMs: () => engineMs,
    compactionFanout: 2,
    // No background pass: on a busy machine it could compact before the stream starts, and the
    // compaction must happen while the client pauses.
    maintenanceIntervalMs: 0,
  });
  try {
    // A second segment in each shard group, so that a compaction replaces both.
    const more: string[] = [];
    for (let h = 0; h < HOSTS; h++) more.push(`cpu,host=h${h},region=r${h % 3} usage=1 ${T0 + 5}`);
    for (let h = 0; h < HOSTS; h++) {
      more.push(`cpu,host=h${h},region=r${h % 3} usage=2 ${T0 + 7 * 86400 + 5}`);
    }
    const w = await s.app(
      new Request("http://node/write?db=db&precision=s", { method: "POST", body: more.join("\n") }),
    );
    assert.equal(w.status, 204);
    await s.engine.flush();
    const q = "SELECT * FROM cpu";
    const want = bytesOf(jsonChunks(await s.held(q)));

    const r = await s.app(new Request(`http://node/query?${new URLSearchParams({ db: "db", q })}`));
    const reader = r.body!.getReader();
    const first = await reader.read();
    assert.ok(!first.done);
    // The client pauses; the segments it reads are compacted away and their grace runs out.
    assert.ok(await s.engine.compact() > 0, "a compaction ran");
    engineMs += 61_000;
    await s.engine.maintain({ expire: false });
    const chunks = [first.value];
    for (let i = 0; i < 100_000; i++) {
      const next = await reader.read();
      if (next.done) break;
      chunks.push(next.value);
    }
    const text = bytesOf(chunks);
    assert.equal(JSON.parse(text).results[0].error, undefined, text.slice(-300));
    assert.equal(text, want);
  } finally {
    await s.close();
  }
});

Deno.test("a stream killed while its client reads nothing ends at once: files released, no cut answer read as whole", async () => {
  const s = await setup();
  try {
    const controller = new AbortController();
    const ended = Promise.withResolvers<unknown>();
    const results = await executeQuery(s.engine, "SELECT * FROM cpu", {
      database: "db",
      nowNs: NOW_NS,
      stream: true,
      signal: controller.signal,
      onStreamEnd: (error) => ended.resolve(error),
    });
    const stream = results.at(-1)!.stream!;
    assert.ok(stream, "the SELECT streams");
    // KILL QUERY (or the deadline) while the client has stopped reading.
    controller.abort(new QueryInterruptedError("query killed"));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const error = await Promise.race([
      ended.promise,
      new Promise((_, reject) =>
        timer = setTimeout(() => reject(new Error("the stream did not end within 5 s")), 5_000)
      ),
    ]).finally(() => clearTimeout(timer));
    assert.match(String(error), /query killed/);
    await assert.rejects(() => stream.next(), /query killed/);
  } finally {
    await s.close();
  }
});
