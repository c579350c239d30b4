import assert from "node:assert/strict";
import { FieldType } from "../core/mod.ts";
import type { ShardReader } from "../query/mod.ts";
import { UnionShardReader } from "./union_reader.ts";

/** A partition's reader that knows only field types, and counts how often it is asked. */
function part(types: Record<string, Record<string, FieldType>>, asked: string[]): ShardReader {
  return {
    measurements: () => Object.keys(types),
    series: () => [],
    fieldTypes: (m: string) => {
      asked.push(m);
      return new Map(Object.entries(types[m] ?? {}));
    },
    readField: () => Promise.resolve(undefined),
  };
}

Deno.test("union reader: a measurement's field types are the parts' union, made once per reader", () => {
  const asked: string[] = [];
  const union = UnionShardReader.of([
    part({ cpu: { a: FieldType.Float }, mem: { m: FieldType.Integer } }, asked),
    part({ cpu: { a: FieldType.Float, b: FieldType.String } }, asked),
  ]);
  const cpu = [...union.fieldTypes("cpu")];
  assert.deepEqual(cpu, [["a", FieldType.Float], ["b", FieldType.String]]);
  assert.deepEqual([...union.fieldTypes("cpu")], cpu);
  assert.deepEqual([...union.fieldTypes("mem")], [["m", FieldType.Integer]]);
  assert.deepEqual([...union.fieldTypes("disk")], []);
  assert.deepEqual(asked, ["cpu", "cpu", "mem", "mem", "disk", "disk"], "each part asked once");
});

Deno.test("union reader: holding it holds every part's files until released", () => {
  const holds = [0, 0];
  const parts = [0, 1].map((i): ShardReader => ({
    ...part({}, []),
    hold: () => {
      holds[i]++;
      return () => holds[i]--;
    },
  }));
  const union = UnionShardReader.of(parts);
  const release = union.hold!();
  assert.deepEqual(holds, [1, 1]);
  release();
  assert.deepEqual(holds, [0, 0]);
});
