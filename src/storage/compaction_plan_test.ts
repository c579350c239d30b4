import assert from "node:assert/strict";
import { obsoleteSegments, planCompaction } from "./compaction_plan.ts";

const seg = (minGen: number, maxGen: number, level: number) => ({ minGen, maxGen, level });
const shape = (steps: ReturnType<typeof planCompaction>) =>
  steps.map((s) => [s.level, s.inputs.map((i) => `${i.minGen}-${i.maxGen}`).join(",")]);

Deno.test("plan: fewer than fanout segments of a level: nothing to do", () => {
  assert.deepEqual(planCompaction([seg(1, 1, 0), seg(2, 2, 0), seg(3, 3, 0)]), []);
});

Deno.test("plan: four adjacent level-0 segments merge into level 1", () => {
  const steps = planCompaction([1, 2, 3, 4, 5].map((g) => seg(g, g, 0)));
  assert.deepEqual(shape(steps), [[1, "1-1,2-2,3-3,4-4"]]);
});

Deno.test("plan: runs are adjacent in generation order; a level-1 segment splits level-0 runs", () => {
  const steps = planCompaction([
    seg(1, 1, 0),
    seg(2, 2, 0),
    seg(3, 6, 1),
    seg(7, 7, 0),
    seg(8, 8, 0),
  ], { fanout: 2 });
  assert.deepEqual(shape(steps), [[1, "1-1,2-2"], [1, "7-7,8-8"]]);
});

Deno.test("plan: input order does not matter; levels stop at maxLevel", () => {
  const steps = planCompaction([seg(9, 12, 1), seg(1, 4, 1), seg(5, 8, 1)], {
    fanout: 3,
    maxLevel: 2,
  });
  assert.deepEqual(shape(steps), [[2, "1-4,5-8,9-12"]]);
  assert.deepEqual(planCompaction([seg(1, 4, 2), seg(5, 8, 2)], { fanout: 2, maxLevel: 2 }), []);
});

Deno.test("plan: fanout below 2 is a BUG", () => {
  assert.throws(() => planCompaction([], { fanout: 1 }), /BUG/);
});

Deno.test("obsolete: inputs left behind by an interrupted merge are found", () => {
  const out = seg(1, 4, 1);
  const left = [seg(1, 1, 0), seg(4, 4, 0)];
  const other = seg(5, 5, 0);
  assert.deepEqual(obsoleteSegments([...left, out, other]), left);
  assert.deepEqual(obsoleteSegments([other, seg(6, 6, 0)]), []);
});
