/**
 * The crash-consistency harness of the storage engine: a scripted workload (appends, group
 * commits, flushes, compactions, retention, catalog changes, deletes) run on a
 * {@linkcode CrashFileSystem}, a model of what each acknowledged step leaves, and a check that
 * a node restarted on the disk a power loss left is one the model allows.
 *
 * `runCutPoints` runs the workload once to count its disk mutations, then for each cut point k
 * runs it again with the power cut after mutation k, crashes the disk with a few seeds, reopens
 * the engine on each and checks:
 * - it opens (no corruption reported) and every point reads back (segment blocks decode);
 * - the databases, retention policies and points equal the model after every acknowledged step,
 *   plus a prefix of the effects of the step the power cut (a WAL record is whole or absent,
 *   records come back in log order): nothing acknowledged lost, nothing half-applied, nothing
 *   deleted or dropped back, nothing invented. Points older than their policy keeps may be gone
 *   (expired, or left out on replay), but those still there must be the model's: a deleted point
 *   does not come back because it has also expired;
 * - the node keeps working: a flush, a database created and a point written, cut by a second
 *   power loss at a seeded point, recover the same way.
 * @module
 */
import {
  type Clock,
  FieldType,
  type Point,
  seriesKey,
  silentLogger,
  type Tag,
} from "../../src/core/mod.ts";
import { CrashFileSystem, seededRandom } from "../../src/core/testing/mod.ts";
import { StorageEngine } from "../../src/storage/mod.ts";
import { effectiveShardGroupDuration, retentionCutoffMs } from "../../src/storage/retention.ts";

const DIR = "/node";
const MIN = -(2n ** 63n);
const MAX = 2n ** 63n - 1n;
const HOUR_MS = 3_600_000;
const HOUR_NS = 3_600_000_000_000n;
/** The workload's points: hour 0 of 2023-11-14 and around the clock's "now". */
const T0 = 1_699_920_000_000;
const START_MS = T0 + 48 * HOUR_MS;

interface PolicyModel {
  durationNs: bigint;
  shardGroupNs: bigint;
  replicaN: number;
}

interface DatabaseModel {
  policies: Map<string, PolicyModel>;
  defaultPolicy: string;
  /** `rp|seriesKey|field|ms|subMs` -> value */
  points: Map<string, string>;
}

/** What the acknowledged steps leave: databases, policies, points. */
export class Model {
  databases = new Map<string, DatabaseModel>();

  clone(): Model {
    const m = new Model();
    for (const [name, db] of this.databases) {
      m.databases.set(name, {
        policies: new Map(db.policies),
        defaultPolicy: db.defaultPolicy,
        points: new Map(db.points),
      });
    }
    return m;
  }

  /** The state as sorted lines; points older than their policy keeps at `nowMs` are `old`. */
  lines(nowMs: number): string[] {
    const out: string[] = [];
    for (const [name, db] of this.databases) {
      out.push(`db ${name}`);
      for (const [rp, p] of db.policies) {
        out.push(policyLine(name, rp, p, rp === db.defaultPolicy));
      }
      for (const [key, value] of db.points) {
        const [rp, series, field, ms, sub] = key.split("|");
        const policy = db.policies.get(rp);
        if (!policy) continue;
        const kind = Number(ms) < retentionCutoffMs(policy.durationNs, nowMs) ? "old" : "pt";
        out.push(`${kind} ${name} ${rp} ${series} ${field} ${ms} ${sub} ${value}`);
      }
    }
    return out.sort();
  }
}

function policyLine(db: string, rp: string, p: PolicyModel, isDefault: boolean): string {
  return `rp ${db} ${rp} ${p.durationNs} ${p.shardGroupNs} ${p.replicaN} ${isDefault}`;
}

