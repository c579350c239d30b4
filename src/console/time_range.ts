/**
 * The time range picker's model and the query macros it fills, as dashboards do: `$timeFilter`
 * becomes the range's condition on `time`, and `$__interval` (or `$interval`) a `GROUP BY time()`
 * interval that gives about one bucket per pixel of the chart. A query without them runs as
 * typed. Pure: the caller passes the current time.
 * @module
 */

/** A range ending now, or a fixed one (epoch milliseconds). */
export type TimeRange =
  | { kind: "relative"; last: string }
  | { kind: "absolute"; fromMs: number; toMs: number };

/** The picker's presets, as InfluxQL durations. */
export const PRESETS: readonly string[] = ["5m", "15m", "1h", "6h", "24h", "7d", "30d"];

const UNIT_MS: Record<string, number> = {
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/** Milliseconds of a duration such as `15m` or `7d`. @throws Error for anything else. */
export function durationMs(text: string): number {
  const m = /^(\d+)([smhdw])$/.exec(text);
  if (!m) throw new Error(`not a duration: ${JSON.stringify(text)} (expected e.g. 15m, 24h, 7d)`);
  return Number(m[1]) * UNIT_MS[m[2]];
}

/** The range's bounds at `nowMs`. */
export function rangeBounds(range: TimeRange, nowMs: number): { fromMs: number; toMs: number } {
  if (range.kind === "absolute") return { fromMs: range.fromMs, toMs: range.toMs };
  return { fromMs: nowMs - durationMs(range.last), toMs: nowMs };
}

/** How the picker names a range. */
export function rangeLabel(range: TimeRange, format: (ms: number) => string): string {
  if (range.kind === "relative") return `Last ${range.last}`;
  return `${format(range.fromMs)} → ${format(range.toMs)}`;
}

/** Bucket widths `$__interval` picks from, in milliseconds. */
const NICE_MS = [
  1,
  10,
  100,
  1000,
  5000,
  10_000,
  15_000,
  30_000,
  60_000,
  300_000,
  600_000,
  900_000,
  1_800_000,
  3_600_000,
  10_800_000,
  21_600_000,
  43_200_000,
  86_400_000,
  604_800_000,
];

/** The smallest nice interval that splits `spanMs` into at most `maxBuckets` buckets. */
export function niceIntervalMs(spanMs: number, maxBuckets: number): number {
  const wanted = spanMs / Math.max(1, maxBuckets);
  return NICE_MS.find((n) => n >= wanted) ?? Math.ceil(wanted / 86_400_000) * 86_400_000;
}

/** An interval in milliseconds as an InfluxQL duration (`1m`, `15s`, `100ms`). */
export function formatDuration(ms: number): string {
  for (const [unit, size] of [["w", 604_800_000], ["d", 86_400_000], ["h", 3_600_000]] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** Whether the query uses the picker (then zooming the chart re-runs it). */
export function usesTimeMacros(query: string): boolean {
  return /\$timeFilter\b|\$__interval\b|\$interval\b/.test(query);
}

/**
 * The query with its macros filled for `range` at `nowMs`; `maxBuckets` is the chart's width in
 * pixels. Relative ranges stay relative (`now() - 1h`), so the server's clock decides.
 */
export function applyTimeMacros(
  query: string,
  options: { range: TimeRange; nowMs: number; maxBuckets: number },
): string {
  const { range, nowMs, maxBuckets } = options;
  const { fromMs, toMs } = rangeBounds(range, nowMs);
  const filter = range.kind === "relative"
    ? `time >= now() - ${range.last}`
    : `time >= ${Math.floor(fromMs)}ms AND time <= ${Math.ceil(toMs)}ms`;
  const interval = formatDuration(niceIntervalMs(toMs - fromMs, maxBuckets));
  return query
    .replace(/\$timeFilter\b/g, filter)
    .replace(/\$__interval\b|\$interval\b/g, interval);
}
