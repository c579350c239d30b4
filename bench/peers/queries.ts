/**
 * The TSBS devops query types in TSBS's own forms: the InfluxQL strings of TSBS's InfluxDB
 * generator (`cmd/tsbs_generate_queries/databases/influx/devops.go`: lower-case keywords, hosts
 * as `(hostname = 'a' or hostname = 'b')`, lastpoint as the raw `SELECT *` newest-first, the
 * groupby-orderby-limit without a lower time bound) for EpochNexus and InfluxDB, and the
 * MetricsQL of its VictoriaMetrics generator (`databases/victoriametrics/devops.go`) where TSBS
 * has one, with seeded parameters, and a checksum of each answer (the sum of every returned
 * value) so the systems are compared on the same work.
 *
 * One difference from TSBS, so that the checksums compare: TSBS starts each window at a random
 * nanosecond; here windows start on the hour, and the MetricsQL range is evaluated at the end
 * of each bucket (see {@linkcode promRange}), so each system's buckets hold the same points.
 * @module
 */
import { CPU_FIELDS, prng, START_SECONDS } from "./workload.ts";

/** One concrete query of a type. */
export interface QueryInstance {
  influxql: string;
  /** MetricsQL query_range parameters, or undefined when the type has no such form. */
  promql?: { query: string; start: number; end: number; step: string };
}

/** A query type: a name and a generator of instances from a random source. */
export interface QueryType {
  name: string;
  make(random: () => number, hosts: number, hours: number): QueryInstance;
}

const iso = (s: number) => new Date(s * 1000).toISOString().replace(".000Z", "Z");
const pickHosts = (random: () => number, hosts: number, n: number) => {
  const chosen = new Set<number>();
  while (chosen.size < Math.min(n, hosts)) chosen.add(Math.floor(random() * hosts));
  return [...chosen].map((h) => `host_${h}`);
};
const startIn = (random: () => number, hours: number, spanHours: number) =>
  START_SECONDS + Math.floor(random() * Math.max(0, hours - spanHours)) * 3600;

/** TSBS's InfluxQL host filter: `(hostname = 'a' or hostname = 'b')`. */
const hostWhere = (names: string[]) => `(${names.map((n) => `hostname = '${n}'`).join(" or ")})`;

/** TSBS's MetricsQL series selector (`getSelectClause` of its VictoriaMetrics generator). */
function selector(metrics: readonly string[], hosts: string[]): string {
  const hostClause = hosts.length === 0
    ? ""
    : hosts.length === 1
    ? `hostname='${hosts[0]}'`
    : `hostname=~'${hosts.join("|")}'`;
  if (metrics.length === 1) return `cpu_${metrics[0]}{${hostClause}}`;
  const names = `__name__=~'cpu_(${metrics.join("|")})'`;
  return hosts.length > 0 ? `{${names}, ${hostClause}}` : `{${names}}`;
}

/**
 * A MetricsQL range query evaluated at the end of each bucket (minus 1 ms), so that the window
 * (t - step, t] covers the same points as InfluxQL's [bucket, bucket + step).
 */
const promRange = (query: string, from: number, to: number, stepSeconds: number) => ({
  query,
  start: from + stepSeconds - 0.001,
  end: to - 0.001,
  step: `${stepSeconds}s`,
});

/** TSBS `single-groupby-M-H-T`: max of M metrics per minute for H random hosts over T hours. */
function singleGroupby(metrics: number, hosts: number, hours: number): QueryType {
  return {
    name: `single-groupby-${metrics}-${hosts}-${hours}`,
    make(random, allHosts, allHours) {
      const names = pickHosts(random, allHosts, hosts);
      const fields = CPU_FIELDS.slice(0, metrics);
      const t = startIn(random, allHours, hours);
      const end = t + hours * 3600;
      return {
        influxql: `SELECT ${fields.map((f) => `max(${f})`).join(", ")} from cpu where ${
          hostWhere(names)
        } and time >= '${iso(t)}' and time < '${iso(end)}' group by time(1m)`,
        promql: promRange(
          `max(max_over_time(${selector(fields, names)}[1m])) by (__name__)`,
          t,
          end,
          60,
        ),
      };
    },
  };
}

/** TSBS `cpu-max-all-H`: max of every cpu metric per hour for H random hosts over 8 hours. */
function maxAllCpu(hosts: number): QueryType {
  return {
    name: `cpu-max-all-${hosts}`,
    make(random, allHosts, allHours) {
      const names = pickHosts(random, allHosts, hosts);
      const t = startIn(random, allHours, 8);
      const end = t + 8 * 3600;
      return {
        influxql: `SELECT ${CPU_FIELDS.map((f) => `max(${f})`).join(",")} from cpu where ${
          hostWhere(names)
        } and time >= '${iso(t)}' and time < '${iso(end)}' group by time(1h)`,
        promql: promRange(
          `max(max_over_time(${selector(CPU_FIELDS, names)}[1h])) by (__name__)`,
          t,
          end,
          3600,
        ),
      };
    },
  };
}

