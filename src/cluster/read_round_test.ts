import assert from "node:assert/strict";
import { readBarriers, type ReadMember } from "./read_round.ts";

/** A member that records which barrier it took. */
function member(groupId: number, leader: number) {
  const taken: string[] = [];
  const m: ReadMember & { taken: string[] } = {
    groupId,
    taken,
    leader: () => leader,
    readBarrier: () => {
      taken.push("own");
      return Promise.resolve();
    },
    waitApplied: (index) => {
      taken.push(`applied ${index}`);
      return Promise.resolve();
    },
  };
  return m;
}

Deno.test("read barriers ask each leader's node once, all at once, for the groups it leads", async () => {
  const members = [member(1, 2), member(2, 3), member(3, 1), member(4, 2), member(5, 0)];
  const calls: { node: number; groups: readonly number[] }[] = [];
  const answer = Promise.withResolvers<void>();
  const done = readBarriers(1, members, {
    readIndexes: async (node, groupIds) => {
      calls.push({ node, groups: groupIds });
      await answer.promise; // both calls are out before either answers
      return groupIds.map((g) => g * 10);
    },
  });
  assert.deepEqual(calls, [{ node: 2, groups: [1, 4] }, { node: 3, groups: [2] }]);
  answer.resolve();
  await Promise.all(done);
  assert.deepEqual(members.map((m) => m.taken), [
    ["applied 10"],
    ["applied 20"],
    ["own"], // led here
    ["applied 40"],
    ["own"], // no leader known
  ]);
});

Deno.test("a group its leader's node cannot confirm, or whose call fails, takes its own barrier", async () => {
  const members = [member(1, 2), member(2, 2), member(3, 3)];
  await Promise.all(readBarriers(1, members, {
    readIndexes: (node) =>
      node === 2 ? Promise.resolve([0, 7]) : Promise.reject(new Error("unreachable")),
  }));
  assert.deepEqual(members.map((m) => m.taken), [["own"], ["applied 7"], ["own"]]);
});

Deno.test("without the call, every member takes its own barrier", async () => {
  const members = [member(1, 2), member(2, 3)];
  await Promise.all(readBarriers(1, members, {}));
  assert.deepEqual(members.map((m) => m.taken), [["own"], ["own"]]);
});

Deno.test("each leader's call is bounded by the read's own timeout", async () => {
  const seen: (number | undefined)[] = [];
  await Promise.all(readBarriers(1, [member(1, 2), member(2, 3)], {
    readIndexes: (_node, groupIds, timeoutMs) => {
      seen.push(timeoutMs);
      return Promise.resolve(groupIds.map(() => 5));
    },
  }, 750));
  assert.deepEqual(seen, [750, 750]);
});
