import assert from "node:assert/strict";
import { MetaState } from "./meta_state.ts";
import { planRestore } from "./meta_restore.ts";

Deno.test("metadata schemas: set, replace, ifAbsent, delete; a snapshot carries them and tells the listener", () => {
  const state = new MetaState();
  const seen: (string | undefined)[] = [];
  state.schemas.onChange((m) => seen.push(m));
  const entry = { schema: { fields: { v: { type: "float" } } }, files: { "t.csv": "k,v\n" } };
  assert.deepEqual(state.apply({ op: "set_schema", measurement: "m", entry }), { ok: true });
  const other = { schema: {}, files: {} };
  state.apply({ op: "set_schema", measurement: "m", entry: other, ifAbsent: true });
  assert.deepEqual(state.schemas.entries.get("m"), entry, "ifAbsent keeps the one there");
  state.apply({ op: "set_schema", measurement: "n", entry: other });
  assert.deepEqual(state.apply({ op: "delete_schema", measurement: "n" }), { ok: true });
  assert.deepEqual(state.apply({ op: "delete_schema", measurement: "n" }), {
    ok: false,
    error: 'no schema for measurement "n"',
  });
  assert.deepEqual(seen, ["m", "n", "n"]);

  const copy = new MetaState();
  const copied: (string | undefined)[] = [];
  copy.schemas.onChange((m) => copied.push(m));
  copy.restore(state.snapshot());
  assert.deepEqual([...copy.schemas.entries], [["m", entry]]);
  assert.deepEqual(copied, [undefined]);
  // A snapshot from before schemas has none.
  const old = JSON.parse(new TextDecoder().decode(state.snapshot()));
  delete old.schemas;
  copy.restore(new TextEncoder().encode(JSON.stringify(old)));
  assert.equal(copy.schemas.entries.size, 0);
});

Deno.test("metadata schemas: a whole restore brings them back, keeping one the cluster has", () => {
  const backup = new MetaState();
  const entry = (max: number) => ({ schema: { fields: { v: { type: "float", max } } }, files: {} });
  backup.apply({ op: "set_schema", measurement: "m", entry: entry(1) });
  backup.apply({ op: "set_schema", measurement: "n", entry: entry(2) });
  const current = new MetaState();
  current.apply({ op: "set_schema", measurement: "n", entry: entry(3) });
  const selection = { users: true, emptyExisting: new Set<string>() };
  const plan = planRestore(backup, current, selection);
  assert.deepEqual(plan.commands, [
    { op: "set_schema", measurement: "m", entry: entry(1), ifAbsent: true },
  ]);
  assert.deepEqual(plan.skipped, ["the schema of n exists here and was left as it is"]);
  assert.deepEqual(planRestore(backup, current, { ...selection, users: false }).commands, []);
});
