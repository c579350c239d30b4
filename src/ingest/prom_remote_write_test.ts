import assert from "node:assert/strict";
import snappyjs from "snappyjs";
import { ParseError } from "../core/mod.ts";
import { decodePromWrite, uncompressSnappy } from "./prom_remote_write.ts";
import { promWriteRequest } from "./_prom_test_util.ts";

const request = promWriteRequest;

Deno.test("remote_write: the samples of one series share one tag array", () => {
  const { batch } = decodePromWrite(request([["__name__", "up"], ["job", "a"], ["host", "h"]], 3));
  assert.deepEqual(batch.errors, []);
  assert.deepEqual(batch.points.map((p) => [p.fields[0].value, p.timeMs]), [[1, 1], [2, 2], [
    3,
    3,
  ]]);
  const [p0, p1, p2] = batch.points;
  assert.equal(p0.tags, p1.tags);
  assert.equal(p0.tags, p2.tags);
  assert.deepEqual(p0.tags, [{ key: "host", value: "h" }, { key: "job", value: "a" }]);
});

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

Deno.test("uncompressSnappy: what snappyjs compresses comes back; a 4-byte literal length is unsigned", () => {
  const text = new TextEncoder().encode("abcabcabcabc remote_write ".repeat(500) + "xyz");
  const random = Uint8Array.from({ length: 70_000 }, (_, i) => (i * 7919 + (i >> 3)) & 0xff);
  for (const data of [text, random, new Uint8Array(0), Uint8Array.of(1)]) {
    const packed = (snappyjs as { compress(b: Uint8Array): Uint8Array }).compress(data);
    assert.deepEqual(uncompressSnappy(packed, 1 << 20), data);
  }
  // Found by tests/fuzz: a literal whose 4-byte length snappyjs read as negative walked a
  // billion positions (8 s for 66 bytes; regressions/remote-write/ times it). Length 49, then a
  // literal tag with a 4-byte length of 0xc0000000.
  assert.throws(
    () => uncompressSnappy(Uint8Array.of(49, 0xfc, 0x00, 0x00, 0x00, 0xc0, 0x0a), 1 << 20),
    (e: unknown) => e instanceof ParseError && /runs past the end/.test(e.message),
  );
});
