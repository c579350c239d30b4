import assert from "node:assert/strict";
import { decodePromWrite } from "./prom_remote_write.ts";

/** Protobuf bytes of a WriteRequest with one series of these labels and one sample. */
function request(labels: [string, string][]): Uint8Array {
  const enc = new TextEncoder();
  const field = (n: number, body: number[]) => [(n << 3) | 2, body.length, ...body];
  const str = (n: number, s: string) => field(n, [...enc.encode(s)]);
  const sample = [9, ...new Uint8Array(new Float64Array([1]).buffer), 16, 1];
  const series = [
    ...labels.flatMap(([k, v]) => field(1, [...str(1, k), ...str(2, v)])),
    ...field(2, sample),
  ];
  return Uint8Array.from(field(1, series));
}

Deno.test("remote_write: a series with a label given twice is refused, the others kept", () => {
  // Found by tests/fuzz: both values were kept as two tags of one key, a series key no query
  // can name.
  for (
    const labels of [
      [["__name__", "up"], ["job", "a"], ["job", "b"]],
      [["__name__", "up"], ["__name__", "down"]],
    ] as [string, string][][]
  ) {
    const { batch } = decodePromWrite(request(labels));
    assert.equal(batch.points.length, 0);
    assert.equal(batch.errors.length, 1);
    assert.match(batch.errors[0].reason, /^label "(job|__name__)" given twice/);
    assert.equal(batch.errors[0].record, 1);
  }
  const { batch } = decodePromWrite(request([["__name__", "up"], ["job", "a"], ["le", "b"]]));
  assert.deepEqual(batch.points[0].tags, [{ key: "job", value: "a" }, { key: "le", value: "b" }]);
});