/** The engine's state as the same lines, every field of every series read in full. */
export async function engineLines(engine: StorageEngine, nowMs: number): Promise<string[]> {
  const out: string[] = [];
  for (const name of engine.databases()) {
    out.push(`db ${name}`);
    for (const rp of engine.retentionPolicies(name)) {
      out.push(policyLine(name, rp.name, {
        durationNs: rp.durationNs,
        shardGroupNs: rp.shardGroupDurationNs,
        replicaN: rp.replicaN,
      }, rp.isDefault));
      const cutoff = retentionCutoffMs(rp.durationNs, nowMs);
      for (const shard of engine.shards(name, rp.name, MIN, MAX)) {
        for (const m of shard.measurements()) {
          const fields = [...shard.fieldTypes(m).keys()];
          for (const s of shard.series(m)) {
            for (const f of fields) {
              const column = await shard.readField(s, f, MIN, MAX);
              for (let i = 0; i < (column?.length ?? 0); i++) {
                const ms = column!.timesMs[i], sub = column!.timesSubMs[i];
                const kind = ms < cutoff ? "old" : "pt";
                out.push(
                  `${kind} ${name} ${rp.name} ${s.key} ${f} ${ms} ${sub} ${column!.values[i]}`,
                );
              }
            }
          }
        }
      }
    }
  }
  return out.sort();
}

/** A settable clock: the workload moves it to expire a policy's groups. */
export class TestClock implements Clock {
  constructor(public ms: number) {}
  nowMs(): number {
    return this.ms;
  }
  nowNanos(): bigint {
    return BigInt(this.ms) * 1_000_000n;
  }
  monotonicMs(): number {
    return this.ms;
  }
}

export function openEngine(fs: CrashFileSystem, clock: Clock): Promise<StorageEngine> {
  return StorageEngine.open({
    dir: DIR,
    fs,
    clock,
    logger: silentLogger,
    walSegmentBytes: 1024,
    flushHeadBytes: Number.MAX_SAFE_INTEGER,
    flushIdleMs: 0,
    blockValues: 4,
    compactionFanout: 2,
    compactionCpuShare: 1,
    sleep: () => Promise.resolve(),
    maintenanceIntervalMs: 0,
    closeFlushTimeoutMs: 0,
  });
}

interface Ctx {
  engine: StorageEngine;
  clock: TestClock;
}

/** A change the model makes when a step's record is acknowledged. */
type Effect = (m: Model) => void;

/**
 * One step of the workload. `run` resolves with how many of `effects` (in log order) were
 * acknowledged; all of them unless it throws.
 */
interface Step {
  name: string;
  effects: Effect[];
  run(ctx: Ctx): Promise<void | number>;
}

function cpu(host: string, ms: number, v: number, n: number, sub = 0): Point {
  return {
    measurement: "cpu",
    tags: [{ key: "host", value: host }],
    fields: [
      { key: "v", type: FieldType.Float, value: v },
      { key: "n", type: FieldType.Integer, value: n },
    ],
    timeMs: ms,
    timeSubMs: sub,
  };
}

function disk(path: string, ms: number, free: number): Point {
  return {
    measurement: "disk",
    tags: [{ key: "path", value: path }, { key: "zone", value: "z1" }],
    fields: [{ key: "free", type: FieldType.Integer, value: free }],
    timeMs: ms,
    timeSubMs: 0,
  };
}

function putPoints(m: Model, db: string, rp: string | undefined, points: Point[]): void {
  const d = m.databases.get(db)!;
  const policy = rp ?? d.defaultPolicy;
  for (const p of points) {
    const key = seriesKey(p.measurement, p.tags as Tag[]);
    for (const f of p.fields) {
      d.points.set(`${policy}|${key}|${f.key}|${p.timeMs}|${p.timeSubMs}`, String(f.value));
    }
  }
}

function write(db: string, rp: string | undefined, points: Point[]): Step {
  return {
    name: `write ${points.length} points to ${db}.${rp ?? "(default)"}`,
    effects: [(m) => putPoints(m, db, rp, points)],
    async run({ engine }) {
      const outcome = await engine.write(db, rp, points);
      if (outcome.rejected.length > 0) {
        throw new Error(`BUG: workload write rejected: ${JSON.stringify(outcome.rejected)}`);
      }
    },
  };
}

