import assert from "node:assert/strict";
import fc from "fast-check";
import { FieldType, type FieldValue } from "../core/mod.ts";
import { type ColumnView, type RowTimeRange, SeriesColumns } from "./column.ts";

/** Plain arrays of a view, for deepEqual. */
function plain(view: ColumnView) {
  return {
    times: Array.from(view.timesMs, (ms, i) => [ms, view.timesSubMs[i]]),
    values: Array.from(view.values as ArrayLike<FieldValue>),
  };
}

const FIELDS = ["a", "b", "c"] as const;
const TYPES = { a: FieldType.Float, b: FieldType.Integer, c: FieldType.String } as const;

type Op =
  | { kind: "point"; ms: number; sub: number; fields: { key: string; value: number }[] }
  | { kind: "view" }
  | { kind: "delete"; range: RowTimeRange };

const timeArb = fc.record({ ms: fc.integer({ min: 0, max: 6 }), sub: fc.constantFrom(0, 0.5) });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant("point" as const),
      ms: timeArb.map((t) => t.ms),
      sub: timeArb.map((t) => t.sub),
      // Repeats allowed: the same field twice in one point, last value wins.
      fields: fc.array(
        fc.record({ key: fc.constantFrom(...FIELDS), value: fc.integer({ min: -99, max: 99 }) }),
        { minLength: 1, maxLength: 4 },
      ),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("view" as const) }) },
  {
    weight: 1,
    arbitrary: fc.tuple(timeArb, timeArb).map(([x, y]) => {
      const [lo, hi] = x.ms * 2 + x.sub <= y.ms * 2 + y.sub ? [x, y] : [y, x];
      return {
        kind: "delete" as const,
        range: { minMs: lo.ms, minSub: lo.sub, maxMs: hi.ms, maxSub: hi.sub },
      };
    }),
  },
);

function typed(key: string, value: number): FieldValue {
  return key === "c" ? `s${value}` : value;
}

Deno.test("series columns: every field's view is its writes sorted by time, the last winning", () => {
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 60 }), (ops) => {
      const series = new SeriesColumns();
      // The model: per field, time -> value, the last write winning.
      const model = new Map<string, Map<number, FieldValue>>(FIELDS.map((f) => [f, new Map()]));
      const snapshots: { field: string; view: ColumnView; copy: ReturnType<typeof plain> }[] = [];
      const check = () => {
        for (const field of FIELDS) {
          const column = series.fields.get(field);
          const entries = [...model.get(field)!].sort((x, y) => x[0] - y[0]);
          const expected = {
            times: entries.map(([t]) => [Math.floor(t), t % 1]),
            values: entries.map(([, v]) => v),
          };
          if (!column) {
            assert.equal(entries.length, 0);
            continue;
          }
          const view = column.view();
          assert.equal(view.length, entries.length);
          assert.deepEqual(plain(view), expected, field);
          snapshots.push({ field, view, copy: plain(view) });
        }
      };
      for (const op of ops) {
        if (op.kind === "view") check();
        else if (op.kind === "delete") {
          series.deleteRange(op.range);
          const lo = op.range.minMs + op.range.minSub, hi = op.range.maxMs + op.range.maxSub;
          for (const m of model.values()) {
            for (const t of m.keys()) if (t >= lo && t <= hi) m.delete(t);
          }
        } else {
          const row = series.addRow(op.ms, op.sub);
          op.fields.forEach(({ key, value }, at) => {
            const column = series.lookup(key, at) ?? series.add(key, TYPES[key as "a"], at);
            column.set(row, typed(key, value));
            model.get(key)!.set(op.ms + op.sub, typed(key, value));
          });
        }
      }
      check();
      // Views taken along the way never changed under their reader.
      for (const s of snapshots) assert.deepEqual(plain(s.view), s.copy, s.field);
    }),
    { numRuns: 500 },
  );
});

Deno.test("series columns: in-order dense fields share the series' times", () => {
  const series = new SeriesColumns();
  for (let t = 0; t < 100; t++) {
    const row = series.addRow(t, 0);
    for (const [at, key] of ["a", "b"].entries()) {
      (series.lookup(key, at) ?? series.add(key, FieldType.Float, at)).set(row, t * 2);
    }
  }
  const a = series.fields.get("a")!.view(), b = series.fields.get("b")!.view();
  assert.equal(a.length, 100);
  // One pair of time views for every dense field (a flush takes a view of each field).
  assert.equal(a.timesMs, b.timesMs);
  assert.equal(a.timesSubMs, b.timesSubMs);
  assert.deepEqual(Array.from(a.values as Float64Array).slice(0, 3), [0, 2, 4]);
  // 100 rows of two floats: 16 bytes of time and 8 per value, in arrays of 128 rows.
  assert.equal(series.estimatedBytes, 128 * (16 + 2 * 8));
  // A new row makes new time views; the old ones keep their length.
  (series.lookup("a", 0)!).set(series.addRow(100, 0), 1);
  const a2 = series.fields.get("a")!.view();
  assert.notEqual(a2.timesMs, a.timesMs);
  assert.equal(a.timesMs.length, 100);
  assert.equal(a2.timesMs[100], 100);
});

