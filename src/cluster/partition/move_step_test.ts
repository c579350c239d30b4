import assert from "node:assert/strict";
import { type GroupView, type MoveStep, nextMoveStep } from "./move_step.ts";

function group(voters: number[], learners: number[] = [], matches = {}, id = 1): GroupView {
  return { id, commit: 100, conf: { voters, learners }, matches, confPending: false };
}

/** Applies steps as the group would (instantly, everyone caught up) until none is left. */
function walk(start: GroupView, target: number[]): MoveStep[] {
  let g = start;
  const steps: MoveStep[] = [];
  for (let i = 0; i < 20; i++) {
    const step = nextMoveStep(g, target, 8);
    if (!step) return steps;
    steps.push(step);
    let { voters, learners } = g.conf;
    let id = g.id;
    if (step.kind === "addLearner") learners = [...learners, step.nodeId];
    if (step.kind === "addVoter") {
      learners = learners.filter((n) => n !== step.nodeId);
      voters = [...voters, step.nodeId];
    }
    if (step.kind === "removeNode") {
      learners = learners.filter((n) => n !== step.nodeId);
      voters = voters.filter((n) => n !== step.nodeId);
    }
    if (step.kind === "transferLeadership") id = step.nodeId;
    const matches = Object.fromEntries([...voters, ...learners].map((n) => [n, 100]));
    // Each step keeps a quorum of the old voters inside the new voters (one change at a time).
    assert.ok(Math.abs(voters.length - g.conf.voters.length) <= 1);
    g = { ...g, id, conf: { voters, learners }, matches };
  }
  throw new Error("no end in 20 steps");
}

Deno.test("move step: learner, voter once caught up, then the old member goes", () => {
  assert.deepEqual(walk(group([1, 2, 3], [], { 1: 100, 2: 100, 3: 100 }), [1, 2, 4]), [
    { kind: "addLearner", nodeId: 4 },
    { kind: "addVoter", nodeId: 4 },
    { kind: "removeNode", nodeId: 3 },
  ]);
});

Deno.test("move step: a learner still copying is waited for, never promoted", () => {
  const copying = group([1, 2], [3], { 1: 100, 2: 100, 3: 10 });
  assert.equal(nextMoveStep(copying, [1, 3], 8), undefined);
  const close = group([1, 2], [3], { 1: 100, 2: 100, 3: 95 });
  assert.deepEqual(nextMoveStep(close, [1, 3], 8), { kind: "addVoter", nodeId: 3 });
});

Deno.test("move step: a leader that is to go hands over first, to a caught-up target voter", () => {
  const g = group([1, 2, 3], [], { 1: 100, 2: 40, 3: 100 });
  assert.deepEqual(nextMoveStep(g, [2, 3], 8), { kind: "transferLeadership", nodeId: 3 });
  assert.deepEqual(walk(group([1, 2]), [2, 3]), [
    { kind: "addLearner", nodeId: 3 },
    { kind: "addVoter", nodeId: 3 },
    { kind: "transferLeadership", nodeId: 2 },
    { kind: "removeNode", nodeId: 1 },
  ]);
});

Deno.test("move step: a called-off move removes its learner; nothing while a change is pending", () => {
  assert.deepEqual(nextMoveStep(group([1, 2], [5]), [1, 2], 8), { kind: "removeNode", nodeId: 5 });
  assert.equal(nextMoveStep({ ...group([1, 2]), confPending: true }, [1, 3], 8), undefined);
  assert.equal(nextMoveStep(group([2, 1]), [1, 2], 8), undefined, "a new order is no move");
});
