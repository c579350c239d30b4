/**
 * The ingest pipeline: for every point whose measurement has a schema, run its transformation
 * steps in order, then check it against the schema and the series budget. Points of
 * measurements without a schema pass untouched (schemaless, as in InfluxDB). A point that
 * breaks a rule is rejected with the rule (key, expected, got) and the rest of the batch kept;
 * optionally a copy goes to the schema's dead-letter measurement with the rule as a tag.
 *
 * Implements the HTTP write path's `IngestPipeline` (structurally: this room sits below http).
 * @module
 */
import { type Field, FieldType, type Point, seriesKey, sortTags, type Tag } from "../core/mod.ts";
import type { ActiveSchema, SchemaRegistry, StoredData } from "./registry.ts";
import { ScriptError } from "./script.ts";
import { type BatchItem, isViolation } from "./transform.ts";
import { checkPoint, describeViolation, type Violation } from "./validate.ts";

/** A refused input point: its index in the batch and why. */
export interface PipelineRejection {
  index: number;
  reason: string;
  measurement: string;
  violation: Violation;
}

/** What {@linkcode SchemaPipeline.process} returns. */
export interface PipelineResult {
  points: Point[];
  rejected: PipelineRejection[];
}

/** What a dry run returns: also the indices of points dropped on purpose (drop_if, scripts). */
export interface DryRunResult extends PipelineResult {
  dropped: number[];
}

/** The metric calls the pipeline makes (src/http's Metrics fits). */
export interface PipelineMetrics {
  counter(name: string, help: string): void;
  add(name: string, labels?: Record<string, string>, by?: number): void;
}

/** Options of {@linkcode SchemaPipeline}. */
export interface SchemaPipelineOptions {
  stored?: StoredData;
  metrics?: PipelineMetrics;
  /**
   * Writes dead-letter points on their own, so they do not count as accepted points of the
   * request. Without it they are returned with the points to store.
   */
  deadLetters?: (database: string, points: Point[]) => Promise<void>;
  /** Told when dead letters could not be written (they are then lost, the request is not). */
  onDeadLetterError?: (error: unknown) => void;
}

const REJECTIONS = "epochnexus_schema_rejections_total";
const DROPS = "epochnexus_schema_dropped_total";
const DEAD_LETTERS = "epochnexus_schema_dead_letters_total";

interface RunState {
  dry: boolean;
  database: string;
  kept: Point[];
  /** For each kept point: the schema of the input point it came from (none: schemaless). */
  keptFrom: (ActiveSchema | undefined)[];
  /** For each kept point: the index of that input point (-1 for points scripts added). */
  keptIndex: number[];
  /** Atomic schemas with a rejection in this batch. */
  failedAtomic: Set<ActiveSchema>;
  deadLetters: Point[];
  rejected: PipelineRejection[];
  dropped: number[];
  /** Series admitted in this batch (dry runs do not touch the budgets). */
  newSeries: Map<string, Set<string>>;
}

/** The schema pipeline of a node. */
export class SchemaPipeline {
  readonly registry: SchemaRegistry;
  readonly #options: SchemaPipelineOptions;
  /** Series keys seen per database and measurement, for budgets: `db\0measurement`. */
  #series = new Map<string, Set<string>>();

  constructor(registry: SchemaRegistry, options: SchemaPipelineOptions = {}) {
    this.registry = registry;
    this.#options = options;
    const m = options.metrics;
    m?.counter(REJECTIONS, "Points rejected by schemas and pipelines, by measurement and rule.");
    m?.counter(DROPS, "Points dropped on purpose by pipelines (drop_if, scripts), by measurement.");
    m?.counter(DEAD_LETTERS, "Rejected points copied to a dead-letter measurement.");
    registry.onChange((measurement) => {
      for (const key of this.#series.keys()) {
        if (key.endsWith(`\0${measurement}`)) this.#series.delete(key);
      }
    });
  }

  /** Transforms and validates a batch; what it returns is what to store. */
  async process(database: string, points: Point[]): Promise<PipelineResult> {
    if (this.registry.size === 0) return { points, rejected: [] };
    const state = await this.#run(database, points, (m) => this.registry.active(m), false);
    if (state.deadLetters.length > 0) {
      const sink = this.#options.deadLetters;
      if (!sink) return { points: [...state.kept, ...state.deadLetters], rejected: state.rejected };
      try {
        await sink(database, state.deadLetters);
      } catch (error) {
        this.#options.onDeadLetterError?.(error);
      }
    }
    return { points: state.kept, rejected: state.rejected };
  }

  /**
   * What `process` would do, with no side effect: no write, no metric, no series budget used.
   * With `proposed`, that schema stands in for the measurement's current one.
   */
  async dryRun(
    database: string,
    points: Point[],
    proposed?: ActiveSchema,
  ): Promise<DryRunResult> {
    const resolve = (m: string) =>
      proposed && proposed.measurement === m ? proposed : this.registry.active(m);
    const state = await this.#run(database, points, resolve, true);
    return { points: state.kept, rejected: state.rejected, dropped: state.dropped };
  }