/** Several writes at once: they share WAL fsyncs (group commit). */
function concurrentWrites(db: string, batches: Point[][]): Step {
  return {
    name: `${batches.length} concurrent writes to ${db}`,
    effects: batches.map((points) => (m: Model) => putPoints(m, db, undefined, points)),
    async run({ engine }) {
      const settled = await Promise.allSettled(batches.map((b) => engine.write(db, undefined, b)));
      const acked = settled.findLastIndex((s) => s.status === "fulfilled") + 1;
      const failed = settled.find((s) => s.status === "rejected");
      if (failed) {
        const error = (failed as PromiseRejectedResult).reason;
        throw Object.assign(error, { acked });
      }
      return acked;
    },
  };
}

function createDatabase(name: string): Step {
  return {
    name: `create database ${name}`,
    effects: [(m) => {
      if (m.databases.has(name)) return;
      m.databases.set(name, {
        policies: new Map([["autogen", {
          durationNs: 0n,
          shardGroupNs: effectiveShardGroupDuration(0n, 0n),
          replicaN: 1,
        }]]),
        defaultPolicy: "autogen",
        points: new Map(),
      });
    }],
    run: ({ engine }) => engine.createDatabase(name),
  };
}

function dropDatabase(name: string): Step {
  return {
    name: `drop database ${name}`,
    effects: [(m) => void m.databases.delete(name)],
    run: ({ engine }) => engine.dropDatabase(name),
  };
}

function createPolicy(
  db: string,
  name: string,
  hours: bigint,
  shardHours: bigint,
  isDefault: boolean,
): Step {
  return {
    name: `create retention policy ${db}.${name}`,
    effects: [(m) => {
      const d = m.databases.get(db)!;
      d.policies.set(name, {
        durationNs: hours * HOUR_NS,
        shardGroupNs: effectiveShardGroupDuration(hours * HOUR_NS, shardHours * HOUR_NS),
        replicaN: 1,
      });
      if (isDefault) d.defaultPolicy = name;
    }],
    run: ({ engine }) =>
      engine.createRetentionPolicy(db, {
        name,
        durationNs: hours * HOUR_NS,
        shardGroupDurationNs: shardHours * HOUR_NS,
        replicaN: 1,
        isDefault,
      }),
  };
}

function alterPolicyDuration(db: string, name: string, hours: bigint): Step {
  return {
    name: `alter retention policy ${db}.${name} duration ${hours}h`,
    effects: [(m) => {
      const p = m.databases.get(db)!.policies.get(name)!;
      const durationNs = hours * HOUR_NS;
      m.databases.get(db)!.policies.set(name, {
        ...p,
        durationNs,
        shardGroupNs: effectiveShardGroupDuration(durationNs, p.shardGroupNs),
      });
    }],
    run: ({ engine }) => engine.alterRetentionPolicy(db, name, { durationNs: hours * HOUR_NS }),
  };
}

function dropPolicy(db: string, name: string): Step {
  return {
    name: `drop retention policy ${db}.${name}`,
    effects: [(m) => {
      const d = m.databases.get(db)!;
      d.policies.delete(name);
      for (const key of [...d.points.keys()]) if (key.startsWith(`${name}|`)) d.points.delete(key);
    }],
    run: ({ engine }) => engine.dropRetentionPolicy(db, name),
  };
}

/** DELETE FROM cpu WHERE host = ... AND time in [fromMs, toMs] (or DROP SERIES). */
function deleteHost(db: string, host: string, fromMs: number, toMs: number, drop = false): Step {
  const minNs = BigInt(fromMs) * 1_000_000n, maxNs = BigInt(toMs) * 1_000_000n + 999_999n;
  return {
    name: `${drop ? "drop series" : "delete"} cpu host=${host} in ${db}`,
    effects: [(m) => {
      const d = m.databases.get(db)!;
      for (const key of [...d.points.keys()]) {
        const [, series, , ms] = key.split("|");
        if (series === `cpu,host=${host}` && Number(ms) >= fromMs && Number(ms) <= toMs) {
          d.points.delete(key);
        }
      }
    }],
    run: ({ engine }) =>
      engine.deleteSeries(db, {
        measurements: ["cpu"],
        seriesFilter: (_m, tags) => tags.some((t) => t.key === "host" && t.value === host),
        minNs,
        maxNs,
        dropSeries: drop,
      }),
  };
}