/** TSBS `double-groupby-M`: mean of M metrics per hour and host, every host, over 12 hours. */
function doubleGroupby(metrics: number, label: string): QueryType {
  return {
    name: `double-groupby-${label}`,
    make(random, _hosts, allHours) {
      const fields = CPU_FIELDS.slice(0, metrics);
      const t = startIn(random, allHours, 12);
      const end = t + 12 * 3600;
      return {
        influxql: `SELECT ${fields.map((f) => `mean(${f})`).join(", ")} from cpu where time >= '${
          iso(t)
        }' and time < '${iso(end)}' group by time(1h),hostname`,
        promql: promRange(
          `avg(avg_over_time(${selector(fields, [])}[1h])) by (__name__, hostname)`,
          t,
          end,
          3600,
        ),
      };
    },
  };
}

/** TSBS `high-cpu-H`: every row with usage_user > 90 of H random hosts (0: all) over 12 hours. */
function highCpu(hosts: number): QueryType {
  return {
    name: `high-cpu-${hosts === 0 ? "all" : hosts}`,
    make(random, allHosts, allHours) {
      const where = hosts === 0 ? "" : `and ${hostWhere(pickHosts(random, allHosts, hosts))}`;
      const t = startIn(random, allHours, 12);
      return {
        influxql: `SELECT * from cpu where usage_user > 90.0 ${where} and time >= '${
          iso(t)
        }' and time < '${iso(t + 12 * 3600)}'`,
      };
    },
  };
}

export const QUERY_TYPES: QueryType[] = [
  singleGroupby(1, 1, 1),
  singleGroupby(1, 8, 1),
  singleGroupby(5, 1, 12),
  singleGroupby(5, 8, 1),
  maxAllCpu(1),
  maxAllCpu(8),
  doubleGroupby(1, "1"),
  doubleGroupby(5, "5"),
  doubleGroupby(CPU_FIELDS.length, "all"),
  highCpu(1),
  highCpu(0),
  {
    name: "lastpoint",
    make() {
      return { influxql: `SELECT * from cpu group by "hostname" order by time desc limit 1` };
    },
  },
  {
    // TSBS: the five first minutes before a random end, no lower bound (its SQL form orders
    // newest first; its InfluxQL form, this one, does not).
    name: "groupby-orderby-limit",
    make(random, _hosts, hours) {
      const end = startIn(random, hours, 1) + 3600;
      return {
        influxql: `SELECT max(usage_user) from cpu WHERE time < '${
          iso(end)
        }' group by time(1m) limit 5`,
      };
    },
  },
];

/** The seeded instances of a type (the same for every system). */
export function instances(
  type: QueryType,
  runs: number,
  hosts: number,
  hours: number,
  seed: number,
) {
  const random = prng(seed);
  return Array.from({ length: runs }, () => type.make(random, hosts, hours));
}

/** Sum of every number in an InfluxQL JSON answer, time columns excluded. */
export function influxChecksum(answer: unknown): number {
  let sum = 0;
  // deno-lint-ignore no-explicit-any
  for (const result of (answer as any).results ?? []) {
    for (const series of result.series ?? []) {
      const timeAt = series.columns.indexOf("time");
      for (const row of series.values) {
        row.forEach((v: unknown, i: number) => {
          if (i !== timeAt && typeof v === "number") sum += v;
        });
      }
    }
  }
  return sum;
}

/** Sum of every sample value in a Prometheus query_range answer. */
export function promChecksum(answer: unknown): number {
  let sum = 0;
  // deno-lint-ignore no-explicit-any
  for (const series of (answer as any).data?.result ?? []) {
    for (const [, v] of series.values ?? []) sum += Number(v);
  }
  return sum;
}

/** What {@linkcode checksumMismatches} compares: each system's checksum per query type. */
export interface AnsweredQueries {
  system: string;
  /** By query type name; null (or absent) when the system has no form of the type. */
  queries: Record<string, { checksum: number } | null | undefined>;
}

/**
 * The query types whose checksums differ between systems beyond a relative 1e-9 (float sums
 * may differ in the last bits between engines that add in another order), each as one line:
 * the type, `describe(type)` (which queries), and the two systems' checksums.
 */
export function checksumMismatches(
  answered: AnsweredQueries[],
  describe: (type: QueryType) => string,
): string[] {
  const out: string[] = [];
  for (const type of QUERY_TYPES) {
    const withType = answered.filter((a) => a.queries[type.name]);
    const [first, ...others] = withType;
    for (const other of others) {
      const a = first.queries[type.name]!.checksum, b = other.queries[type.name]!.checksum;
      if (Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b))) continue;
      out.push(`${type.name} (${describe(type)}): ${first.system}=${a} ${other.system}=${b}`);
    }
  }
  return out;
}
