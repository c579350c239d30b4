/**
 * A strict reader of the Prometheus text exposition format (0.0.4) for tests: every line is a
 * `# HELP`, a `# TYPE` or a sample whose family was declared just before; names and labels are
 * well formed; no series appears twice; a histogram's buckets are cumulative, end with
 * `le="+Inf"` equal to its `_count`, and come with a `_sum`. Throws naming the line otherwise.
 * @module
 */

/** One sample: its full name (`x_bucket`), labels and value. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A parsed exposition: families by name, and every sample. */
export interface Exposition {
  types: Map<string, string>;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/;
const LABEL = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\["\\n])*)"(,|$)/;

function parseLabels(text: string, where: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let rest = text;
  while (rest.length > 0) {
    const m = LABEL.exec(rest);
    if (!m) throw new Error(`${where}: bad labels ${JSON.stringify(text)}`);
    if (m[1] in labels) throw new Error(`${where}: label ${m[1]} twice`);
    labels[m[1]] = m[2].replace(/\\n/g, "\n").replace(/\\(["\\])/g, "$1");
    rest = rest.slice(m[0].length);
  }
  return labels;
}

function familyOf(name: string, types: Map<string, string>): string | undefined {
  if (types.has(name)) return name;
  for (const suffix of ["_bucket", "_sum", "_count"]) {
    if (name.endsWith(suffix)) {
      const base = name.slice(0, -suffix.length);
      if (types.get(base) === "histogram") return base;
    }
  }
  return undefined;
}

/** Parses and checks `text` (see the module doc). */
export function parseExposition(text: string): Exposition {
  const types = new Map<string, string>();
  const helps = new Set<string>();
  const samples: Sample[] = [];
  const seen = new Set<string>();
  const lines = text.split("\n");
  if (lines.at(-1) !== "") throw new Error("the exposition must end with a newline");
  let current: string | undefined;
  for (let i = 0; i < lines.length - 1; i++) {
    const line = lines[i];
    const where = `line ${i + 1} ${JSON.stringify(line.slice(0, 120))}`;
    if (line.startsWith("# HELP ")) {
      const name = line.slice(7).split(" ")[0];
      if (!NAME.test(name)) throw new Error(`${where}: bad name`);
      if (helps.has(name)) throw new Error(`${where}: HELP for ${name} twice`);
      helps.add(name);
      current = name;
      continue;
    }
    if (line.startsWith("# TYPE ")) {
      const [name, type] = line.slice(7).split(" ");
      if (name !== current) throw new Error(`${where}: TYPE does not follow its HELP`);
      if (!["counter", "gauge", "histogram", "summary", "untyped"].includes(type)) {
        throw new Error(`${where}: unknown type`);
      }
      if (types.has(name)) throw new Error(`${where}: TYPE for ${name} twice`);
      types.set(name, type);
      continue;
    }
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`${where}: not a sample`);
    const family = familyOf(m[1], types);
    if (family === undefined || family !== current) {
      throw new Error(`${where}: sample outside its family's block`);
    }
    const value = m[4] === "+Inf" ? Infinity : m[4] === "-Inf" ? -Infinity : Number(m[4]);
    if (Number.isNaN(value) && m[4] !== "NaN") throw new Error(`${where}: bad value`);
    const labels = parseLabels(m[3] ?? "", where);
    const key = `${m[1]}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seen.has(key)) throw new Error(`${where}: series twice`);
    seen.add(key);
    samples.push({ name: m[1], labels, value });
  }
  checkHistograms(types, samples);
  return { types, samples };
}

function checkHistograms(types: Map<string, string>, samples: Sample[]): void {
  for (const [name, type] of types) {
    if (type !== "histogram") continue;
    const series = new Map<string, { buckets: [number, number][]; sum?: number; count?: number }>();
    const get = (labels: Record<string, string>) => {
      const rest = Object.entries(labels).filter(([k]) => k !== "le").sort();
      const key = JSON.stringify(rest);
      let s = series.get(key);
      if (!s) series.set(key, s = { buckets: [] });
      return s;
    };
    for (const s of samples) {
      if (s.name === `${name}_bucket`) {
        if (s.labels.le === undefined) throw new Error(`${name}: a bucket without le`);
        const le = s.labels.le === "+Inf" ? Infinity : Number(s.labels.le);
        get(s.labels).buckets.push([le, s.value]);
      } else if (s.name === `${name}_sum`) get(s.labels).sum = s.value;
      else if (s.name === `${name}_count`) get(s.labels).count = s.value;
    }
    for (const [key, s] of series) {
      const where = `${name}${key}`;
      if (s.sum === undefined || s.count === undefined) throw new Error(`${where}: no _sum/_count`);
      const last = s.buckets.at(-1);
      if (!last || last[0] !== Infinity) throw new Error(`${where}: no +Inf bucket`);
      if (last[1] !== s.count) throw new Error(`${where}: +Inf bucket ${last[1]} != count`);
      for (let i = 1; i < s.buckets.length; i++) {
        if (!(s.buckets[i][0] > s.buckets[i - 1][0])) throw new Error(`${where}: le not ascending`);
        if (s.buckets[i][1] < s.buckets[i - 1][1]) throw new Error(`${where}: not cumulative`);
      }
    }
  }
}

/** The value of the sample `name{labels...}` (labels given must match; others ignored). */
export function valueOf(
  e: Exposition,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  return e.samples.find((s) =>
    s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)
  )?.value;
}
