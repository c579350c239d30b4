import assert from "node:assert/strict";
import { HISTORY_LIMIT, readHistory, remember } from "./history.ts";

Deno.test("the newest query first, each once per database, at most the limit", () => {
  let h = remember([], { query: "SELECT 1", database: "a", ranAtMs: 1 });
  h = remember(h, { query: "SELECT 2", database: "a", ranAtMs: 2 });
  h = remember(h, { query: "  SELECT 1 ", database: "a", ranAtMs: 3 });
  h = remember(h, { query: "SELECT 1", database: "b", ranAtMs: 4 });
  h = remember(h, { query: "   ", database: "b", ranAtMs: 5 });
  assert.deepEqual(h.map((e) => `${e.database}:${e.query}:${e.ranAtMs}`), [
    "b:SELECT 1:4",
    "a:SELECT 1:3",
    "a:SELECT 2:2",
  ]);
  for (let i = 0; i < 150; i++) h = remember(h, { query: `q${i}`, database: "a", ranAtMs: i });
  assert.equal(h.length, HISTORY_LIMIT);
  assert.equal(h[0].query, "q149");
});

Deno.test("a stored history reads back; anything else is an empty one", () => {
  const h = [{ query: "q", database: "d", ranAtMs: 1 }];
  assert.deepEqual(readHistory(JSON.stringify(h)), h);
  assert.deepEqual(readHistory(null), []);
  assert.deepEqual(readHistory("{not json"), []);
  assert.deepEqual(readHistory('{"query": "q"}'), []);
  assert.deepEqual(readHistory('[{"query": 1}, {"query": "q", "database": "d", "ranAtMs": 1}]'), h);
});
