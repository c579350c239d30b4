/**
 * An in-memory {@linkcode QueryStore} for the query room's tests and benches. Points are split
 * into shard groups by time (`shardGroupNs`) and into `partitions` hash partitions by series
 * key; a shard group's partitions are read as one reader, as the engine unions them, so the
 * executor's per-shard partials and their merge are exercised. Private to tests.
 *
 * @module
 */
import { NotFoundError } from "../core/errors.ts";
import { FieldType, type FieldValue, seriesKey, type Tag } from "../core/point.ts";
import { instantFromNanos } from "../core/time.ts";
import type {
  FieldColumn,
  QueryStore,
  RetentionPolicyInfo,
  SeriesRef,
  ShardReader,
} from "./store.ts";

/** A point as tests write it. */
export interface TestPoint {
  measurement: string;
  tags?: Record<string, string>;
  fields: Record<string, FieldValue | { float: number }>;
  ns: bigint;
}

interface StoredField {
  type: FieldType;
  points: Map<bigint, FieldValue>;
}

interface StoredSeries {
  ref: SeriesRef;
  fields: Map<string, StoredField>;
}

class MemoryShard implements ShardReader {
  readonly series_ = new Map<string, StoredSeries>();
  constructor(readonly startNs: bigint, readonly endNs: bigint) {}

  measurements(): string[] {
    const out = new Set<string>();
    for (const s of this.series_.values()) out.add(s.ref.measurement);
    return [...out].sort();
  }
  series(measurement: string): SeriesRef[] {
    return [...this.series_.values()].filter((s) => s.ref.measurement === measurement)
      .map((s) => s.ref).sort((a, b) => (a.key < b.key ? -1 : 1));
  }
  fieldTypes(measurement: string): Map<string, FieldType> {
    const out = new Map<string, FieldType>();
    for (const s of this.series_.values()) {
      if (s.ref.measurement !== measurement) continue;
      for (const [k, f] of s.fields) out.set(k, f.type);
    }
    return out;
  }
  readField(
    series: SeriesRef,
    field: string,
    minNs: bigint,
    maxNs: bigint,
  ): Promise<FieldColumn | undefined> {
    const f = this.series_.get(series.key)?.fields.get(field);
    if (f === undefined) return Promise.resolve(undefined);
    const times = [...f.points.keys()].filter((t) => t >= minNs && t <= maxNs)
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    if (times.length === 0) return Promise.resolve(undefined);
    const n = times.length;
    const timesMs = new Float64Array(n);
    const timesSubMs = new Float64Array(n);
    const values: Float64Array | FieldValue[] = f.type === FieldType.Float
      ? new Float64Array(n)
      : new Array<FieldValue>(n);
    times.forEach((t, i) => {
      const inst = instantFromNanos(t);
      timesMs[i] = inst.ms;
      timesSubMs[i] = inst.subMs;
      values[i] = f.points.get(t)! as number;
    });
    return Promise.resolve({ type: f.type, length: n, timesMs, timesSubMs, values });
  }
}

/** The partitions of one shard group, read as one shard (each series lives in one of them). */
class MemoryGroup implements ShardReader {
  constructor(readonly parts: readonly MemoryShard[]) {}

  measurements(): string[] {
    return [...new Set(this.parts.flatMap((p) => p.measurements()))].sort();
  }
  series(measurement: string): SeriesRef[] {
    return this.parts.flatMap((p) => p.series(measurement))
      .sort((a, b) => (a.key < b.key ? -1 : 1));
  }
  fieldTypes(measurement: string): Map<string, FieldType> {
    const out = new Map<string, FieldType>();
    for (const p of this.parts) for (const [k, t] of p.fieldTypes(measurement)) out.set(k, t);
    return out;
  }
  readField(
    series: SeriesRef,
    field: string,
    minNs: bigint,
    maxNs: bigint,
  ): Promise<FieldColumn | undefined> {
    const part = this.parts.find((p) => p.series_.has(series.key));
    return part === undefined
      ? Promise.resolve(undefined)
      : part.readField(series, field, minNs, maxNs);
  }
}

/** Options of {@linkcode MemoryStore}. */
export interface MemoryStoreOptions {
  /** Shard group width in ns. @default 7 days */
  shardGroupNs?: bigint;
  /** Hash partitions per shard group. @default 2 */
  partitions?: number;
}

/** The in-memory store. */
export class MemoryStore implements QueryStore {
  readonly #dbs = new Map<string, Map<string, MemoryShard>>();
  readonly #group: bigint;
  readonly #partitions: number;
  #nextId = 1;

  constructor(options: MemoryStoreOptions = {}) {
    this.#group = options.shardGroupNs ?? 7n * 86_400_000_000_000n;
    this.#partitions = options.partitions ?? 2;
  }

