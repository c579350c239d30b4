import assert from "node:assert/strict";
import fc from "fast-check";
import {
  checkLinearizable,
  type KvInput,
  kvModel,
  type KvOutput,
  type Operation,
} from "./linearizability.ts";

type Op = Operation<KvInput, KvOutput>;
const put = (clientId: number, key: string, value: string, call: number, ret: number): Op => ({
  clientId,
  input: { kind: "put", key, value },
  output: ret === Infinity ? undefined : "ok",
  call,
  ret,
});
const get = (
  clientId: number,
  key: string,
  value: string | null,
  call: number,
  ret: number,
): Op => ({
  clientId,
  input: { kind: "get", key },
  output: value,
  call,
  ret,
});
const ok = (h: Op[]) => checkLinearizable(kvModel, h).ok;

Deno.test("linearizability: sequential histories that follow the model pass", () => {
  assert.equal(
    ok([
      put(1, "x", "1", 0, 1),
      get(2, "x", "1", 2, 3),
      put(1, "x", "2", 4, 5),
      get(2, "x", "2", 6, 7),
    ]),
    true,
  );
  assert.equal(ok([get(1, "x", null, 0, 1)]), true);
});

Deno.test("linearizability: a stale read after a completed write is rejected", () => {
  assert.equal(
    ok([put(1, "x", "1", 0, 10), put(1, "x", "2", 20, 30), get(2, "x", "1", 40, 50)]),
    false,
  );
});

Deno.test("linearizability: reading a value never written is rejected", () => {
  assert.equal(ok([put(1, "x", "1", 0, 10), get(2, "x", "7", 20, 30)]), false);
});

Deno.test("linearizability: reading null after a completed write is rejected", () => {
  assert.equal(ok([put(1, "x", "1", 0, 10), get(2, "x", null, 11, 12)]), false);
});

Deno.test("linearizability: a read concurrent with a write may see either value", () => {
  assert.equal(ok([put(1, "x", "1", 0, 10), get(2, "x", null, 5, 6)]), true);
  assert.equal(ok([put(1, "x", "1", 0, 10), get(2, "x", "1", 5, 6)]), true);
});

Deno.test("linearizability: two reads may not see values flip back (new-old inversion)", () => {
  // put 1 completes; put 2 is concurrent with both reads; read A sees 2 then read B sees 1.
  const h = [
    put(1, "x", "1", 0, 1),
    put(1, "x", "2", 2, 100),
    get(2, "x", "2", 10, 20),
    get(3, "x", "1", 30, 40),
  ];
  assert.equal(ok(h), false);
});

Deno.test("linearizability: a write with an unknown outcome may take effect late or never", () => {
  const lost = put(1, "x", "9", 0, Infinity);
  assert.equal(ok([lost, get(2, "x", null, 5, 6)]), true);
  assert.equal(ok([lost, get(2, "x", null, 5, 6), get(2, "x", "9", 500, 501)]), true);
  assert.equal(ok([lost, get(2, "x", "9", 5, 6), get(2, "x", null, 500, 501)]), false);
});

Deno.test("linearizability: keys are checked independently (a violation on one key is found)", () => {
  const h = [
    put(1, "a", "1", 0, 1),
    put(1, "b", "1", 0, 1),
    get(2, "a", "1", 2, 3),
    get(2, "b", null, 2, 3),
  ];
  const r = checkLinearizable(kvModel, h);
  assert.equal(r.ok, false);
  assert.equal(r.failedPartition, "b");
});

Deno.test("linearizability: random sequential histories pass; corrupting one read fails", () => {
  const step = fc.record({
    put: fc.boolean(),
    key: fc.constantFrom("a", "b"),
    gap: fc.integer({ min: 1, max: 5 }),
  });
  fc.assert(
    fc.property(fc.array(step, { minLength: 1, maxLength: 60 }), fc.nat(), (steps, pick) => {
      const state = new Map<string, string | null>();
      const h: Op[] = [];
      let t = 0;
      let v = 0;
      for (const s of steps) {
        const call = t;
        const ret = t + s.gap;
        t = ret + 1;
        if (s.put) {
          const value = String(++v);
          state.set(s.key, value);
          h.push(put(1, s.key, value, call, ret));
        } else {
          h.push(get(2, s.key, state.get(s.key) ?? null, call, ret));
        }
      }
      assert.equal(ok(h), true);
      const reads = h.filter((o) => o.input.kind === "get");
      if (reads.length === 0) return;
      const r = reads[pick % reads.length];
      r.output = "never-written";
      assert.equal(ok(h), false);
    }),
  );
});

Deno.test("linearizability: many concurrent writes with unknown outcomes stay tractable", () => {
  const h: Op[] = [];
  for (let i = 0; i < 40; i++) h.push(put(i, "x", `u${i}`, i, Infinity));
  for (let i = 0; i < 200; i++) {
    h.push(
      put(100, "x", `s${i}`, 100 + 10 * i, 105 + 10 * i),
      get(101, "x", `s${i}`, 106 + 10 * i, 107 + 10 * i),
    );
  }
  const r = checkLinearizable(kvModel, h);
  assert.equal(r.ok, true);
  assert.equal(r.timedOut, false);
});
