/**
 * The TSBS devops query types, in InfluxQL (EpochNexus, InfluxDB) and PromQL (VictoriaMetrics),
 * with seeded parameters, and a checksum of each answer (the sum of every returned value) so the
 * systems are compared on the same work.
 * @module
 */
import { CPU_FIELDS, prng, START_SECONDS } from "./workload.ts";

/** One concrete query of a type. */
export interface QueryInstance {
  influxql: string;
  /** PromQL query_range parameters, or undefined when the type has no PromQL form. */
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
const hostFilter = (names: string[]) => `(${names.map((n) => `hostname = '${n}'`).join(" OR ")})`;
const hostRegex = (names: string[]) => `hostname=~"${names.join("|")}"`;

// A PromQL range query evaluated at the end of each bucket (minus 1 ms), so that the window
// (t - step, t] covers the same points as InfluxQL's [bucket, bucket + step).
const promRange = (query: string, from: number, to: number, stepSeconds: number) => ({
  query,
  start: from + stepSeconds - 0.001,
  end: to - 0.001,
  step: `${stepSeconds}s`,
});

export const QUERY_TYPES: QueryType[] = [
  {
    name: "single-groupby-1-1-1",
    make(random, hosts, hours) {
      const [host] = pickHosts(random, hosts, 1);
      const t = startIn(random, hours, 1);
      return {
        influxql: `SELECT max(usage_user) FROM cpu WHERE hostname = '${host}' AND time >= '${
          iso(t)
        }' AND time < '${iso(t + 3600)}' GROUP BY time(1m)`,
        promql: promRange(
          `max(max_over_time(cpu_usage_user{hostname="${host}"}[1m]))`,
          t,
          t + 3600,
          60,
        ),
      };
    },
  },
  {
    name: "single-groupby-5-1-12",
    make(random, hosts, hours) {
      const [host] = pickHosts(random, hosts, 1);
      const t = startIn(random, hours, 12);
      const fields = CPU_FIELDS.slice(0, 5);
      return {
        influxql: `SELECT ${
          fields.map((f) => `max(${f})`).join(", ")
        } FROM cpu WHERE hostname = '${host}' AND time >= '${iso(t)}' AND time < '${
          iso(t + 12 * 3600)
        }' GROUP BY time(1m)`,
        promql: promRange(
          `max by (__name__) (max_over_time({__name__=~"cpu_(${
            fields.join("|")
          })",hostname="${host}"}[1m]))`,
          t,
          t + 12 * 3600,
          60,
        ),
      };
    },
  },
  {
    name: "cpu-max-all-8",
    make(random, hosts, hours) {
      const names = pickHosts(random, hosts, 8);
      const t = startIn(random, hours, 8);
      return {
        influxql: `SELECT ${CPU_FIELDS.map((f) => `max(${f})`).join(", ")} FROM cpu WHERE ${
          hostFilter(names)
        } AND time >= '${iso(t)}' AND time < '${iso(t + 8 * 3600)}' GROUP BY time(1h)`,
        promql: promRange(
          `max by (__name__) (max_over_time({__name__=~"cpu_usage_.*",${hostRegex(names)}}[1h]))`,
          t,
          t + 8 * 3600,
          3600,
        ),
      };
    },
  },
  {
    name: "double-groupby-1",
    make(random, _hosts, hours) {
      const t = startIn(random, hours, 12);
      return {
        influxql: `SELECT mean(usage_user) FROM cpu WHERE time >= '${iso(t)}' AND time < '${
          iso(t + 12 * 3600)
        }' GROUP BY time(1h), hostname`,
        promql: promRange(
          `avg by (hostname) (avg_over_time(cpu_usage_user[1h]))`,
          t,
          t + 12 * 3600,
          3600,
        ),
      };
    },
  },
  {
    name: "high-cpu-1",
    make(random, hosts, hours) {
      const [host] = pickHosts(random, hosts, 1);
      const t = startIn(random, hours, 12);
      return {
        influxql:
          `SELECT * FROM cpu WHERE usage_user > 90.0 AND hostname = '${host}' AND time >= '${
            iso(t)
          }' AND time < '${iso(t + 12 * 3600)}'`,
      };
    },
  },
  {
    name: "lastpoint",
    make() {
      return { influxql: `SELECT last(*) FROM cpu GROUP BY hostname` };
    },
  },
  {
    name: "groupby-orderby-limit",
    make(random, _hosts, hours) {
      const t = startIn(random, hours, 0) + 3600;
      return {
        influxql: `SELECT max(usage_user) FROM cpu WHERE time < '${iso(t)}' AND time >= '${
          iso(START_SECONDS)
        }' GROUP BY time(1m) ORDER BY time DESC LIMIT 5`,
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
