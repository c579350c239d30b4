/**
 * When a continuous query runs and over which time range, as InfluxDB 1.x decides it
 * (`services/continuous_querier`): it runs every RESAMPLE EVERY (the GROUP BY interval by
 * default), and each run covers the buckets from the next run's time back by RESAMPLE FOR (the
 * interval by default) up to the current bucket, exclusive. Times are truncated as Go truncates
 * them, from Go's zero time (year 1), which differs from the Unix epoch for intervals that do not
 * divide a day (a 7-day interval truncates to Mondays).
 *
 * Unlike InfluxDB, which keeps the last run in memory only, the last run is kept in the cluster's
 * metadata, so a restarted or new leader resumes the schedule and covers the intervals it missed,
 * back at most `catchUpNs`.
 * @module
 */

/** A continuous query's timing, in nanoseconds. */
export interface CqTiming {
  /** GROUP BY time(interval). */
  intervalNs: bigint;
  /** GROUP BY time(interval, offset); 0 when absent. */
  offsetNs: bigint;
  /** RESAMPLE EVERY; 0 when absent. */
  everyNs: bigint;
  /** RESAMPLE FOR; 0 when absent. */
  forNs: bigint;
}

/** The decision of one check. */
export type CqDecision =
  /** Not due. */
  | { run: false }
  /** Due, but no whole bucket to compute: the schedule moves on without running. */
  | { run: false; lastRunNs: bigint }
  /** Run over [startNs, endNs), then record `lastRunNs`. */
  | { run: true; lastRunNs: bigint; startNs: bigint; endNs: bigint };

/** Nanoseconds from Go's zero time (0001-01-01T00:00:00Z) to the Unix epoch. */
const GO_ZERO_TO_EPOCH_NS = 62_135_596_800n * 1_000_000_000n;

/** Go's `time.Truncate`: `ns` rounded down to a multiple of `d` since Go's zero time. */
export function goTruncate(ns: bigint, d: bigint): bigint {
  if (d <= 0n) return ns;
  const since = ns + GO_ZERO_TO_EPOCH_NS;
  let rem = since % d;
  if (rem < 0n) rem += d;
  return ns - rem;
}

/**
 * Whether a continuous query runs at `nowNs`, given when it last ran (undefined: never).
 * `catchUpNs` bounds how far back a run covers after the schedule stood still (0: no bound).
 */
export function cqDecision(
  timing: CqTiming,
  lastRunNs: bigint | undefined,
  nowNs: bigint,
  catchUpNs = 0n,
): CqDecision {
  const { intervalNs: interval, offsetNs: offset } = timing;
  if (interval <= 0n) return { run: false };
  let resampleEvery = timing.everyNs !== 0n ? timing.everyNs : interval;
  let nextRun: bigint;
  if (lastRunNs !== undefined) {
    nextRun = lastRunNs + resampleEvery;
    if (nextRun > nowNs) return { run: false };
  } else {
    nextRun = nowNs;
  }
  if (catchUpNs > 0n && nextRun < nowNs - catchUpNs) nextRun = nowNs - catchUpNs;
  const newLastRun = goTruncate(nowNs - offset, resampleEvery) + offset;
  const resampleFor = timing.forNs !== 0n
    ? timing.forNs
    : interval < resampleEvery
    ? resampleEvery
    : interval;
  if (interval < resampleEvery) resampleEvery = interval;
  const startNs = goTruncate(nextRun + interval - resampleFor - offset - 1n, interval) + offset;
  const endNs = goTruncate(nowNs + interval - resampleEvery - offset, interval) + offset;
  if (endNs <= startNs) return { run: false, lastRunNs: newLastRun };
  return { run: true, lastRunNs: newLastRun, startNs, endNs };
}
