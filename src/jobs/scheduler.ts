/**
 * The schedule of continuous queries, downsampling rules and alert rules, run by exactly one node
 * of a cluster: the metadata group's leader. Each round (every second) it confirms its leadership
 * with a read barrier, runs what is due, and records in the metadata, in one command, when each
 * job ran and where each alert stands; it proposes that command only as the leader (a node that
 * lost the leadership cannot record anything). A new leader reads the record and carries on: no
 * interval is skipped (within the catch-up window), no alert restarts its `for` or is announced
 * again. A job may run twice around a change of leader (the old one not knowing yet): a
 * continuous query writes the same points again (last write wins), Alertmanager deduplicates.
 * @module
 */
import { type Clock, EpochError, type ErrorCode, type Logger } from "../core/mod.ts";
import {
  type AlertMeta,
  type ContinuousQueryMeta,
  cqJobId,
  type EvaluationMeta,
  type JobsRound,
  type JobTable,
} from "../cluster/mod.ts";
import {
  executeQuery,
  executeStatements,
  type QueryStore,
  type SelectStatement,
} from "../query/mod.ts";
import { cqDecision, type CqTiming } from "./cq_schedule.ts";
import { parseCq, runCq, withTimeRange } from "./continuous_query.ts";
import { type AlertRuleRun, dueNotifications, nextAlerts, samplesOf } from "./alert_state.ts";
import type { Notifier } from "./notifier.ts";
import type { LoadedRules } from "./rules_file.ts";
import { type AlertRuleSpec, type DownsamplingSpec, parseDurationNs } from "./rules_model.ts";
import { downsamplingSelect } from "./downsampling.ts";

/** What the scheduler needs of the node's metadata. */
export interface JobsHost {
  nodeId: number;
  /** True while this node leads the metadata group. */
  isLeader(): boolean;
  /** Confirms the leadership and the copy's currency (a read barrier). */
  sync(): Promise<void>;
  jobs(): JobTable;
  /** The default retention policy of a database, or undefined for an unknown one. */
  hasDatabase(name: string): boolean;
  /** Records a round; only the leader may (throws otherwise). */
  record(round: JobsRound): Promise<void>;
}

/** Options of {@linkcode JobScheduler}. */
export interface SchedulerOptions {
  host: JobsHost;
  store: QueryStore;
  clock: Clock;
  logger: Logger;
  notifier: Notifier;
  /** The rules of the YAML files (reloadable). */
  rules: () => LoadedRules;
  /** How far back a continuous query catches up after the schedule stood still (ms). */
  catchUpMs: number;
  /** How often a firing alert is sent to Alertmanager again (ms). */
  resendDelayMs: number;
}

/** Counters of this node's runs, by job. */
interface JobFigures {
  ok: number;
  failed: number;
  written: number;
  lastMs: number;
}

/** A rule of the YAML files or the API, ready to evaluate. */
interface AlertRuleInForce extends AlertRuleRun {
  spec: AlertRuleSpec;
  everyMs: number;
}

/** Runs the schedule on the metadata leader. */
export class JobScheduler {
  /** job id -> figures; rule -> figures (evaluations). */
  readonly cqFigures = new Map<string, JobFigures>();
  readonly alertFigures = new Map<string, JobFigures>();
  #leading = false;
  #running: Promise<void> | undefined;
  readonly #o: SchedulerOptions;

  constructor(options: SchedulerOptions) {
    this.#o = options;
  }

  /** True while this node runs the schedule. */
  get leading(): boolean {
    return this.#leading;
  }

  /** Notifications sent from this node: `kind\u0000outcome` -> count. */
  notifications(): ReadonlyMap<string, number> {
    return this.#o.notifier.counts;
  }

