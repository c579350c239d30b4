/**
 * Scheduled work as part of the replicated metadata: continuous queries (InfluxDB's, per
 * database), alert rules made through the API, and what the node running the schedule (the
 * metadata leader) must hand over to the next one: when each job last ran, each alert's state
 * (pending since, firing since, last notified), each rule's last evaluation. A new leader reads
 * it and carries on where the old one stopped: no interval skipped beyond the catch-up window,
 * no alert forgotten or announced twice.
 *
 * Times are decided by the proposer (the leader's clock) and arrive in commands, so applying
 * stays deterministic. Nanosecond times are decimal strings (int64).
 * @module
 */

/** A continuous query as stored: the text SHOW CONTINUOUS QUERIES prints, and how to run it. */
export interface ContinuousQueryMeta {
  name: string;
  database: string;
  /** `CREATE CONTINUOUS QUERY ... END`, as InfluxDB prints it. */
  query: string;
  /** The SELECT ... INTO ... GROUP BY time(...) it runs (the time range is set per run). */
  select: string;
  /** RESAMPLE EVERY, ns as a decimal string ("0": the GROUP BY interval). */
  everyNs: string;
  /** RESAMPLE FOR, ns as a decimal string ("0": the GROUP BY interval). */
  forNs: string;
}

/** An alert rule as the API stores it (validated by the jobs room before it is proposed). */
export type AlertRuleMeta = Record<string, unknown> & { name: string };

/** Where one alert (one series of a rule's result) stands. */
export interface AlertMeta {
  /** Its labels: the rule's, `alertname`, and the series' group-by tags. */
  labels: Record<string, string>;
  state: "pending" | "firing" | "resolved";
  /** When the condition first held (ms). */
  activeAtMs: number;
  /** When it started firing (ms); 0 while pending. */
  firedAtMs: number;
  /** When the condition stopped holding (ms); 0 while active. */
  resolvedAtMs: number;
  /** When its current state was last delivered to every receiver (ms); 0 = not yet. */
  notifiedMs: number;
  /** The value of the condition's column at the last evaluation. */
  value: number | string | boolean | null;
}

/** A rule's last evaluation. */
export interface EvaluationMeta {
  atMs: number;
  durationMs: number;
  /** Empty when it succeeded. */
  error: string;
  /** The node that evaluated it. */
  node: number;
}

/** What one round of the schedule did, recorded at once. */
export interface JobsRound {
  /** job id -> when it last ran (ns, decimal string). */
  runs?: Record<string, string>;
  /** rule -> its evaluation. */
  evaluations?: Record<string, EvaluationMeta>;
  /** rule -> alert fingerprint -> its state, or null when it is gone. */
  alerts?: Record<string, Record<string, AlertMeta | null>>;
}

/** The commands of this table. */
export type JobCommand =
  | { op: "create_cq"; cq: ContinuousQueryMeta }
  | { op: "drop_cq"; database: string; name: string }
  | { op: "put_alert_rule"; rule: AlertRuleMeta }
  | { op: "delete_alert_rule"; name: string }
  | { op: "jobs_round"; round: JobsRound };

/** The ops of {@linkcode JobCommand}, to route them. */
export const JOB_OPS: ReadonlySet<string> = new Set([
  "create_cq",
  "drop_cq",
  "put_alert_rule",
  "delete_alert_rule",
  "jobs_round",
]);

/** The outcome of a job command (InfluxDB's texts for refusals). */
export type JobResult = { ok: true } | { ok: false; error: string };

/** The job id of a continuous query (its last run is kept under it). */
export function cqJobId(database: string, name: string): string {
  return `cq\u001f${database}\u001f${name}`;
}

/** Continuous queries, API alert rules and the schedule's state. */
export class JobTable {
  /** database -> name -> continuous query, in creation order. */
  readonly cqs = new Map<string, Map<string, ContinuousQueryMeta>>();
  readonly alertRules = new Map<string, AlertRuleMeta>();
  /** job id -> last run (ns). */
  readonly lastRuns = new Map<string, bigint>();
  /** rule -> fingerprint -> alert. */
  readonly alerts = new Map<string, Map<string, AlertMeta>>();
  readonly evaluations = new Map<string, EvaluationMeta>();

