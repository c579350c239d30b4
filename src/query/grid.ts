/**
 * The GROUP BY time grid: which bucket a point falls in, and where buckets start. Buckets are
 * numbered from an origin on the grid, so shards and the coordinator agree on indices without
 * exchanging times.
 *
 * When the interval and offset are whole milliseconds (every interval users write, from `1ms`
 * up), bucketing uses only the `ms` half of an instant: exact over the whole time range, one
 * division per bucket boundary, no BigInt. Sub-millisecond intervals measure nanoseconds from
 * the origin as a JS number, exact within ±104 days of the origin (the query's lower bound).
 *
 * @module
 */
import { type Instant, instantFromNanos } from "../core/time.ts";
import type { Interval } from "./plan.ts";
import { zoneOffsetMs } from "./zone.ts";

/** A bucket grid. Without an interval, everything falls in bucket 0. */
export class Grid {
  readonly msAligned: boolean;
  readonly intervalMs: number;
  readonly intervalNs: number;
  readonly originMs: number;
  readonly originSubMs: number;
  readonly none: boolean;

  /**
   * @param interval the GROUP BY interval, or undefined for one bucket
   * @param anchorNs a time near the data (the query's lower bound when it has one)
   */
  constructor(interval: Interval | undefined, anchorNs: bigint) {
    this.none = interval === undefined;
    const ns = interval?.ns ?? 1n;
    const off = interval?.offsetNs ?? 0n;
    this.msAligned = ns % 1_000_000n === 0n && off % 1_000_000n === 0n;
    this.intervalNs = Number(ns);
    this.intervalMs = Number(ns) / 1e6;
    // The grid point at or before the anchor: off + k * ns.
    let origin = anchorNs - off;
    origin = origin - (((origin % ns) + ns) % ns) + off;
    if (this.msAligned) origin = off;
    const o = instantFromNanos(origin);
    this.originMs = o.ms;
    this.originSubMs = o.subMs;
  }

  /** The bucket of an instant. */
  index(ms: number, subMs: number): number {
    if (this.none) return 0;
    if (this.msAligned) return Math.floor((ms - this.originMs) / this.intervalMs);
    const d = (ms - this.originMs) * 1e6 + (subMs - this.originSubMs);
    return Math.floor(d / this.intervalNs);
  }

  /** True when both instants fall in one bucket (bound: handed to readers as a predicate). */
  readonly sameBucket = (aMs: number, aSubMs: number, bMs: number, bSubMs: number): boolean =>
    this.index(aMs, aSubMs) === this.index(bMs, bSubMs);

  /** The bucket of an int64 ns time (BigInt; called once per query, not per point). */
  indexOfNanos(ns: bigint): number {
    const i = instantFromNanos(ns);
    return this.index(i.ms, i.subMs);
  }

  /** The start of bucket `idx`. */
  start(idx: number): Instant {
    if (this.msAligned) return { ms: this.originMs + idx * this.intervalMs, subMs: 0 };
    const ns = idx * this.intervalNs + this.originSubMs;
    const carryMs = Math.floor(ns / 1e6);
    return { ms: this.originMs + carryMs, subMs: ns - carryMs * 1e6 };
  }

  /**
   * The end of the run of points `[from, n)` that share `from`'s bucket: the first index whose
   * time is at or past the bucket's end. Points must be sorted by time.
   */
  runEnd(timesMs: Float64Array, timesSubMs: Float64Array, from: number, n: number): number {
    if (this.none) return n;
    const idx = this.index(timesMs[from], timesSubMs[from]);
    let j = from + 1;
    if (this.msAligned) {
      const endMs = this.originMs + (idx + 1) * this.intervalMs;
      // Galloping search: a run of a few points costs a few steps, a run of an hour of 10 s
      // points (a linear scan's 360) about 2 log2(360).
      let step = 1;
      while (j < n && timesMs[j] < endMs) {
        j += step;
        step *= 2;
      }
      // The end lies in (j - step / 2, min(j, n)]: times before it are inside the bucket.
      let lo = step === 1 ? j : j - step / 2 + 1, hi = j < n ? j : n;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (timesMs[mid] < endMs) lo = mid + 1;
        else hi = mid;
      }
      return lo;
    }
    while (j < n && this.index(timesMs[j], timesSubMs[j]) === idx) j++;
    return j;
  }
}