  /** Runs one round unless one is still running (called every second). */
  tick(): Promise<void> {
    if (!this.#running) {
      this.#running = this.round().catch((error) => {
        this.#o.logger.error("scheduled jobs round failed", { error: String(error) });
      }).finally(() => this.#running = undefined);
    }
    return this.#running;
  }

  /** Waits for a round in progress. */
  async idle(): Promise<void> {
    await this.#running;
  }

  /** One round: what is due runs, and the outcome is recorded. */
  async round(): Promise<void> {
    const { host, logger } = this.#o;
    if (!host.isLeader()) {
      if (this.#leading) logger.info("no longer the metadata leader: scheduled jobs stop here");
      this.#leading = false;
      return;
    }
    try {
      await host.sync();
    } catch {
      return; // leadership not confirmed: another node may be running the schedule
    }
    if (!host.isLeader()) return;
    if (!this.#leading) {
      logger.info("running continuous queries and alert rules on this node (metadata leader)", {
        node: host.nodeId,
      });
      this.#leading = true;
    }
    const round: JobsRound = {};
    await this.#runQueries(round);
    await this.#evaluateAlerts(round);
    if (!round.runs && !round.evaluations && !round.alerts) return;
    try {
      await host.record(round);
    } catch (error) {
      logger.warn("scheduled jobs round not recorded (leadership lost?)", { error: String(error) });
    }
  }

  // --- continuous queries and downsampling ---------------------------------------------------

  async #runQueries(round: JobsRound): Promise<void> {
    const jobs = this.#o.host.jobs();
    const due: {
      id: string;
      label: string;
      database: string;
      run: (s: bigint, e: bigint, now: bigint) => Promise<number>;
      timing: CqTiming;
    }[] = [];
    for (const cqs of jobs.cqs.values()) {
      for (const cq of cqs.values()) {
        let timing: CqTiming;
        try {
          timing = parseCq(cq).timing;
        } catch (error) {
          this.#o.logger.error("continuous query does not parse", {
            cq: cq.name,
            error: String(error),
          });
          continue;
        }
        due.push({
          id: cqJobId(cq.database, cq.name),
          label: `${cq.database}.${cq.name}`,
          database: cq.database,
          timing,
          run: (startNs, endNs, nowNs) => this.#runCq(cq, startNs, endNs, nowNs),
        });
      }
    }
    for (const rule of this.#o.rules().downsampling) {
      const select = downsamplingSelect(rule);
      due.push({
        id: `downsample\u001f${rule.name}`,
        label: `downsampling.${rule.name}`,
        database: rule.database,
        timing: downsamplingTiming(rule),
        run: (startNs, endNs, nowNs) =>
          this.#runSelect(rule.database, select, startNs, endNs, nowNs),
      });
    }
    const catchUpNs = BigInt(this.#o.catchUpMs) * 1_000_000n;
    for (const job of due) {
      if (!this.#o.host.hasDatabase(job.database)) continue;
      const nowNs = this.#o.clock.nowNanos();
      const decision = cqDecision(job.timing, jobs.lastRuns.get(job.id), nowNs, catchUpNs);
      if (!("lastRunNs" in decision)) continue;
      if (!decision.run) {
        (round.runs ??= {})[job.id] = String(decision.lastRunNs);
        continue;
      }
      const figures = figuresOf(this.cqFigures, job.label);
      const started = this.#o.clock.monotonicMs();
      try {
        const written = await job.run(decision.startNs, decision.endNs, nowNs);
        figures.ok++;
        figures.written += written;
        (round.runs ??= {})[job.id] = String(decision.lastRunNs);
        this.#o.logger.info("continuous query ran", {
          cq: job.label,
          start: decision.startNs.toString(),
          end: decision.endNs.toString(),
          written,
          ms: Math.round(this.#o.clock.monotonicMs() - started),
        });
      } catch (error) {
        figures.failed++;
        // A partition without a leader or a node going down: the same range runs again next
        // round. Any other failure is InfluxDB's: the interval is skipped, the error logged.
        const retry = error instanceof EpochError && TRANSIENT.has(error.code);
        if (!retry) (round.runs ??= {})[job.id] = String(decision.lastRunNs);
        this.#o.logger.warn("continuous query failed", {
          cq: job.label,
          start: decision.startNs.toString(),
          end: decision.endNs.toString(),
          retry,
          error: error instanceof Error ? error.message : String(error),
        });
      } finally {
        figures.lastMs = this.#o.clock.monotonicMs() - started;
      }
    }
  }

  async #runCq(cq: ContinuousQueryMeta, startNs: bigint, endNs: bigint, nowNs: bigint) {
    return (await runCq(this.#o.store, cq, { startNs, endNs, nowNs })).written;
  }

  async #runSelect(
    database: string,
    select: SelectStatement,
    startNs: bigint,
    endNs: bigint,
    nowNs: bigint,
  ): Promise<number> {
    const [result] = await executeStatements(
      this.#o.store,
      [withTimeRange(select, startNs, endNs)],
      {
        database,
        nowNs,
      },
    );
    if (result.error) throw new EpochError(result.errorCode ?? "unknown", result.error);
    const written = result.series?.[0]?.values[0]?.[1];
    return typeof written === "number" ? written : 0;
  }

  // --- alert rules ---------------------------------------------------------------------------

  /** The alert rules in force: the YAML files' and the API's. */
  alertRules(): AlertRuleInForce[] {
    const specs = new Map<string, AlertRuleSpec>();
    for (const r of this.#o.host.jobs().alertRules.values()) {
      specs.set(r.name, r as unknown as AlertRuleSpec);
    }
    for (const r of this.#o.rules().alerts) specs.set(r.name, r);
    return [...specs.values()].map((spec) => ({
      spec,
      name: spec.name,
      forMs: Number(parseDurationNs(spec.for) / 1_000_000n),
      everyMs: Math.max(1, Number(parseDurationNs(spec.every) / 1_000_000n)),
      labels: spec.labels,
      condition: spec.condition,
      value: spec.value,
    }));
  }

  async #evaluateAlerts(round: JobsRound): Promise<void> {
    const jobs = this.#o.host.jobs();
    const rules = this.alertRules();
    const names = new Set(rules.map((r) => r.name));
    for (const rule of rules) {
      const last = jobs.evaluations.get(rule.name);
      const nowMs = this.#o.clock.nowMs();
      if (last && nowMs - last.atMs < rule.everyMs) continue;
      await this.#evaluate(rule, jobs.alerts.get(rule.name) ?? new Map(), round);
    }
    // Alerts of rules that are gone resolve (a firing one is announced) and are forgotten.
    for (const [name, alerts] of jobs.alerts) {
      if (names.has(name)) continue;
      const gone: AlertRuleInForce = {
        spec: { annotations: {} } as AlertRuleSpec,
        name,
        forMs: 0,
        everyMs: 0,
        labels: {},
        condition: "false",
      };
      await this.#settle(gone, alerts, nextAlerts(gone, alerts, [], this.#o.clock.nowMs()), round);
    }
  }

  async #evaluate(
    rule: AlertRuleInForce,
    previous: ReadonlyMap<string, AlertMeta>,
    round: JobsRound,
  ): Promise<void> {
    const started = this.#o.clock.monotonicMs();
    const atMs = this.#o.clock.nowMs();
    const figures = figuresOf(this.alertFigures, rule.name);
    let error = "";
    let changes = new Map<string, AlertMeta | null>();
    try {
      const [result] = await executeQuery(this.#o.store, rule.spec.query, {
        database: rule.spec.database,
        nowNs: this.#o.clock.nowNanos(),
      });
      if (result.error) throw new EpochError("unknown", result.error);
      changes = nextAlerts(rule, previous, samplesOf(rule, result.series ?? []), atMs);
      figures.ok++;
    } catch (e) {
      error = e instanceof Error ? e.message : String(e);
      figures.failed++;
      this.#o.logger.warn("alert rule evaluation failed", { rule: rule.name, error });
    }
    figures.lastMs = this.#o.clock.monotonicMs() - started;
    const evaluation: EvaluationMeta = {
      atMs,
      durationMs: Math.round(figures.lastMs),
      error,
      node: this.#o.host.nodeId,
    };
    (round.evaluations ??= {})[rule.name] = evaluation;
    await this.#settle(rule, previous, changes, round);
  }

  /** Applies the changes, delivers what is due, and records the alerts that changed. */
  async #settle(
    rule: AlertRuleInForce,
    previous: ReadonlyMap<string, AlertMeta>,
    changes: Map<string, AlertMeta | null>,
    round: JobsRound,
  ): Promise<void> {
    const current = new Map(previous);
    for (const [fp, a] of changes) {
      if (a === null) current.delete(fp);
      else current.set(fp, a);
    }
    const nowMs = this.#o.clock.nowMs();
    const due = dueNotifications(current, nowMs, this.#o.resendDelayMs);
    const batch = (alerts: [string, AlertMeta][]) => ({
      rule: rule.name,
      annotations: rule.spec.annotations ?? {},
      alerts: alerts.map(([, a]) => a),
      nowMs,
      validForMs: 4 * Math.max(this.#o.resendDelayMs, rule.everyMs),
    });
    const notifier = this.#o.notifier;
    const toAm = await notifier.toAlertmanagers(batch(due.alertmanager));
    const toHooks = await notifier.toWebhooks(batch(due.webhook));
    if (toAm && toHooks) {
      for (const [fp, a] of due.alertmanager) {
        // A delivered resolution is the alert's end; a delivered firing is remembered.
        changes.set(fp, a.state === "resolved" ? null : { ...a, notifiedMs: nowMs });
      }
    }
    if (changes.size === 0) return;
    const recorded: Record<string, AlertMeta | null> = {};
    for (const [fp, a] of changes) {
      if (a === null && !previous.has(fp)) continue;
      recorded[fp] = a;
    }
    if (Object.keys(recorded).length > 0) (round.alerts ??= {})[rule.name] = recorded;
  }
}

/** Failures of the cluster, not of the query: a run that meets one is tried again. */
const TRANSIENT = new Set<ErrorCode>(["unavailable", "deadline_exceeded", "aborted"]);

function figuresOf(map: Map<string, JobFigures>, key: string): JobFigures {
  let f = map.get(key);
  if (!f) map.set(key, f = { ok: 0, failed: 0, written: 0, lastMs: 0 });
  return f;
}

function downsamplingTiming(rule: DownsamplingSpec): CqTiming {
  return {
    intervalNs: parseDurationNs(rule.interval),
    offsetNs: 0n,
    everyNs: rule.every ? parseDurationNs(rule.every) : 0n,
    forNs: rule.for ? parseDurationNs(rule.for) : 0n,
  };
}
