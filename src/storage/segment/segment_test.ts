import assert from "node:assert/strict";
import fc from "fast-check";
import { crc32c, FieldType, type FieldValue } from "../../core/mod.ts";
import { denoFileSystem } from "../../runtime/mod.ts";
import type { ColumnView } from "../column.ts";
import { BlockCache } from "./block_cache.ts";
import { decodeBlock, SegmentReader } from "./reader.ts";
import { compareHashes, HashSet64, seriesKeyHash } from "./series_hash.ts";
import { type BlockMeta, openIndex, type SegmentField } from "./series_index.ts";
import { readFieldsV3, writeFieldsV3 } from "./block_entry.ts";
import {
  ByteReader,
  ByteWriter,
  computeBlockStats,
  encodeFloats,
  encodeTimestamps,
} from "../codecs/mod.ts";
import { encodeSegment, SEGMENT_FOOTER_BYTES, SEGMENT_VERSION } from "./writer.ts";

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
        const index = openIndex(SEGMENT_VERSION, bytes.subarray(indexOffset, footer));
        assert.equal(index.seriesCount, input.length);
        assert.equal(index.valueCount, columns.reduce((n, c) => n + c.length, 0));
        for (const s of input) {
          assert.ok(index.has(s.key));
          const f = index.lookup(s.key)!.fields.get("f")!;
          const parts = f.blocks.map((b) =>
            decodeBlock("mem", b, f.type, bytes.subarray(b.offset, b.offset + 4 + b.length))
          );
          f.blocks.forEach((b, k) => {
            const p = parts[k];
            assert.equal(b.count, p.length);
            assert.ok(Object.is(b.first, p.values[0]));
            assert.ok(Object.is(b.last, p.values[p.length - 1]));
            // Every statistic read back from the index is what the decoded block gives.
            const st = computeBlockStats({ ...p, values: p.values });
            assert.deepEqual(
              [b.minTimeMs, b.minTimeSubMs, b.maxTimeMs, b.maxTimeSubMs],
              [st.minTimeMs, st.minTimeSubMs, st.maxTimeMs, st.maxTimeSubMs],
            );
            for (const k of ["min", "max", "sum"] as const) {
              const want = typeof st[k] === "bigint" ? safeOr(st[k] as bigint) : st[k];
              assert.ok(Object.is(b[k], want), `${k}: ${b[k]} vs ${want}`);
            }
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

const fixture = new URL("./testdata/v1.seg", import.meta.url).pathname;

Deno.test("segment: a version 1 file (written by the version 1 code) is still read", async () => {
  const reader = await SegmentReader.open(denoFileSystem, fixture, new BlockCache(1000));
  try {
    assert.equal(reader.version, 1);
    assert.equal(reader.level, 1);
    assert.equal(reader.seriesCount, 3);
    assert.equal(reader.valueCount, 9);
    assert.deepEqual(reader.measurements().sort(), ["cpu", "mem"]);
    assert.deepEqual(reader.seriesOf("cpu").map((s) => s.key), ["cpu,host=a", "cpu,host=b"]);
    assert.ok(reader.hasSeries("mem,host=ä") && !reader.hasSeries("mem,host=a"));
    assert.equal(reader.seriesHashes().length, 6);
    const count = reader.lookup("cpu,host=a")!.fields.get("count")!;
    const block = await reader.readBlock(count.type, count.blocks[0]);
    assert.deepEqual([...block.timesMs], [1000, 2000]);
    assert.deepEqual([...block.timesSubMs], [7, 7]);
    assert.deepEqual(block.values, [1, 2n ** 60n]);
    const usage = reader.series.get("cpu,host=a")!.fields.get("usage")!;
    assert.deepEqual(usage.blocks.map((b) => b.count), [2, 1]);
    assert.equal(usage.blocks[1].first, -1);
    const s = reader.lookup("mem,host=ä")!.fields.get("s")!;
    assert.deepEqual((await reader.readBlock(s.type, s.blocks[0])).values, ["x"]);
  } finally {
    reader.close();
  }
});

Deno.test("segment: version 2 parses a measurement's series only when asked", async () => {
  const one = (key: string, m: string, v: number) => ({
    key,
    measurement: m,
    tags: [{ key: "k", value: key }],
    fields: new Map([["f", {
      type: FieldType.Float,
      length: 1,
      timesMs: new Float64Array([v]),
      timesSubMs: new Float64Array(1),
      values: new Float64Array([v]),
    } as ColumnView]]),
  });
  // "b" sorts between the keys "a" and "a!x" (",": 0x2c; "!": 0x21): grouping is by measurement.
  const input = [one("b", "b", 1), one("a,k=1", "a", 2), one("a!x", "a!x", 3), one("a", "a", 4)];
  const dir = await Deno.makeTempDir();
  const path = `${dir}/x.seg`;
  await Deno.writeFile(path, encodeSegment(input, { level: 0 }));
  const reader = await SegmentReader.open(denoFileSystem, path, new BlockCache(0));
  try {
    assert.equal(reader.version, SEGMENT_VERSION);
    assert.deepEqual(reader.measurements(), ["a", "a!x", "b"]);
    assert.equal(reader.seriesCount, 4);
    assert.equal(reader.valueCount, 4);
    const tags: string[] = [];
    reader.forEachSeriesTags("a", (key, t) => tags.push(`${key}:${t[0].value}`));
    assert.deepEqual(tags, ["a:a", "a,k=1:a,k=1"]);
    assert.equal(reader.lookup("a!x")!.measurement, "a!x");
    assert.equal(reader.lookup("a!x")!.fields.get("f")!.blocks[0].first, 3);
    assert.equal(reader.lookup("c"), undefined);
    assert.deepEqual(reader.seriesOf("a").map((s) => s.key), ["a", "a,k=1"]);
    assert.deepEqual(reader.seriesOf("zz"), []);
    const looked = reader.lookup("b")!; // before "b" is parsed: the same object afterwards
    assert.deepEqual([...reader.series.keys()].sort(), ["a", "a!x", "a,k=1", "b"]);
    assert.equal(reader.lookup("b")!.fields.get("f")!.blocks[0].first, 1);
    // The series Map is a view: same objects as seriesOf, lookups by hash, read-only.
    const all = reader.series;
    assert.equal(all.size, 4);
    assert.equal(all.get("a,k=1"), reader.seriesOf("a")[1]);
    assert.equal(all.get("b"), looked);
    assert.equal(reader.seriesOf("b")[0], looked);
    assert.ok(all.has("a!x") && !all.has("zz") && all.get("zz") === undefined);
    assert.deepEqual([...all].map(([k, v]) => k === v.key), [true, true, true, true]);
    const seen: string[] = [];
    all.forEach((v, k) => seen.push(`${k}=${v.measurement}`));
    assert.deepEqual(seen.sort(), ["a!x=a!x", "a,k=1=a", "a=a", "b=b"]);
    assert.deepEqual([...new Map(all).keys()].sort(), ["a", "a!x", "a,k=1", "b"]);
    assert.throws(() => all.set("x", looked), /BUG: a segment's series are read-only/);
    assert.throws(() => all.delete("a"), /read-only/);
    const h = reader.seriesHashes();
    for (let i = 2; i < h.length; i += 2) {
      assert.ok(compareHashes(h[i - 2], h[i - 1], h[i], h[i + 1]) <= 0, "hashes sorted");
    }
  } finally {
    reader.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("segment: a measurement parsed in steps keeps one object per series, found by lookups between steps", async () => {
  const one = (i: number) => ({
    key: `m,k=${i}`,
    measurement: "m",
    tags: [{ key: "k", value: String(i) }],
    fields: new Map([["f", {
      type: FieldType.Float,
      length: 1,
      timesMs: new Float64Array([i]),
      timesSubMs: new Float64Array(1),
      values: new Float64Array([i * 10]),
    } as ColumnView]]),
  });
  const keys = Array.from({ length: 7 }, (_, i) => `m,k=${i}`).sort();
  const dir = await Deno.makeTempDir();
  const path = `${dir}/x.seg`;
  await Deno.writeFile(path, encodeSegment(keys.map((_, i) => one(i)), { level: 0 }));
  const reader = await SegmentReader.open(denoFileSystem, path, new BlockCache(0));
  try {
    const looked = reader.lookup(keys[4])!; // before any step: the parse must take this one
    assert.equal(reader.parseSome("m", 3), false);
    // Parsed entries (the first three) and unparsed ones, looked up between steps.
    const early = [reader.lookup(keys[0])!, reader.lookup(keys[2])!, reader.lookup(keys[5])!];
    assert.equal(reader.parseSome("m", 3), false);
    assert.equal(reader.parseSome("m", 3), true);
    assert.equal(reader.parseSome("m", 3), true);
    assert.equal(reader.parseSome("other", 3), true, "an absent measurement has nothing to parse");
    const all = reader.seriesOf("m");
    assert.deepEqual(all.map((s) => s.key), keys);
    assert.equal(all[4], looked);
    assert.equal(all[0], early[0]);
    assert.equal(all[2], early[1]);
    assert.equal(all[5], early[2]);
    for (let i = 0; i < keys.length; i++) {
      assert.equal(reader.lookup(keys[i]), all[i], keys[i]);
      const n = Number(keys[i].slice(4));
      assert.equal(all[i].fields.get("f")!.blocks[0].first, n * 10, "fields parsed right");
    }
    // Lookups in key order follow the entries; any other order, or a key not stored, still
    // finds exactly its own series.
    const order = [6, 5, 0, 1, 3, 2, 2, 4, 0, 6];
    for (const i of order) {
      assert.equal(reader.lookup(keys[i]), all[i], `${keys[i]} after others`);
      assert.equal(reader.lookup(`${keys[i]}x`), undefined, `${keys[i]}x is not stored`);
    }
    for (let i = 0; i < keys.length; i++) assert.equal(reader.lookup(keys[i]), all[i]);
  } finally {
    reader.close();
    await Deno.remove(dir, { recursive: true });
  }
});

/** A segment of one series (m,k=v) with one float point (f = 1 at 1 ms). */
function onePointSegment(): Uint8Array {
  return encodeSegment([{
    key: "m,k=v",
    measurement: "m",
    tags: [{ key: "k", value: "v" }],
    fields: new Map([["f", {
      type: FieldType.Float,
      length: 1,
      timesMs: new Float64Array([1]),
      timesSubMs: new Float64Array(1),
      values: new Float64Array([1]),
    } as ColumnView]]),
  }], { level: 0 });
}

Deno.test("segment: a flipped bit in a version 3 index is corruption at open", async () => {
  const bytes = onePointSegment();
  const view = new DataView(bytes.buffer);
  const footer = bytes.length - SEGMENT_FOOTER_BYTES;
  const indexOffset = view.getFloat64(footer, true);
  const dir = await Deno.makeTempDir();
  try {
    for (let at = indexOffset; at < footer; at += 3) {
      const damaged = bytes.slice();
      damaged[at] ^= 0x10;
      await Deno.writeFile(`${dir}/x.seg`, damaged);
      await assert.rejects(
        () => SegmentReader.open(denoFileSystem, `${dir}/x.seg`, new BlockCache(0)),
        (e: Error & { offset?: number }) =>
          e.name === "CorruptionError" && e.offset === indexOffset,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("series hash: UTF-8 of the key, lone surrogates as U+FFFD; pinned values", () => {
  const h = new Uint32Array(2), g = new Uint32Array(2);
  seriesKeyHash("cpu,host=a", h);
  // Pinned: the hash is part of the segment format (version 2).
  assert.deepEqual([...h], [...pinned("cpu,host=a")]);
  seriesKeyHash("m,t=\ud800", h);
  seriesKeyHash("m,t=\ufffd", g);
  assert.deepEqual([...h], [...g]);
  seriesKeyHash("m,t=\u{1f600}", h);
  seriesKeyHash("m,t=\u00e4", g);
  assert.notDeepEqual([...h], [...g]);
});

/** The hash written independently: over TextEncoder's bytes. */
function pinned(key: string): Uint32Array {
  let h1 = 0xdeadbeef, h2 = 0x41c6ce57;
  for (const b of new TextEncoder().encode(key)) {
    h1 = Math.imul(h1 ^ b, 2654435761);
    h2 = Math.imul(h2 ^ b, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return new Uint32Array([h1 >>> 0, h2 >>> 0]);
}

Deno.test("series hash: equals the TextEncoder-based definition for any string (property)", () => {
  const h = new Uint32Array(2);
  fc.assert(
    fc.property(fc.string({ unit: "binary" }), (s) => {
      seriesKeyHash(s, h);
      assert.deepEqual([...h], [...pinned(s)]);
    }),
    { numRuns: 300 },
  );
});

Deno.test("HashSet64: behaves as a Set of (lo, hi) under adds and deletes (property)", () => {
  const pair = fc.tuple(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 3 }));
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.boolean(), pair), { maxLength: 300 }),
      (ops) => {
        const set = new HashSet64(4);
        const model = new Set<string>();
        for (const [add, [lo, hi]] of ops) {
          const k = `${lo === 0 && hi === 0 ? 1 : lo}:${hi}`; // (0, 0) is stored as (1, 0)
          if (add) assert.equal(set.add(lo, hi), !model.has(k)), model.add(k);
          else assert.equal(set.delete(lo, hi), model.delete(k));
          assert.equal(set.size, model.size);
        }
        for (let lo = 0; lo <= 40; lo++) {
          for (let hi = 0; hi <= 3; hi++) {
            assert.equal(set.has(lo, hi), model.has(`${lo === 0 && hi === 0 ? 1 : lo}:${hi}`));
          }
        }
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("segment: a version 3 entry's fields parse on first access; damage there is reported", () => {
  const bytes = onePointSegment();
  const view = new DataView(bytes.buffer);
  const footer = bytes.length - SEGMENT_FOOTER_BYTES;
  const index = bytes.slice(view.getFloat64(footer, true), footer);
  // header 20 + hash table 12 + directory 5 ("m", 1, 0, length), then the entry: key (6),
  // tags (1 + 2 + 2), fields length (1), field count (1), first block offset (1), name (2): the
  // field type byte.
  const typeAt = 20 + 12 + 5 + 6 + 5 + 1 + 1 + 1 + 2;
  assert.equal(index[typeAt], FieldType.Float);
  index[typeAt] = 9;
  const seen: number[] = [];
  const opened = openIndex(SEGMENT_VERSION, index, (e) => {
    seen.push(e.offset);
    return new Error(`corrupt at ${e.offset}: ${e.message}`);
  });
  const series = opened.lookup("m,k=v")!;
  assert.deepEqual(series.tags, [{ key: "k", value: "v" }]);
  assert.throws(() => series.fields, new RegExp(`corrupt at ${typeAt}: .*unknown field type 9`));
  assert.equal(seen.length, 1);
});

const v2fixture = new URL("./testdata/v2.seg", import.meta.url).pathname;

Deno.test("segment: a version 2 file (written by the version 2 code) is still read", async () => {
  const reader = await SegmentReader.open(denoFileSystem, v2fixture, new BlockCache(1000));
  try {
    assert.equal(reader.version, 2);
    assert.equal(reader.level, 2);
    assert.equal(reader.seriesCount, 3);
    assert.equal(reader.valueCount, 9);
    assert.deepEqual(reader.measurements(), ["cpu", "mem"]);
    const count = reader.lookup("cpu,host=a")!.fields.get("count")!;
    assert.deepEqual(count.blocks.map((b) => [b.count, b.first, b.last, b.min, b.max, b.sum]), [
      [2, 1, 2n ** 60n, 1, 2n ** 60n, 2n ** 60n + 1n],
    ]);
    const block = await reader.readBlock(count.type, count.blocks[0]);
    assert.deepEqual([...block.timesSubMs], [7, 7]);
    assert.deepEqual(block.values, [1, 2n ** 60n]);
    const usage = reader.lookup("cpu,host=a")!.fields.get("usage")!;
    assert.deepEqual(usage.blocks.map((b) => [b.count, b.first, b.last, b.minTimeOfMax]), [
      [2, 0.5, NaN, { ms: 1000, subMs: 0 }],
      [1, -1, -1, { ms: 3000, subMs: 5 }],
    ]);
    const u = reader.lookup("cpu,host=b")!.fields.get("u")!.blocks[0];
    assert.deepEqual([u.minTimeMs, u.minTimeSubMs, u.first, u.sum], [
      -5000,
      1,
      2n ** 64n - 1n,
      2n ** 64n - 1n,
    ]);
    const ok = reader.lookup("cpu,host=b")!.fields.get("ok")!.blocks[0];
    assert.deepEqual([ok.first, ok.last, ok.min], [true, false, undefined]);
    const s = reader.lookup("mem,host=ä")!.fields.get("s")!;
    assert.deepEqual((await reader.readBlock(s.type, s.blocks[0])).values, ["x"]);
  } finally {
    reader.close();
  }
});

const INT64 = [-(2n ** 63n), 2n ** 63n - 1n] as const;
const safeOr = (v: bigint) => (v >= -(2n ** 53n) + 1n && v <= 2n ** 53n - 1n ? Number(v) : v);
const statOf = (type: FieldType): fc.Arbitrary<FieldValue> => {
  switch (type) {
    case FieldType.Float:
      return fc.oneof(fc.double(), fc.constantFrom(NaN, -0, 0, Infinity, -Infinity));
    case FieldType.Integer:
      return fc.oneof(int64, fc.constantFrom(INT64[0], INT64[1], 0, -1, 2 ** 53 - 1));
    case FieldType.Unsigned:
      return fc.oneof(uint64, fc.constantFrom(2n ** 64n - 1n, 0, 2 ** 53 - 1));
    case FieldType.String:
      return fc.string();
    default:
      return fc.boolean();
  }
};
const subMs = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 999_999 }));
const blockShape = (type: FieldType) =>
  fc.record({
    gap: fc.integer({ min: -1e6, max: 1e6 }),
    span: fc.nat(1e6),
    subs: fc.tuple(subMs, subMs, subMs, subMs),
    count: fc.integer({ min: 1, max: 5000 }),
    length: fc.nat(1e6),
    stats: fc.tuple(statOf(type), statOf(type), statOf(type), statOf(type)),
    sum: type === FieldType.Float
      ? fc.double()
      : fc.oneof(fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }), fc.constantFrom(...INT64)),
    picks: fc.tuple(fc.nat(2), fc.nat(2)),
    at: fc.tuple(
      fc.double({ min: 0, max: 1, noNaN: true }),
      fc.double({ min: 0, max: 1, noNaN: true }),
    ),
    sameAsPrevious: fc.boolean(),
  });
const fieldShape = fc.constantFrom(1, 2, 3, 4, 5).chain((type: FieldType) =>
  fc.record({
    type: fc.constant(type),
    unit: fc.constantFrom(1, 7, 10, 100, 1000, 10_000),
    blocks: fc.array(blockShape(type), { maxLength: 5 }),
  })
);
type FieldShape = typeof fieldShape extends fc.Arbitrary<infer T> ? T : never;

/** Block metadata as the writer makes it (stats consistent where the format relies on it). */
function buildFields(
  baseMs: number,
  offset: number,
  shapes: readonly FieldShape[],
): [string, SegmentField][] {
  const out: [string, SegmentField][] = [];
  let previous: BlockMeta[] = [];
  for (const [f, shape] of shapes.entries()) {
    const blocks: BlockMeta[] = [];
    let end = baseMs;
    for (const [b, s] of shape.blocks.entries()) {
      const p = previous[b];
      const count = s.sameAsPrevious && p ? p.count : s.count;
      const minMs = s.sameAsPrevious && p ? p.minTimeMs : end + s.gap * shape.unit;
      const minSub = s.sameAsPrevious && p ? p.minTimeSubMs : s.subs[0];
      const one = count === 1;
      const maxMs = s.sameAsPrevious && p ? p.maxTimeMs : one ? minMs : minMs + s.span * shape.unit;
      const maxSub = s.sameAsPrevious && p ? p.maxTimeSubMs : one ? minSub : s.subs[1];
      end = maxMs;
      const [first, last0, min0, max0] = s.stats;
      const last = one ? first : last0;
      const meta: BlockMeta = {
        offset,
        length: s.length,
        count,
        minTimeMs: minMs,
        minTimeSubMs: minSub,
        maxTimeMs: maxMs,
        maxTimeSubMs: maxSub,
        first,
        last,
      };
      offset += 4 + s.length;
      if (shape.type <= FieldType.Unsigned) {
        const pick = (
          n: number,
          own: FieldValue,
        ) => (one || n === 0 ? first : n === 1 ? last : own);
        meta.min = pick(s.picks[0], min0);
        meta.max = pick(s.picks[1], max0);
        meta.sum = typeof s.sum === "bigint" ? safeOr(s.sum) : s.sum;
        const time = (stat: FieldValue, at: number, sub: number) =>
          Object.is(stat, first) || (typeof stat === "bigint" && stat === first)
            ? { ms: minMs, subMs: minSub }
            : { ms: minMs + Math.floor(at * (maxMs - minMs)), subMs: sub };
        meta.minTimeOfMin = time(meta.min, s.at[0], s.subs[2]);
        meta.minTimeOfMax = time(meta.max, s.at[1], s.subs[3]);
      }
      blocks.push(meta);
    }
    out.push([`f${f}`, { type: shape.type, blocks }]);
    previous = blocks;
  }
  return out;
}

Deno.test("segment v3: block entries round-trip exactly (property; int64 extremes, NaN/-0, sub-ms, one-value blocks)", () => {
  const out = new ByteWriter();
  fc.assert(
    fc.property(
      fc.integer({ min: -9e12, max: 9e12 }),
      fc.nat(2 ** 40),
      fc.array(fieldShape, { maxLength: 4 }),
      (baseMs, offset, shapes) => {
        const fields = buildFields(baseMs, offset, shapes);
        out.reset();
        writeFieldsV3(out, fields);
        const r = new ByteReader(out.finish());
        const back = readFieldsV3(r);
        r.expectEnd("fields");
        // In stored order, whichever the representation (a FieldList for few fields).
        assert.deepStrictEqual([...back.entries()], fields);
      },
    ),
    { numRuns: 400 },
  );
});

Deno.test("segment v3: a bad block entry is a CorruptionError naming the file and its offset", async () => {
  const bytes = encodeSegment([{
    key: "m,k=v",
    measurement: "m",
    tags: [{ key: "k", value: "v" }],
    fields: new Map([["f", {
      type: FieldType.Float,
      length: 2,
      timesMs: new Float64Array([1000, 2000]),
      timesSubMs: new Float64Array(2),
      values: new Float64Array([1, 2]),
    } as ColumnView]]),
  }], { level: 0 });
  const view = new DataView(bytes.buffer);
  const footer = bytes.length - SEGMENT_FOOTER_BYTES;
  const indexOffset = view.getFloat64(footer, true);
  // As above, then the type (1) and the block count (1): the block's flags byte.
  const flagsAt = indexOffset + 20 + 12 + 5 + 6 + 5 + 1 + 1 + 1 + 2 + 1 + 1;
  // Scale 1000 (1 s steps), no sub-ms, min = first (1 << 4), max = last (2 << 6).
  assert.equal(bytes[flagsAt], 0x03 | 0x04 | 0x10 | 0x80);
  const dir = await Deno.makeTempDir();
  try {
    for (const [flags, message] of [[0x30, /bad block flags 0x30/], [0x08, /missing block/]]) {
      const damaged = bytes.slice();
      damaged[flagsAt] = flags as number;
      // A valid index checksum: the damage is found when the entry is parsed, not at open.
      const index = damaged.subarray(indexOffset, footer);
      new DataView(damaged.buffer).setUint32(footer + 12, crc32c(index), true);
      const path = `${dir}/x.seg`;
      await Deno.writeFile(path, damaged);
      const reader = await SegmentReader.open(denoFileSystem, path, new BlockCache(0));
      const series = reader.lookup("m,k=v")!;
      assert.throws(
        () => series.fields,
        (e: Error & { offset?: number; path?: string }) =>
          e.name === "CorruptionError" && e.offset === flagsAt &&
          (e as { file?: string }).file === path && (message as RegExp).test(e.message),
      );
      reader.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("segment v3: damage met while walking the series Map is a CorruptionError naming the file", async () => {
  // reader.series parses a measurement's entries as it is walked (or asked with get/has), and a
  // damaged entry escaped as a bare CodecError, with no file and an offset in the index bytes
  // (so the engine's stats and compaction, which walk it, met an error recovery does not match).
  // Found by tests/fuzz.
  const bytes = onePointSegment();
  const view = new DataView(bytes.buffer);
  const footer = bytes.length - SEGMENT_FOOTER_BYTES;
  const indexOffset = view.getFloat64(footer, true);
  // Header (20), one hash and offset (12), the directory ("m", count, offset, length: 5 bytes):
  // the first entry starts with its key's length, now longer than the index.
  const entryAt = indexOffset + 20 + 12 + 5;
  bytes[entryAt] = 0x7f;
  view.setUint32(footer + 12, crc32c(bytes.subarray(indexOffset, footer)), true);
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/x.seg`;
    await Deno.writeFile(path, bytes);
    const reader = await SegmentReader.open(denoFileSystem, path, new BlockCache(0));
    const isCorruption = (e: Error & { file?: string; offset?: number }) =>
      e.name === "CorruptionError" && e.file === path && e.offset === entryAt + 1;
    assert.throws(() => [...reader.series], isCorruption);
    assert.throws(() => reader.series.get("m,k=v"), isCorruption);
    assert.throws(() => [...reader.series.values()], isCorruption);
    reader.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("segment: a block too short for its timestamps' length is a CorruptionError", () => {
  // A block of fewer than 4 payload bytes (its index entry damaged, its checksum intact) made
  // decodeBlock read the length past the payload: a RangeError at the end of the buffer, the
  // next block's bytes elsewhere. Found by tests/fuzz.
  for (let length = 0; length < 4; length++) {
    const payload = new Uint8Array(length).fill(7);
    const bytes = new Uint8Array(4 + length);
    new DataView(bytes.buffer).setUint32(0, crc32c(payload), true);
    bytes.set(payload, 4);
    const meta = { offset: 100, length, count: 1 } as BlockMeta;
    assert.throws(
      () => decodeBlock("x.seg", meta, FieldType.Float, bytes),
      (e: Error & { offset?: number }) =>
        e.name === "CorruptionError" && e.offset === 100 &&
        e.message.endsWith(`block of ${length} bytes`),
    );
  }
});

/** A float block of these instants with a valid checksum, at file offset 100. */
function floatBlock(ms: number[], sub: number[]): { meta: BlockMeta; bytes: Uint8Array } {
  const w = new ByteWriter(64);
  w.u32(0);
  encodeTimestamps(Float64Array.from(ms), Float64Array.from(sub), w);
  const tsLength = w.length - 4;
  encodeFloats(Float64Array.from(ms, (_, i) => i), w);
  const payload = w.finish();
  new DataView(payload.buffer, payload.byteOffset).setUint32(0, tsLength, true);
  const bytes = new Uint8Array(4 + payload.length);
  new DataView(bytes.buffer).setUint32(0, crc32c(payload), true);
  bytes.set(payload, 4);
  return { meta: { offset: 100, length: payload.length, count: ms.length } as BlockMeta, bytes };
}

Deno.test("segment: a block whose times repeat an instant is a CorruptionError", () => {
  // The timestamp codec allows equal instants; a block never holds them (one series' field, the
  // last write won). Damage with its checksum made again over it decoded to two values at one
  // instant. Found by tests/fuzz (regressions/segment/equal-instants-in-a-block-*.bin).
  const cases: [string, number[], number[]][] = [
    ["run-length, delta 0", [1000, 1000, 1000], [7, 7, 7]],
    ["deltas, last two equal", [1000, 2000, 2000], [0, 5, 5]],
    ["first two equal", [1000, 1000, 3000], [0, 0, 9]],
  ];
  for (const [name, ms, sub] of cases) {
    const { meta, bytes } = floatBlock(ms, sub);
    assert.throws(
      () => decodeBlock("x.seg", meta, FieldType.Float, bytes),
      (e: Error & { offset?: number }) =>
        e.name === "CorruptionError" && e.offset === 100 && /repeats|delta 0/.test(e.message),
      name,
    );
  }
  // Instants a nanosecond apart (same ms) are distinct: they decode.
  const { meta, bytes } = floatBlock([1000, 1000, 2000], [7, 8, 0]);
  assert.deepEqual([...decodeBlock("x.seg", meta, FieldType.Float, bytes).timesSubMs], [7, 8, 0]);
});

Deno.test("segment: a block entry naming bytes past the blocks is refused before reading", async () => {
  // A damaged index entry (index checksum made again) gave a length of gigabytes: readBlock
  // allocated for it, a RangeError (an untyped 500). Found by tests/fuzz (block-past-the-index-*).
  const reader = await SegmentReader.open(denoFileSystem, fixture, new BlockCache(0));
  try {
    const f = reader.lookup("cpu,host=a")!.fields.get("count")!;
    const b = f.blocks[0];
    const bad: BlockMeta[] = [
      { ...b, length: 2 ** 40 },
      { ...b, length: reader.indexOffset - b.offset - 3 },
      { ...b, offset: 2 },
      { ...b, length: NaN },
    ];
    for (const meta of bad) {
      await assert.rejects(
        () => reader.readBlock(f.type, meta),
        (e: Error & { offset?: number }) =>
          e.name === "CorruptionError" && /runs past the blocks/.test(e.message),
        JSON.stringify({ offset: meta.offset, length: meta.length }),
      );
    }
    assert.equal((await reader.readBlock(f.type, b)).length, 2);
  } finally {
    reader.close();
  }
});
