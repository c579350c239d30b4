/// <reference lib="dom" />
/**
 * The activity view: the node's ingest, query and error rates over the last ten minutes,
 * computed from its own `GET /metrics`, scraped every {@linkcode SAMPLE_MS} from the moment the
 * page opens (so the charts have a past when the view is opened), and its current totals.
 * @module
 */
import type uPlot from "uplot";
import type { Api } from "./api.ts";
import {
  type ActivityRates,
  activityRates,
  type ActivityTotals,
  activityTotals,
  parsePrometheusText,
} from "./activity_rates.ts";
import { drawChart } from "./chart.ts";
import { formatCount, h, replace } from "./dom.ts";
import type { ChartData } from "./results.ts";

/** Time between two scrapes. */
export const SAMPLE_MS = 2000;
/** Samples kept: ten minutes. */
const KEPT = 300;

interface ChartSpec {
  title: string;
  unit: string;
  lines: { label: string; pick: (r: ActivityRates) => number }[];
}

const CHARTS: ChartSpec[] = [
  {
    title: "Ingest",
    unit: "points/s",
    lines: [
      { label: "written", pick: (r) => r.pointsPerSecond },
      { label: "rejected", pick: (r) => r.rejectedPerSecond },
    ],
  },
  {
    title: "Queries",
    unit: "statements/s",
    lines: [
      { label: "all", pick: (r) => r.queriesPerSecond },
      { label: "failed", pick: (r) => r.queryErrorsPerSecond },
    ],
  },
  {
    title: "Errors",
    unit: "per second",
    lines: [
      { label: "HTTP 4xx/5xx", pick: (r) => r.httpErrorsPerSecond },
      { label: "rejected points", pick: (r) => r.rejectedPerSecond },
    ],
  },
];

/** The activity view and the shell's handles on it. */
export interface ActivityView {
  element: HTMLElement;
  /** Draws the charts (the view just became visible, or the theme changed). */
  show(): void;
  hide(): void;
}

/** Builds the view and starts sampling. */
export function createActivityView(api: Api): ActivityView {
  const times: number[] = [];
  const rates: ActivityRates[] = [];
  let last: { atMs: number; totals: ActivityTotals } | undefined;
  let visible = false;
  let charts: (uPlot | undefined)[] = [];
  const statusLine = h("div", { class: "muted activity-status" }, "Sampling /metrics…");
  const cards = h("div", { class: "stat-cards" });
  const hosts = CHARTS.map(() => h("div", { class: "chart small" }));
  const element = h(
    "div",
    { class: "view activity-view" },
    h(
      "div",
      { class: "view-head" },
      h("h2", null, "Activity"),
      statusLine,
    ),
    cards,
    h(
      "div",
      { class: "chart-grid" },
      CHARTS.map((spec, i) =>
        h(
          "section",
          { class: "panel chart-panel", "data-chart": spec.title.toLowerCase() },
          h("div", { class: "panel-title" }, spec.title, h("span", { class: "muted" }, spec.unit)),
          hosts[i],
        )
      ),
    ),
  );

  const dataOf = (spec: ChartSpec): ChartData => ({
    times: [...times],
    lines: spec.lines.map((l) => ({ label: l.label, values: rates.map(l.pick) })),
  });

  const draw = () => {
    if (!visible) return;
    CHARTS.forEach((spec, i) => {
      const data = dataOf(spec);
      const chart = charts[i];
      if (chart && hosts[i].isConnected && hosts[i].firstChild) {
        chart.setData([data.times, ...data.lines.map((l) => l.values)] as uPlot.AlignedData);
      } else {
        charts[i] = drawChart(hosts[i], data, {
          height: 200,
          area: true,
          valueFormat: formatCount,
          windowSeconds: (KEPT * SAMPLE_MS) / 1000,
          fromZero: true,
        });
      }
    });
  };

  const renderCards = (totals: ActivityTotals, r: ActivityRates | undefined) => {
    const card = (label: string, value: string, note: string, bad = false) =>
      h(
        "div",
        { class: bad ? "stat-card bad" : "stat-card" },
        h("div", { class: "stat-label" }, label),
        h("div", { class: "stat-value" }, value),
        h("div", { class: "stat-note muted" }, note),
      );
    const rate = (n: number | undefined) => (n === undefined ? "—" : formatCount(n));
    const errors = r ? r.httpErrorsPerSecond + r.queryErrorsPerSecond : undefined;
    replace(
      cards,
      card("Points/s", rate(r?.pointsPerSecond), `${formatCount(totals.pointsWritten)} written`),
      card("Queries/s", rate(r?.queriesPerSecond), `${formatCount(totals.queriesOk)} ok`),
      card(
        "Errors/s",
        rate(errors),
        `${formatCount(totals.queriesFailed)} queries, ${
          formatCount(totals.pointsRejected)
        } points`,
        (errors ?? 0) > 0,
      ),
      card("Series", formatCount(totals.series), "in memory"),
      card("Values", formatCount(totals.values), "in memory"),
      card("Databases", formatCount(totals.databases), ""),
    );
  };

  const sample = async () => {
    try {
      const totals = activityTotals(parsePrometheusText(await api.metrics()));
      const atMs = Date.now();
      let r: ActivityRates | undefined;
      if (last) {
        r = activityRates(last.totals, totals, (atMs - last.atMs) / 1000);
        times.push(atMs / 1000);
        rates.push(r);
        if (times.length > KEPT) {
          times.shift();
          rates.shift();
        }
      }
      last = { atMs, totals };
      renderCards(totals, r);
      replace(statusLine, `Sampled every ${SAMPLE_MS / 1000} s from /metrics · last 10 min`);
      statusLine.classList.remove("bad");
      if (times.length > 0) draw();
    } catch (error) {
      replace(statusLine, `Cannot read /metrics: ${(error as Error).message}`);
      statusLine.classList.add("bad");
    }
  };
  // The page's lifetime bounds this loop; a slow answer delays the next scrape, never stacks.
  const loop = async () => {
    await sample();
    setTimeout(loop, SAMPLE_MS);
  };
  void loop();

  return {
    element,
    show() {
      visible = true;
      charts = [];
      if (times.length > 0) draw();
    },
    hide() {
      visible = false;
    },
  };
}
