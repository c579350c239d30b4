/**
 * Parsing is linear in the query's length (security issue #12: a 10 MB query held the event
 * loop for 9 s): twice the text takes about twice the time. Timed as the best of three runs at
 * n and 2n; a generous bound (3) leaves room for a noisy, shared machine while a quadratic
 * parser (4) or worse fails.
 */
import { ok } from "node:assert/strict";
import { parseQuery } from "./parser.ts";

function bestMs(text: string): number {
  let best = Infinity;
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    parseQuery(text);
    best = Math.min(best, performance.now() - t0);
  }
  return best;
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
  const n = 20_000;
  bestMs(shapes[0][1](n / 4)); // warm the parser up
  for (const [name, make] of shapes) {
    const single = bestMs(make(n));
    const double = bestMs(make(2 * n));
    const ratio = double / Math.max(single, 1);
    ok(
      ratio < 3,
      `${name}: ${single.toFixed(0)} ms at n, ${double.toFixed(0)} ms at 2n (ratio ${
        ratio.toFixed(2)
      })`,
    );
  }
});
