/**
 * Sparse and dense columns read back the same values: a model check over series long enough
 * (past SHAPE_ROWS, with growth) that fields switch shape both ways while views are taken,
 * rows of one time merge and deletes drop rows, for all five field types.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { FieldType, type FieldValue } from "../core/mod.ts";
import { type ColumnView, SeriesColumns } from "./column.ts";

const TYPES: Record<string, FieldType> = {
  f: FieldType.Float,
  i: FieldType.Integer,
  u: FieldType.Unsigned,
  s: FieldType.String,
  b: FieldType.Boolean,
  g: FieldType.Float,
};
const FIELDS = Object.keys(TYPES);

function valueOf(field: string, n: number): FieldValue {
  switch (TYPES[field]) {
    case FieldType.Float:
      return n / 4 - 3;
    case FieldType.Integer:
      return n % 3 === 0 ? BigInt(n) * 10n ** 17n : -n;
    case FieldType.Unsigned:
      return n % 3 === 0 ? 2n ** 63n + BigInt(n) : n;
    case FieldType.String:
      return `s${n}`;
    default:
      return n % 2 === 0;
  }
}

function plain(view: ColumnView) {
  return {
    times: Array.from(view.timesMs, (ms, i) => ms * 2 + view.timesSubMs[i] * 2),
    values: Array.from(view.values as ArrayLike<FieldValue>),
  };
}

/** A phase: a run of points in which each field has its own chance of being named. */
const phaseArb = fc.record({
  points: fc.integer({ min: 1, max: 60 }),
  odds: fc.tuple(...FIELDS.map(() => fc.constantFrom(0, 0.05, 0.3, 0.9, 1))),
  times: fc.constantFrom(20, 400),
  then: fc.constantFrom("none", "view", "delete"),
});

Deno.test("series columns: fields switching sparse <-> dense read back every value exactly", () => {
  fc.assert(
    fc.property(
      fc.array(phaseArb, { minLength: 1, maxLength: 8 }),
      fc.integer(),
      (phases, seed) => {
        let rand = seed >>> 0;
        const next = () => (rand = (Math.imul(rand, 1103515245) + 12345) >>> 0) / 2 ** 32;
        const series = new SeriesColumns(1);
        const model = new Map<string, Map<number, FieldValue>>(FIELDS.map((f) => [f, new Map()]));
        const snapshots: { field: string; view: ColumnView; copy: ReturnType<typeof plain> }[] = [];
        let n = 0;
        const check = () => {
          for (const field of FIELDS) {
            const entries = [...model.get(field)!].sort((x, y) => x[0] - y[0]);
            const column = series.column(field);
            if (column === undefined) {
              assert.equal(entries.length, 0, field);
              continue;
            }
            const view = column.view();
            const copy = plain(view);
            assert.deepEqual(copy, {
              times: entries.map(([t]) => t),
              values: entries.map(([, v]) => v),
            }, field);
            snapshots.push({ field, view, copy });
          }
        };
        for (const phase of phases) {
          for (let p = 0; p < phase.points; p++) {
            const half = Math.floor(next() * phase.times);
            const row = series.addRow(half >> 1, (half & 1) / 2);
            FIELDS.forEach((field, at) => {
              if (next() >= phase.odds[at]) return;
              let value = valueOf(field, n++);
              const column = series.lookup(field, at) ?? series.add(field, TYPES[field], at);
              column.set(row, value);
              if (next() < 0.1) column.set(row, value = valueOf(field, n++)); // same field twice
              model.get(field)!.set(half, value);
            });
          }
          if (phase.then === "view") check();
          else if (phase.then === "delete") {
            const a = Math.floor(next() * phase.times), b = a + Math.floor(next() * 40);
            series.deleteRange({
              minMs: a >> 1,
              minSub: (a & 1) / 2,
              maxMs: b >> 1,
              maxSub: (b & 1) / 2,
            });
            for (const m of model.values()) {
              for (const t of m.keys()) {
                if (t >= a && t <= b) m.delete(t);
              }
            }
          }
        }
        check();
        for (const s of snapshots) assert.deepEqual(plain(s.view), s.copy, `${s.field} changed`);
      },
    ),
    { numRuns: 400 },
  );
});