/**
 * A grid in a time zone (GROUP BY time(...) with tz()), bucketed as InfluxDB 1.6's
 * IteratorOptions.Window does: a point's bucket starts at the interval boundary of its local
 * wall time; when the zone's offset differs between the point and that start (a DST switch
 * inside the bucket) and the difference is less than the interval, the start moves by it — so
 * days start at local midnight on both sides of a DST change, while intervals of an hour or
 * less stay evenly spaced in UTC. Indices count local intervals.
 */
export class ZonedGrid extends Grid {
  readonly #zone: string;
  readonly #d: number;
  readonly #off: number;

  constructor(interval: Interval, anchorNs: bigint, zone: string) {
    super(interval, anchorNs);
    this.#zone = zone;
    this.#d = Number(interval.ns) / 1e6;
    this.#off = Number(interval.offsetNs) / 1e6;
  }

  override index(ms: number, _subMs: number): number {
    // Boundaries fall on whole milliseconds, so the sub-millisecond part never moves a point.
    const t = ms - this.#off;
    return Math.floor((t + zoneOffsetMs(this.#zone, t)) / this.#d);
  }

  override start(idx: number): Instant {
    // A representative instant inside the bucket, then Window's start for it.
    const mid = idx * this.#d + this.#d / 2;
    const t = mid - zoneOffsetMs(this.#zone, mid - zoneOffsetMs(this.#zone, mid));
    const zone = zoneOffsetMs(this.#zone, t);
    let dt = (t + zone) % this.#d;
    if (dt < 0) dt += this.#d;
    let start = t - dt;
    const o = zone - zoneOffsetMs(this.#zone, start);
    if (o !== 0 && Math.abs(o) < this.#d) start += o;
    start += this.#off;
    const ms = Math.floor(start);
    return { ms, subMs: Math.round((start - ms) * 1e6) };
  }

  override runEnd(
    timesMs: Float64Array,
    timesSubMs: Float64Array,
    from: number,
    n: number,
  ): number {
    const idx = this.index(timesMs[from], timesSubMs[from]);
    let j = from + 1;
    while (j < n && this.index(timesMs[j], timesSubMs[j]) === idx) j++;
    return j;
  }
}

/**
 * Calendar buckets (EpochNexus extension, `GROUP BY time(1mo)`, `time(1y)`): each bucket is a
 * whole number of calendar months of the tz() wall calendar (UTC without tz), starting at local
 * midnight on the first day of a month. Indices count buckets from January 1970.
 */
export class CalendarGrid extends Grid {
  readonly #zone: string | undefined;
  readonly #months: number;

  constructor(interval: Interval, anchorNs: bigint, zone: string | undefined) {
    super(interval, anchorNs);
    this.#zone = zone;
    this.#months = interval.months!;
  }

  #offset(utcMs: number): number {
    return this.#zone === undefined ? 0 : zoneOffsetMs(this.#zone, utcMs);
  }

  override index(ms: number, _subMs: number): number {
    const local = new Date(ms + this.#offset(ms));
    const month = (local.getUTCFullYear() - 1970) * 12 + local.getUTCMonth();
    return Math.floor(month / this.#months);
  }

  override start(idx: number): Instant {
    const month = idx * this.#months;
    const wall = Date.UTC(1970 + Math.floor(month / 12), ((month % 12) + 12) % 12, 1);
    // The UTC instant of that local midnight (the offset looked up twice across a change).
    const utc = wall - this.#offset(wall - this.#offset(wall));
    return { ms: utc, subMs: 0 };
  }

  override runEnd(
    timesMs: Float64Array,
    timesSubMs: Float64Array,
    from: number,
    n: number,
  ): number {
    const end = this.start(this.index(timesMs[from], timesSubMs[from]) + 1).ms;
    let j = from + 1;
    while (j < n && timesMs[j] < end) j++;
    return j;
  }
}
