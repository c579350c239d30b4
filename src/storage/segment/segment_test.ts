import assert from "node:assert/strict";
import fc from "fast-check";
import { FieldType, type FieldValue } from "../../core/mod.ts";
import { denoFileSystem } from "../../runtime/mod.ts";
import type { ColumnView } from "../column.ts";
import { BlockCache } from "./block_cache.ts";
import { decodeBlock, parseIndex, SegmentReader } from "./reader.ts";
import { encodeSegment, SEGMENT_FOOTER_BYTES } from "./writer.ts";

/** Sorted unique instants with values of one type. */
const column = (type: FieldType, value: fc.Arbitrary<FieldValue>) =>
  fc.uniqueArray(
    fc.tuple(fc.integer({ min: -9e12, max: 9e12 }), fc.integer({ min: 0, max: 999_999 })),
    {
      minLength: 1,
      maxLength: 60,
      selector: ([ms, sub]) => `${ms}:${sub}`,
    },
  ).chain((times) => {
    times.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    return fc.array(value, { minLength: times.length, maxLength: times.length }).map(
      (values): ColumnView => ({
        type,
        length: times.length,
        timesMs: new Float64Array(times.map((t) => t[0])),
        timesSubMs: new Float64Array(times.map((t) => t[1])),
        values: type === FieldType.Float ? new Float64Array(values as number[]) : values,
      }),
    );
  });

const int64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((v) =>
  v >= -(2n ** 53n) + 1n && v <= 2n ** 53n - 1n ? Number(v) : v
);
const uint64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map((v) =>
  v <= 2n ** 53n - 1n ? Number(v) : v
);
const anyColumn = fc.oneof(
  column(FieldType.Float, fc.double()),
  column(FieldType.Integer, int64),
  column(FieldType.Unsigned, uint64),
  column(FieldType.String, fc.string()),
  column(FieldType.Boolean, fc.boolean()),
);

function same(a: ColumnView, b: ColumnView): void {
  assert.equal(a.length, b.length);
  assert.deepEqual([...a.timesMs], [...b.timesMs]);
  assert.deepEqual([...a.timesSubMs], [...b.timesSubMs]);
  for (let i = 0; i < a.length; i++) assert.ok(Object.is(a.values[i], b.values[i]), `value ${i}`);
}

Deno.test("segment: any columns round-trip through blocks and index (property)", () => {
  fc.assert(
    fc.property(
      fc.array(anyColumn, { minLength: 1, maxLength: 4 }),
      fc.integer({ min: 1, max: 17 }),
      (columns, blockValues) => {
        const input = columns.map((c, i) => ({
          key: `m,k=${i}`,
          measurement: "m",
          tags: [{ key: "k", value: String(i) }],
          fields: new Map([["f", c]]),
        }));
        const bytes = encodeSegment(input, { level: 0, blockValues });
        const view = new DataView(bytes.buffer);
        const footer = bytes.length - SEGMENT_FOOTER_BYTES;
        const indexOffset = view.getFloat64(footer, true);
        const index = parseIndex(bytes.subarray(indexOffset, footer));
        for (const s of input) {
          const f = index.get(s.key)!.fields.get("f")!;
          const parts = f.blocks.map((b) =>
            decodeBlock("mem", b, f.type, bytes.subarray(b.offset, b.offset + 4 + b.length))
          );
          f.blocks.forEach((b, k) => {
            const p = parts[k];
            assert.equal(b.count, p.length);
            assert.ok(Object.is(b.first, p.values[0]));
            assert.ok(Object.is(b.last, p.values[p.length - 1]));
            if (b.minTimeOfMin === undefined) return;
            // The earliest time of the minimum: no earlier value is equal.
            const at = p.timesMs.findIndex((ms, j) =>
              ms === b.minTimeOfMin!.ms && p.timesSubMs[j] === b.minTimeOfMin!.subMs
            );
            assert.ok(at >= 0, "time of min is a time of the block");
            const vals = [...p.values] as (number | bigint)[];
            if (vals.every((v) => v !== v)) return; // NaN only
            // deno-lint-ignore eqeqeq
            assert.ok(vals[at] == b.min, `value at time of min ${vals[at]} vs ${b.min}`);
            // deno-lint-ignore eqeqeq
            assert.ok(vals.slice(0, at).every((v) => v != b.min), "an earlier equal minimum");
          });
          const expected = s.fields.get("f")!;
          assert.equal(f.blocks.length, Math.ceil(expected.length / blockValues));
          let at = 0;
          for (const p of parts) {
            const slice: ColumnView = {
              type: expected.type,
              length: p.length,
              timesMs: expected.timesMs.subarray(at, at + p.length),
              timesSubMs: expected.timesSubMs.subarray(at, at + p.length),
              values: expected.values instanceof Float64Array
                ? expected.values.subarray(at, at + p.length)
                : expected.values.slice(at, at + p.length),
            };
            same(p, slice);
            at += p.length;
          }
          assert.equal(at, expected.length);
        }
      },
    ),
    { numRuns: 150 },
  );
});

Deno.test("segment: every flipped bit in a block is caught, never returned as data", async () => {
  const c: ColumnView = {
    type: FieldType.Float,
    length: 20,
    timesMs: new Float64Array(Array.from({ length: 20 }, (_, i) => 1000 + i * 10)),
    timesSubMs: new Float64Array(20),
    values: new Float64Array(Array.from({ length: 20 }, (_, i) => i * 0.1)),
  };
  const bytes = encodeSegment([{
    key: "m",
    measurement: "m",
    tags: [],
    fields: new Map([["f", c]]),
  }], {
    level: 0,
    blockValues: 20,
  });
  const dir = await Deno.makeTempDir();
  const path = `${dir}/x.seg`;
  await Deno.writeFile(path, bytes);
  const reader = await SegmentReader.open(denoFileSystem, path, new BlockCache(0));
  const f = reader.series.get("m")!.fields.get("f")!;
  const b = f.blocks[0];
  for (let at = b.offset; at < b.offset + 4 + b.length; at++) {
    for (let bit = 0; bit < 8; bit++) {
      const damaged = bytes.subarray(b.offset, b.offset + 4 + b.length).slice();
      damaged[at - b.offset] ^= 1 << bit;
      assert.throws(
        () => decodeBlock(path, b, f.type, damaged),
        (e: Error & { offset?: number }) => e.name === "CorruptionError" && e.offset === b.offset,
      );
    }
  }
  reader.close();
});