  async #run(
    database: string,
    points: Point[],
    resolve: (measurement: string) => ActiveSchema | undefined,
    dry: boolean,
  ): Promise<RunState> {
    const state: RunState = {
      dry,
      database,
      kept: [],
      keptFrom: [],
      keptIndex: [],
      failedAtomic: new Set(),
      deadLetters: [],
      rejected: [],
      dropped: [],
      newSeries: new Map(),
    };
    let batched: Map<ActiveSchema, BatchItem[]> | undefined;
    let last: ActiveSchema | undefined;
    let lastName = "";
    for (let i = 0; i < points.length; i++) {
      const point = points[i];
      if (point.measurement !== lastName) {
        lastName = point.measurement;
        last = resolve(lastName);
      }
      const active = last;
      if (active === undefined) {
        keep(state, point, undefined, i);
        continue;
      }
      if (active.steps.some((s) => s.batch)) {
        batched ??= new Map();
        let items = batched.get(active);
        if (!items) batched.set(active, items = []);
        items.push({ point, index: i });
        continue;
      }
      let out: Point | null | Violation = point;
      for (let s = 0; s < active.steps.length; s++) {
        out = active.steps[s].point!(out);
        if (out === null || isViolation(out)) break;
      }
      this.#settle(state, active, { point, index: i }, out, resolve);
    }
    for (const [active, items] of batched ?? []) {
      await this.#runBatch(state, active, items, resolve);
    }
    if (state.failedAtomic.size > 0) this.#revertAtomic(state);
    return state;
  }

  async #runBatch(
    state: RunState,
    active: ActiveSchema,
    items: BatchItem[],
    resolve: (measurement: string) => ActiveSchema | undefined,
  ): Promise<void> {
    const originals = new Map(items.map((item) => [item.index, item.point]));
    let current = items;
    for (const step of active.steps) {
      if (step.point) {
        const next: BatchItem[] = [];
        for (const item of current) {
          const out = step.point(item.point);
          if (out === null || isViolation(out)) {
            this.#settle(
              state,
              active,
              { point: originals.get(item.index) ?? item.point, index: item.index },
              out,
              resolve,
            );
          } else next.push({ point: out, index: item.index });
        }
        current = next;
        continue;
      }
      try {
        const outcome = await step.batch!(current);
        for (const r of outcome.rejected) {
          this.#reject(state, active, r.index, originals.get(r.index)!, r.violation);
        }
        const survivors = new Set(outcome.items.map((item) => item.index));
        const rejectedNow = new Set(outcome.rejected.map((r) => r.index));
        for (const item of current) {
          if (!survivors.has(item.index) && !rejectedNow.has(item.index)) {
            this.#settle(state, active, item, null, resolve);
          }
        }
        current = outcome.items;
      } catch (error) {
        // The script failed its whole batch (threw, timed out, ran out of memory, returned
        // nonsense): every point still in flight is rejected with the reason.
        const kind = error instanceof ScriptError
          ? error.kind
          : String((error as { kind?: unknown }).kind ?? "threw");
        const violation: Violation = {
          rule: `script_${kind}`,
          key: step.name,
          expected: "the script to finish",
          got: (error as Error).message,
        };
        for (const item of current) {
          if (item.index >= 0) {
            this.#reject(state, active, item.index, originals.get(item.index)!, violation);
          }
        }
        return;
      }
    }
    for (const item of current) this.#settle(state, active, item, item.point, resolve);
  }

  /** Checks a transformed point (or records its drop or rejection). */
  #settle(
    state: RunState,
    active: ActiveSchema,
    input: BatchItem,
    out: Point | null | Violation,
    resolve: (measurement: string) => ActiveSchema | undefined,
  ): void {
    if (out === null) {
      if (input.index >= 0) state.dropped.push(input.index);
      if (!state.dry) this.#options.metrics?.add(DROPS, { measurement: active.measurement });
      return;
    }
    if (isViolation(out)) {
      this.#reject(state, active, input.index, input.point, out);
      return;
    }
    // A script may move a point to another measurement: that measurement's schema checks it.
    const schema = out.measurement === active.measurement ? active : resolve(out.measurement);
    if (!schema) {
      keep(state, out, active, input.index);
      return;
    }
    const checked = checkPoint(schema.schema, out);
    if (checked.violation) {
      this.#reject(state, schema, input.index, input.point, checked.violation);
      return;
    }
    const budget = schema.schema.source.max_series;
    if (budget !== undefined) {
      const violation = this.#admitSeries(state, schema.measurement, checked.point, budget);
      if (violation) {
        this.#reject(state, schema, input.index, input.point, violation);
        return;
      }
    }
    keep(state, checked.point, active, input.index);
  }

  /** Rejects the kept points of atomic schemas that had a rejection in this batch. */
  #revertAtomic(state: RunState): void {
    const kept: Point[] = [], keptFrom: (ActiveSchema | undefined)[] = [], keptIndex: number[] = [];
    const rejectedBy = new Map<ActiveSchema, number>();
    for (const r of state.rejected) {
      for (const a of state.failedAtomic) {
        if (a.measurement === r.measurement) rejectedBy.set(a, (rejectedBy.get(a) ?? 0) + 1);
      }
    }
    for (let i = 0; i < state.kept.length; i++) {
      const from = state.keptFrom[i];
      if (from === undefined || !state.failedAtomic.has(from)) {
        kept.push(state.kept[i]), keptFrom.push(from), keptIndex.push(state.keptIndex[i]);
        continue;
      }
      if (state.keptIndex[i] < 0) continue;
      const violation: Violation = {
        rule: "atomic",
        key: from.measurement,
        expected: "every point of the batch valid (atomic schema)",
        got: `${rejectedBy.get(from) ?? 1} rejected`,
      };
      state.rejected.push({
        index: state.keptIndex[i],
        reason: describeViolation(from.measurement, violation),
        measurement: from.measurement,
        violation,
      });
      if (!state.dry) {
        this.#options.metrics?.add(REJECTIONS, { measurement: from.measurement, rule: "atomic" });
      }
    }
    state.kept = kept;
    state.keptFrom = keptFrom;
    state.keptIndex = keptIndex;
    state.rejected.sort((a, b) => a.index - b.index);
  }

  #admitSeries(
    state: RunState,
    measurement: string,
    point: Point,
    budget: number,
  ): Violation | undefined {
    const id = `${state.database}\0${measurement}`;
    let known = this.#series.get(id);
    if (!known) {
      known = new Set(this.#options.stored?.seriesKeys(state.database, measurement) ?? []);
      this.#series.set(id, known);
    }
    const key = seriesKey(measurement, point.tags);
    if (known.has(key)) return undefined;
    let fresh = state.newSeries.get(id);
    if (fresh?.has(key)) return undefined;
    const count = known.size + (state.dry ? fresh?.size ?? 0 : 0);
    if (count >= budget) {
      return {
        rule: "max_series",
        key: "series",
        expected: `at most ${budget} series`,
        got: `new series ${key} beyond ${count}`,
      };
    }
    if (state.dry) {
      if (!fresh) state.newSeries.set(id, fresh = new Set());
      fresh.add(key);
    } else known.add(key);
    return undefined;
  }

  #reject(
    state: RunState,
    active: ActiveSchema,
    index: number,
    original: Point,
    violation: Violation,
  ): void {
    const reason = describeViolation(active.measurement, violation);
    if (active.schema.source.atomic) state.failedAtomic.add(active);
    if (index >= 0) {
      state.rejected.push({ index, reason, measurement: active.measurement, violation });
    }
    if (state.dry) return;
    this.#options.metrics?.add(REJECTIONS, {
      measurement: active.measurement,
      rule: violation.rule,
    });
    if (active.deadLetter) {
      state.deadLetters.push(deadLetterPoint(active.deadLetter, original, violation, reason));
      this.#options.metrics?.add(DEAD_LETTERS, { measurement: active.measurement });
    }
  }
}

