import assert from "node:assert/strict";
import v8 from "node:v8";
import vm from "node:vm";
import {
  type Clock,
  type Field,
  FieldType,
  type FileHandle,
  type FileSystem,
  type Point,
  silentLogger,
} from "../core/mod.ts";
import { denoFileSystem } from "../runtime/mod.ts";
import { type EngineTimers, StorageEngine } from "../storage/mod.ts";
import { encodeJson } from "./encode_json.ts";
import { executeQuery } from "./executor.ts";

// The storage engine warms its shards in the background after open (parsed segment series,
// field types, series index), a step per turn of the event loop. A query between any two steps
// (and a write) must answer exactly as on an engine that never warmed: the warm-up fills the
// caches queries fill (a series looked up half-way through a segment's parse is the one the
// parse holds), and must honour deletes and dropped series as they do.

const NOW_MS = 1_700_000_000_000;
const NOW = BigInt(NOW_MS) * 1_000_000n;
const T0 = NOW_MS - 3_600_000;
const clock: Clock = { nowMs: () => NOW_MS, nowNanos: () => NOW, monotonicMs: () => 0 };

const QUERIES = [
  `SELECT count(v) FROM cpu GROUP BY host`,
  `SELECT count(v), sum(v), max(v) FROM cpu WHERE time >= ${T0 + 20_000}ms AND time < ${
    T0 + 90_000
  }ms GROUP BY host`,
  `SELECT count(v) FROM cpu`,
  `SELECT sum(w) FROM mem GROUP BY *`,
  "SHOW FIELD KEYS",
  "SHOW SERIES",
  "SHOW TAG VALUES FROM cpu WITH KEY = host",
];

function cpu(host: number, t: number, extra = false): Point {
  const fields: Field[] = [{ key: "v", type: FieldType.Float, value: host + t / 1000 }];
  // Only host 5 has this field: once its series is dropped, SHOW FIELD KEYS must not list it.
  if (extra) fields.push({ key: "only5", type: FieldType.Integer, value: 1n });
  return {
    measurement: "cpu",
    tags: [{ key: "host", value: `h${host}` }],
    fields,
    timeMs: T0 + t,
    timeSubMs: 0,
  };
}

function mem(host: number, t: number): Point {
  return {
    measurement: "mem",
    tags: [{ key: "host", value: `h${host}` }, { key: "rack", value: `r${host % 3}` }],
    fields: [{ key: "w", type: FieldType.Integer, value: BigInt(host * 10 + t / 1000) }],
    timeMs: T0 + t,
    timeSubMs: 0,
  };
}

/** Timers whose zero-delay callbacks (the warm-up's turns) the test runs one at a time. */
function steppedTimers(): EngineTimers & { step(): Promise<boolean>; pending(): number } {
  const queue: (() => void)[] = [];
  return {
    setInterval: () => 0,
    clearInterval: () => {},
    setTimeout: (fn) => queue.push(fn),
    clearTimeout: (id) => {
      delete queue[(id as number) - 1];
    },
    /** Runs the first waiting callback, then lets what it woke run up to its next wait. */
    async step() {
      const at = queue.findIndex((f) => f !== undefined);
      if (at < 0) return false;
      const fn = queue[at];
      delete queue[at];
      fn();
      await new Promise((r) => setTimeout(r, 0));
      return true;
    },
    pending: () => queue.filter((f) => f !== undefined).length,
  };
}

function open(dir: string, warmUpAtOpen: boolean, timers?: EngineTimers) {
  return StorageEngine.open({
    dir,
    fs: denoFileSystem,
    clock,
    logger: silentLogger,
    maintenanceIntervalMs: 0,
    blockValues: 4,
    warmUpAtOpen,
    // Steps of 3 series: queries and writes land between the parts of a segment's parse.
    warmUpStepSeries: 3,
    timers,
  });
}

async function answer(engine: StorageEngine): Promise<string[]> {
  const out: string[] = [];
  for (const q of QUERIES) {
    out.push(encodeJson(await executeQuery(engine, q, { database: "db", nowNs: NOW })));
  }
  return out;
}

/** Three segments (series spread unevenly over them), a delete, a dropped series, a head. */
async function makeFolder(dir: string): Promise<void> {
  const engine = await open(dir, false);
  await engine.createDatabase("db");
  const batch = (hosts: number[], from: number, to: number) => {
    const out: Point[] = [];
    for (let t = from; t < to; t += 10_000) {
      for (const h of hosts) out.push(cpu(h, t, h === 5));
      for (const h of hosts) if (h % 2 === 0) out.push(mem(h, t));
    }
    return out;
  };
  await engine.write("db", undefined, batch([0, 1, 2, 3, 4, 5, 6, 7], 0, 40_000));
  await engine.flush();
  await engine.write("db", undefined, batch([2, 3, 8, 9, 10], 40_000, 80_000));
  await engine.flush();
  await engine.write("db", undefined, batch([0, 5, 11, 12], 80_000, 120_000));
  await engine.flush();
  const run = (q: string) => executeQuery(engine, q, { database: "db", nowNs: NOW });
  await run(`DELETE FROM cpu WHERE host = 'h3' AND time < ${T0 + 50_000}ms`);
  await run(`DROP SERIES FROM cpu WHERE host = 'h5'`);
  await engine.write("db", undefined, batch([1, 13], 120_000, 130_000)); // stays in the head
  await engine.close({ flush: false });
}

