/**
 * The rules users write, in YAML files of `rules_dir` or through the API, as zod models:
 *
 * ```yaml
 * alerts:
 *   - name: HighCpu                    # the alert's `alertname`
 *     database: telegraf
 *     query: SELECT mean(usage) AS usage FROM cpu WHERE time > now() - 5m GROUP BY host
 *     condition: usage > 90            # on each result series' last row (expression language)
 *     for: 2m                          # how long it must hold before the alert fires
 *     every: 30s                       # evaluation interval (15s)
 *     value: usage                     # the column `{{ $value }}` shows (the first one)
 *     labels: { severity: page }
 *     annotations: { summary: "CPU of {{ $labels.host }} at {{ $value }}%" }
 * downsampling:
 *   - name: cpu_5m
 *     database: telegraf
 *     from: autogen                    # source retention policy
 *     to: year                         # target retention policy (it must exist)
 *     interval: 5m                     # GROUP BY time
 *     aggregates: [mean, max]          # per field: mean_<field>, max_<field>
 *     measurements: [cpu, mem]         # all when absent
 *     every: 5m                        # RESAMPLE EVERY (the interval)
 *     for: 15m                         # RESAMPLE FOR (the interval)
 * ```
 * @module
 */
import { z } from "zod";

const DURATION = /^(\d+(ns|us|µs|ms|s|m|h|d|w))+$/;
const UNIT_NS: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  "µs": 1_000n,
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
  d: 86_400_000_000_000n,
  w: 604_800_000_000_000n,
};

/** An InfluxQL-style duration (`90s`, `1h30m`, `7d`) in nanoseconds. */
export function parseDurationNs(text: string): bigint {
  let ns = 0n;
  for (const m of text.matchAll(/(\d+)(ns|us|µs|ms|s|m|h|d|w)/g)) {
    ns += BigInt(m[1]) * UNIT_NS[m[2]];
  }
  return ns;
}

const duration = z.string().regex(DURATION, "expected a duration such as 30s, 5m or 1h30m");
const name = z.string().min(1).max(200).regex(
  /^[A-Za-z_][A-Za-z0-9_:.-]*$/,
  "expected a name of letters, digits, _ : . - (starting with a letter or _)",
);
const labels = z.record(
  z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "label names are [A-Za-z_][A-Za-z0-9_]*"),
  z.string(),
);

/** An alert rule. */
export const AlertRuleSpec = z.strictObject({
  name,
  database: z.string().min(1),
  /** The InfluxQL SELECT evaluated; each series of its result is one alert. */
  query: z.string().min(1),
  /** An expression over a series' last row (its columns and group-by tags). */
  condition: z.string().min(1),
  for: duration.default("0s"),
  every: duration.default("15s"),
  /** The column `{{ $value }}` and the alert's value show; the first value column when absent. */
  value: z.string().optional(),
  labels: labels.default({}),
  annotations: z.record(z.string(), z.string()).default({}),
});
/** An alert rule (validated). */
export type AlertRuleSpec = z.infer<typeof AlertRuleSpec>;

const AGGREGATES = [
  "count",
  "distinct",
  "first",
  "last",
  "max",
  "mean",
  "median",
  "min",
  "mode",
  "spread",
  "stddev",
  "sum",
] as const;

/** A downsampling rule: a retention policy rolled up into another, as a continuous query. */
export const DownsamplingSpec = z.strictObject({
  name,
  database: z.string().min(1),
  from: z.string().min(1),
  to: z.string().min(1),
  interval: duration,
  aggregates: z.array(z.enum(AGGREGATES)).min(1),
  measurements: z.array(z.string().min(1)).min(1).optional(),
  every: duration.optional(),
  for: duration.optional(),
});
/** A downsampling rule (validated). */
export type DownsamplingSpec = z.infer<typeof DownsamplingSpec>;

/** A rules file. */
export const RulesFile = z.strictObject({
  alerts: z.array(AlertRuleSpec).default([]),
  downsampling: z.array(DownsamplingSpec).default([]),
});
/** A rules file (validated). */
export type RulesFile = z.infer<typeof RulesFile>;
