import assert from "node:assert/strict";
import { FieldType, type Point, seriesKey, type Tag } from "../core/mod.ts";
import { DatabaseState } from "./catalog.ts";
import { indexReplayedPoints } from "./replayed_points.ts";
import { decodeIndexedWriteBatch, encodeWriteBatch } from "./wal/mod.ts";

/**
 * Points of two measurements of `hosts` hosts over `steps` times, as a parser hands them (one
 * series' points share their Tag objects).
 */
function points(hosts: number, steps: number): Point[] {
  const tags: Tag[][] = Array.from({ length: hosts }, (_, h) => [{ key: "host", value: `h${h}` }]);
  const out: Point[] = [];
  for (let t = 0; t < steps; t++) {
    for (let j = 0; j < hosts; j++) {
      const h = (j * 7 + t * 3) % hosts; // each step in its own order of hosts
      out.push({
        measurement: "cpu",
        tags: tags[h],
        fields: [{ key: "user", type: FieldType.Float, value: t }],
        timeMs: t * 1000 + j,
        timeSubMs: 0,
      });
      out.push({
        measurement: "mem",
        tags: tags[h],
        // A shape that conflicts with the catalog on one point in three: it registers nothing.
        fields: [{
          key: "used",
          type: t % 3 === 0 ? FieldType.Integer : FieldType.Float,
          value: t % 3 === 0 ? 7 : 0.5,
        }],
        timeMs: t * 1000 + j,
        timeSubMs: 0,
      });
    }
  }
  return out;
}

/** The points as a replica reads them back: decoded from the series layout, with indexes. */
function replayed(all: Point[]) {
  const bytes = encodeWriteBatch({ database: "db", retentionPolicy: "autogen", points: all });
  return decodeIndexedWriteBatch(bytes, "x", 0);
}

/** A catalog that counts the series it is asked to index and the points it checks. */
function countingCatalog() {
  const db = new DatabaseState("db", 1);
  db.addDefaultPolicy();
  db.fieldTypes.set("mem", new Map([["used", FieldType.Float]]));
  const calls = { indexSeries: 0, checkFieldTypes: 0 };
  const indexSeries = db.indexSeries.bind(db), checkFieldTypes = db.checkFieldTypes.bind(db);
  db.indexSeries = (...args) => (calls.indexSeries++, indexSeries(...args));
  db.checkFieldTypes = (p) => (calls.checkFieldTypes++, checkFieldTypes(p));
  return { db, calls };
}

Deno.test("replayed points: with point indexes, series and field types are worked out once per series and shape, as per point", () => {
  const { batch, indexes } = replayed(points(20, 5));
  const cutoffMs = 2005; // the first two steps and five hosts of the third expired
  const perPoint = countingCatalog(), perSeries = countingCatalog();
  const expected = indexReplayedPoints(perPoint.db, batch.points, null, cutoffMs);
  const got = indexReplayedPoints(perSeries.db, batch.points, indexes, cutoffMs);
  // The same points, keys and catalog as point by point.
  assert.equal(got.points.length, 20 * 2 * 3 - 10);
  assert.ok(got.points.every((p) => p.timeMs >= cutoffMs));
  assert.deepEqual(got, expected);
  assert.deepEqual(got.keys, got.points.map((p) => seriesKey(p.measurement, p.tags)));
  assert.deepEqual(perSeries.db.fieldTypes, perPoint.db.fieldTypes);
  assert.equal(perSeries.db.series.size, 40);
  assert.equal(perPoint.db.series.size, 40);
  // Point by point: every point twice; with indexes: 40 series, 3 measurement-shape pairs.
  assert.deepEqual(perPoint.calls, { indexSeries: 110, checkFieldTypes: 110 });
  assert.deepEqual(perSeries.calls, { indexSeries: 40, checkFieldTypes: 3 });
});

Deno.test("replayed points: a conflicting shape registers none of its fields, once or every time", () => {
  const conflicting: Point = {
    measurement: "mem",
    tags: [],
    fields: [
      { key: "free", type: FieldType.Float, value: 1 },
      { key: "used", type: FieldType.Integer, value: 1 },
    ],
    timeMs: 0,
    timeSubMs: 0,
  };
  const { batch, indexes } = replayed([conflicting, { ...conflicting, timeMs: 1 }]);
  const { db } = countingCatalog();
  indexReplayedPoints(db, batch.points, indexes, -Infinity);
  assert.deepEqual([...db.fieldTypes.get("mem")!], [["used", FieldType.Float]]);
});
