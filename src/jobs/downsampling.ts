/**
 * Declarative downsampling: a rule of the rules files rolls a retention policy's data up into
 * another, as the continuous query InfluxDB's documentation recommends for it:
 *
 * ```sql
 * SELECT mean(*), max(*) INTO "db"."to".:MEASUREMENT FROM "db"."from"./.*\/
 *   GROUP BY time(5m), *
 * ```
 *
 * (with the listed measurements instead of the regex when the rule names them). Each field `f`
 * becomes `mean_f`, `max_f` ... in a measurement of the same name, tags kept. It runs on the
 * continuous queries' schedule (RESAMPLE EVERY / FOR from the rule's `every` and `for`).
 * @module
 */
import type { SelectStatement } from "../query/mod.ts";
import { type DownsamplingSpec, parseDurationNs } from "./rules_model.ts";

/** The SELECT a downsampling rule runs (its time range is set per run). */
export function downsamplingSelect(rule: DownsamplingSpec): SelectStatement {
  const from = {
    kind: "measurement" as const,
    database: rule.database,
    retentionPolicy: rule.from,
  };
  return {
    kind: "select",
    fields: rule.aggregates.map((name) => ({
      expr: { kind: "call", name, args: [{ kind: "wildcard" }] },
    })),
    // No name: each source measurement's own (`:MEASUREMENT`).
    into: { kind: "measurement", database: rule.database, retentionPolicy: rule.to },
    sources: rule.measurements
      ? rule.measurements.map((name) => ({ ...from, name }))
      : [{ ...from, regex: ".*" }],
    dimensions: [{ kind: "time", intervalNs: parseDurationNs(rule.interval) }, {
      kind: "wildcard",
    }],
    descending: false,
  };
}
