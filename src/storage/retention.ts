/**
 * Retention arithmetic, pure: default shard group durations (InfluxDB's rule), the group an
 * instant falls in, and which groups a policy has expired at a given time.
 * @module
 */

const NS_PER_MS = 1_000_000n;
const HOUR_NS = 3600n * 1_000_000_000n;
const DAY_NS = 24n * HOUR_NS;

/** The longest shard group: offsets inside it stay exact in float64 nanoseconds (2^53 ns). */
export const MAX_SHARD_GROUP_NS = 104n * DAY_NS;

/**
 * InfluxDB's default shard group duration for a retention policy duration (0 = infinite):
 * 1 h under 2 days, 1 day up to 6 months, 7 days beyond or infinite.
 */
export function defaultShardGroupDuration(durationNs: bigint): bigint {
  if (durationNs === 0n) return 7n * DAY_NS;
  if (durationNs < 2n * DAY_NS) return HOUR_NS;
  if (durationNs <= 180n * DAY_NS) return DAY_NS;
  return 7n * DAY_NS;
}

/** The shard group duration to use: the requested one (clamped to 104 days) or the default. */
export function effectiveShardGroupDuration(durationNs: bigint, requestedNs: bigint): bigint {
  const d = requestedNs > 0n ? requestedNs : defaultShardGroupDuration(durationNs);
  const clamped = d > MAX_SHARD_GROUP_NS ? MAX_SHARD_GROUP_NS : d;
  // Groups are addressed in whole milliseconds.
  const ms = clamped / NS_PER_MS;
  return (ms > 0n ? ms : 1n) * NS_PER_MS;
}

/** The start (ms since the epoch) of the group of `durationMs` holding the instant at `ms`. */
export function groupStartMs(ms: number, durationMs: number): number {
  return Math.floor(ms / durationMs) * durationMs;
}

/** A shard group as retention sees it. */
export interface GroupSpan {
  startMs: number;
  endMs: number;
}

/**
 * The groups a policy of `durationNs` (0 = infinite) has expired at `nowMs`: those whose end is
 * at or before `now - duration` (every point in them is older than the policy keeps).
 */
export function expiredGroups<G extends GroupSpan>(
  groups: Iterable<G>,
  durationNs: bigint,
  nowMs: number,
): G[] {
  if (durationNs === 0n) return [];
  const cutoff = nowMs - Number(durationNs / NS_PER_MS);
  return [...groups].filter((g) => g.endMs <= cutoff);
}

/** The oldest instant (ms) a policy accepts at `nowMs`; -Infinity when infinite. */
export function retentionCutoffMs(durationNs: bigint, nowMs: number): number {
  return durationNs === 0n ? -Infinity : nowMs - Number(durationNs / NS_PER_MS);
}
