/**
 * A histogram of fixed buckets, as Prometheus exposes them: a count per upper bound, the sum and
 * the count of every observation. Plain data with no clock: the code that measures passes the
 * value (a duration in seconds, a batch size), and `src/http/metrics.ts` renders it.
 *
 * Observing is a short linear scan over at most a few dozen bounds and two additions: cheap
 * enough for every fsync, batch and statement.
 * @module
 */

/** Seconds, from half a millisecond to a minute: fsyncs, flushes, compactions, queries. */
export const LATENCY_BUCKETS: readonly number[] = [
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30,
  60,
];

/** Counts (points per batch, bytes): powers of about 4 from 1 to a million. */
export const SIZE_BUCKETS: readonly number[] = [
  1,
  4,
  16,
  64,
  256,
  1000,
  4000,
  16000,
  64000,
  256000,
  1000000,
];

/** Observations in buckets (see the module doc). */
export class Histogram {
  /** Upper bounds, ascending; `+Inf` is implied after the last. */
  readonly bounds: readonly number[];
  /** Observations per bucket (not cumulative); the last entry counts those above every bound. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(bounds: readonly number[] = LATENCY_BUCKETS) {
    for (let i = 1; i < bounds.length; i++) {
      if (!(bounds[i] > bounds[i - 1])) {
        throw new Error(`BUG: histogram bounds must ascend, got ${bounds.join(", ")}`);
      }
    }
    this.bounds = bounds;
    this.counts = new Float64Array(bounds.length + 1);
  }

  /** Records one observation (NaN is ignored: it has no bucket). */
  observe(value: number): void {
    if (value !== value) return;
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]) i++;
    this.counts[i]++;
    this.sum += value;
    this.count++;
  }

  /** Adds another histogram of the same bounds into this one (per-group figures summed). */
  merge(other: Histogram): void {
    if (other.bounds.length !== this.bounds.length) {
      throw new Error("BUG: merging histograms of different bounds");
    }
    for (let i = 0; i < this.counts.length; i++) this.counts[i] += other.counts[i];
    this.sum += other.sum;
    this.count += other.count;
  }
}
