/**
 * The node's activity from two scrapes of its `GET /metrics` (Prometheus text format 0.0.4):
 * points written and rejected, query statements (ok and failed) and HTTP errors per second.
 * A counter that went down was reset (the node restarted): its new value is all the increase,
 * as Prometheus' `rate()` takes it. The console's own scrapes (route `metrics`) are not counted.
 * @module
 */

/** One sample line. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Reads the sample lines of a Prometheus text exposition (comments and blank lines skipped). */
export function parsePrometheusText(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([A-Za-z_:][A-Za-z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    const labelText = m[3] ?? "";
    for (const l of labelText.matchAll(/([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1]] = l[2].replace(/\\(.)/g, (_, c) => (c === "n" ? "\n" : c));
    }
    const value = Number(m[4]);
    if (!Number.isNaN(value)) out.push({ name: m[1], labels, value });
  }
  return out;
}

/** The counters the activity view charts, summed over the labels that matter. */
export interface ActivityTotals {
  pointsWritten: number;
  pointsRejected: number;
  queriesOk: number;
  queriesFailed: number;
  httpClientErrors: number;
  httpServerErrors: number;
  series: number;
  values: number;
  databases: number;
}

/** Sums a scrape into the totals the view charts. */
export function activityTotals(samples: Sample[]): ActivityTotals {
  const t: ActivityTotals = {
    pointsWritten: 0,
    pointsRejected: 0,
    queriesOk: 0,
    queriesFailed: 0,
    httpClientErrors: 0,
    httpServerErrors: 0,
    series: 0,
    values: 0,
    databases: 0,
  };
  for (const s of samples) {
    switch (s.name) {
      case "epochnexus_points_written_total":
        t.pointsWritten += s.value;
        break;
      case "epochnexus_points_rejected_total":
        t.pointsRejected += s.value;
        break;
      case "epochnexus_queries_total":
        if (s.labels.outcome === "error") t.queriesFailed += s.value;
        else t.queriesOk += s.value;
        break;
      case "epochnexus_http_requests_total": {
        if (s.labels.route === "metrics") break;
        const status = Number(s.labels.status);
        if (status >= 500) t.httpServerErrors += s.value;
        else if (status >= 400) t.httpClientErrors += s.value;
        break;
      }
      case "epochnexus_series":
        t.series = s.value;
        break;
      case "epochnexus_values":
        t.values = s.value;
        break;
      case "epochnexus_databases":
        t.databases = s.value;
        break;
    }
  }
  return t;
}

/** Per-second rates between two scrapes `seconds` apart. */
export interface ActivityRates {
  pointsPerSecond: number;
  rejectedPerSecond: number;
  queriesPerSecond: number;
  queryErrorsPerSecond: number;
  httpErrorsPerSecond: number;
}

/** The rates from `before` to `after`; a counter that went down counts from zero. */
export function activityRates(
  before: ActivityTotals,
  after: ActivityTotals,
  seconds: number,
): ActivityRates {
  const rate = (key: keyof ActivityTotals) => {
    const delta = after[key] >= before[key] ? after[key] - before[key] : after[key];
    return seconds > 0 ? delta / seconds : 0;
  };
  return {
    pointsPerSecond: rate("pointsWritten"),
    rejectedPerSecond: rate("pointsRejected"),
    queriesPerSecond: rate("queriesOk") + rate("queriesFailed"),
    queryErrorsPerSecond: rate("queriesFailed"),
    httpErrorsPerSecond: rate("httpClientErrors") + rate("httpServerErrors"),
  };
}