Deno.test("series columns: interleaved runs (two writers) sort stably, the last write wins", () => {
  const series = new SeriesColumns();
  const write = (t: number, v: number) => {
    const row = series.addRow(t, 0);
    (series.lookup("v", 0) ?? series.add("v", FieldType.Float, 0)).set(row, v);
  };
  for (let t = 10; t < 20; t++) write(t, t);
  for (let t = 0; t < 12; t++) write(t, 100 + t); // rewrites 10 and 11
  for (let t = 20; t < 25; t++) write(t, t);
  const view = series.fields.get("v")!.view();
  assert.deepEqual(Array.from(view.timesMs), Array.from({ length: 25 }, (_, t) => t));
  assert.deepEqual(
    Array.from(view.values as Float64Array),
    Array.from({ length: 25 }, (_, t) => (t < 12 ? 100 + t : t)),
  );
});

Deno.test("series columns: many fields (Map index), growth, views taken before keep their values", () => {
  const series = new SeriesColumns(2);
  const names = Array.from({ length: 20 }, (_, k) => `f${k}`);
  const before: ColumnView[] = [];
  for (let t = 0; t < 40; t++) {
    const row = series.addRow(t, 0);
    names.forEach((key, at) => {
      (series.lookup(key, at) ?? series.add(key, FieldType.Float, at)).set(row, t * 100 + at);
    });
    (series.column("s") ?? series.add("s", FieldType.String)).set(row, `v${t}`);
    if (t === 2) { for (const key of names) before.push(series.column(key)!.view()); }
  }
  assert.deepEqual([...series.fields.keys()], [...names, "s"]);
  for (let at = 0; at < names.length; at++) {
    assert.deepEqual(plain(before[at]).values, [at, 100 + at, 200 + at]);
    const view = series.column(names[at])!.view();
    assert.deepEqual(plain(view).values, Array.from({ length: 40 }, (_, t) => t * 100 + at));
  }
  assert.equal(series.column("s")!.view().values[39], "v39");
  assert.equal(series.column("nope"), undefined);
});

/** Writes `rows` points, point r naming `perRow(r)` fields; returns bytes held per value. */
function bytesPerValue(rows: number, perRow: (r: number) => string[]): number {
  const series = new SeriesColumns(1);
  let values = 0;
  for (let r = 0; r < rows; r++) {
    const row = series.addRow(r, 0);
    perRow(r).forEach((key, at) => {
      (series.lookup(key, at) ?? series.add(key, FieldType.Float, at)).set(row, r);
      values++;
    });
  }
  // Every field reads back its value (sparse and dense alike).
  for (const [name, column] of series.fields) {
    assert.ok(column.view().length >= 1, name);
  }
  return series.estimatedBytes / values;
}

Deno.test("series columns: a wide sparse series holds memory linear in its values", () => {
  // Each point names 100 new fields (a body of 60k distinct field names in 600 lines): dense
  // columns held rows x fields doubles, 490 MB for 60k values.
  const fresh = bytesPerValue(600, (r) => Array.from({ length: 100 }, (_, k) => `f${r}_${k}`));
  assert.ok(fresh < 64, `fresh fields per point: ${fresh.toFixed(0)} bytes per value`);
  // The first point names 20k fields, the next 2000 one each: the 20k dense columns were kept
  // at the series' capacity (2048 rows x 20k doubles).
  const wideFirst = bytesPerValue(
    2001,
    (r) => r === 0 ? Array.from({ length: 20_000 }, (_, k) => `w${k}`) : ["w0"],
  );
  assert.ok(wideFirst < 64, `a wide first point: ${wideFirst.toFixed(0)} bytes per value`);
  // A field born at the second point and in every point after turns dense, and reads the same.
  const series = new SeriesColumns(1);
  for (let r = 0; r < 100; r++) {
    const row = series.addRow(r, 0);
    (series.column("a") ?? series.add("a", FieldType.Float)).set(row, r);
    if (r > 0) (series.column("b") ?? series.add("b", FieldType.Float)).set(row, -r);
  }
  const a = series.column("a")!.view(), b = series.column("b")!.view();
  assert.equal(b.length, 99);
  assert.equal(a.length, 100);
  assert.deepEqual(Array.from(b.timesMs), Array.from(a.timesMs).slice(1));
  assert.deepEqual(
    Array.from(b.values as Float64Array),
    Array.from({ length: 99 }, (_, r) => -r - 1),
  );
});
