/**
 * Series whose fields the writer loads when it reaches them (compaction's merge, one series
 * decoded at a time): the file is byte for byte the one written from the same series held
 * whole, with the series that load nothing left out.
 */
import assert from "node:assert/strict";
import { FieldType } from "../../core/mod.ts";
import type { ColumnView } from "../column.ts";
import { encodeSegment, encodeSegmentYielding, type SegmentSeriesInput } from "./writer.ts";

const floats = (start: number, n: number): ColumnView => ({
  type: FieldType.Float,
  length: n,
  timesMs: Float64Array.from({ length: n }, (_, i) => start + i * 10),
  timesSubMs: new Float64Array(n),
  values: Float64Array.from({ length: n }, (_, i) => start + i / 4),
});

/** Series of three measurements; `empty` names the ones that load nothing. */
function series(empty: Set<string>): SegmentSeriesInput[] {
  const out: SegmentSeriesInput[] = [];
  for (const m of ["cpu", "disk", "mem"]) {
    for (let h = 0; h < 4; h++) {
      const key = `${m},host=h${h}`;
      const fields = empty.has(key)
        ? new Map<string, ColumnView>()
        : new Map([["a", floats(h * 1000, 30 + h)], ["b", floats(h * 7, 5)]]);
      out.push({ key, measurement: m, tags: [{ key: "host", value: `h${h}` }], fields });
    }
  }
  return out;
}

Deno.test("writer: series loaded when reached give the file of the same series held whole, empty ones left out", async () => {
  // The first and last series, a whole measurement (disk) and the last of cpu load nothing.
  const empty = new Set([
    "cpu,host=h0",
    "cpu,host=h3",
    ...[0, 1, 2, 3].map((h) => `disk,host=h${h}`),
    "mem,host=h3",
  ]);
  const held = series(empty).filter((s) => s.fields.size > 0);
  const loaded: string[] = [];
  const lazy = series(empty).reverse().map((s): SegmentSeriesInput => ({
    key: s.key,
    measurement: s.measurement,
    tags: s.tags,
    fields: new Map(),
    load: () => {
      loaded.push(s.key);
      return Promise.resolve(s.fields);
    },
  }));
  const expected = encodeSegment(held, { level: 2, blockValues: 8 });
  const got = await encodeSegmentYielding(lazy, { level: 2, blockValues: 8, yieldEvery: 3 });
  assert.deepEqual(got, expected);
  // Each series loaded once, in the file's order.
  assert.deepEqual(loaded, series(empty).map((s) => s.key));
  await assert.rejects(
    () => Promise.resolve().then(() => encodeSegment(lazy, { level: 2 })),
    /needs encodeSegmentYielding/,
  );
});
