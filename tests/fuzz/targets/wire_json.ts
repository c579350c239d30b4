/**
 * The cluster's wire JSON (src/cluster/wire_json.ts), what nodes send each other (query plans,
 * partial results, snapshot manifests): `decodeWire` on bytes from a peer returns a value or
 * throws a `ParseError`, nothing else; and any plain JSON value (the shape user data takes: tag
 * maps, strings) survives `decodeWire(encodeWire(value))` unchanged, whatever its keys. Inputs
 * are encoded values of every special kind (bigint, NaN, -0, undefined, Map, Set, typed
 * arrays), plain JSON with keys that look like the special ones, mutated.
 * @module
 */
import fc from "fast-check";
import { ParseError } from "../../../src/core/mod.ts";
import { decodeWire, encodeWire } from "../../../src/cluster/wire_json.ts";
import { structuredAndMutated } from "../_mutate.ts";
import { sameData } from "../_same.ts";
import { count, demand, expectOnly, type FuzzTarget } from "../_target.ts";

const enc = new TextEncoder();

/** A key: plain, or one of the special ones (NUL then a letter) a user could still write. */
const key = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom("host", "v", "a b", "") },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      "\u0000n",
      "\u0000f",
      "\u0000u",
      "\u0000m",
      "\u0000s",
      "\u0000d",
      "\u0000b",
      "\u0000i",
      "\u0000",
      "\u0000x",
    ),
  },
);

/** Plain JSON values (what user data is made of). */
const plain: fc.Arbitrary<unknown> = fc.letrec<{ v: unknown }>((tie) => ({
  v: fc.oneof(
    { depthSize: "small", maxDepth: 4 },
    fc.oneof(fc.string(), fc.constantFrom("1", "x", "-0", "NaN", "Infinity", "[1]")),
    fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => (Object.is(d, -0) ? 0 : d)),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie("v"), { maxLength: 4 }),
    fc.array(fc.tuple(key, tie("v")), { maxLength: 3 }).map((e) => Object.fromEntries(e)),
  ),
})).v;

/** Values with the special kinds the wire keeps. */
const special: fc.Arbitrary<unknown> = fc.letrec<{ v: unknown }>((tie) => ({
  v: fc.oneof(
    { depthSize: "small", maxDepth: 3 },
    plain,
    fc.bigInt(),
    fc.constantFrom(NaN, Infinity, -Infinity, -0, undefined),
    fc.array(fc.tuple(tie("v"), tie("v")), { maxLength: 3 }).map((e) => new Map(e)),
    fc.array(tie("v"), { maxLength: 3 }).map((e) => new Set(e)),
    fc.array(fc.double(), { maxLength: 4 }).map((a) => Float64Array.from(a)),
    fc.array(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), { maxLength: 3 }).map((a) =>
      BigInt64Array.from(a)
    ),
    fc.uint8Array({ maxLength: 8 }),
    fc.dictionary(fc.string({ maxLength: 4 }), tie("v"), { maxKeys: 3 }),
  ),
})).v;

export const wireJsonTarget: FuzzTarget = {
  name: "wire-json",
  about: "decodeWire throws only ParseError; plain JSON values round-trip whatever their keys",
  inputs: structuredAndMutated(
    fc.oneof(
      special.map((v) => encodeWire(v)),
      plain.map((v) => enc.encode(JSON.stringify(v))),
    ),
    [encodeWire({ n: 1n, x: NaN, m: new Map([[1, 2]]) })],
    ['{"\\u0000n":', '{"\\u0000m":', '{"\\u0000d":[', '"', "[", "{", "}", "]", "1e400", ":"],
  ),
  open() {
    const outcomes: Record<string, number> = {};
    return Promise.resolve({
      outcomes,
      check(input: Uint8Array) {
        // As a peer's bytes.
        const decoded = expectOnly(() => decodeWire(input), [ParseError]);
        count(outcomes, decoded === undefined && input.length > 0 ? "refused" : "decoded");
        // As user data: plain JSON must come back as it went.
        let value: unknown;
        try {
          value = JSON.parse(new TextDecoder().decode(input));
        } catch {
          return;
        }
        let back: unknown;
        try {
          back = decodeWire(encodeWire(value));
        } catch (error) {
          demand(false, `plain JSON does not survive the wire: ${(error as Error).message}`);
        }
        demand(
          sameData(back, value),
          () =>
            `plain JSON comes back changed: ${JSON.stringify(value).slice(0, 200)} -> ${
              String(back).slice(0, 100)
            }`,
        );
      },
      close: () => Promise.resolve(),
    });
  },
};
