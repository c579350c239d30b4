import assert from "node:assert/strict";
import { Metrics } from "../http/metrics.ts";
import { activityRates, activityTotals, parsePrometheusText } from "./activity_rates.ts";

/** The node's own exposition, as `GET /metrics` renders it. */
function scrape(written: number, ok: number, failed: number, errors500: number): string {
  const m = new Metrics();
  m.counter("epochnexus_points_written_total", "");
  m.counter("epochnexus_queries_total", "");
  m.counter("epochnexus_http_requests_total", "");
  m.counter("epochnexus_points_rejected_total", "");
  m.add("epochnexus_points_written_total", {}, written);
  m.add("epochnexus_queries_total", { outcome: "ok" }, ok);
  m.add("epochnexus_queries_total", { outcome: "error" }, failed);
  m.add("epochnexus_http_requests_total", { route: "query", status: "500" }, errors500);
  m.add("epochnexus_http_requests_total", { route: "query", status: "200" }, 1000);
  // The console's own scrapes, failed or not, are not the node's activity.
  m.add("epochnexus_http_requests_total", { route: "metrics", status: "401" }, 50);
  m.add("epochnexus_points_rejected_total", { reason: "parse" }, 2);
  m.gauge("epochnexus_series", "", () => 42);
  return m.render();
}

Deno.test("the node's metrics read back as totals", () => {
  const t = activityTotals(parsePrometheusText(scrape(100, 7, 3, 2)));
  assert.deepEqual(t, {
    pointsWritten: 100,
    pointsRejected: 2,
    queriesOk: 7,
    queriesFailed: 3,
    httpClientErrors: 0,
    httpServerErrors: 2,
    series: 42,
    values: 0,
    databases: 0,
  });
});

Deno.test("rates per second between two scrapes; a restarted node's counters count from zero", () => {
  const a = activityTotals(parsePrometheusText(scrape(100, 7, 3, 2)));
  const b = activityTotals(parsePrometheusText(scrape(300, 17, 5, 2)));
  assert.deepEqual(activityRates(a, b, 2), {
    pointsPerSecond: 100,
    rejectedPerSecond: 0,
    queriesPerSecond: 6,
    queryErrorsPerSecond: 1,
    httpErrorsPerSecond: 0,
  });
  const restarted = activityTotals(parsePrometheusText(scrape(40, 1, 0, 0)));
  assert.equal(activityRates(b, restarted, 4).pointsPerSecond, 10);
});

Deno.test("labels with escapes, and lines that are not samples", () => {
  const samples = parsePrometheusText(
    '# HELP x y\nx{a="q\\"uote",b="new\\nline"} 3\n\nbroken line\ny 1e3\n',
  );
  assert.deepEqual(samples, [
    { name: "x", labels: { a: 'q"uote', b: "new\nline" }, value: 3 },
    { name: "y", labels: {}, value: 1000 },
  ]);
});
