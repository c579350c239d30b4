/**
 * The jobs of a cluster node as its doors see them: the schedule (started with the node, run
 * while it leads the metadata), alert rules through the API, continuous query statements, the
 * status and metrics.
 * @module
 */
import { type Clock, type Logger, NotFoundError, ValidationError } from "../core/mod.ts";
import type { ClusterNode, ContinuousQueryMeta, MetaCommand } from "../cluster/mod.ts";
import type { QueryStore } from "../query/mod.ts";
import type { Timers } from "../raft/mod.ts";
import { cqDefinition, type CqSpec } from "./continuous_query.ts";
import type { Notifier } from "./notifier.ts";
import { parseAlertRule } from "./rules_file.ts";
import type { AlertRuleSpec } from "./rules_model.ts";
import type { RulesSource } from "./rules_source.ts";
import { JobScheduler } from "./scheduler.ts";
import { alertsStatus, type JobMetricFamily, jobMetrics } from "./status.ts";

/** Options of {@linkcode JobsService}. */
export interface JobsServiceOptions {
  node: ClusterNode;
  store: QueryStore;
  clock: Clock;
  logger: Logger;
  notifier: Notifier;
  rules: RulesSource;
  catchUpMs: number;
  resendDelayMs: number;
  timers?: Timers;
}

/** A node's jobs. */
export class JobsService {
  readonly scheduler: JobScheduler;
  #timer: unknown;
  readonly #o: JobsServiceOptions;

  constructor(options: JobsServiceOptions) {
    this.#o = options;
    const node = options.node;
    this.scheduler = new JobScheduler({
      host: {
        nodeId: node.nodeId,
        isLeader: () => node.meta.isLeader(),
        sync: () => node.meta.sync(),
        jobs: () => node.meta.state.jobs,
        hasDatabase: (name) => node.meta.state.databases.has(name),
        record: async (round) => {
          const { result } = await node.meta.proposeAsLeader({ op: "jobs_round", round });
          if (!result.ok) throw new Error(result.error);
        },
      },
      store: options.store,
      clock: options.clock,
      logger: options.logger,
      notifier: options.notifier,
      rules: () => options.rules.rules,
      catchUpMs: options.catchUpMs,
      resendDelayMs: options.resendDelayMs,
    });
  }

  /** Runs the schedule every `intervalMs` (a round does something only on the leader). */
  start(intervalMs = 1000): void {
    const timers = this.#o.timers ?? globalThis;
    this.#timer = timers.setInterval(() => void this.scheduler.tick(), intervalMs);
  }

  /** Stops the schedule and waits for a round in progress. */
  async stop(): Promise<void> {
    if (this.#timer !== undefined) {
      (this.#o.timers ?? globalThis).clearInterval(this.#timer as never);
    }
    this.#timer = undefined;
    await this.scheduler.idle();
  }

  /** `GET /api/v1/alerts`. */
  alerts(): Record<string, unknown> {
    return alertsStatus(this.scheduler, this.#o.node.meta.state.jobs);
  }

  /** The figures of `/metrics`. */
  metrics(): JobMetricFamily[] {
    return jobMetrics(this.scheduler, this.#o.node.meta.state.jobs);
  }

  /** The alert rules made through the API. */
  apiAlertRules(): AlertRuleSpec[] {
    return [...this.#o.node.meta.state.jobs.alertRules.values()] as unknown as AlertRuleSpec[];
  }

  /**
   * Creates or replaces an alert rule (API).
   * @throws {ValidationError} for an invalid rule, or one a rules file defines (409).
   */
  async putAlertRule(raw: unknown): Promise<AlertRuleSpec> {
    const rule = parseAlertRule(raw);
    const file = this.#o.rules.rules.alerts.find((r) => r.name === rule.name);
    if (file) {
      throw new ValidationError(
        `alert rule ${rule.name} is defined in ${file.source}; change it there`,
        { httpStatus: 409 },
      );
    }
    await this.#propose({ op: "put_alert_rule", rule: rule as AlertRuleSpec & { name: string } });
    return rule;
  }

  /** Deletes an alert rule made through the API; its firing alerts resolve. */
  async deleteAlertRule(name: string): Promise<void> {
    if (!this.#o.node.meta.state.jobs.alertRules.has(name)) {
      throw new NotFoundError(`alert rule not found: ${name}`);
    }
    await this.#propose({ op: "delete_alert_rule", name });
  }

  /**
   * CREATE CONTINUOUS QUERY.
   * @throws {ValidationError} with InfluxDB's texts.
   */
  async createContinuousQuery(spec: CqSpec): Promise<void> {
    await this.#propose({ op: "create_cq", cq: cqDefinition(spec) });
  }

  /** DROP CONTINUOUS QUERY. */
  async dropContinuousQuery(database: string, name: string): Promise<void> {
    await this.#propose({ op: "drop_cq", database, name });
  }

  /** SHOW CONTINUOUS QUERIES: every database (in creation order, as InfluxDB) with its queries. */
  continuousQueries(): { database: string; queries: ContinuousQueryMeta[] }[] {
    const state = this.#o.node.meta.state;
    return this.#o.store.databases().map((database) => ({
      database,
      queries: [...(state.jobs.cqs.get(database)?.values() ?? [])],
    }));
  }

  async #propose(command: MetaCommand): Promise<void> {
    const result = await this.#o.node.proposeMeta(command);
    if (!result.ok) throw new ValidationError(result.error);
  }
}
