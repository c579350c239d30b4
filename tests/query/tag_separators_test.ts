/**
 * Tag keys and values may hold any character: NUL and \x01 (line protocol passes them through,
 * JSON writes them as \u0000), `,` and `=` (escaped in line protocol). Two different tag sets
 * stay two series and two groups everywhere the query engine keys them: GROUP BY * and GROUP BY
 * tags (one shard and several), raw rows, a subquery's series, top()'s tag groups, SHOW TAG
 * VALUES. Joining the parts with NUL and \x01 let `a="x\0b\1y"` stand for `a="x",b="y"`.
 */
import assert from "node:assert/strict";
import { setup } from "../ingest/_app.ts";

const S = 1_000_000_000;
const WEEK = 7 * 24 * 3600 * S;
// Each pair below reads alike once its parts are joined by NUL / \x01, or by `,` and `=`.
const LINES = [
  `m,a=x\0b\x01y v=1 ${S}`,
  `m,a=x,b=y v=2 ${S}`,
  `m,a=p v=3 ${S}`,
  // GROUP BY a, b: ["x\0b\1p", ""] and ["x", "p\0b\1"]; the second one also a shard group later.
  `m4,a=x\0b\x01p v=1 ${S}`,
  `m4,a=x,b=p\0b\x01 v=2 ${2 * S}`,
  `m4,a=x,b=p\0b\x01 v=4 ${WEEK + S}`,
  // A subquery's series named `m3,a=x,b=y` both, unescaped.
  `m3,a=x\\,b\\=y v=1 ${S}`,
  `m3,a=x,b=y v=2 ${2 * S}`,
  // top(v, a, b, n): the tag groups ["x\0y", "z"] and ["x", "y\0z"].
  `t,a=x\0y,b=z v=5 ${S}`,
  `t,a=x,b=y\0z v=6 ${2 * S}`,
].join("\n");

async function node() {
  const n = await setup();
  const w = await n.post("/write?db=epochnexus", "text/plain", LINES);
  assert.equal(w.status, 204, w.text);
  // The same tag sets through JSON, in a measurement of their own.
  const json = [
    { measurement: "j", tags: { a: "x\u0000b\u0001y" }, value: 1, timestamp: 1 },
    { measurement: "j", tags: { a: "x", b: "y" }, value: 2, timestamp: 1 },
  ];
  const j = await n.post("/ingest?db=epochnexus", "application/json", JSON.stringify(json));
  assert.ok(j.status < 300, j.text);
  /** Each series of a statement as `tags: rows`. */
  const series = async (q: string): Promise<string[]> => {
    const r = await n.call(`/query?db=epochnexus&q=${encodeURIComponent(q)}`);
    assert.equal(r.status, 200, r.text);
    const result = r.json.results[0];
    assert.equal(result.error, undefined, result.error);
    return (result.series ?? []).map((s: { tags?: object; values: unknown[][] }) =>
      `${JSON.stringify(s.tags ?? {})}: ${JSON.stringify(s.values.map((row) => row.slice(1)))}`
    );
  };
  return { ...n, series };
}

Deno.test("tag separators: GROUP BY * keeps tag sets apart that read alike joined by NUL", async () => {
  const n = await node();
  try {
    // GROUP BY * is every tag key; a series without one is in the group of "" for it.
    const groups = [
      `{"a":"p","b":""}: [[1]]`,
      `{"a":"x","b":"y"}: [[1]]`,
      `{"a":"x\\u0000b\\u0001y","b":""}: [[1]]`,
    ];
    assert.deepEqual(await n.series("SELECT count(v) FROM m GROUP BY *"), groups);
    assert.deepEqual(await n.series("SELECT count(value) FROM j GROUP BY *"), groups.slice(1));
    assert.deepEqual(await n.series("SELECT * FROM m GROUP BY *"), [
      `{"a":"p","b":""}: [[3]]`,
      `{"a":"x","b":"y"}: [[2]]`,
      `{"a":"x\\u0000b\\u0001y","b":""}: [[1]]`,
    ]);
    assert.deepEqual(
      await n.series("SELECT count(v) FROM (SELECT v FROM m GROUP BY *) GROUP BY *"),
      groups,
    );
  } finally {
    await n.close();
  }
});

Deno.test("tag separators: GROUP BY tags keeps them apart, raw and over several shards", async () => {
  const n = await node();
  try {
    const apart = [
      `{"a":"x","b":"p\\u0000b\\u0001"}`,
      `{"a":"x\\u0000b\\u0001p","b":""}`,
    ];
    assert.deepEqual(await n.series("SELECT * FROM m4 GROUP BY a, b"), [
      `${apart[0]}: [[2],[4]]`,
      `${apart[1]}: [[1]]`,
    ]);
    // Two shard groups: their partials are merged by group key.
    assert.deepEqual(await n.series("SELECT sum(v) FROM m4 GROUP BY a, b"), [
      `${apart[0]}: [[6]]`,
      `${apart[1]}: [[1]]`,
    ]);
  } finally {
    await n.close();
  }
});

Deno.test("tag separators: a subquery's series and top()'s tag groups stay apart", async () => {
  const n = await node();
  try {
    assert.deepEqual(await n.series("SELECT * FROM (SELECT v, a, b FROM m3)"), [
      `{}: [["x,b=y",null,1],["x","y",2]]`,
    ]);
    assert.deepEqual(await n.series("SELECT top(v, a, b, 5) FROM t"), [
      `{}: [[5,"x\\u0000y","z"],[6,"x","y\\u0000z"]]`,
    ]);
  } finally {
    await n.close();
  }
});

Deno.test("tag separators: SHOW TAG VALUES lists a value holding NUL as one value", async () => {
  const n = await node();
  try {
    const r = await n.call(
      `/query?db=epochnexus&q=${encodeURIComponent("SHOW TAG VALUES FROM m WITH KEY =~ /.*/")}`,
    );
    assert.deepEqual(r.json.results[0].series[0].values, [
      ["a", "p"],
      ["a", "x"],
      ["a", "x\u0000b\u0001y"],
      ["b", "y"],
    ]);
  } finally {
    await n.close();
  }
});
