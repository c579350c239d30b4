/**
 * Raw rows from one end of a series. A raw SELECT with LIMIT keeps at most OFFSET + LIMIT rows
 * of each group, the newest under ORDER BY time DESC and else the oldest, and a group's rows
 * are its series' rows merged by time: so no series needs more than OFFSET + LIMIT rows, from
 * the same end. TSBS's lastpoint (`SELECT * FROM cpu GROUP BY hostname ORDER BY time DESC
 * LIMIT 1`) reads one row per host instead of every point of every host.
 *
 * Where a field's points lie comes from its parts with every whole block summarised (block
 * statistics: counts and time bounds, nothing decoded). The rows are made over a window at the
 * end that surely holds enough rows' instants: for each selected field, the bound past which
 * it has `want` points; the window stops at the nearest of those bounds (that field alone has
 * `want` instants inside it, so the `want` nearest rows of the series are inside too). A
 * condition may drop rows: the next window continues beyond the last, twice as wide, until
 * enough rows are found or the range is done. The windows tile the range from its end without
 * a gap, so their sizes decide only how much is read, never which rows are found.
 *
 * @module
 */
import { instantFromNanos, nanosOf } from "../core/time.ts";
import type { FieldPart } from "../core/column.ts";
import type { SelectPlan } from "./plan.ts";
import type { RawRow } from "./shard_exec.ts";
import type { FieldPartsOptions, SeriesRef, ShardReader } from "./store.ts";

/**
 * The most rows any one series can contribute to a raw plan's answer, or Infinity: LIMIT and
 * OFFSET bound each group's rows, unless a transformation (which reads every row) comes first.
 */
export function rowsPerSeries(plan: SelectPlan): number {
  if (plan.aggregate || plan.limit <= 0) return Infinity;
  if (plan.columns.some((c) => c.transform !== undefined)) return Infinity;
  return plan.offset + plan.limit;
}

/** Every whole block as its statistics: only counts and time bounds are read here. */
const EVERY_BLOCK: FieldPartsOptions = { summarize: () => true };

/**
 * The `need` rows of `series` nearest the plan's end (newest when descending), in time order.
 * `fields` are the fields the selected columns read (a row needs one of them); `collect` makes
 * at most `count` rows of the series in [minNs, maxNs] (both inclusive) from the plan's end, in
 * time order.
 */
export async function edgeRows(
  plan: SelectPlan,
  reader: Required<Pick<ShardReader, "readFieldSummaries">>,
  series: SeriesRef,
  fields: readonly string[],
  need: number,
  collect: (minNs: bigint, maxNs: bigint, count: number) => Promise<RawRow[]>,
): Promise<RawRow[]> {
  if (fields.length === 0 || need <= 0) return [];
  const desc = plan.descending;
  const parts: FieldPart[][] = [];
  for (const f of fields) {
    parts.push(await reader.readFieldSummaries(series, f, plan.minNs, plan.maxNs, EVERY_BLOCK));
  }
  let rows: RawRow[] = [];
  // The window's bound at the end side (inclusive); it moves away from the end.
  let bound = desc ? plan.maxNs : plan.minNs;
  let want = need;
  for (;;) {
    const b = instantFromNanos(bound);
    let far: { ms: number; subMs: number } | undefined;
    for (const list of parts) {
      const at = desc
        ? newestPoints(list, b.ms, b.subMs, want)
        : oldestPoints(list, b.ms, b.subMs, want);
      if (at === undefined) continue;
      if (
        far === undefined ||
        (desc
          ? after(at.ms, at.subMs, far.ms, far.subMs)
          : after(far.ms, far.subMs, at.ms, at.subMs))
      ) far = at;
    }
    // No field has `want` points left: the window takes the rest of the range.
    const farNs = far === undefined ? (desc ? plan.minNs : plan.maxNs) : nanosOf(far.ms, far.subMs);
    const missing = need - rows.length;
    const window = desc
      ? await collect(farNs, bound, missing)
      : await collect(bound, farNs, missing);
    rows = desc ? window.concat(rows) : rows.concat(window);
    if (rows.length >= need || far === undefined) return rows;
    if (desc ? farNs <= plan.minNs : farNs >= plan.maxNs) return rows;
    bound = desc ? farNs - 1n : farNs + 1n;
    want = Math.max(need - rows.length, want * 2);
  }
}

/** True when instant a is after instant b. */
function after(aMs: number, aSub: number, bMs: number, bSub: number): boolean {
  return aMs > bMs || (aMs === bMs && aSub > bSub);
}

/**
 * The instant at or after which `parts` (time-ordered) surely hold `want` points at or before
 * (ms, subMs); undefined when they do not. A summary that reaches past the bound counts for
 * nothing (its points before the bound are unknown), which can only widen the window.
 */
function newestPoints(
  parts: readonly FieldPart[],
  ms: number,
  subMs: number,
  want: number,
): { ms: number; subMs: number } | undefined {
  let count = 0;
  for (let p = parts.length - 1; p >= 0; p--) {
    const part = parts[p];
    if (part.kind === "summary") {
      if (after(part.minTimeMs, part.minTimeSubMs, ms, subMs)) continue;
      if (after(part.maxTimeMs, part.maxTimeSubMs, ms, subMs)) continue;
      count += part.count;
      if (count >= want) return { ms: part.minTimeMs, subMs: part.minTimeSubMs };
      continue;
    }
    const c = part.column;
    // Points at or before the bound: [0, end).
    let lo = 0, hi = c.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (after(c.timesMs[mid], c.timesSubMs[mid], ms, subMs)) hi = mid;
      else lo = mid + 1;
    }
    const end = lo;
    if (count + end >= want) {
      const i = end - (want - count);
      return { ms: c.timesMs[i], subMs: c.timesSubMs[i] };
    }
    count += end;
  }
  return undefined;
}

/** The mirror of {@linkcode newestPoints}: the instant at or before which `want` points lie. */
function oldestPoints(
  parts: readonly FieldPart[],
  ms: number,
  subMs: number,
  want: number,
): { ms: number; subMs: number } | undefined {
  let count = 0;
  for (const part of parts) {
    if (part.kind === "summary") {
      if (after(ms, subMs, part.maxTimeMs, part.maxTimeSubMs)) continue;
      if (after(ms, subMs, part.minTimeMs, part.minTimeSubMs)) continue;
      count += part.count;
      if (count >= want) return { ms: part.maxTimeMs, subMs: part.maxTimeSubMs };
      continue;
    }
    const c = part.column;
    // Points at or after the bound: [start, length).
    let lo = 0, hi = c.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (after(ms, subMs, c.timesMs[mid], c.timesSubMs[mid])) lo = mid + 1;
      else hi = mid;
    }
    const start = lo;
    if (count + (c.length - start) >= want) {
      const i = start + (want - count) - 1;
      return { ms: c.timesMs[i], subMs: c.timesSubMs[i] };
    }
    count += c.length - start;
  }
  return undefined;
}
