import assert from "node:assert/strict";
import fc from "fast-check";
import { ByteReader, ByteWriter, CodecError } from "./bytes.ts";

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(" ");
}

Deno.test("ByteWriter: fixed-width fields are little-endian, f64 bit-exact", () => {
  const w = new ByteWriter(1);
  w.u8(0x1ff);
  w.u32(0x01020304);
  w.i64Parts(-1, 0xfffffffe);
  w.f64(-0);
  assert.equal(hex(w.finish()), "ff 04 03 02 01 fe ff ff ff ff ff ff ff 00 00 00 00 00 00 00 80");
  const r = new ByteReader(w.finish());
  assert.equal(r.u8(), 0xff);
  assert.equal(r.u32(), 0x01020304);
  assert.equal(r.u32(), 0xfffffffe);
  assert.equal(r.u32(), 0xffffffff);
  assert.ok(Object.is(r.f64(), -0));
  r.expectEnd("test");
});

Deno.test("ByteWriter: varint bytes match LEB128/zigzag (Go encoding/binary)", () => {
  const cases: [number, string][] = [
    [0, "00"],
    [1, "02"],
    [-1, "01"],
    [63, "7e"],
    [-64, "7f"],
    [64, "80 01"],
    [300, "d8 04"],
    [Number.MAX_SAFE_INTEGER, "fe ff ff ff ff ff ff 1f"],
    [-Number.MAX_SAFE_INTEGER, "fd ff ff ff ff ff ff 1f"],
  ];
  for (const [v, want] of cases) {
    const w = new ByteWriter();
    w.varint(v);
    assert.equal(hex(w.finish()), want, `varint(${v})`);
    const b = new ByteWriter();
    b.varintBig(BigInt(v));
    assert.equal(hex(b.finish()), want, `varintBig(${v})`);
    assert.equal(new ByteReader(w.finish()).varint(), v);
  }
  const u: [number, string][] = [[0, "00"], [127, "7f"], [128, "80 01"], [
    Number.MAX_SAFE_INTEGER,
    "ff ff ff ff ff ff ff 0f",
  ]];
  for (const [v, want] of u) {
    const w = new ByteWriter();
    w.uvarint(v);
    assert.equal(hex(w.finish()), want, `uvarint(${v})`);
    assert.equal(new ByteReader(w.finish()).uvarint(), v);
  }
});

Deno.test("ByteWriter: limits — numbers stop at 2^53 - 1, bigints at 64 bits", () => {
  const w = new ByteWriter();
  assert.throws(() => w.uvarint(2 ** 53), /BUG: uvarint/);
  assert.throws(() => w.uvarint(-1), /BUG: uvarint/);
  assert.throws(() => w.uvarint(1.5), /BUG: uvarint/);
  assert.throws(() => w.varint(2 ** 53), /BUG: varint/);
  assert.throws(() => w.uvarintBig(1n << 64n), /BUG: uvarintBig/);
  assert.throws(() => w.varintBig(1n << 63n), /BUG: varintBig/);
  // A varint of 2^53 on disk is not a number: the reader refuses it, the bigint reader takes it.
  const big = new ByteWriter();
  big.uvarintBig(1n << 53n);
  assert.throws(() => new ByteReader(big.finish()).uvarint(), CodecError);
  assert.equal(new ByteReader(big.finish()).uvarintBig(), 1n << 53n);
  const z = new ByteWriter();
  z.varintBig(-(1n << 53n));
  assert.throws(() => new ByteReader(z.finish()).varint(), CodecError);
  const max = new ByteWriter();
  max.uvarintBig(0xffffffffffffffffn);
  max.varintBig(-0x8000000000000000n);
  const r = new ByteReader(max.finish());
  assert.equal(r.uvarintBig(), 0xffffffffffffffffn);
  assert.equal(r.varintBig(), -0x8000000000000000n);
});

Deno.test("ByteReader: truncation and bad varints raise CodecError with the offset", () => {
  const cases: [string, Uint8Array, (r: ByteReader) => unknown, number][] = [
    ["u8 past end", new Uint8Array([]), (r) => r.u8(), 0],
    ["u32 short", new Uint8Array([1, 2, 3]), (r) => r.u32(), 0],
    ["f64 short", new Uint8Array(7), (r) => r.f64(), 0],
    ["uvarint cut", new Uint8Array([0x80]), (r) => r.uvarint(), 0],
    ["uvarint non-minimal", new Uint8Array([0x81, 0x00]), (r) => r.uvarint(), 0],
    ["uvarint too long", new Uint8Array(9).fill(0xff), (r) => r.uvarint(), 0],
    ["uvarintBig too long", new Uint8Array(11).fill(0x80), (r) => r.uvarintBig(), 0],
    [
      "uvarintBig > 2^64",
      new Uint8Array([...new Array(9).fill(0xff), 0x7f]),
      (r) => r.uvarintBig(),
      0,
    ],
    ["varint non-minimal", new Uint8Array([0x81, 0x00]), (r) => r.varint(), 0],
    ["bytes short", new Uint8Array(3), (r) => r.bytes(4), 0],
  ];
  for (const [name, data, read, offset] of cases) {
    assert.throws(
      () => read(new ByteReader(data)),
      (e) =>
        e instanceof CodecError && e.offset === offset && e.code === "data_loss" &&
        /at byte \d+/.test(e.message),
      name,
    );
  }
  const r = new ByteReader(new Uint8Array([1, 2]));
  r.u8();
  assert.throws(() => r.expectEnd("block"), /1 unexpected trailing bytes after block/);
});

Deno.test("varints: any safe integer and any (u)int64 round-trip (property)", () => {
  fc.assert(
    fc.property(
      fc.array(fc.maxSafeInteger()),
      fc.array(fc.maxSafeNat()),
      fc.array(fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n })),
      fc.array(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })),
      (signed, unsigned, big, ubig) => {
        const w = new ByteWriter(1);
        for (const v of signed) w.varint(v);
        for (const v of unsigned) w.uvarint(v);
        for (const v of big) w.varintBig(v);
        for (const v of ubig) w.uvarintBig(v);
        const r = new ByteReader(w.finish());
        for (const v of signed) assert.equal(r.varint(), v);
        for (const v of unsigned) assert.equal(r.uvarint(), v);
        for (const v of big) assert.equal(r.varintBig(), v);
        for (const v of ubig) assert.equal(r.uvarintBig(), v);
        r.expectEnd("varints");
      },
    ),
  );
});