  databases(): string[] {
    return [...this.#dbs.keys()]; // a Map keeps creation order
  }
  createDatabase(name: string): Promise<void> {
    if (!this.#dbs.has(name)) this.#dbs.set(name, new Map());
    return Promise.resolve();
  }
  dropDatabase(name: string): Promise<void> {
    this.#dbs.delete(name);
    return Promise.resolve();
  }
  retentionPolicies(db: string): RetentionPolicyInfo[] {
    if (!this.#dbs.has(db)) throw new NotFoundError(`database not found: ${db}`);
    return [{
      name: "autogen",
      durationNs: 0n,
      shardGroupDurationNs: this.#group,
      replicaN: 1,
      isDefault: true,
    }];
  }
  defaultRetentionPolicy(db: string): string {
    if (!this.#dbs.has(db)) throw new NotFoundError(`database not found: ${db}`);
    return "autogen";
  }
  shards(db: string, rp: string, minNs: bigint, maxNs: bigint): ShardReader[] {
    const shards = this.#dbs.get(db);
    if (shards === undefined || rp !== "autogen") return [];
    const groups = new Map<bigint, MemoryShard[]>();
    for (const s of shards.values()) {
      if (s.endNs <= minNs || s.startNs > maxNs) continue;
      const list = groups.get(s.startNs) ?? [];
      list.push(s);
      groups.set(s.startNs, list);
    }
    return [...groups].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([, parts]) =>
      parts.length === 1 ? parts[0] : new MemoryGroup(parts)
    );
  }

  /** Writes points (last write wins per series, field and time). */
  writeTestPoints(db: string, points: readonly TestPoint[]): void {
    let shards = this.#dbs.get(db);
    if (shards === undefined) this.#dbs.set(db, shards = new Map());
    for (const p of points) {
      const tags: Tag[] = Object.entries(p.tags ?? {}).map(([key, value]) => ({ key, value }))
        .sort((a, b) => (a.key < b.key ? -1 : 1));
      const key = seriesKey(p.measurement, tags);
      let start = p.ns - (((p.ns % this.#group) + this.#group) % this.#group);
      if (start > p.ns) start -= this.#group;
      const part = hash(key) % this.#partitions;
      const sk = `${start}/${part}`;
      let shard = shards.get(sk);
      if (shard === undefined) shards.set(sk, shard = new MemoryShard(start, start + this.#group));
      let series = shard.series_.get(key);
      if (series === undefined) {
        series = {
          ref: { id: this.#nextId++, key, measurement: p.measurement, tags },
          fields: new Map(),
        };
        shard.series_.set(key, series);
      }
      for (const [name, raw] of Object.entries(p.fields)) {
        const [type, value] = typed(raw);
        let f = series.fields.get(name);
        if (f === undefined) series.fields.set(name, f = { type, points: new Map() });
        f.points.set(p.ns, value);
      }
    }
  }

  /** Writes simple line protocol (no escapes): `m,t=v f=1,i=2i,s="x",b=true 123`. */
  writeLines(db: string, text: string): void {
    const points: TestPoint[] = [];
    for (const line of text.split("\n").map((l) => l.trim()).filter((l) => l && l[0] !== "#")) {
      const [head, fieldText, ts] = line.split(" ");
      const [measurement, ...tagParts] = head.split(",");
      const tags: Record<string, string> = {};
      for (const t of tagParts) {
        const [k, v] = t.split("=");
        tags[k] = v;
      }
      const fields: TestPoint["fields"] = {};
      for (const f of fieldText.split(",")) {
        const [k, v] = f.split("=");
        fields[k] = parseFieldValue(v);
      }
      points.push({ measurement, tags, fields, ns: BigInt(ts) });
    }
    this.writeTestPoints(db, points);
  }
}

function parseFieldValue(v: string): FieldValue | { float: number } {
  if (v.endsWith("i")) {
    const b = BigInt(v.slice(0, -1));
    return b >= -9007199254740991n && b <= 9007199254740991n ? Number(b) : b;
  }
  if (v.startsWith('"')) return v.slice(1, -1);
  if (v === "true" || v === "false") return v === "true";
  return { float: Number(v) };
}

function typed(raw: FieldValue | { float: number }): [FieldType, FieldValue] {
  if (typeof raw === "object") return [FieldType.Float, raw.float];
  if (typeof raw === "number") {
    return Number.isInteger(raw) ? [FieldType.Integer, raw] : [FieldType.Float, raw];
  }
  if (typeof raw === "bigint") return [FieldType.Integer, raw];
  if (typeof raw === "string") return [FieldType.String, raw];
  return [FieldType.Boolean, raw];
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}
