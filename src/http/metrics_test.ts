import assert from "node:assert/strict";
import { Histogram } from "../core/mod.ts";
import { Metrics } from "./metrics.ts";

Deno.test("metrics: histograms render cumulative buckets, +Inf, _sum and _count per label set", () => {
  const m = new Metrics();
  m.histogram("lat_seconds", "Latency.", [0.1, 1]);
  m.observe("lat_seconds", { route: "a" }, 0.05);
  m.observe("lat_seconds", { route: "a" }, 0.5);
  m.observe("lat_seconds", { route: "a" }, 5);
  m.observe("lat_seconds", { route: 'b"\\' }, 0.1);
  assert.equal(
    m.render(),
    [
      "# HELP lat_seconds Latency.",
      "# TYPE lat_seconds histogram",
      'lat_seconds_bucket{route="a",le="0.1"} 1',
      'lat_seconds_bucket{route="a",le="1"} 2',
      'lat_seconds_bucket{route="a",le="+Inf"} 3',
      'lat_seconds_sum{route="a"} 5.55',
      'lat_seconds_count{route="a"} 3',
      'lat_seconds_bucket{route="b\\"\\\\",le="0.1"} 1',
      'lat_seconds_bucket{route="b\\"\\\\",le="1"} 1',
      'lat_seconds_bucket{route="b\\"\\\\",le="+Inf"} 1',
      'lat_seconds_sum{route="b\\"\\\\"} 0.1',
      'lat_seconds_count{route="b\\"\\\\"} 1',
      "",
    ].join("\n"),
  );
  assert.throws(() => m.observe("nope", {}, 1), /BUG: histogram nope was not declared/);
});

Deno.test("metrics: sampled families may be histograms; the previous scrape's time and size are shown", () => {
  let now = 0;
  const m = new Metrics(() => now);
  const h = new Histogram([1]);
  h.observe(2);
  m.sampled(() => {
    now += 250; // the scrape takes 250 ms
    return [
      { name: "g", help: "G.", type: "gauge", samples: [{ labels: { x: "1" }, value: 7 }] },
      { name: "h", help: "H.", type: "histogram", histograms: [{ labels: {}, histogram: h }] },
    ];
  });
  const first = m.render();
  assert.match(first, /^g\{x="1"\} 7$/m);
  assert.match(first, /^h_bucket\{le="1"\} 0$/m);
  assert.match(first, /^h_bucket\{le="\+Inf"\} 1$/m);
  assert.match(first, /^epochnexus_scrape_duration_seconds 0$/m);
  const second = m.render();
  assert.match(second, /^epochnexus_scrape_duration_seconds 0.25$/m);
  // 1 gauge sample, 4 histogram samples (1 bucket, +Inf, sum, count), the 2 scrape gauges.
  assert.match(second, /^epochnexus_scrape_series 7$/m);
  assert.deepEqual(m.lastScrape, { seconds: 0.25, series: 7 });
});
