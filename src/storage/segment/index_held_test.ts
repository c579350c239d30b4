/**
 * What a parsed segment index holds per series at high cardinality: every series parsed (as a
 * GROUP BY over all of them leaves it) is kept for as long as the segment is open. Measured on a
 * real index of 20,000 series of one float field and one point (the bench/high_card_* workload).
 */
import assert from "node:assert/strict";
import v8 from "node:v8";
import vm from "node:vm";
import { FieldType } from "../../core/mod.ts";
import { openIndex } from "./series_index.ts";
import { encodeSegment, SEGMENT_FOOTER_BYTES, SEGMENT_VERSION } from "./writer.ts";

v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as () => void;

function liveHeap(): number {
  gc();
  return Deno.memoryUsage().heapUsed;
}

const SERIES = 20_000;
const T0 = 1_672_531_200_000;

function indexBytes(): Uint8Array {
  const input = Array.from({ length: SERIES }, (_, i) => {
    const tags = [{ key: "host", value: `host_${i}` }, { key: "region", value: `r${i % 9}` }];
    return {
      key: `hc,host=host_${i},region=r${i % 9}`,
      measurement: "hc",
      tags,
      fields: new Map([["v", {
        type: FieldType.Float,
        length: 1,
        timesMs: new Float64Array([T0]),
        timesSubMs: new Float64Array([0]),
        values: new Float64Array([(i % 1000) + 0.5]),
      }]]),
    };
  });
  input.sort((a, b) => (a.key < b.key ? -1 : 1));
  const bytes = encodeSegment(input, { level: 0 });
  const footer = bytes.length - SEGMENT_FOOTER_BYTES;
  const at = new DataView(bytes.buffer).getFloat64(footer, true);
  return bytes.slice(at, footer);
}

Deno.test("a segment index parsed whole holds at most 650 bytes per series of one field", () => {
  const bytes = indexBytes();
  const before = liveHeap();
  const index = openIndex(SEGMENT_VERSION, bytes);
  let values = 0;
  for (const s of index.seriesOf("hc")) values += s.fields.get("v")!.blocks[0].count;
  const held = (liveHeap() - before) / SERIES;
  assert.equal(values, SERIES);
  assert.equal(index.lookup("hc,host=host_7,region=r7")?.fields.get("v")?.blocks[0].last, 7.5);
  // Key, tags, the entry, its field and its block's statistics: 634 bytes measured; 712 when a
  // one-field series held a field array and its entry the four parts its index shares.
  assert.ok(held <= 650, `${held.toFixed(0)} bytes held per series`);
});
