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
