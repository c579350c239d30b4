import assert from "node:assert/strict";
import fc from "fast-check";
import { isMoving, type NodeView, type PartitionView, planRebalance } from "./rebalance.ts";

const node = (id: number, live = true, draining = false): NodeView => ({ id, live, draining });
const settled = (groupId: number, replicas: number[]): PartitionView => ({
  groupId,
  replicas,
  target: replicas,
});

Deno.test("rebalance: a node that joins gets replicas from the most loaded, a few at a time", () => {
  const nodes = [node(1), node(2), node(3), node(4)];
  const partitions = [1, 2, 3, 4, 5, 6].map((g) => settled(g, [1 + g % 3, 1 + (g + 1) % 3]));
  const changes = planRebalance(nodes, partitions, { maxMoves: 2 });
  assert.equal(changes.filter((c) => c.target.includes(4)).length, 2, JSON.stringify(changes));
  for (const c of changes) {
    const before = partitions.find((p) => p.groupId === c.groupId)!;
    assert.equal(c.target.length, before.target.length, "a move keeps the replica count");
  }
});

Deno.test("rebalance: replicas on a lost or draining node go elsewhere, not to a member", () => {
  const partitions = [settled(1, [1, 2, 3]), settled(2, [2, 3, 4])];
  const lost = planRebalance([node(1), node(2), node(3, false), node(4)], partitions, {
    maxMoves: 5,
  });
  assert.deepEqual(lost.map((c) => c.groupId), [1, 2]);
  assert.deepEqual(lost.map((c) => [...c.target].sort()), [[1, 2, 4], [1, 2, 4]]);
  const drained = planRebalance([node(1), node(2, true, true), node(3), node(4)], partitions, {
    maxMoves: 5,
  });
  for (const c of drained) assert.ok(!c.target.includes(2), JSON.stringify(c));
});

Deno.test("rebalance: nothing moves without a spare node, and a settled layout stays", () => {
  const partitions = [settled(1, [1, 2, 3])];
  assert.deepEqual(
    planRebalance([node(1), node(2), node(3, false)], partitions, { maxMoves: 2 }),
    [],
  );
  const even = [settled(1, [1, 2]), settled(2, [2, 3]), settled(3, [3, 1])];
  assert.deepEqual(planRebalance([node(1), node(2), node(3)], even, { maxMoves: 2 }), []);
});

Deno.test("rebalance: moves under way count against the bound", () => {
  const nodes = [node(1), node(2), node(3)];
  const moving: PartitionView = { groupId: 1, replicas: [1, 2], target: [1, 3] };
  const partitions = [moving, settled(2, [1, 2]), settled(3, [1, 2]), settled(4, [1, 2])];
  const newMembers = (maxMoves: number) =>
    planRebalance(nodes, partitions, { maxMoves }).filter((c) => {
      const before = partitions.find((p) => p.groupId === c.groupId)!.target;
      return c.target.some((n) => !before.includes(n));
    });
  // Reordering (a preferred leader) is no move; a new member is.
  assert.deepEqual(newMembers(1), []);
  assert.equal(newMembers(2).length, 1);
});

/** Runs the planner and completes every move at once, until nothing changes. */
function settle(nodes: NodeView[], start: PartitionView[], maxMoves: number): PartitionView[] {
  let partitions = start;
  for (let round = 0; round < 200; round++) {
    const changes = planRebalance(nodes, partitions, { maxMoves });
    const moving = partitions.filter(isMoving).length;
    if (changes.length === 0 && moving === 0) return partitions;
    const next = new Map(changes.map((c) => [c.groupId, c.target]));
    partitions = partitions.map((p) => {
      const target = next.get(p.groupId) ?? p.target;
      return { groupId: p.groupId, replicas: [...target], target };
    });
  }
  throw new Error("the planner did not settle in 200 rounds");
}

Deno.test("rebalance (property): settles with replicas even, on usable nodes, counts kept", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 2, max: 7 }),
      fc.integer({ min: 1, max: 3 }),
      fc.integer({ min: 1, max: 16 }),
      fc.array(fc.tuple(fc.boolean(), fc.boolean()), { minLength: 7, maxLength: 7 }),
      fc.integer({ min: 1, max: 4 }),
      (n, rf, count, health, maxMoves) => {
        const replicationFactor = Math.min(rf, n);
        // Placed on the first nodes only (the others joined later), some then lost or draining.
        const placedOn = Math.max(replicationFactor, Math.ceil(n / 2));
        const start = Array.from({ length: count }, (_, g) =>
          settled(
            g + 1,
            Array.from({ length: replicationFactor }, (_, k) => 1 + (g + k) % placedOn),
          ));
        const nodes = Array.from({ length: n }, (_, i) => {
          const [lost, draining] = health[i];
          return node(i + 1, !(lost && i % 3 === 0), draining && i % 4 === 1);
        });
        const end = settle(nodes, start, maxMoves);
        const usable = nodes.filter((x) => x.live && !x.draining).map((x) => x.id);
        const loads = new Map(usable.map((id) => [id, 0]));
        for (const p of end) {
          assert.equal(p.target.length, replicationFactor, "a partition keeps its replica count");
          assert.equal(new Set(p.target).size, p.target.length, "no node twice");
          for (const id of p.target) if (loads.has(id)) loads.set(id, loads.get(id)! + 1);
          if (usable.length >= replicationFactor) {
            assert.ok(p.target.every((id) => usable.includes(id)), JSON.stringify(p));
          }
        }
        if (end.every((p) => p.target.every((id) => usable.includes(id)))) {
          const counts = [...loads.values()];
          assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, JSON.stringify(counts));
          const leads = new Map(usable.map((id) => [id, 0]));
          for (const p of end) leads.set(p.target[0], leads.get(p.target[0])! + 1);
          const leadCounts = [...leads.values()];
          // Preferred leaders are spread as far as the replicas' placement allows.
          assert.ok(
            Math.max(...leadCounts) - Math.min(...leadCounts) <= Math.max(1, replicationFactor),
            JSON.stringify({ leads: [...leads], end }),
          );
        }
      },
    ),
    { numRuns: 300, seed: 17 },
  );
});
