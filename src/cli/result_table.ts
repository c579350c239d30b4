/**
 * Query answers as the `influx` shell's column format: per series a `name:` line and a `tags:`
 * line, the column names, a dashed rule and the rows, every column as wide as its widest cell on
 * screen. Widths count what a terminal shows (wide CJK and emoji take two cells, combining marks
 * none), and a value's line breaks and tabs are shown escaped, so a row stays one line.
 * Integers beyond 2^53 print exactly as the server sent them.
 * @module
 */

/** A series of the wire answer. */
export interface WireSeries {
  name?: string;
  tags?: Record<string, string>;
  columns: string[];
  values?: unknown[][];
}

/** One statement's result on the wire. */
export interface WireResult {
  statement_id: number;
  series?: WireSeries[];
  error?: string;
  messages?: { level: string; text: string }[];
}

/** A number kept as the server wrote it (int64 values beyond 2^53 stay exact). */
export class RawNumber {
  constructor(readonly text: string) {}
  toJSON(): number {
    return Number(this.text);
  }
}

/**
 * Parses a JSON answer keeping every number's text.
 * @throws {SyntaxError} when `text` is not JSON.
 */
export function parseAnswer(text: string): unknown {
  return JSON.parse(
    text,
    (_key, value, context?: { source?: string }) =>
      typeof value === "number" && context?.source !== undefined
        ? new RawNumber(context.source)
        : value,
  );
}

/** Results as tables, one block per series; statement errors as `ERR: ...`. */
export function formatColumns(results: readonly WireResult[]): string {
  const blocks: string[] = [];
  for (const result of results) {
    if (result.error) blocks.push(`ERR: ${result.error}\n`);
    for (const m of result.messages ?? []) blocks.push(`${m.level}: ${m.text}\n`);
    for (const series of result.series ?? []) blocks.push(formatSeries(series));
  }
  return blocks.join("\n");
}

function formatSeries(series: WireSeries): string {
  let out = "";
  if (series.name) out += `name: ${visible(series.name)}\n`;
  const tags = Object.keys(series.tags ?? {}).sort();
  if (tags.length > 0) {
    out += `tags: ${tags.map((k) => `${visible(k)}=${visible(series.tags![k])}`).join(", ")}\n`;
  }
  const header = series.columns.map(visible);
  const rows = (series.values ?? []).map((row) => series.columns.map((_, i) => cell(row[i])));
  const widths = header.map((h, i) =>
    Math.max(displayWidth(h), ...rows.map((r) => displayWidth(r[i])))
  );
  const line = (parts: string[]) =>
    parts.map((p, i) => i === parts.length - 1 ? p : pad(p, widths[i])).join(" ").trimEnd() +
    "\n";
  out += line(header);
  out += line(header.map((h) => "-".repeat(displayWidth(h))));
  for (const r of rows) out += line(r);
  return out;
}

/** A cell's text: strings as they are (escaped), numbers as sent, null as nothing. */
export function cell(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (value instanceof RawNumber) return value.text;
  if (typeof value === "string") return visible(value);
  return visible(JSON.stringify(value));
}

/** Line breaks, tabs and other control characters shown as escapes. */
function visible(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/[\u0000-\u001f\u007f]/g, (c) => {
    if (c === "\n") return "\\n";
    if (c === "\t") return "\\t";
    if (c === "\r") return "\\r";
    return `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`;
  });
}

function pad(text: string, width: number): string {
  return text + " ".repeat(Math.max(0, width - displayWidth(text)));
}

const ZERO_WIDTH = /^[\p{Mn}\p{Me}\u200b-\u200f\ufe00-\ufe0f]$/u;
const WIDE =
  /^[\p{Emoji_Presentation}\u1100-\u115f\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua000-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6\u{20000}-\u{3fffd}]$/u;

/** The cells a terminal uses to show `text` (one per character; wide ones two; marks none). */
export function displayWidth(text: string): number {
  let width = 0;
  for (const ch of text) {
    if (ZERO_WIDTH.test(ch)) continue;
    width += WIDE.test(ch) ? 2 : 1;
  }
  return width;
}
