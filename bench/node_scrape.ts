/**
 * Records a real metrics data set: this machine's Prometheus node_exporter (Debian's
 * `prometheus-node-exporter`, started here on a loopback port) scraped every `--interval-ms`
 * for `--minutes`, each scrape converted as remote_write maps it (README: metric name ->
 * measurement, labels -> tags, float field `value`, the scrape's time in ms; NaN and ±Inf
 * skipped) and appended as line protocol (ms precision) to a gzip file. storage_peers.ts reads
 * it as its `node` data set. Real data is not reproducible to the byte: a recording of another
 * machine gives figures of the same kind, not the same digits.
 *
 *   deno run -A bench/node_scrape.ts [--minutes 30] [--interval-ms 1000] [--out bench/results/node_scrape.lp.gz]
 *
 * @module
 */

const NODE_EXPORTER = "/usr/bin/prometheus-node-exporter";

function flag(name: string, fallback: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 && Deno.args[i + 1] ? Deno.args[i + 1] : fallback;
}

/** Line protocol escaping of a measurement (commas, spaces) or a tag key/value (also `=`). */
const escapeName = (s: string) => s.replace(/[, ]/g, (c) => `\\${c}`);
const escapeTag = (s: string) => s.replace(/[,= ]/g, (c) => `\\${c}`);

/** The label pairs of `{a="x",b="y\"z"}` (Prometheus text format escapes `\\`, `\"`, `\n`). */
function parseLabels(text: string): [string, string][] {
  const labels: [string, string][] = [];
  const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
  for (const m of text.matchAll(re)) {
    const value = m[2].replace(/\\(.)/g, (_, c) => (c === "n" ? " " : c));
    if (value !== "") labels.push([m[1], value]);
  }
  return labels.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

/**
 * One scrape (Prometheus text exposition format 0.0.4) as line protocol lines at `timeMs`:
 * every sample, comments skipped, NaN and ±Inf skipped (they are not storable values in
 * EpochNexus's remote_write mapping).
 */
export function scrapeToLines(text: string, timeMs: number): string[] {
  const lines: string[] = [];
  for (const raw of text.split("\n")) {
    if (raw === "" || raw.startsWith("#")) continue;
    // `name{labels} value [timestamp]` or `name value [timestamp]`; label values may hold
    // spaces and braces, the value and timestamp hold neither.
    const brace = raw.indexOf("{");
    const firstSpace = raw.indexOf(" ");
    const labelled = brace >= 0 && (firstSpace < 0 || brace < firstSpace);
    const close = labelled ? raw.lastIndexOf("}") : -1;
    const name = labelled ? raw.slice(0, brace) : raw.slice(0, firstSpace);
    const labelText = labelled ? raw.slice(brace, close + 1) : "";
    const rest = (labelled ? raw.slice(close + 1) : raw.slice(firstSpace)).trim();
    const value = Number(rest.split(" ")[0]);
    if (!Number.isFinite(value)) continue;
    const tags = parseLabels(labelText).map(([k, v]) => `,${escapeTag(k)}=${escapeTag(v)}`);
    lines.push(`${escapeName(name)}${tags.join("")} value=${value} ${timeMs}`);
  }
  return lines;
}

/** A recording made by this script, as line protocol chunks of `perChunk` lines (ms times). */
export async function* nodeDataLines(
  path: string,
  perChunk: number,
): AsyncGenerator<{ lines: string; valueCount: number }> {
  const file = await Deno.open(path);
  const text = file.readable.pipeThrough(new DecompressionStream("gzip")).pipeThrough(
    new TextDecoderStream(),
  );
  let lines: string[] = [];
  let rest = "";
  for await (const piece of text) {
    const parts = (rest + piece).split("\n");
    rest = parts.pop()!;
    for (const line of parts) {
      if (line === "") continue;
      lines.push(line);
      if (lines.length >= perChunk) {
        yield { lines: lines.join("\n"), valueCount: lines.length };
        lines = [];
      }
    }
  }
  if (rest !== "") lines.push(rest);
  if (lines.length > 0) yield { lines: lines.join("\n"), valueCount: lines.length };
}

async function startNodeExporter(): Promise<{ url: string; stop(): Promise<void> }> {
  if (!(await Deno.stat(NODE_EXPORTER).catch(() => null))) {
    throw new Error(
      `${NODE_EXPORTER} is not installed: apt-get install -y prometheus-node-exporter`,
    );
  }
  const child = new Deno.Command(NODE_EXPORTER, {
    args: ["--web.listen-address=127.0.0.1:0"],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  // It logs the port it bound (port 0 here): read it back instead of guessing a free one.
  let log = "";
  const decoder = new TextDecoder();
  const reader = child.stderr.getReader();
  const deadline = Date.now() + 15_000;
  let port = 0;
  while (port === 0) {
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`node_exporter did not log its address:\n${log}`);
    }
    const { done, value } = await reader.read();
    if (done) throw new Error(`node_exporter exited:\n${log}`);
    log += decoder.decode(value, { stream: true });
    const m = /msg="Listening on" address=127\.0\.0\.1:(\d+)/.exec(log);
    if (m) port = Number(m[1]);
  }
  const drain = (async () => {
    while (!(await reader.read()).done) { /* keep the pipe from filling */ }
  })().catch(() => {});
  return {
    url: `http://127.0.0.1:${port}/metrics`,
    async stop() {
      child.kill("SIGTERM");
      await child.status;
      await drain;
    },
  };
}

if (import.meta.main) {
  const minutes = Number(flag("minutes", "30"));
  const intervalMs = Number(flag("interval-ms", "1000"));
  const out = flag("out", "bench/results/node_scrape.lp.gz");
  await Deno.mkdir(out.slice(0, out.lastIndexOf("/")) || ".", { recursive: true });
  const exporter = await startNodeExporter();
  const file = await Deno.open(`${out}.partial`, { write: true, create: true, truncate: true });
  const gzip = new CompressionStream("gzip");
  const written = gzip.readable.pipeTo(file.writable);
  const writer = gzip.writable.getWriter();
  const encoder = new TextEncoder();
  const scrapes = Math.round((minutes * 60_000) / intervalMs);
  const started = Date.now();
  let samples = 0;
  try {
    for (let i = 0; i < scrapes; i++) {
      // A fixed schedule (not "interval after the last scrape"), as Prometheus scrapes.
      const due = started + i * intervalMs;
      if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
      const timeMs = Date.now();
      const text = await (await fetch(exporter.url)).text();
      const lines = scrapeToLines(text, timeMs);
      samples += lines.length;
      await writer.write(encoder.encode(lines.join("\n") + "\n"));
      if (i % 60 === 59) console.error(`${i + 1}/${scrapes} scrapes, ${samples} samples`);
    }
  } finally {
    await writer.close();
    await written;
    await exporter.stop();
  }
  await Deno.rename(`${out}.partial`, out);
  console.log(`${out}: ${scrapes} scrapes every ${intervalMs} ms, ${samples} samples`);
}
