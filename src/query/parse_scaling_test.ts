/**
 * Parsing is linear in the query's length (security issue #12: a 10 MB query held the event
 * loop for 9 s): twice the text takes about twice the time. Timed as the best of five runs at
 * n and 2n; a generous bound (3, best of three attempts) leaves room for a noisy, shared machine
 * while a quadratic parser (4) or worse fails.
 */
import { ok } from "node:assert/strict";
import { parseQuery } from "./parser.ts";

function timeMs(text: string): number {
  const t0 = performance.now();
  parseQuery(text);
  return performance.now() - t0;
}

/** Best of five runs at n and at 2n, interleaved so a burst of load hits both alike. */
function bestPair(small: string, large: string): [number, number] {
  let a = Infinity, b = Infinity;
  for (let i = 0; i < 5; i++) {
    a = Math.min(a, timeMs(small));
    b = Math.min(b, timeMs(large));
  }
  return [a, b];
}

Deno.test("parsing twice the text takes about twice the time", () => {
  const shapes: [string, (n: number) => string][] = [
    ["a chain of ANDs", (n) => "SELECT v FROM m WHERE " + "v = 1 AND ".repeat(n) + "v = 1"],
    [
      "a long field list",
      (n) => "SELECT " + Array.from({ length: n }, (_, i) => `f${i}`).join(", ") + " FROM m",
    ],
    ["a long string", (n) => "SELECT v FROM m WHERE host = '" + "x".repeat(n * 10) + "'"],
    ["many statements", (n) => "SELECT v FROM m;".repeat(n / 4)],
  ];
  for (const [name, make] of shapes) {
    // Large enough that one parse takes 100 ms or more (timer, JIT and GC noise is small then).
    let n = 5_000;
    while (n < 640_000 && Math.min(timeMs(make(n)), timeMs(make(n))) < 100) n *= 2;
    // Load on a shared machine only ever inflates a ratio, a quadratic parser's stays near 4:
    // up to three attempts, the best one counts.
    let report = "";
    for (let attempt = 0; attempt < 3; attempt++) {
      const [single, double] = bestPair(make(n), make(2 * n));
      const ratio = double / single;
      report += ` ${single.toFixed(0)} -> ${double.toFixed(0)} ms (${ratio.toFixed(2)})`;
      if (ratio < 3) break;
      if (attempt === 2) ok(false, `${name} at n = ${n} and 2n:${report}`);
    }
  }
});
