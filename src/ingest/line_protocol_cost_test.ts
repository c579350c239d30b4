/**
 * What one hostile line costs: linear in its size (doubling it at most about doubles the CPU
 * time, see _cost_test_util.ts), and a line past the key limit is refused after one scan. The
 * bounds are generous: a linear parse stays far from them, the quadratic one they guard against
 * far beyond (a 100,000-tag line took 50 s).
 */
import assert from "node:assert/strict";
import { parseLineProtocol } from "./line_protocol.ts";
import { assertDoublesLinearly, timeOf } from "./_cost_test_util.ts";

const enc = new TextEncoder();
const EPOCH = { ms: 0, subMs: 0 };

const parse = (body: Uint8Array) => parseLineProtocol(body, { defaultTime: EPOCH });

/**
 * Asserts that parsing twice the input at most about doubles the CPU time, and that the larger
 * input takes well under a second (the quadratic code took seconds).
 */
function assertLinear(what: string, make: (n: number) => Uint8Array, n: number): void {
  const small = make(n), large = make(2 * n);
  const t = assertDoublesLinearly(what, () => parse(small), () => parse(large));
  assert.ok(t.large < 1000, `${what}: ${2 * n} took ${t.large.toFixed(0)} ms of CPU`);
}

/** Five lines (five series) of `n` tags each, in reverse order (the worst case for sorting). */
function reversedTags(n: number): Uint8Array {
  const lines: string[] = [];
  for (let l = 0; l < 5; l++) {
    let line = `m${l}`;
    for (let i = n - 1; i >= 0; i--) line += `,${i}=v`;
    lines.push(`${line} v=1 1`);
  }
  return enc.encode(lines.join("\n"));
}

/** One line of `n` fields, each given twice (the last value wins). */
function repeatedFields(n: number): Uint8Array {
  const fields: string[] = [];
  for (let i = 0; i < n; i++) fields.push(`f${i}=1`);
  for (let i = 0; i < n; i++) fields.push(`f${i}=2`);
  return enc.encode(`m ${fields.join(",")} 1`);
}

Deno.test("line protocol cost: thousands of unsorted tags sort in n log n", () => {
  const body = reversedTags(8000);
  const { points, errors } = parse(body);
  assert.deepEqual(errors, []);
  assert.equal(points.length, 5);
  const keys = points[0].tags.map((t) => t.key);
  assert.deepEqual(keys, [...keys].sort(), "tags come out sorted");
  assertLinear("unsorted tags", reversedTags, 4000);
});

Deno.test("line protocol cost: a duplicate among thousands of tags is found at its column", () => {
  let line = "m";
  for (let i = 0; i < 5000; i++) line += `,t${i}=v`;
  const at = line.length + 2; // the 1-based column of the repeated key
  line += ",t1234=w v=1";
  const { points, errors } = parse(enc.encode(line));
  assert.equal(points.length, 0);
  assert.deepEqual([errors[0].reason, errors[0].column], ["duplicate tags", at]);
});

Deno.test("line protocol cost: a key past the limit is refused at once, not parsed", () => {
  let line = "m";
  for (let i = 99_999; i >= 0; i--) line += `,t${i}=v`;
  const body = enc.encode(`${line} v=1 1\nok v=1 2`);
  let result: ReturnType<typeof parse> | undefined;
  const ms = timeOf(() => result = parse(body));
  assert.equal(result!.points.length, 1, "the next line is kept");
  assert.equal(result!.errors[0].reason, `max key length exceeded: ${line.length} > 65535`);
  assert.ok(ms < 1000, `a 100,000-tag line took ${ms.toFixed(0)} ms to refuse`);
});

Deno.test("line protocol cost: a field given again is found in O(1)", () => {
  const { points, errors } = parse(repeatedFields(20_000));
  assert.deepEqual(errors, []);
  assert.equal(points[0].fields.length, 20_000);
  assert.ok(points[0].fields.every((f) => f.value === 2), "the last value wins");
  // Timed at 5,000: from ~30,000 live field keys on, V8's young-generation collector copies
  // them all at each scavenge and one doubling costs 3-4× in any parser (measured on 2.9.6).
  assertLinear("repeated fields", repeatedFields, 5_000);
});

Deno.test("line protocol: a field key written with and without an escaped quote is one field", () => {
  // `a"b` and `a\"b` both name the field a"b: two spellings, one key, the last value wins.
  const { points, errors } = parse(enc.encode('m a"b=1,x=0,a\\"b=2 1'));
  assert.deepEqual(errors, []);
  assert.deepEqual(points[0].fields.map((f) => [f.key, f.value]), [['a"b', 2], ["x", 0]]);
  const conflict = parse(enc.encode('m a"b=1,a\\"b="s" 1'));
  assert.match(conflict.errors[0].reason, /^field type conflict: field "a"b" appears twice/);
});
