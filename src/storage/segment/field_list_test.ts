import assert from "node:assert/strict";
import { FieldType } from "../../core/mod.ts";
import { ByteReader, ByteWriter } from "../codecs/mod.ts";
import { IndexStrings } from "./_intern.ts";
import { readFieldsV3, writeFieldsV3 } from "./block_entry.ts";
import { FIELD_LIST_MAX, FieldList, OneField } from "./field_list.ts";
import type { BlockMeta, SegmentField } from "./series_index.ts";

/** `n` boolean fields f00, f01 ... of one block each, following one another from offset 100. */
function fieldsOf(n: number): [string, SegmentField][] {
  return Array.from({ length: n }, (_, i): [string, SegmentField] => {
    const block: BlockMeta = {
      offset: 100 + 14 * i,
      length: 10,
      count: 1,
      minTimeMs: 1000 + i,
      minTimeSubMs: 0,
      maxTimeMs: 1000 + i,
      maxTimeSubMs: 0,
      first: i % 2 === 0,
      last: i % 2 === 0,
    };
    return [`f${String(i).padStart(2, "0")}`, { type: FieldType.Boolean, blocks: [block] }];
  });
}

function roundTrip(n: number, strings = new IndexStrings()): ReadonlyMap<string, SegmentField> {
  const out = new ByteWriter();
  writeFieldsV3(out, fieldsOf(n));
  const r = new ByteReader(out.finish());
  const back = readFieldsV3(r, strings);
  r.expectEnd("fields");
  return back;
}

Deno.test("segment fields: 1, 2, few and many fields look up and iterate as a Map", () => {
  for (const n of [0, 1, 2, 10, FIELD_LIST_MAX, FIELD_LIST_MAX + 1, 40]) {
    const back = roundTrip(n);
    const want = new Map(fieldsOf(n));
    assert.equal(back instanceof (n === 1 ? OneField : FieldList), n <= FIELD_LIST_MAX, `n=${n}`);
    assert.equal(back.size, n);
    assert.deepEqual([...back.keys()], [...want.keys()]);
    assert.deepEqual([...back.entries()], [...want.entries()]);
    assert.deepEqual([...back], [...want]);
    assert.deepEqual([...back.values()].map((f) => f.blocks[0].minTimeMs), [
      ...[...want.values()].map((f) => f.blocks[0].minTimeMs),
    ]);
    const seen: string[] = [];
    back.forEach((f, name, map) => {
      assert.equal(map, back);
      assert.equal(f, back.get(name));
      seen.push(name);
    });
    assert.deepEqual(seen, [...want.keys()]);
    for (const [name, field] of want) {
      assert.deepEqual(back.get(name), field, `n=${n} ${name}`);
      assert.ok(back.has(name));
    }
    assert.equal(back.get("missing"), undefined);
    assert.equal(back.has("missing"), false);
    assert.equal(back.get("f0"), undefined); // a prefix of a name is not it
  }
});

Deno.test("segment fields: series with the same fields share one frozen names list", () => {
  const strings = new IndexStrings();
  const a = roundTrip(3, strings) as FieldList;
  const b = roundTrip(3, strings) as FieldList;
  const c = roundTrip(2, strings) as FieldList;
  assert.equal(a.names, b.names);
  assert.notEqual(a.fields, b.fields);
  assert.notEqual(c.names, a.names);
  assert.ok(Object.isFrozen(a.names));
  assert.throws(() => (a.names as string[]).push("x"));
});

Deno.test("segment fields: a name holding NUL does not stand for two names joined by NUL", () => {
  // Line protocol accepts any character in a field key: one series' field "a\0b" and another's
  // fields "a" and "b" must keep their own names lists (a lookup keyed by the names joined with
  // NUL once gave the second series the first's list: one field "a\0b", holding a's blocks).
  const strings = new IndexStrings();
  const read = (names: string[]) => {
    const out = new ByteWriter();
    writeFieldsV3(out, fieldsOf(names.length).map(([, f], i) => [names[i], f]));
    return readFieldsV3(new ByteReader(out.finish()), strings);
  };
  assert.deepEqual([...read(["a\0b"]).keys()], ["a\0b"]);
  const two = read(["a", "b"]);
  assert.deepEqual([...two.keys()], ["a", "b"]);
  assert.equal(two.size, 2);
  assert.equal(two.get("a")?.blocks[0].minTimeMs, 1000);
  assert.equal(two.get("b")?.blocks[0].minTimeMs, 1001);
  assert.equal(two.get("a\0b"), undefined);
  // And the other way round, with a fresh table.
  const other = new IndexStrings();
  const out = new ByteWriter();
  writeFieldsV3(out, fieldsOf(2).map(([, f], i) => [["a", "b"][i], f]));
  readFieldsV3(new ByteReader(out.finish()), other);
  const out1 = new ByteWriter();
  writeFieldsV3(out1, [["a\0b", fieldsOf(1)[0][1]]]);
  assert.deepEqual([...readFieldsV3(new ByteReader(out1.finish()), other).keys()], ["a\0b"]);
});

Deno.test("segment fields: a one-value block's times of min and max are one frozen object", () => {
  const block = (offset: number, count: number, values: number[]): BlockMeta => ({
    offset,
    length: 10,
    count,
    minTimeMs: 1000,
    minTimeSubMs: 5,
    maxTimeMs: 1000 + count - 1,
    maxTimeSubMs: 0,
    first: values[0],
    last: values[values.length - 1],
    min: Math.min(...values),
    max: Math.max(...values),
    sum: values.reduce((a, b) => a + b, 0),
    minTimeOfMin: { ms: 1000 + values.indexOf(Math.min(...values)), subMs: 0 },
    minTimeOfMax: { ms: 1000 + values.indexOf(Math.max(...values)), subMs: 0 },
  });
  const one = block(100, 1, [7]);
  one.minTimeOfMin = one.minTimeOfMax = { ms: 1000, subMs: 5 };
  const three = block(114, 3, [5, 9, 1]);
  const fields: [string, SegmentField][] = [
    ["a", { type: FieldType.Float, blocks: [one, three] }],
  ];
  const out = new ByteWriter();
  writeFieldsV3(out, fields);
  const r = new ByteReader(out.finish());
  const [a, b] = readFieldsV3(r).get("a")!.blocks;
  assert.deepEqual([a, b], [one, three]);
  assert.equal(a.minTimeOfMin, a.minTimeOfMax);
  assert.ok(Object.isFrozen(a.minTimeOfMin));
  assert.notEqual(b.minTimeOfMin, b.minTimeOfMax); // stored times: their own objects
});