Deno.test("a query between any two steps of the background warm-up answers as without one", async () => {
  const root = await Deno.makeTempDir({ prefix: "warm_up_" });
  // A fresh folder per engine: a write goes to its WAL, and the next open would replay it.
  let folders = 0;
  const folder = async () => {
    const dir = `${root}/${++folders}`;
    await makeFolder(dir);
    return dir;
  };
  const write = (engine: StorageEngine) =>
    engine.write("db", undefined, [cpu(2, 125_000), cpu(14, 125_000)]);
  try {
    const cold = await open(await folder(), false);
    const expected = await answer(cold);
    await write(cold);
    const expectedAfterWrite = await answer(cold);
    await cold.close({ flush: false });
    assert.match(expected[4], /"v"/);
    assert.doesNotMatch(expected[4], /"only5"/, "the dropped series' field is not shown");
    assert.notDeepEqual(expectedAfterWrite, expected);

    // How many steps a whole warm-up takes: a measurement of a segment each, an index per shard.
    const counter = steppedTimers();
    const counted = await open(await folder(), true, counter);
    let steps = 0;
    while (steps < 1000 && await counter.step()) steps++;
    await counted.warmedUp();
    await counted.close({ flush: false });
    assert.ok(steps >= 4, `the warm-up went in steps (${steps})`);

    // Then: k steps, a query, a write, the rest; for every k.
    for (let k = 0; k <= steps; k++) {
      const timers = steppedTimers();
      const engine = await open(await folder(), true, timers);
      try {
        for (let i = 0; i < k; i++) assert.ok(await timers.step(), `step ${i + 1} of ${steps}`);
        assert.deepEqual(await answer(engine), expected, `queried after ${k} warm-up steps`);
        await write(engine);
        for (let i = 0; i < 1000 && await timers.step(); i++);
        await engine.warmedUp();
        assert.deepEqual(await answer(engine), expectedAfterWrite, `written after ${k} steps`);
      } finally {
        await engine.close({ flush: false });
      }
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("close() ends a warm-up whose next turn never comes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "warm_up_close_" });
  try {
    await makeFolder(dir);
    const timers = steppedTimers();
    const engine = await open(dir, true, timers);
    assert.ok(await timers.step(), "one step");
    assert.equal(timers.pending(), 1, "the next turn is waiting");
    // The turn's timer never fires (a simulation's virtual clock stands still): close must not
    // wait for it.
    const closed = engine.close({ flush: false }).then(() => "closed");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise((r) => timer = setTimeout(() => r("close hung"), 5000));
    const first = await Promise.race([closed, late]);
    clearTimeout(timer);
    assert.equal(first, "closed");
    assert.equal(timers.pending(), 0, "its timer was cleared");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the warm-up parses only each policy's newest shard group; older ones stay lazy", async () => {
  const dir = await Deno.makeTempDir({ prefix: "warm_up_newest_" });
  const old = (host: number): Point => ({ ...cpu(host, 0), timeMs: T0 - 30 * 86_400_000 });
  try {
    const writer = await open(dir, false);
    await writer.createDatabase("db");
    // 6 series a month ago (another shard group), 2 in the newest group.
    await writer.write("db", undefined, [0, 1, 2, 3, 4, 5].map(old));
    await writer.write("db", undefined, [cpu(0, 0), cpu(7, 0)]);
    await writer.flush();
    await writer.close({ flush: false });
    const warmed: Record<string, unknown>[] = [];
    const engine = await StorageEngine.open({
      dir,
      fs: denoFileSystem,
      clock,
      logger: {
        ...silentLogger,
        info: (message, fields) => message === "warmed storage" && warmed.push(fields!),
      },
      maintenanceIntervalMs: 0,
    });
    try {
      await engine.warmedUp();
      assert.equal(warmed.length, 1);
      assert.equal(warmed[0].series, 2, "the newest group's 2 series, not the older group's 6");
      const all = await executeQuery(engine, "SELECT count(v) FROM cpu WHERE time > 0", {
        database: "db",
        nowNs: NOW,
      });
      assert.match(encodeJson(all), /\[\["1970-01-01T00:00:00.000000001Z",8\]\]/);
    } finally {
      await engine.close({ flush: false });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a DROP SERIES between warm-up steps: the dropped series' own field is not listed after it", async () => {
  const root = await Deno.makeTempDir({ prefix: "warm_drop_" });
  try {
    const run = async (e: StorageEngine, q: string) =>
      encodeJson(await executeQuery(e, q, { database: "db", nowNs: NOW }));
    for (let steps = 0; steps <= 5; steps++) {
      const dir = `${root}/${steps}`;
      const writer = await open(dir, false);
      await writer.createDatabase("db");
      for (let s = 0; s < 2; s++) { // two segments; only h5 has the field only5
        const points: Point[] = [];
        for (let h = 0; h < 8; h++) points.push(cpu(h, s * 10_000, h === 5));
        await writer.write("db", undefined, points);
        await writer.flush();
      }
      await writer.close({ flush: false });
      const timers = steppedTimers();
      const engine = await open(dir, true, timers);
      try {
        for (let i = 0; i < steps; i++) await timers.step();
        await run(engine, "DROP SERIES FROM cpu WHERE host = 'h5'");
        for (let i = 0; i < 1_000 && await timers.step(); i++);
        await engine.warmedUp();
        const keys = await run(engine, "SHOW FIELD KEYS");
        assert.ok(!keys.includes("only5"), `after ${steps} steps: ${keys}`);
        const row = await run(engine, "SELECT * FROM cpu LIMIT 1");
        assert.ok(!row.includes("only5"), `after ${steps} steps: ${row}`);
      } finally {
        await engine.close({ flush: false });
      }
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

/** A file system that tells which segment files are open, and whose handles are still reachable. */
function watchedSegments(): FileSystem & {
  opened: Map<string, { handle: WeakRef<FileHandle>; closed: boolean }>;
} {
  const opened = new Map<string, { handle: WeakRef<FileHandle>; closed: boolean }>();
  return {
    ...denoFileSystem,
    opened,
    async open(path, options) {
      const inner = await denoFileSystem.open(path, options);
      if (!path.endsWith(".seg") || options.write) return inner;
      const handle: FileHandle = {
        write: (data) => inner.write(data),
        read: (buffer) => inner.read(buffer),
        seek: (offset, whence) => inner.seek(offset, whence),
        datasync: () => inner.datasync(),
        truncate: (length) => inner.truncate(length),
        close: () => {
          entry.closed = true;
          inner.close();
        },
      };
      if (inner.readAtSync) handle.readAtSync = (buffer, at) => inner.readAtSync!(buffer, at);
      const entry = { handle: new WeakRef(handle), closed: false };
      opened.set(path, entry);
      return handle;
    },
  };
}

Deno.test("a compaction during the warm-up: the segments it retires are closed and let go before the warm-up ends", async () => {
  // A WeakRef says whether anything still holds a retired segment's reader once it is collected.
  v8.setFlagsFromString("--expose-gc");
  const gc = vm.runInNewContext("gc") as () => void;
  const dir = await Deno.makeTempDir({ prefix: "warm_up_compact_" });
  try {
    await makeFolder(dir);
    const cold = await open(dir, false);
    const expected = await answer(cold);
    await cold.close({ flush: false });
    let now = 0;
    const moving: Clock = { ...clock, monotonicMs: () => now };
    const fs = watchedSegments();
    const timers = steppedTimers();
    const warmed: Record<string, unknown>[] = [];
    const engine = await StorageEngine.open({
      dir,
      fs,
      clock: moving,
      logger: {
        ...silentLogger,
        info: (message, fields) => message === "warmed storage" && warmed.push(fields!),
      },
      maintenanceIntervalMs: 0,
      blockValues: 4,
      warmUpStepSeries: 3,
      timers,
      compactionFanout: 3,
      sleep: () => Promise.resolve(),
    });
    try {
      const before = [...fs.opened.keys()];
      assert.equal(before.length, 3, before.join(", "));
      assert.ok(await timers.step(), "one warm-up step");
      assert.ok(await timers.step(), "two warm-up steps");
      assert.equal(await engine.compact(), 1, "the three segments merged into one");
      now += 120_000; // past the grace queries get to finish reading retired files
      await engine.maintain();
      assert.equal(timers.pending(), 1, "the warm-up has not ended");
      for (const path of before) assert.ok(fs.opened.get(path)!.closed, `${path} closed`);
      await new Promise((r) => setTimeout(r, 0));
      gc();
      for (const path of before) {
        assert.equal(
          fs.opened.get(path)!.handle.deref(),
          undefined,
          `nothing holds the retired ${path.slice(dir.length)} while the warm-up runs on`,
        );
      }
      for (let i = 0; i < 1_000 && await timers.step(); i++);
      await engine.warmedUp();
      assert.equal(warmed.length, 1);
      assert.deepEqual(
        await answer(engine),
        expected,
        "the same answers as an engine that never warmed",
      );
    } finally {
      await engine.close({ flush: false });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
