/**
 * The `script` step: a user's JavaScript/TypeScript module whose default export maps a batch of
 * points, run in a sandbox this room receives as an interface (src/runtime's worker host: a
 * Deno Worker with every permission denied, a time limit per batch, restarted after a failure).
 *
 * The script's contract:
 *
 * ```ts
 * export default function (points: ScriptPoint[]): ScriptPoint[] | { points: ScriptPoint[]; reject?: { index: number; reason: string }[] } {
 *   // modify, add (no `index`), drop (leave out) or reject (by index) points
 * }
 * ```
 *
 * A ScriptPoint is `{ index, measurement, tags: {k: v}, fields: {k: v}, types: {k: "integer"|...},
 * timeMs, timeSubMs }`. A field's type comes from `types` when given, else from its value
 * (bigint: integer, number: float unless it was an integer field and still is whole).
 * @module
 */
import {
  type Field,
  FieldType,
  type FieldValue,
  type Point,
  sortTags,
  type Tag,
} from "../core/mod.ts";
import type { FieldTypeName } from "./model.ts";
import type { BatchItem, BatchOutcome, CompiledStep } from "./transform.ts";
import { FIELD_TYPE_BY_NAME, type Violation } from "./validate.ts";

/** A point as a script sees it (structured-clone friendly). */
export interface ScriptPoint {
  /** The input point's index; absent on points the script adds. */
  index?: number;
  measurement: string;
  tags: Record<string, string>;
  fields: Record<string, FieldValue>;
  types?: Record<string, FieldTypeName>;
  timeMs: number;
  timeSubMs?: number;
}

/** A sandbox running one script. */
export interface ScriptSandbox {
  /**
   * Calls the script's default export with `batch`; resolves with what it returned.
   * @throws {ScriptError} when the script throws, times out, or breaks a limit; the sandbox
   * restarts itself for the next batch.
   */
  run(batch: ScriptPoint[], options: { timeoutMs: number }): Promise<unknown>;
  /** Stops the sandbox for good. */
  close(): void;
}

/** Creates a sandbox for a script's source. */
export type ScriptSandboxFactory = (script: {
  name: string;
  source: string;
  typescript: boolean;
}) => ScriptSandbox;

/**
 * A script failed its batch: it threw, ran out of time or memory, returned nonsense, or could
 * not start because the node runs as many sandboxes as it may (`limit`).
 */
export class ScriptError extends Error {
  constructor(
    message: string,
    readonly kind: "threw" | "timeout" | "memory" | "invalid" | "limit" = "threw",
  ) {
    super(message);
    this.name = "ScriptError";
  }
}

const TYPE_NAMES: Record<FieldType, FieldTypeName> = {
  1: "float",
  2: "integer",
  3: "unsigned",
  4: "string",
  5: "boolean",
};

/** A point as its script sees it. */
export function toScriptPoint(point: Point, index: number): ScriptPoint {
  const tags: Record<string, string> = {};
  for (const t of point.tags) tags[t.key] = t.value;
  const fields: Record<string, FieldValue> = {};
  const types: Record<string, FieldTypeName> = {};
  for (const f of point.fields) {
    fields[f.key] = f.value;
    if (f.type !== FieldType.Float) types[f.key] = TYPE_NAMES[f.type];
  }
  return {
    index,
    measurement: point.measurement,
    tags,
    fields,
    types,
    timeMs: point.timeMs,
    timeSubMs: point.timeSubMs,
  };
}

/**
 * A point back from a script.
 * @throws {ScriptError} (invalid) naming what is wrong with it.
 */
export function fromScriptPoint(sp: unknown, original?: Point): Point {
  if (sp === null || typeof sp !== "object") throw invalid("a point must be an object", sp);
  const o = sp as ScriptPoint;
  const measurement = o.measurement ?? original?.measurement;
  if (typeof measurement !== "string" || measurement === "") {
    throw invalid("measurement must be a non-empty string", o.measurement);
  }
  const tags = original && sameTags(o.tags, original.tags) ? original.tags : readTags(o.tags);
  const fields: Field[] = [];
  for (const [key, value] of Object.entries(o.fields ?? {})) {
    if (value === null || value === undefined) continue;
    const declared = o.types?.[key];
    let type: FieldType;
    if (declared !== undefined) {
      type = FIELD_TYPE_BY_NAME[declared];
      if (type === undefined) throw invalid(`types.${key} is not a field type`, declared);
    } else if (typeof value === "bigint") type = FieldType.Integer;
    else if (typeof value === "number") type = FieldType.Float;
    else if (typeof value === "string") type = FieldType.String;
    else if (typeof value === "boolean") type = FieldType.Boolean;
    else throw invalid(`field ${key} has an unsupported value`, value);
    if (!valueFits(value, type)) throw invalid(`field ${key} is not a ${TYPE_NAMES[type]}`, value);
    fields.push({
      key,
      type,
      value: typeof value === "bigint" && value >= -(2n ** 53n) + 1n && value <= 2n ** 53n - 1n
        ? Number(value)
        : value,
    });
  }
  if (fields.length === 0) throw invalid("a point needs at least one field", o.fields);
  const timeMs = o.timeMs ?? original?.timeMs;
  const timeSubMs = o.timeSubMs ?? (o.timeMs === undefined ? original?.timeSubMs : 0) ?? 0;
  if (typeof timeMs !== "number" || !Number.isFinite(timeMs)) {
    throw invalid("timeMs must be a finite number", timeMs);
  }
  const wholeMs = Math.floor(timeMs);
  return {
    measurement,
    tags,
    fields,
    timeMs: wholeMs,
    timeSubMs: timeSubMs + Math.round((timeMs - wholeMs) * 1e6),
  };
}

