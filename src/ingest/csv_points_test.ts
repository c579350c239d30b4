import assert from "node:assert/strict";
import fc from "fast-check";
import { FieldType, ParseError } from "../core/mod.ts";
import type { DecodedBatch } from "./batches.ts";
import { type CsvOptions, decodeCsvStream, parseCsvTypes } from "./csv_points.ts";

const EPOCH = { ms: 0, subMs: 0 };

async function decode(text: string, options: Partial<CsvOptions> = {}, cuts: number[] = []) {
  const bytes = new TextEncoder().encode(text);
  const bounds = [...new Set(cuts.filter((c) => c > 0 && c < bytes.length))].sort((a, b) => a - b);
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      let at = 0;
      for (const cut of [...bounds, bytes.length]) {
        c.enqueue(bytes.slice(at, cut));
        at = cut;
      }
      c.close();
    },
  });
  const out: DecodedBatch = { points: [], errors: [], origins: [], bytes: 0 };
  for await (const b of decodeCsvStream(stream, { defaultTime: EPOCH, ...options })) {
    out.points.push(...b.points);
    out.errors.push(...b.errors);
    out.origins!.push(...b.origins!);
    out.bytes += b.bytes;
  }
  return out;
}

Deno.test("csv: types inferred per column from the first rows, declared ones win", async () => {
  const { points, errors } = await decode(
    "measurement,i,f,b,s,d\nm,1,1,true,x,5\nm,-2,2.5,FALSE,3,6\nm,,1e3,,,7\n",
    { types: { d: "unsigned" } },
  );
  assert.deepEqual(errors, []);
  assert.deepEqual(points[0].fields.map((f) => [f.key, f.type, f.value]), [
    ["i", FieldType.Integer, 1],
    ["f", FieldType.Float, 1],
    ["b", FieldType.Boolean, true],
    ["s", FieldType.String, "x"],
    ["d", FieldType.Unsigned, 5],
  ]);
  assert.deepEqual(points[2].fields.map((f) => f.key), ["f", "d"]); // empty cells are absent
  const late = await decode("measurement,v\nm,1\nm,2\nm,2.5\n", { inferRows: 2 });
  assert.deepEqual(late.errors, [{
    record: 3,
    column: "v",
    reason: 'column "v": "2.5" is not a valid integer',
  }]);
});

Deno.test("csv: the same result however the body is cut into chunks", async () => {
  const text = '\ufefftime,measurement,host,v\r\n1,m,"a,b",1.5\r\n2,m,"x\r\ny",2\r\n3,m,c,oops\r\n';
  const whole = await decode(text, { tags: ["host"], types: { v: "float" } });
  assert.equal(whole.points.length, 2);
  assert.deepEqual(whole.points[1].tags, [{ key: "host", value: "x\r\ny" }]);
  assert.deepEqual(whole.errors.map((e) => e.record), [3]);
  await fc.assert(
    fc.asyncProperty(fc.array(fc.nat(text.length + 4), { maxLength: 8 }), async (cuts) => {
      const r = await decode(text, { tags: ["host"], types: { v: "float" } }, cuts);
      assert.deepEqual(r.points, whole.points);
      assert.deepEqual(r.errors, whole.errors);
    }),
    { numRuns: 100 },
  );
});

Deno.test("csv: declared types parse, bad ones are refused with the entry", () => {
  assert.deepEqual(parseCsvTypes("a:float, b:integer,c:string"), {
    a: "float",
    b: "integer",
    c: "string",
  });
  assert.throws(() => parseCsvTypes("a"), /invalid types entry "a"/);
  assert.throws(() => parseCsvTypes("a:int"), /invalid types entry "a:int"/);
});

Deno.test("csv: a quote inside a bare value is a ParseError naming the line, not an untyped error", async () => {
  // Under csv-parse this one escaped as a plain Error (a 500 at /ingest). Found by tests/fuzz.
  await assert.rejects(
    () => decode('measurement,v\nm,1\nm,a"b\n'),
    (e: unknown) => {
      assert.ok(e instanceof ParseError, String(e));
      assert.match(e.message, /^malformed CSV at line 3: Invalid Opening Quote/);
      assert.equal(e.line, 3);
      assert.equal(e.column, 4);
      return true;
    },
  );
});

Deno.test("csv: the float pattern accepts what the old one did, in linear time", async () => {
  // The old pattern tried every split of a digit run between `\d+` and `\d*` before failing: a
  // 70 KB cell took 8 s (tests/fuzz/regressions/csv/hang-s31-i12811.bin guards the time).
  const OLD = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
  const unit = fc.constantFrom("1", "0", ".", "e", "E", "+", "-", "x", " ");
  await fc.assert(
    fc.asyncProperty(fc.string({ unit, minLength: 1, maxLength: 12 }), async (cell) => {
      const { errors } = await decode(`measurement,v\nm,${cell}\n`, { types: { v: "float" } });
      const refused = errors.some((e) => e.reason.endsWith("is not a valid float"));
      assert.equal(refused, !OLD.test(cell.trim()), JSON.stringify(cell));
    }),
    { numRuns: 300 },
  );
  const long = await decode(`measurement,v\nm,${"1".repeat(200_000)}x\nm,2\n`);
  assert.deepEqual(long.points[0].fields[0].type, FieldType.String);
});

Deno.test("csv: problems are met in body order: a bad header before broken quoting after it", async () => {
  await assert.rejects(
    () => decode('measurement,v,v\nm,1,2\nm,a"b,3\n'),
    /^ValidationError: CSV header: column "v" appears twice/,
  );
  // Rows before the broken quoting are decoded (and yielded in their batches) first.
  const seen: (number | undefined)[] = [];
  const body = new TextEncoder().encode('measurement,v\nm,1\nm,2\nm,"3\n');
  const stream = ReadableStream.from([body]);
  await assert.rejects(async () => {
    for await (
      const b of decodeCsvStream(stream, { defaultTime: EPOCH, batchRows: 1, inferRows: 1 })
    ) {
      seen.push(...b.origins!);
    }
  }, /^ParseError: malformed CSV at line 4: Quote Not Closed at column 3/);
  assert.deepEqual(seen, [1, 2]);
});
