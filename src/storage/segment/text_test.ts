/**
 * Strings read from a segment index are held per series for as long as the index lives: they
 * must be flat. Built character by character, a 28-character series key was a chain of V8 cons
 * strings of about 500 bytes (measured in a heap snapshot of 100k series: 48 MiB of them).
 */
import assert from "node:assert/strict";
import v8 from "node:v8";
import vm from "node:vm";
import { ByteReader, ByteWriter } from "../codecs/mod.ts";
import { readString, writeString } from "./_text.ts";

v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as () => void;

function liveHeap(): number {
  gc();
  return Deno.memoryUsage().heapUsed;
}

Deno.test("readString: ASCII and UTF-8 strings of every length read back", () => {
  const samples = [
    "",
    "a",
    "hc,host=host_1,region=r1",
    "x".repeat(64),
    "y".repeat(65),
    "é☃𝄞",
    "a".repeat(300),
    "k".repeat(65_535), // the longest series key
    "v".repeat(300_000), // a string field's first or last value (up to the line length)
    "日本😀".repeat(20_000),
  ];
  const out = new ByteWriter();
  for (const s of samples) writeString(out, s);
  const r = new ByteReader(out.finish());
  for (const s of samples) assert.equal(readString(r), s);
});

Deno.test("readString: a series key of 28 characters is held flat (under 100 bytes), not as a cons chain", () => {
  const n = 20_000;
  const out = new ByteWriter();
  for (let i = 0; i < n; i++) writeString(out, `hc,host=host_${100_000 + i},region=r${i % 9}`);
  const bytes = out.finish();
  const before = liveHeap();
  const r = new ByteReader(bytes);
  const kept = new Array<string>(n);
  for (let i = 0; i < n; i++) kept[i] = readString(r);
  const perString = (liveHeap() - before) / n;
  assert.equal(kept[n - 1], `hc,host=host_${100_000 + n - 1},region=r${(n - 1) % 9}`);
  // A flat one-byte string of 28 characters takes 48 bytes, its slot in `kept` 4-8 more.
  assert.ok(perString < 100, `${perString.toFixed(0)} bytes held per key read`);
});
