import assert from "node:assert/strict";
import fc from "fast-check";
import { FieldType } from "../../core/mod.ts";
import type { ColumnView } from "../column.ts";
import { decodeBlock, newTimesMemo } from "./reader.ts";
import { openIndex } from "./series_index.ts";
import { encodeSegment, SEGMENT_FOOTER_BYTES, SEGMENT_VERSION } from "./writer.ts";

// Blocks of several fields decoded in any order through one memo: each answers its own times
// and values, and fields with the same timestamps share the decoded arrays.
Deno.test("decodeBlock: a times memo shares equal timestamps and never mixes different ones", () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 40 }),
      fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 40 }),
      fc.integer({ min: 1, max: 17 }),
      (gapsA, gapsB, blockValues) => {
        const col = (gaps: number[], scale: number): ColumnView => {
          let t = 1_700_000_000_000;
          const ms = Float64Array.from(gaps, (g) => (t += g * 1000));
          return {
            type: FieldType.Float,
            length: gaps.length,
            timesMs: ms,
            timesSubMs: new Float64Array(gaps.length),
            values: Float64Array.from(gaps, (g, i) => g * scale + i),
          };
        };
        // f and g share times; h has its own.
        const fields = new Map([
          ["f", col(gapsA, 1)],
          ["g", col(gapsA, 2)],
          ["h", col(gapsB, 3)],
        ]);
        const bytes = encodeSegment([{ key: "m", measurement: "m", tags: [], fields }], {
          level: 0,
          blockValues,
        });
        const view = new DataView(bytes.buffer);
        const footer = bytes.length - SEGMENT_FOOTER_BYTES;
        const index = openIndex(
          SEGMENT_VERSION,
          bytes.subarray(view.getFloat64(footer, true), footer),
        );
        const memo = newTimesMemo();
        const entry = index.lookup("m")!;
        const decoded = new Map<string, ColumnView[]>();
        for (const name of ["f", "h", "g", "f", "g"]) {
          const f = entry.fields.get(name)!;
          const blocks = f.blocks.map((b) =>
            decodeBlock("mem", b, f.type, bytes.subarray(b.offset, b.offset + 4 + b.length), memo)
          );
          const want = fields.get(name)!;
          const ms = blocks.flatMap((b) => [...b.timesMs]);
          const values = blocks.flatMap((b) => [...(b.values as Float64Array)]);
          assert.deepEqual(ms, [...want.timesMs], name);
          assert.deepEqual(values, [...(want.values as Float64Array)], name);
          decoded.set(name, blocks);
        }
        // Up to the memo's size, a field read after its twin reuses the twin's arrays.
        const f = decoded.get("f")!, g = decoded.get("g")!;
        if (f.length <= 2) f.forEach((b, k) => assert.equal(g[k].timesMs, b.timesMs));
      },
    ),
    { numRuns: 200 },
  );
});
