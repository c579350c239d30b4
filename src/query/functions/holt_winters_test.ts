/**
 * GoPowSeries, the table of powers behind holt_winters' forecasts, equals Go's math.Pow as
 * goPowInt replays it, to the bit, for every exponent of a long series: forecasts stay equal
 * to InfluxDB 1.6's while the fit does one multiplication per point instead of a Pow.
 */
import { ok } from "node:assert/strict";
import fc from "fast-check";
import { goPowInt, GoPowSeries } from "./holt_winters.ts";

const LENGTH = 5_000;

function sameAsGo(series: GoPowSeries, x: number): boolean {
  const p = series.fill(x);
  for (let t = 0; t < LENGTH; t++) {
    if (!Object.is(p[t], goPowInt(x, t))) {
      ok(false, `x = ${x}, t = ${t}: ${p[t]} instead of Go's ${goPowInt(x, t)}`);
    }
  }
  return true;
}

Deno.test("GoPowSeries equals Go's Pow for every exponent, edge values included", () => {
  const series = new GoPowSeries(LENGTH);
  // 0 and 1 (Pow's special cases), tiny and subnormal bases (Pow's exponent cut-off), 0.5.
  for (const x of [0, 1, 0.5, 1e-300, 5e-324, 3 * Number.MIN_VALUE, 1e-5, 0.999999, 0.3, 0.7]) {
    sameAsGo(series, x);
  }
  fc.assert(fc.property(fc.double({ min: 0, max: 1, noNaN: true }), (x) => sameAsGo(series, x)), {
    numRuns: 100,
  });
});
