/**
 * Counters, gauges and histograms exposed at `GET /metrics` in the Prometheus text format
 * (version 0.0.4).
 *
 * - Counters and histograms kept here are updated as things happen (`add`, `observe`).
 * - Gauges and {@linkcode SampledFamily} readers are called at each scrape: figures that other
 *   rooms keep (Raft groups, storage, the process) are read then, never copied on every change.
 *
 * A scrape costs the samples it renders: readers must walk what they report once (one pass over
 * the replicas, not one per family). The registry times each render and reports the previous
 * one's duration and series count, so an operator sees what a scrape costs.
 * @module
 */
import { Histogram } from "../core/mod.ts";

type Labels = Record<string, string>;

interface CounterFamily {
  help: string;
  values: Map<string, { labels: Labels; value: number }>;
}

interface HistogramFamily {
  help: string;
  bounds: readonly number[];
  values: Map<string, { labels: Labels; histogram: Histogram }>;
}

/** A metric family read when scraped: labelled values, or labelled histograms. */
export type SampledFamily =
  | {
    name: string;
    help: string;
    type: "counter" | "gauge";
    samples: { labels: Labels; value: number }[];
  }
  | {
    name: string;
    help: string;
    type: "histogram";
    histograms: { labels: Labels; histogram: Histogram }[];
  };

function labelKey(labels: Labels): string {
  const keys = Object.keys(labels);
  if (keys.length === 0) return "";
  if (keys.length === 1) return `${keys[0]}=${labels[keys[0]]}`;
  return keys.sort().map((k) => `${k}=${labels[k]}`).join(",");
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function labelText(labels: Labels, extra?: string): string {
  const keys = Object.keys(labels).sort();
  const parts = keys.map((k) => `${k}="${escapeLabel(labels[k])}"`);
  if (extra !== undefined) parts.push(extra);
  return parts.length ? `{${parts.join(",")}}` : "";
}

/** A number as Prometheus writes it (`+Inf`, `NaN`). */
function num(value: number): string {
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

/** The metrics of one server (see the module doc). */
export class Metrics {
  #counters = new Map<string, CounterFamily>();
  #histograms = new Map<string, HistogramFamily>();
  #gauges = new Map<string, { help: string; read: () => number }>();
  #sampled: (() => SampledFamily[])[] = [];
  readonly #now: (() => number) | undefined;
  #lastScrape = { seconds: 0, series: 0 };

  /** @param now a monotonic clock in ms, to time each scrape (none: scrapes are not timed) */
  constructor(now?: () => number) {
    this.#now = now;
  }

  /** Families whose labelled values are read at each scrape (per Raft group, per peer ...). */
  sampled(read: () => SampledFamily[]): void {
    this.#sampled.push(read);
  }

  /** Declares a counter (idempotent). */
  counter(name: string, help: string): void {
    if (!this.#counters.has(name)) this.#counters.set(name, { help, values: new Map() });
  }

  /** Adds `by` to a counter's labelled value. */
  add(name: string, labels: Labels = {}, by = 1): void {
    const family = this.#counters.get(name);
    if (!family) throw new Error(`BUG: metric ${name} was not declared`);
    const key = labelKey(labels);
    const entry = family.values.get(key);
    if (entry) entry.value += by;
    else family.values.set(key, { labels, value: by });
  }

  /** Declares a histogram with these bucket upper bounds (idempotent). */
  histogram(name: string, help: string, bounds: readonly number[]): void {
    if (!this.#histograms.has(name)) {
      this.#histograms.set(name, { help, bounds, values: new Map() });
    }
  }

  /** Records one observation in a histogram's labelled series. */
  observe(name: string, labels: Labels, value: number): void {
    const family = this.#histograms.get(name);
    if (!family) throw new Error(`BUG: histogram ${name} was not declared`);
    const key = labelKey(labels);
    let entry = family.values.get(key);
    if (!entry) {
      family.values.set(key, entry = { labels, histogram: new Histogram(family.bounds) });
    }
    entry.histogram.observe(value);
  }

  /** A gauge read when scraped. */
  gauge(name: string, help: string, read: () => number): void {
    this.#gauges.set(name, { help, read });
  }

  /** The current value of a counter (tests, health). */
  value(name: string, labels: Labels = {}): number {
    return this.#counters.get(name)?.values.get(labelKey(labels))?.value ?? 0;
  }

  /** A histogram's labelled series, if it has observations (tests). */
  histogramOf(name: string, labels: Labels = {}): Histogram | undefined {
    return this.#histograms.get(name)?.values.get(labelKey(labels))?.histogram;
  }

  /** The duration (seconds) and series count of the last scrape. */
  get lastScrape(): { seconds: number; series: number } {
    return { ...this.#lastScrape };
  }

  /** The Prometheus text exposition of everything. */
  render(): string {
    const started = this.#now?.();
    const out: string[] = [];
    let series = 0;
    const head = (name: string, help: string, type: string) =>
      out.push(`# HELP ${name} ${help}\n# TYPE ${name} ${type}\n`);
    const histogram = (name: string, labels: Labels, h: Histogram) => {
      let cumulative = 0;
      for (let i = 0; i < h.bounds.length; i++) {
        cumulative += h.counts[i];
        out.push(`${name}_bucket${labelText(labels, `le="${h.bounds[i]}"`)} ${cumulative}\n`);
      }
      out.push(`${name}_bucket${labelText(labels, 'le="+Inf"')} ${h.count}\n`);
      out.push(`${name}_sum${labelText(labels)} ${num(h.sum)}\n`);
      out.push(`${name}_count${labelText(labels)} ${h.count}\n`);
      series += h.bounds.length + 3;
    };
    for (const [name, family] of this.#counters) {
      head(name, family.help, "counter");
      for (const { labels, value } of family.values.values()) {
        out.push(`${name}${labelText(labels)} ${num(value)}\n`);
        series++;
      }
    }
    for (const [name, family] of this.#histograms) {
      head(name, family.help, "histogram");
      for (const { labels, histogram: h } of family.values.values()) histogram(name, labels, h);
    }
    for (const [name, gauge] of this.#gauges) {
      head(name, gauge.help, "gauge");
      out.push(`${name} ${num(gauge.read())}\n`);
      series++;
    }
    for (const read of this.#sampled) {
      for (const f of read()) {
        head(f.name, f.help, f.type);
        if (f.type === "histogram") {
          for (const { labels, histogram: h } of f.histograms) histogram(f.name, labels, h);
          continue;
        }
        for (const { labels, value } of f.samples) {
          out.push(`${f.name}${labelText(labels)} ${num(value)}\n`);
          series++;
        }
      }
    }
    if (started !== undefined) {
      head(
        "epochnexus_scrape_duration_seconds",
        "How long the previous scrape of /metrics took to render.",
        "gauge",
      );
      out.push(`epochnexus_scrape_duration_seconds ${this.#lastScrape.seconds}\n`);
      head("epochnexus_scrape_series", "Series the previous scrape of /metrics held.", "gauge");
      out.push(`epochnexus_scrape_series ${this.#lastScrape.series}\n`);
      this.#lastScrape = { seconds: (this.#now!() - started) / 1000, series: series + 2 };
    }
    return out.join("");
  }
}