/** A step that changes files but not what queries answer. */
function maintenance(name: string, run: (ctx: Ctx) => Promise<unknown>): Step {
  return { name, effects: [], run: async (ctx) => void await run(ctx) };
}

const h = (n: number) => T0 + n * 60_000;

/** `count` points of `hosts` hosts a minute apart from minute `fromMinute`: records of KiBs. */
function bulk(prefix: string, hosts: number, count: number, fromMinute: number): Point[] {
  return Array.from(
    { length: count },
    (_, i) => cpu(`${prefix}${i % hosts}`, h(fromMinute + Math.floor(i / hosts)), i * 0.25, i),
  );
}

/** The scripted workload: every kind of disk change the engine makes, several times. */
export function workload(): Step[] {
  const now = () => START_MS;
  return [
    createDatabase("a"),
    write("a", undefined, [
      cpu("h1", h(1), 1.5, 1),
      cpu("h2", h(1), 2.5, 2),
      cpu("h3", h(2), 3.5, 3),
    ]),
    concurrentWrites("a", [
      [cpu("h1", h(3), 10.25, 10), disk("/", h(3), 100)],
      [cpu("h2", h(3), 20.25, 20)],
      [cpu("h1", h(4), 30.25, 30, 7), cpu("h3", h(4), 31.25, 31)],
    ]),
    concurrentWrites("a", [bulk("g", 3, 24, 10), bulk("g", 4, 30, 20), bulk("k", 5, 20, 10)]),
    write("a", undefined, bulk("big", 7, 160, 30)),
    createPolicy("a", "short", 2n, 1n, false),
    write("a", "short", [
      cpu("s1", now() - 90 * 60_000, 0.5, 5),
      cpu("s1", now() - 30 * 60_000, 0.75, 6),
    ]),
    maintenance("flush", ({ engine }) => engine.flush()),
    write("a", undefined, [
      cpu("h1", h(1), -1.5, -1),
      cpu("h2", h(5), 4.5, 4),
      disk("/", h(5), 90),
    ]),
    alterPolicyDuration("a", "short", 3n),
    deleteHost("a", "h1", h(1), h(3)),
    deleteHost("a", "s1", START_MS - 2 * HOUR_MS, START_MS - HOUR_MS),
    write("a", undefined, [cpu("h1", h(2), 7.5, 7)]),
    maintenance("flush", ({ engine }) => engine.flush()),
    createDatabase("b"),
    write("b", undefined, [cpu("b1", h(1), 1, 1), cpu("b2", h(2), 2, 2)]),
    maintenance("flush", ({ engine }) => engine.flush()),
    maintenance("compact", ({ engine }) => engine.compact()),
    write("a", undefined, [cpu("h3", h(6), 8.5, 8), cpu("h2", h(6), 9.5, 9)]),
    maintenance("flush", ({ engine }) => engine.flush()),
    dropDatabase("b"),
    createDatabase("b"),
    write("b", undefined, [cpu("b3", h(3), 3, 3)]),
    maintenance("expire (clock +3h)", async ({ engine, clock }) => {
      clock.ms += 3 * HOUR_MS;
      await engine.expireShardGroups();
    }),
    // The delete of s1 now covers no segment left: pruned, and gone from the catalog written
    // while the removal of the expired groups is not yet durable.
    maintenance("prune tombstones, flush", async ({ engine }) => {
      engine.pruneTombstones();
      await engine.flush();
    }),
    write("a", "short", [cpu("s1", now() + 3 * HOUR_MS - 10 * 60_000, 0.9, 9)]),
    deleteHost("a", "h2", T0 - HOUR_MS, h(60), true),
    write("a", undefined, [...bulk("g", 3, 12, 15), cpu("h3", h(8), 12.5, 12)]),
    maintenance("flush", ({ engine }) => engine.flush()),
    maintenance("compact", ({ engine }) => engine.compact()),
    // Level 1 into level 2: every segment now ends after the drop-series tombstone, which is
    // pruned and left out of the next catalog; the merged inputs must not come back without it.
    maintenance("compact", ({ engine }) => engine.compact()),
    maintenance("prune tombstones, flush", async ({ engine }) => {
      engine.pruneTombstones();
      await engine.flush();
    }),
    dropPolicy("a", "short"),
    createPolicy("a", "r2", 24n, 1n, true),
    write("a", undefined, [cpu("r1", now() + 3 * HOUR_MS - 60_000, 5.5, 55)]),
    write("a", "autogen", [cpu("h3", h(7), 11.5, 11), disk("/", h(7), 80)]),
    maintenance("flush", ({ engine }) => engine.flush()),
  ];
}

