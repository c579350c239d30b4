import assert from "node:assert/strict";
import { measureOnLeaders, PartitionBytes } from "./partition_bytes.ts";

Deno.test("partition bytes: one call per leader, in-process for this node's; no figure from a replica without whole data", async () => {
  const calls: [number, number[]][] = [];
  const measured = await measureOnLeaders(
    [
      { groupId: 10, leader: 1 },
      { groupId: 11, leader: 2 },
      { groupId: 12, leader: 2 },
      { groupId: 13, leader: 3 },
      { groupId: 14, leader: 0 }, // no leader known
      { groupId: 15, leader: 4 }, // its node fails the call
    ],
    1,
    (groupId) => groupId * 100,
    (node, groupIds) => {
      calls.push([node, groupIds]);
      if (node === 4) return Promise.reject(new Error("unreachable"));
      // Node 3's replica of group 13 is a learner being streamed: no figure.
      return Promise.resolve(groupIds.map((id) => id === 13 ? null : id * 100));
    },
  );
  assert.deepEqual(calls, [[2, [11, 12]], [3, [13]], [4, [15]]]);
  assert.deepEqual([...measured].sort((a, b) => a[0] - b[0]), [[10, 1000], [11, 1100], [12, 1200]]);

  // A partition not measured in a pass keeps its last figure; one gone from the metadata goes.
  const bytes = new PartitionBytes(0);
  bytes.refresh(0, [10, 11], () => Promise.resolve(new Map([[10, 5], [11, 6]])));
  await bytes.settled();
  bytes.refresh(1, [10], () => Promise.resolve(new Map()));
  await bytes.settled();
  assert.deepEqual(bytes.entries(), [[10, 5]]);
});
