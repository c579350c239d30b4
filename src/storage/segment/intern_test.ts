import assert from "node:assert/strict";
import { FieldType } from "../../core/mod.ts";
import type { ColumnView } from "../column.ts";
import { IndexStrings } from "./_intern.ts";
import { openIndex } from "./series_index.ts";
import { encodeSegment, SEGMENT_FOOTER_BYTES, SEGMENT_VERSION } from "./writer.ts";

const floats = (v: number): ColumnView => ({
  type: FieldType.Float,
  length: 1,
  timesMs: new Float64Array([1000]),
  timesSubMs: new Float64Array([0]),
  values: new Float64Array([v]),
});

/** Three hosts of one region, each with fields idle and user. */
function threeHosts() {
  const input = ["a", "b", "c"].map((host, i) => ({
    key: `cpu,host=${host},region=eu`,
    measurement: "cpu",
    tags: [{ key: "host", value: host }, { key: "region", value: "eu" }],
    fields: new Map([["idle", floats(i)], ["user", floats(10 + i)]]),
  }));
  const bytes = encodeSegment(input, { level: 0, blockValues: 10 });
  const footer = bytes.length - SEGMENT_FOOTER_BYTES;
  const indexOffset = new DataView(bytes.buffer).getFloat64(footer, true);
  return openIndex(SEGMENT_VERSION, bytes.subarray(indexOffset, footer));
}

Deno.test("segment index: series of a segment share one frozen object per tag", () => {
  const index = threeHosts();
  // The tags as the series index reads them (entries not parsed yet), then the parsed entries.
  const listed: (readonly { key: string; value: string }[])[] = [];
  index.forEachTags("cpu", (_key, tags) => listed.push(tags));
  const series = index.seriesOf("cpu");
  assert.deepEqual(series.map((s) => s.tags.map((t) => `${t.key}=${t.value}`)), [
    ["host=a", "region=eu"],
    ["host=b", "region=eu"],
    ["host=c", "region=eu"],
  ]);
  const region = series[0].tags[1];
  for (const tags of [...series.map((s) => s.tags), ...listed]) assert.equal(tags[1], region);
  assert.notEqual(series[0].tags[0], series[1].tags[0]); // other hosts: other tags
  assert.ok(Object.isFrozen(region));
  assert.deepEqual(series.map((s) => [...s.fields.keys()]), [
    ["idle", "user"],
    ["idle", "user"],
    ["idle", "user"],
  ]);
  assert.deepEqual(series.map((s) => s.fields.get("user")!.blocks[0].first), [10, 11, 12]);
});

Deno.test("segment index strings: names and tags kept once, counted as reused", () => {
  const strings = new IndexStrings();
  const decoded = (s: string) => [...s].join(""); // a fresh string object, as a decode makes
  assert.equal(strings.name(decoded("usage")), "usage");
  assert.equal(strings.name(decoded("usage")), "usage");
  assert.equal(strings.reused, 1);
  const a = strings.tag(decoded("region"), decoded("eu"));
  assert.equal(strings.tag(decoded("region"), decoded("eu")), a);
  assert.notEqual(strings.tag(decoded("region"), decoded("us")), a);
  assert.deepEqual({ ...a }, { key: "region", value: "eu" });
  // usage, region; region=eu, region=us
  assert.equal(strings.size, 4);
  assert.equal(strings.reused, 2); // usage, region=eu
});

Deno.test("segment index strings: a tag key of many values stops keeping new ones", () => {
  const strings = new IndexStrings();
  for (let i = 0; i < 5000; i++) strings.tag("host", `h${i}`);
  assert.ok(strings.size <= 1 + 1024, `kept ${strings.size}`);
  const reused = strings.reused;
  const late = strings.tag("host", "h4999");
  assert.deepEqual({ ...late }, { key: "host", value: "h4999" }); // still right, not kept
  assert.equal(strings.reused, reused);
  assert.equal(strings.tag("host", "h1"), strings.tag("host", "h1")); // early ones still shared
});

Deno.test("segment index: blocks with their minimum or maximum at the same time share one frozen time", () => {
  // a and b: min at 2000 (stored), max at 1000 (the first value); c: one value at 3000.
  const column = (times: number[], values: number[]): ColumnView => ({
    type: FieldType.Float,
    length: times.length,
    timesMs: new Float64Array(times),
    timesSubMs: new Float64Array(times.length),
    values: new Float64Array(values),
  });
  const input = [
    ["a", column([1000, 2000], [5, 1])],
    ["b", column([1000, 2000], [6, 2])],
    ["c", column([3000], [7])],
  ].map(([host, col]) => ({
    key: `cpu,host=${host}`,
    measurement: "cpu",
    tags: [{ key: "host", value: host as string }],
    fields: new Map([["idle", col as ColumnView]]),
  }));
  const bytes = encodeSegment(input, { level: 0, blockValues: 10 });
  const footer = bytes.length - SEGMENT_FOOTER_BYTES;
  const indexOffset = new DataView(bytes.buffer).getFloat64(footer, true);
  const index = openIndex(SEGMENT_VERSION, bytes.subarray(indexOffset, footer));
  const [a, b, c] = index.seriesOf("cpu").map((s) => s.fields.get("idle")!.blocks[0]);
  assert.deepEqual([a.minTimeOfMin, a.minTimeOfMax], [{ ms: 2000, subMs: 0 }, {
    ms: 1000,
    subMs: 0,
  }]);
  assert.deepEqual([b.min, b.max], [2, 6]);
  assert.equal(b.minTimeOfMin, a.minTimeOfMin);
  assert.equal(b.minTimeOfMax, a.minTimeOfMax);
  assert.ok(Object.isFrozen(a.minTimeOfMin));
  assert.deepEqual([c.minTimeOfMin, c.minTimeOfMax], [{ ms: 3000, subMs: 0 }, {
    ms: 3000,
    subMs: 0,
  }]);
  assert.equal(c.minTimeOfMin, c.minTimeOfMax);
});

Deno.test("segment index strings: a time is shared only when ms and sub-ms are equal", () => {
  const strings = new IndexStrings();
  const t = strings.time(1000, 5);
  assert.equal(strings.time(1000, 5), t);
  assert.deepEqual(strings.time(1000, 6), { ms: 1000, subMs: 6 });
  assert.deepEqual(strings.time(1064, 5), { ms: 1064, subMs: 5 }); // same slot, other time
  assert.deepEqual(strings.time(-64, 0), { ms: -64, subMs: 0 });
  assert.deepEqual(strings.time(1000, 5), { ms: 1000, subMs: 5 });
});