/** How a run of the workload ended: the models the disk may now hold, and the step cut. */
interface RunOutcome {
  /** Models after every acknowledged step plus each allowed prefix of the cut step's effects. */
  allowed: Model[];
  /** The step the power cut (the workload's length when it ran to its end). */
  step: number;
}

/** Runs the workload until it ends or the power is cut; leaves the power off. */
export async function runWorkload(fs: CrashFileSystem, clock: TestClock): Promise<RunOutcome> {
  const steps = workload();
  const model = new Model();
  let engine: StorageEngine;
  try {
    engine = await openEngine(fs, clock);
  } catch (error) {
    if (!fs.poweredOff) throw error;
    return { allowed: [model], step: -1 };
  }
  try {
    for (let i = 0; i < steps.length; i++) {
      const step = steps[i];
      try {
        await step.run({ engine, clock });
      } catch (error) {
        if (!fs.poweredOff) throw error;
        const acked = (error as { acked?: number }).acked ?? 0;
        const allowed: Model[] = [];
        const m = model.clone();
        for (let j = 0; j <= step.effects.length; j++) {
          if (j >= acked) allowed.push(m.clone());
          if (j < step.effects.length) step.effects[j](m);
        }
        return { allowed, step: i };
      }
      for (const effect of step.effects) effect(model);
      if (fs.poweredOff) return { allowed: [model], step: i };
    }
    return { allowed: [model], step: steps.length };
  } finally {
    fs.failAfter(0);
    await engine.close().catch(() => {});
  }
}

/** The reference run: how many mutations the workload makes, what each is, where steps begin. */
export async function referenceRun(): Promise<{ trace: string[]; stepAt: number[] }> {
  const fs = new CrashFileSystem();
  fs.trace = [];
  const clock = new TestClock(START_MS);
  const steps = workload();
  const stepAt: number[] = [];
  const engine = await openEngine(fs, clock);
  for (const step of steps) {
    stepAt.push(fs.mutations);
    await step.run({ engine, clock });
  }
  fs.failAfter(0);
  await engine.close();
  return { trace: fs.trace, stepAt };
}

const isOld = (line: string) => line.startsWith("old ");

/**
 * Whether the node's lines are the model's: the same catalog and points, except that points
 * older than their policy keeps may be gone (expired, or dropped on replay); those still there
 * must be ones the model holds (a deleted point does not come back because it is also old).
 */
function matches(model: string[], got: string[]): boolean {
  const current = model.filter((l) => !isOld(l)), gotCurrent = got.filter((l) => !isOld(l));
  if (current.length !== gotCurrent.length || current.some((l, i) => l !== gotCurrent[i])) {
    return false;
  }
  const old = new Set(model.filter(isOld));
  return got.every((l) => !isOld(l) || old.has(l));
}

function diff(expected: string[], got: string[]): string {
  const g = new Set(got), e = new Set(expected);
  const missing = expected.filter((l) => !g.has(l) && !isOld(l));
  const extra = got.filter((l) => !e.has(l));
  return `missing ${JSON.stringify(missing.slice(0, 6))}${missing.length > 6 ? " ..." : ""}, ` +
    `unexpected ${JSON.stringify(extra.slice(0, 6))}${extra.length > 6 ? " ..." : ""}`;
}

