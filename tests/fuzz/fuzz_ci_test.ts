/**
 * The fuzzers on a small fixed budget, as CI runs them: each target over the first inputs of a
 * fixed seed (up to `INPUTS`, fewer when the machine is too loaded to reach them in `BUDGET_MS`,
 * never fewer than `MIN_INPUTS`), in this thread: a worker per target costs seconds of module
 * loading on a loaded machine, more than the budget itself. An input slower than `SLOW_MS` (twice)
 * is a finding; a true hang is left to `deno task fuzz`, whose workers are watched. Any finding
 * fails the test with its message; `deno task fuzz --target NAME --seed 20261207 --replay N`
 * shows it whole.
 */
import { deepEqual, ok } from "node:assert/strict";
import { runTarget } from "./_runner.ts";
import { TARGETS } from "./targets/mod.ts";

const SEED = 20_261_207;
const INPUTS = 2000;
const MIN_INPUTS = 100;
/** Per target: fourteen targets stay well under a minute in all. */
const BUDGET_MS = 2000;
const SLOW_MS = 5000;

for (const target of TARGETS) {
  Deno.test(`fuzz (CI budget): ${target.name}`, async () => {
    const summary = await runTarget(target, {
      seed: SEED,
      start: 0,
      count: INPUTS,
      budgetMs: BUDGET_MS,
      minInputs: MIN_INPUTS,
      slowMs: SLOW_MS,
      maxFindings: 3,
      shrink: false,
    });
    deepEqual(
      summary.findings.map((f) =>
        `${f.kind} at input ${f.index} (seed ${f.seed}): ${f.message.slice(0, 500)}`
      ),
      [],
    );
    ok(
      summary.inputs >= MIN_INPUTS,
      `${target.name}: only ${summary.inputs} inputs ran (at least ${MIN_INPUTS} expected)`,
    );
  });
}
