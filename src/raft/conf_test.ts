import assert from "node:assert/strict";
import fc from "fast-check";
import { ValidationError } from "../core/mod.ts";
import type { ConfState } from "./types.ts";
import { applyConfChange, decodeConfState, encodeConfState } from "./conf.ts";

Deno.test("conf: any configuration round-trips through its encoding", () => {
  const ids = fc.uniqueArray(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), {
    maxLength: 9,
  });
  fc.assert(fc.property(ids, ids, (voters, learners) => {
    const conf = { voters, learners };
    assert.deepEqual(decodeConfState(encodeConfState(conf)), conf);
  }));
});

Deno.test("conf: bad version, truncation and trailing bytes are rejected", () => {
  const good = encodeConfState({ voters: [1, 300], learners: [] });
  assert.throws(() => decodeConfState(new Uint8Array([9, 0, 0])), /unsupported version 9/);
  assert.throws(() => decodeConfState(good.subarray(0, 3)), ValidationError);
  assert.throws(() => decodeConfState(new Uint8Array([...good, 0])), /1 trailing bytes/);
});

Deno.test("conf: changes add, promote, demote and remove; no-ops and empty results are errors", () => {
  let c: ConfState = { voters: [1], learners: [] };
  c = applyConfChange(c, { type: "addLearner", nodeId: 3 });
  assert.deepEqual(c, { voters: [1], learners: [3] });
  c = applyConfChange(c, { type: "addVoter", nodeId: 3 });
  assert.deepEqual(c, { voters: [1, 3], learners: [] });
  c = applyConfChange(c, { type: "addLearner", nodeId: 1 });
  assert.deepEqual(c, { voters: [3], learners: [1] });
  assert.throws(() => applyConfChange(c, { type: "addVoter", nodeId: 3 }), /already a voter/);
  assert.throws(() => applyConfChange(c, { type: "removeNode", nodeId: 8 }), /not a member/);
  assert.throws(() => applyConfChange(c, { type: "removeNode", nodeId: 3 }), /no voter/);
  assert.throws(() => applyConfChange(c, { type: "addVoter", nodeId: 0 }), /positive integer/);
});