/** Whether a script left a point's tags as they were (then the sorted originals are reused). */
function sameTags(tags: Record<string, string> | undefined, original: readonly Tag[]): boolean {
  if (tags === null || typeof tags !== "object") return original.length === 0;
  let n = 0;
  for (const key in tags) {
    const t = original[n++];
    if (t === undefined || t.key !== key || t.value !== tags[key]) return false;
  }
  return n === original.length;
}

function readTags(record: Record<string, string> | undefined): Tag[] {
  const tags: Tag[] = [];
  for (const [key, value] of Object.entries(record ?? {})) {
    if (typeof value !== "string") throw invalid(`tag ${key} must be a string`, value);
    if (value !== "") tags.push({ key, value });
  }
  return sortTags(tags);
}

function valueFits(value: unknown, type: FieldType): boolean {
  switch (type) {
    case FieldType.Float:
      return typeof value === "number";
    case FieldType.Integer:
      return (typeof value === "number" && Number.isSafeInteger(value)) ||
        (typeof value === "bigint" && value >= -(2n ** 63n) && value < 2n ** 63n);
    case FieldType.Unsigned:
      return (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) ||
        (typeof value === "bigint" && value >= 0n && value < 2n ** 64n);
    case FieldType.String:
      return typeof value === "string";
    case FieldType.Boolean:
      return typeof value === "boolean";
  }
  return false;
}

function invalid(why: string, seen: unknown): ScriptError {
  let text: string;
  try {
    text = JSON.stringify(seen, (_k, v) => (typeof v === "bigint" ? `${v}n` : v)) ?? String(seen);
  } catch {
    text = String(seen);
  }
  return new ScriptError(
    `script returned an invalid point: ${why} (got ${text.slice(0, 200)})`,
    "invalid",
  );
}

/** Compiles a script step over a sandbox from `factory`. */
export function compileScriptStep(
  factory: ScriptSandboxFactory,
  script: { name: string; source: string; typescript: boolean; timeoutMs: number },
): Omit<CompiledStep, "name"> {
  const sandbox = factory(script);
  return {
    batch: (items) => runScript(sandbox, script.name, items, script.timeoutMs),
    close: () => sandbox.close(),
  };
}

async function runScript(
  sandbox: ScriptSandbox,
  name: string,
  items: BatchItem[],
  timeoutMs: number,
): Promise<BatchOutcome> {
  const input = items.map((item, i) => toScriptPoint(item.point, i));
  const result = await sandbox.run(input, { timeoutMs });
  let points: unknown[];
  let reject: unknown[] = [];
  if (Array.isArray(result)) points = result;
  else if (
    result !== null && typeof result === "object" &&
    Array.isArray((result as { points?: unknown }).points)
  ) {
    points = (result as { points: unknown[] }).points;
    const r = (result as { reject?: unknown }).reject;
    if (r !== undefined && !Array.isArray(r)) throw invalid("reject must be an array", r);
    reject = r ?? [];
  } else {
    throw new ScriptError(
      `script ${name} must return an array of points or {points, reject}, got ${typeof result}`,
      "invalid",
    );
  }
  const out: BatchItem[] = [];
  for (const sp of points) {
    const at = (sp as ScriptPoint | null)?.index;
    const original = typeof at === "number" ? items[at] : undefined;
    out.push({
      point: fromScriptPoint(sp, original?.point),
      index: original ? original.index : -1,
    });
  }
  const rejected: { index: number; violation: Violation }[] = [];
  for (const r of reject) {
    const { index, reason } = (r ?? {}) as { index?: unknown; reason?: unknown };
    if (typeof index !== "number" || !items[index]) {
      throw invalid("reject entries need the index of an input point", r);
    }
    rejected.push({
      index: items[index].index,
      violation: {
        rule: "script",
        key: name,
        expected: "accepted by the script",
        got: String(reason ?? "rejected"),
      },
    });
  }
  return { items: out, rejected };
}
