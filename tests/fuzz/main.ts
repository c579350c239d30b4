/**
 * `deno task fuzz [--target NAME[,NAME...]] [--inputs N] [--seconds S] [--seed S] [--start I]
 * [--slow-ms MS] [--hang-ms MS] [--no-save] [--list] [--replay FILE|INDEX]`: runs fuzz targets
 * by hand, one after another, each in a watched worker, until `--inputs` inputs (10,000 by
 * default) or `--seconds` per target, with progress on stderr and a summary table (inputs,
 * seconds, inputs/s, load average).
 * Findings are printed and saved under `tests/fuzz/regressions/<target>/` (named by kind, seed
 * and input number) for `regressions_test.ts` to replay once fixed. Exit code 1 on any finding.
 * @module
 */
import { runInWorkers } from "./_pool.ts";
import type { Finding, RunSummary } from "./_runner.ts";
import { inputAt } from "./_random.ts";
import { targetNamed, TARGETS } from "./targets/mod.ts";

interface Args {
  targets: string[];
  inputs: number;
  /** Time budget per target, in seconds. */
  seconds?: number;
  seed: number;
  start: number;
  slowMs: number;
  hangMs: number;
  save: boolean;
  /** An input to run alone, in this thread, with the whole error: a file or an input number. */
  replay?: string;
}

function parseArgs(argv: string[]): Args {
  const args: Args = {
    targets: TARGETS.map((t) => t.name),
    inputs: 10_000,
    seed: 1,
    start: 0,
    slowMs: 2000,
    hangMs: 30_000,
    save: true,
  };
  const number = (flag: string, v: string | undefined) => {
    const n = Number(v?.replace(/_/g, ""));
    if (v === undefined || !Number.isSafeInteger(n) || n < 0) {
      throw new Error(`${flag} needs a whole number, got ${v}`);
    }
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--target") {
      args.targets = (argv[++i] ?? "").split(",").filter((s) => s !== "");
      for (const t of args.targets) targetNamed(t);
    } else if (a === "--inputs") args.inputs = number(a, argv[++i]);
    else if (a === "--seconds") args.seconds = number(a, argv[++i]);
    else if (a === "--seed") args.seed = number(a, argv[++i]);
    else if (a === "--start") args.start = number(a, argv[++i]);
    else if (a === "--slow-ms") args.slowMs = number(a, argv[++i]);
    else if (a === "--hang-ms") args.hangMs = number(a, argv[++i]);
    else if (a === "--no-save") args.save = false;
    else if (a === "--replay") args.replay = argv[++i];
    else if (a === "--list") {
      for (const t of TARGETS) console.log(`${t.name.padEnd(16)} ${t.about}`);
      Deno.exit(0);
    } else throw new Error(`unknown argument ${a} (see tests/fuzz/main.ts)`);
  }
  return args;
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
const load = () => Deno.loadavg().map((l) => l.toFixed(2)).join(" ");

async function save(f: Finding): Promise<string> {
  const dir = new URL(`./regressions/${f.target}/`, import.meta.url).pathname;
  await Deno.mkdir(dir, { recursive: true });
  const path = `${dir}${f.kind}-s${f.seed}-i${f.index}.bin`;
  await Deno.writeFile(path, f.input);
  return path;
}

/** Runs one input of one target here and prints what happened, the stack included. */
async function replay(args: Args): Promise<void> {
  const target = targetNamed(args.targets[0]);
  const which = args.replay!;
  const input = /^\d+$/.test(which)
    ? inputAt(target.inputs, args.seed, Number(which))
    : await Deno.readFile(which);
  const check = await target.open();
  const t0 = performance.now();
  try {
    await check.check(input);
    console.log(`${target.name}: passed in ${(performance.now() - t0).toFixed(1)} ms`);
  } catch (error) {
    console.log(`${target.name}: failed in ${(performance.now() - t0).toFixed(1)} ms`);
    console.log(error);
    if (error instanceof Error && error.cause) console.log("cause:", error.cause);
    Deno.exitCode = 1;
  } finally {
    await check.close();
  }
  console.log(
    `input (${input.length} bytes): ${
      JSON.stringify(new TextDecoder().decode(input.subarray(0, 600)))
    }`,
  );
}

async function main(): Promise<void> {
  const args = parseArgs(Deno.args);
  if (args.replay !== undefined) return await replay(args);
  console.error(
    `fuzz: seed ${args.seed}, inputs ${fmt(args.start)}..${fmt(args.start + args.inputs)}, ` +
      `load average ${load()}, ${navigator.hardwareConcurrency} cores`,
  );
  const summaries: RunSummary[] = [];
  const saves: Promise<void>[] = [];
  for (const name of args.targets) {
    let lastPrint = 0;
    const summary = await runInWorkers(name, {
      seed: args.seed,
      start: args.start,
      count: args.inputs,
      slowMs: args.slowMs,
      hangMs: args.hangMs,
      budgetMs: args.seconds === undefined ? undefined : args.seconds * 1000,
      onProgress: (done) => {
        const now = performance.now();
        if (now - lastPrint < 1000) return;
        lastPrint = now;
        Deno.stderr.writeSync(
          new TextEncoder().encode(`\r${name}: ${fmt(done)} / ${fmt(args.inputs)}   `),
        );
      },
      onFinding: (f) => {
        saves.push((async () => {
          const where = args.save ? ` -> ${await save(f)}` : "";
          console.error(`\n${f.target} ${f.kind} at input ${f.index}${where}\n  ${f.message}`);
        })());
      },
    });
    summaries.push(summary);
    await Promise.all(saves);
    const rate = summary.inputs / (summary.ms / 1000);
    console.error(
      `\r${name}: ${fmt(summary.inputs)} inputs in ${(summary.ms / 1000).toFixed(1)} s ` +
        `(${fmt(rate)}/s), slowest ${summary.slowestMs.toFixed(0)} ms (input ` +
        `${summary.slowestIndex}), ${summary.findings.length} findings, load ${load()}`,
    );
  }
  console.log(
    "\n| target | inputs | seconds | inputs/s | MB | slowest ms | findings |\n" +
      "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
  );
  for (const s of summaries) {
    console.log(
      `| ${s.target} | ${fmt(s.inputs)} | ${(s.ms / 1000).toFixed(1)} | ` +
        `${fmt(s.inputs / (s.ms / 1000))} | ${(s.bytes / 1e6).toFixed(1)} | ` +
        `${s.slowestMs.toFixed(0)} | ${s.findings.length} |`,
    );
  }
  for (const s of summaries) {
    const o = Object.entries(s.outcomes).map(([k, v]) => `${k} ${fmt(v)}`).join(", ");
    if (o) console.log(`${s.target}: ${o}`);
  }
  console.log(`\nseed ${args.seed}, load average at the end ${load()}`);
  if (summaries.some((s) => s.findings.length > 0)) Deno.exit(1);
}

if (import.meta.main) await main();
