/**
 * Counters and gauges exposed at `GET /metrics` in the Prometheus text format (version 0.0.4).
 * @module
 */

type Labels = Record<string, string>;

interface Family {
  help: string;
  type: "counter" | "gauge";
  values: Map<string, { labels: Labels; value: number }>;
}

function labelKey(labels: Labels): string {
  return Object.keys(labels).sort().map((k) => `${k}=${labels[k]}`).join(",");
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

/** A metric family read when scraped: its labelled values (a counter or a gauge). */
export interface SampledFamily {
  name: string;
  help: string;
  type: "counter" | "gauge";
  samples: { labels: Labels; value: number }[];
}

function labelText(labels: Labels): string {
  const keys = Object.keys(labels).sort();
  return keys.length ? `{${keys.map((k) => `${k}="${escapeLabel(labels[k])}"`).join(",")}}` : "";
}

/** A small metrics registry. */
export class Metrics {
  #families = new Map<string, Family>();
  #gauges = new Map<string, { help: string; read: () => number }>();
  #sampled: (() => SampledFamily[])[] = [];

  /** Families whose labelled values are read at each scrape (per Raft group, per peer ...). */
  sampled(read: () => SampledFamily[]): void {
    this.#sampled.push(read);
  }

  /** Declares a counter (idempotent). */
  counter(name: string, help: string): void {
    if (!this.#families.has(name)) {
      this.#families.set(name, { help, type: "counter", values: new Map() });
    }
  }

  /** Adds `by` to a counter's labelled value. */
  add(name: string, labels: Labels = {}, by = 1): void {
    const family = this.#families.get(name);
    if (!family) throw new Error(`BUG: metric ${name} was not declared`);
    const key = labelKey(labels);
    const entry = family.values.get(key);
    if (entry) entry.value += by;
    else family.values.set(key, { labels, value: by });
  }

  /** A gauge read when scraped. */
  gauge(name: string, help: string, read: () => number): void {
    this.#gauges.set(name, { help, read });
  }

  /** The current value of a counter (tests, health). */
  value(name: string, labels: Labels = {}): number {
    return this.#families.get(name)?.values.get(labelKey(labels))?.value ?? 0;
  }

  /** The Prometheus text exposition of everything. */
  render(): string {
    let out = "";
    for (const [name, family] of this.#families) {
      out += `# HELP ${name} ${family.help}\n# TYPE ${name} ${family.type}\n`;
      for (const { labels, value } of family.values.values()) {
        out += `${name}${labelText(labels)} ${value}\n`;
      }
    }
    for (const [name, gauge] of this.#gauges) {
      out += `# HELP ${name} ${gauge.help}\n# TYPE ${name} gauge\n${name} ${gauge.read()}\n`;
    }
    for (const read of this.#sampled) {
      for (const f of read()) {
        out += `# HELP ${f.name} ${f.help}\n# TYPE ${f.name} ${f.type}\n`;
        for (const { labels, value } of f.samples) {
          out += `${f.name}${labelText(labels)} ${value}\n`;
        }
      }
    }
    return out;
  }
}
