import assert from "node:assert/strict";
import { FieldType, type Point } from "../core/mod.ts";
import { fieldsOf, memoryFileSystem, pt, tagsOf } from "./_test_util.ts";
import { Step } from "./model.ts";
import { compileSteps, isViolation, type PointOutcome } from "./transform.ts";

async function run(
  steps: unknown[],
  p: Point,
  files: Record<string, string> = {},
): Promise<PointOutcome> {
  const compiled = await compileSteps("m", steps.map((s) => Step.parse(s)), {
    fs: memoryFileSystem(files),
    folder: "/cfg",
  });
  let out: PointOutcome = p;
  for (const s of compiled) {
    out = s.point!(out as Point);
    if (out === null || isViolation(out)) break;
  }
  return out;
}

const P = pt("m", { hostname: "a", site: "x" }, { temp: 50, "n:i": 3, s: "42", flag: "true" });

Deno.test("transform: rename a tag or field (sorted, replacing an existing key)", async () => {
  const out = (await run([{ rename_tag: { from: "hostname", to: "host" } }], P)) as Point;
  assert.deepEqual(tagsOf(out), { host: "a", site: "x" });
  assert.deepEqual(out.tags.map((t) => t.key), ["host", "site"]);
  const f = (await run([{ rename_field: { from: "temp", to: "n" } }], P)) as Point;
  assert.deepEqual(fieldsOf(f), { n: 50, s: "42", flag: "true" });
  assert.deepEqual(tagsOf(P), { hostname: "a", site: "x" }); // the input is untouched
});

Deno.test("transform: cast between every type, with a clear error when it cannot", async () => {
  const cast = async (field: string, to: string) => await run([{ cast: { field, to } }], P);
  const s = (await cast("s", "integer")) as Point;
  assert.deepEqual(s.fields.find((f) => f.key === "s"), {
    key: "s",
    type: FieldType.Integer,
    value: 42,
  });
  assert.equal(((await cast("temp", "string")) as Point).fields[0].value, "50");
  assert.equal(
    ((await cast("flag", "boolean")) as Point).fields.find((f) => f.key === "flag")!.value,
    true,
  );
  assert.equal(
    ((await cast("n", "float")) as Point).fields.find((f) => f.key === "n")!.type,
    FieldType.Float,
  );
  const big = await run(
    [{ cast: { field: "v", to: "integer" } }],
    pt("m", {}, { v: "9223372036854775807" }),
  );
  assert.equal((big as Point).fields[0].value, 9223372036854775807n);
  const bad = await cast("flag", "integer");
  assert.ok(bad && isViolation(bad));
  assert.equal(bad.rule, "cast");
  assert.match(bad.expected, /castable to integer \(not a finite number\)/);
  assert.equal(bad.got, 'string "true"');
  const neg = await run([{ cast: { field: "v", to: "unsigned" } }], pt("m", {}, { v: -1 }));
  assert.ok(neg && isViolation(neg) && /negative/.test(neg.expected));
});

Deno.test("transform: scale, offset and round", async () => {
  const out = (await run([
    { scale: { field: "temp", factor: 5 / 9, offset: -160 / 9 } },
    { round: { field: "temp", digits: 1 } },
  ], P)) as Point;
  assert.equal(fieldsOf(out).temp, 10);
  const r = (await run([{ round: { field: "v" } }], pt("m", {}, { v: 2.5 }))) as Point;
  assert.equal(r.fields[0].value, 3);
  const notNumber = await run([{ scale: { field: "s", factor: 2 } }], P);
  assert.ok(notNumber && isViolation(notNumber) && notNumber.rule === "scale");
});

Deno.test("transform: defaults only fill what is missing", async () => {
  const out = (await run(
    [{ default: { tags: { site: "y", dc: "d1" }, fields: { temp: 1, ok: true } } }],
    P,
  )) as Point;
  assert.deepEqual(tagsOf(out), { dc: "d1", hostname: "a", site: "x" });
  assert.equal(fieldsOf(out).temp, 50);
  assert.equal(fieldsOf(out).ok, true);
});

Deno.test("transform: drop_if drops the point when its condition holds", async () => {
  assert.equal(await run([{ drop_if: "temp > 40 and site = 'x'" }], P), null);
  assert.equal(await run([{ drop_if: "temp > 60" }], P), P);
  // Later steps do not run on a dropped point.
  assert.equal(
    await run([{ drop_if: "true" }, { cast: { field: "flag", to: "integer" } }], P),
    null,
  );
});

Deno.test("transform: lookup tables from CSV, YAML and inline", async () => {
  const files = {
    "/cfg/hosts.csv": 'name,rack,dc,note\na,r1,"dc, one",x\nb,r2,dc2,y\n',
    "/cfg/hosts.yaml": "a: { rack: r9 }\n",
  };
  const csv = (await run(
    [{
      lookup: { tag: "hostname", file: "hosts.csv", key_column: "name", columns: ["rack", "dc"] },
    }],
    P,
    files,
  )) as Point;
  assert.deepEqual(tagsOf(csv), { dc: "dc, one", hostname: "a", rack: "r1", site: "x" });
  const yaml =
    (await run([{ lookup: { tag: "hostname", file: "hosts.yaml" } }], P, files)) as Point;
  assert.equal(tagsOf(yaml).rack, "r9");
  const inline = (await run(
    [{ lookup: { tag: "hostname", table: { a: { site: "z" } }, overwrite: true } }],
    P,
  )) as Point;
  assert.equal(tagsOf(inline).site, "z");
  const kept =
    (await run([{ lookup: { tag: "hostname", table: { a: { site: "z" } } } }], P)) as Point;
  assert.equal(tagsOf(kept).site, "x");
  await assert.rejects(
    run([{ lookup: { tag: "hostname", file: "hosts.csv", key_column: "nope" } }], P, files),
    /pipeline\.0\.lookup: hosts\.csv: no column "nope" in the header row \(4 columns\)/,
  );
  await assert.rejects(
    run([{ lookup: { tag: "h", file: "missing.csv" } }], P, files),
    /pipeline\.0\.lookup\.file: "missing\.csv" does not exist in the schema folder/,
  );
});

Deno.test("transform: derive a field from an expression, typed", async () => {
  const out = (await run([
    { derive: { field: "temp_f", expr: "temp * 1.8 + 32" } },
    { derive: { field: "label", expr: "upper(hostname) + ':' + str(n)" } },
    { derive: { field: "n2", expr: "n * 2", type: "integer" } },
    { derive: { field: "nothing", expr: "missing * 2" } },
  ], P)) as Point;
  const f = fieldsOf(out);
  assert.equal(f.temp_f, 122);
  assert.equal(f.label, "A:3");
  assert.equal(f.n2, 6);
  assert.equal(out.fields.find((x) => x.key === "n2")!.type, FieldType.Integer);
  assert.ok(!("nothing" in f));
  const bad = await run([{ derive: { field: "x", expr: "'abc'", type: "integer" } }], P);
  assert.ok(bad && isViolation(bad) && bad.rule === "derive");
  await assert.rejects(
    run([{ derive: { field: "x", expr: "1 +" } }], P),
    /pipeline\.0\.derive: invalid expression/,
  );
});
