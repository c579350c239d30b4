import assert from "node:assert/strict";
import { crc32c } from "./crc32c.ts";

const text = (s: string) => new TextEncoder().encode(s);

Deno.test("crc32c matches the RFC 3720 check value", () => {
  assert.equal(crc32c(text("123456789")), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
  assert.equal(crc32c(new Uint8Array(0)), 0);
});

Deno.test("crc32c continues across pieces", () => {
  const whole = text("the quick brown fox jumps over the lazy dog");
  for (let cut = 0; cut <= whole.length; cut++) {
    const first = crc32c(whole.subarray(0, cut));
    assert.equal(crc32c(whole.subarray(cut), first), crc32c(whole));
  }
});
