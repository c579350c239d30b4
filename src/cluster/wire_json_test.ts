import assert from "node:assert/strict";
import { ParseError } from "../core/errors.ts";
import { decodeWire, encodeWire } from "./wire_json.ts";

Deno.test("wire JSON: special values survive, and so do plain objects shaped like them", () => {
  const special = { n: 1n, x: NaN, z: -0, m: new Map([[1, new Set([2])]]) };
  assert.deepEqual(decodeWire(encodeWire(special)), special);
  // A GROUP BY on a tag key "\0n" makes the tags object {"\0n": "5"}: it read back as 5n (and
  // {"\0n": "x"} threw). Found by tests/fuzz.
  for (
    const plain of [
      { "\u0000n": "5" },
      { "\u0000n": "x" },
      { "\u0000f": "NaN" },
      { "\u0000m": [[1, 2]] },
      { "\u0000o": [["a", 1]] },
      { "\u0000": 1 },
      { tags: { "\u0000s": ["a"] } },
      [{ "\u0000b": [1, 2] }],
    ]
  ) {
    assert.deepEqual(decodeWire(encodeWire(plain)), plain, JSON.stringify(plain));
  }
});

Deno.test("wire JSON: bytes that are not wire JSON are a ParseError", () => {
  for (
    const text of ["", "{", '{"\u0000n": "x"}', '{"\u0000m": 5}', "\u0000", "[1,]"]
  ) {
    assert.throws(
      () => decodeWire(new TextEncoder().encode(text)),
      (e) => e instanceof ParseError && /^malformed wire JSON from a peer: /.test(e.message),
      JSON.stringify(text),
    );
  }
  assert.throws(() => decodeWire(Uint8Array.of(0x22, 0xff, 0x22)), ParseError);
});