  /** Applies one command; `databaseExists` checks continuous queries. */
  apply(c: JobCommand, databaseExists: (name: string) => boolean): JobResult {
    switch (c.op) {
      case "create_cq": {
        const { database, name } = c.cq;
        if (!databaseExists(database)) {
          return { ok: false, error: `database not found: ${database}` };
        }
        let cqs = this.cqs.get(database);
        if (!cqs) this.cqs.set(database, cqs = new Map());
        const had = cqs.get(name);
        // InfluxDB: the same query again is no error, another one under the name is.
        if (had) return had.query === c.cq.query ? { ok: true } : cqExists();
        cqs.set(name, { ...c.cq });
        return { ok: true };
      }
      case "drop_cq": {
        // InfluxDB drops a continuous query that does not exist without an error.
        this.cqs.get(c.database)?.delete(c.name);
        this.lastRuns.delete(cqJobId(c.database, c.name));
        return { ok: true };
      }
      case "put_alert_rule":
        this.alertRules.set(c.rule.name, structuredClone(c.rule));
        return { ok: true };
      case "delete_alert_rule":
        if (!this.alertRules.delete(c.name)) return { ok: false, error: "alert rule not found" };
        return { ok: true };
      case "jobs_round": {
        const r = c.round;
        for (const [job, ns] of Object.entries(r.runs ?? {})) this.lastRuns.set(job, BigInt(ns));
        for (const [rule, e] of Object.entries(r.evaluations ?? {})) this.evaluations.set(rule, e);
        for (const [rule, alerts] of Object.entries(r.alerts ?? {})) {
          let held = this.alerts.get(rule);
          if (!held) this.alerts.set(rule, held = new Map());
          for (const [fingerprint, alert] of Object.entries(alerts)) {
            if (alert === null) held.delete(fingerprint);
            else held.set(fingerprint, structuredClone(alert));
          }
          if (held.size === 0) this.alerts.delete(rule);
        }
        return { ok: true };
      }
    }
  }

  /** A database was dropped: its continuous queries go with it (InfluxDB does the same). */
  dropDatabase(name: string): void {
    for (const cqName of this.cqs.get(name)?.keys() ?? []) {
      this.lastRuns.delete(cqJobId(name, cqName));
    }
    this.cqs.delete(name);
  }

  /** The snapshot's part (plain JSON). */
  toJSON(): { jobs: unknown } {
    return {
      jobs: {
        cqs: [...this.cqs.values()].flatMap((m) => [...m.values()]),
        alertRules: [...this.alertRules.values()],
        lastRuns: [...this.lastRuns].map(([job, ns]) => [job, ns.toString()]),
        alerts: [...this.alerts].map(([rule, m]) => [rule, [...m]]),
        evaluations: [...this.evaluations],
      },
    };
  }

  /** Replaces the contents from a snapshot's part (absent before version 3). */
  restore(s: { jobs?: Record<string, unknown> } | undefined): void {
    this.cqs.clear();
    this.alertRules.clear();
    this.lastRuns.clear();
    this.alerts.clear();
    this.evaluations.clear();
    const j = s?.jobs as {
      cqs: ContinuousQueryMeta[];
      alertRules: AlertRuleMeta[];
      lastRuns: [string, string][];
      alerts: [string, [string, AlertMeta][]][];
      evaluations: [string, EvaluationMeta][];
    } | undefined;
    if (!j) return;
    for (const cq of j.cqs) {
      let m = this.cqs.get(cq.database);
      if (!m) this.cqs.set(cq.database, m = new Map());
      m.set(cq.name, cq);
    }
    for (const r of j.alertRules) this.alertRules.set(r.name, r);
    for (const [job, ns] of j.lastRuns) this.lastRuns.set(job, BigInt(ns));
    for (const [rule, alerts] of j.alerts) this.alerts.set(rule, new Map(alerts));
    for (const [rule, e] of j.evaluations) this.evaluations.set(rule, e);
  }
}

function cqExists(): JobResult {
  return { ok: false, error: "continuous query already exists" };
}