function keep(state: RunState, point: Point, from: ActiveSchema | undefined, index: number): void {
  state.kept.push(point);
  state.keptFrom.push(from);
  state.keptIndex.push(index);
}

/**
 * The dead-letter copy of a rejected point: its tags plus `rule` and `rule_key`, and string
 * fields `reason` and `fields` (the original fields as line protocol would print them).
 */
export function deadLetterPoint(
  measurement: string,
  original: Point,
  violation: Violation,
  reason: string,
): Point {
  const tags: Tag[] = original.tags.filter((t) =>
    t.key !== "rule" && t.key !== "rule_key" && t.key !== "source_measurement"
  );
  tags.push({ key: "rule", value: violation.rule });
  if (violation.key) tags.push({ key: "rule_key", value: violation.key });
  tags.push({ key: "source_measurement", value: original.measurement });
  const fields: Field[] = [
    { key: "reason", type: FieldType.String, value: reason },
    { key: "fields", type: FieldType.String, value: original.fields.map(printField).join(",") },
  ];
  return {
    measurement,
    tags: sortTags(tags),
    fields,
    timeMs: original.timeMs,
    timeSubMs: original.timeSubMs,
  };
}

function printField(f: Field): string {
  switch (f.type) {
    case FieldType.Integer:
      return `${f.key}=${f.value}i`;
    case FieldType.Unsigned:
      return `${f.key}=${f.value}u`;
    case FieldType.String:
      return `${f.key}=${JSON.stringify(f.value)}`;
    default:
      return `${f.key}=${f.value}`;
  }
}