async function reopenAndMatch(
  disk: CrashFileSystem,
  clock: TestClock,
  allowed: string[][],
  where: string,
): Promise<{ engine: StorageEngine; lines: string[] }> {
  let engine: StorageEngine;
  try {
    engine = await openEngine(disk, clock);
  } catch (error) {
    throw new Error(`${where}: the engine does not open: ${error}`, { cause: error });
  }
  let lines: string[];
  try {
    lines = await engineLines(engine, clock.ms);
  } catch (error) {
    await engine.close().catch(() => {});
    throw new Error(`${where}: reading every point failed: ${error}`, { cause: error });
  }
  if (!allowed.some((a) => matches(a, lines))) {
    await engine.close().catch(() => {});
    const before = allowed[0], after = allowed[allowed.length - 1];
    throw new Error(
      `${where}: the restarted node holds a state no acknowledged history explains;\n` +
        `  against the state before the cut step: ${diff(before, lines)}\n` +
        `  against the state after it: ${diff(after, lines)}`,
    );
  }
  return { engine, lines };
}

/** The lines a database `p2` with one point adds (the check after recovery). */
function afterRecoveryModels(base: string[], nowMs: number): string[][] {
  const m = new Model();
  createDatabase("p2").effects[0](m);
  const withDb = [...base, ...m.lines(nowMs)].sort();
  putPoints(m, "p2", undefined, [cpu("m", T0, 1.5, 1)]);
  const withPoint = [...base, ...m.lines(nowMs)].sort();
  return [base, withDb, withPoint];
}

/**
 * Cut point `k`: the workload with the power cut after `k` mutations, crashed with each seed,
 * reopened and checked; then the recovered node flushes, creates a database and writes, is cut
 * again at a seeded point, crashed, reopened and checked.
 */
export async function checkCutPoint(k: number, seeds: number[], trace: string[]): Promise<void> {
  const fs = new CrashFileSystem();
  fs.failAfter(k);
  const clock = new TestClock(START_MS);
  const outcome = await runWorkload(fs, clock);
  const allowed = outcome.allowed.map((m) => m.lines(clock.ms));
  const cut = k === 0 ? "before the first mutation" : `after mutation ${k} (${trace[k - 1]})`;
  for (const seed of seeds) {
    const random = seededRandom(k * 7919 + seed);
    const where = `cut ${cut}, step ${outcome.step}, seed ${seed}`;
    const disk = fs.crash(random);
    const first = await reopenAndMatch(disk, clock, allowed, where);
    // The node keeps working, and what it does after a recovery is as durable.
    const models = afterRecoveryModels(first.lines, clock.ms);
    let acked = 0;
    disk.failAfter(Math.floor(random() * 48));
    try {
      await first.engine.flush();
      await first.engine.createDatabase("p2");
      acked = 1;
      await first.engine.write("p2", undefined, [cpu("m", T0, 1.5, 1)]);
      acked = 2;
    } catch (error) {
      if (!disk.poweredOff) {
        throw new Error(`${where}: after recovery: ${error}`, { cause: error });
      }
    }
    disk.failAfter(0);
    await first.engine.close().catch(() => {});
    const second = await reopenAndMatch(
      disk.crash(random),
      clock,
      models.slice(acked),
      `${where}, after recovery`,
    );
    await second.engine.close();
  }
}

/**
 * Checks the cut points `k` of the workload with `k % of === part` (the test is split in files
 * that run in parallel), each with `seeds`; fails naming the first few that do not hold.
 */
export async function checkCutPoints(part: number, of: number, seeds: number[]): Promise<void> {
  const { trace, stepAt } = await referenceRun();
  const kinds = new Set(trace.map((t) => t.split(" ")[0]));
  for (const kind of ["mkdir", "create", "write", "datasync", "rename", "syncDir", "remove"]) {
    if (!kinds.has(kind)) throw new Error(`BUG: the workload makes no ${kind} to cut after`);
  }
  if (new Set(stepAt).size !== stepAt.length) {
    throw new Error(`BUG: a workload step changes nothing on disk (steps begin at ${stepAt})`);
  }
  const failures: string[] = [];
  let checked = 0;
  for (let k = part; k <= trace.length; k += of) {
    checked++;
    try {
      await checkCutPoint(k, seeds, trace);
    } catch (error) {
      failures.push((error as Error).message);
    }
  }
  if (failures.length > 0) {
    throw new Error(
      `${failures.length} of ${checked} cut points fail (of ${trace.length + 1}); the first:\n` +
        failures.slice(0, 3).join("\n"),
    );
  }
}
