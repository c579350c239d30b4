/**
 * The InfluxDB 1.x JSON answer, byte for byte: `{"results":[{"statement_id":0,"series":[...]}]}`
 * with Go encoding/json's key order, float formatting and string escaping (`<`, `>`, `&` as
 * `\u003c`...), RFC3339Nano times unless an `epoch` unit is asked for, and a trailing newline.
 *
 * @module
 */
import { formatRFC3339Nano, type Instant, nanosOf, nanosString } from "../core/time.ts";
import { formatInZone } from "./zone.ts";
import type { ResultSeries, StatementResult, Value } from "./result.ts";
import { isInstant } from "./result.ts";

/** Epoch units of the `epoch` query parameter. */
export type EpochUnit = "ns" | "n" | "u" | "µ" | "us" | "ms" | "s" | "m" | "h";

/** Options of {@linkcode encodeJson}. */
export interface JsonOptions {
  /** Integer epochs in this unit instead of RFC3339 strings. */
  epoch?: EpochUnit;
  /** Indent with four spaces as InfluxDB's `pretty=true`. */
  pretty?: boolean;
}

/**
 * Encodes statement results as InfluxDB's `/query` JSON body (with the trailing newline).
 *
 * @example
 * ```ts
 * encodeJson([{ statementId: 0 }]); // '{"results":[{"statement_id":0}]}\n'
 * ```
 */
export function encodeJson(results: readonly StatementResult[], options: JsonOptions = {}): string {
  const parts: string[] = [];
  for (const r of results) parts.push(encodeResult(r, options));
  const body = `{"results":[${parts.join(",")}]}`;
  return (options.pretty ? indent(body) : body) + "\n";
}

/** Encodes one statement result object (also a chunk of a chunked answer). */
export function encodeResult(r: StatementResult, options: JsonOptions = {}): string {
  let out = `{"statement_id":${r.statementId}`;
  if (r.series && r.series.length > 0) {
    out += `,"series":[${r.series.map((s) => encodeSeries(s, options)).join(",")}]`;
  }
  if (r.messages && r.messages.length > 0) {
    out += `,"messages":[${
      r.messages.map((m) => `{"level":${jsonString(m.level)},"text":${jsonString(m.text)}}`)
        .join(",")
    }]`;
  }
  if (r.error !== undefined && r.error !== "") out += `,"error":${jsonString(r.error)}`;
  return out + "}";
}

export function encodeSeries(s: ResultSeries, options: JsonOptions): string {
  let out = "{";
  const parts: string[] = [];
  if (s.name !== "") parts.push(`"name":${jsonString(s.name)}`);
  if (s.tags && Object.keys(s.tags).length > 0) {
    // Go marshals map keys sorted.
    const keys = Object.keys(s.tags).sort();
    parts.push(
      `"tags":{${keys.map((k) => `${jsonString(k)}:${jsonString(s.tags![k])}`).join(",")}}`,
    );
  }
  if (s.columns.length > 0) parts.push(`"columns":[${s.columns.map(jsonString).join(",")}]`);
  if (s.values.length > 0) {
    const rows = new Array<string>(s.values.length);
    for (let i = 0; i < s.values.length; i++) {
      const row = s.values[i];
      let line = "[";
      for (let c = 0; c < row.length; c++) {
        if (c > 0) line += ",";
        const v = row[c];
        line += !isInstant(v)
          ? jsonValue(v)
          : s.timezone !== undefined && options.epoch === undefined
          ? `"${formatInZone(v.ms, v.subMs, s.timezone)}"`
          : encodeTime(v, options.epoch);
      }
      rows[i] = line + "]";
    }
    parts.push(`"values":[${rows.join(",")}]`);
  }
  out += parts.join(",");
  return out + "}";
}

// Whole-millisecond times already written (a GROUP BY time answer repeats its bucket starts in
// every series): formatting one costs ~1 µs, a lookup a few ns. Cleared when full.
const TIME_STRINGS = new Map<number, string>();
const TIME_STRINGS_MAX = 4096;

/** A time cell: an RFC3339Nano string, or an integer epoch in `unit` (truncated like Go). */
export function encodeTime(t: Instant, unit?: EpochUnit): string {
  if (unit !== undefined) return epochString(t, unit);
  if (t.subMs !== 0) return `"${formatRFC3339Nano(t.ms, t.subMs)}"`;
  let text = TIME_STRINGS.get(t.ms);
  if (text === undefined) {
    if (TIME_STRINGS.size >= TIME_STRINGS_MAX) TIME_STRINGS.clear();
    text = `"${formatRFC3339Nano(t.ms, 0)}"`;
    TIME_STRINGS.set(t.ms, text);
  }
  return text;
}

/** The integer epoch of an instant in a unit, as Go's `UnixNano() / unit` (toward zero). */
export function epochString(t: Instant, unit: EpochUnit): string {
  if (unit === "ns" || unit === "n") return nanosString(t.ms, t.subMs);
  if (t.ms < 0) {
    const div = { u: 1_000n, "µ": 1_000n, us: 1_000n, ms: 1_000_000n, s: 1_000_000_000n }[
      unit as "u"
    ] ?? (unit === "m" ? 60_000_000_000n : 3_600_000_000_000n);
    return String(nanosOf(t.ms, t.subMs) / div);
  }
  switch (unit) {
    case "u":
    case "µ":
    case "us":
      return String(t.ms * 1000 + Math.floor(t.subMs / 1000));
    case "ms":
      return String(t.ms);
    case "s":
      return String(Math.floor(t.ms / 1000));
    case "m":
      return String(Math.floor(t.ms / 60_000));
    default:
      return String(Math.floor(t.ms / 3_600_000));
  }
}

/** A value as Go's encoding/json writes it. */
export function jsonValue(v: Value): string {
  switch (typeof v) {
    case "number":
      return goFloat(v);
    case "bigint":
      return v.toString();
    case "string":
      return jsonString(v);
    case "boolean":
      return v ? "true" : "false";
    default:
      return "null";
  }
}

/**
 * Formats a float64 as Go's encoding/json: shortest round-trip digits, plain notation in
 * [1e-6, 1e21), exponent notation outside with Go's `e-7` / `e+21` spelling. JS's
 * Number#toString uses the same thresholds and digits; only -0 differs. Non-finite values,
 * which Go refuses to encode, are written as null.
 */
export function goFloat(v: number): string {
  if (!Number.isFinite(v)) return "null";
  if (v === 0) return Object.is(v, -0) ? "-0" : "0";
  return String(v);
}

// deno-lint-ignore no-control-regex -- control characters are exactly what must be escaped
const NEEDS_ESCAPE = /[\u0000-\u001f"\\<>&\u2028\u2029\ud800-\udfff]/;

/** A JSON string as Go's encoding/json writes it (HTML-safe escapes, \u00XX for controls). */
export function jsonString(s: string): string {
  if (!NEEDS_ESCAPE.test(s)) return `"${s}"`;
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    switch (c) {
      case 0x22:
        out += '\\"';
        continue;
      case 0x5c:
        out += "\\\\";
        continue;
      case 0x0a:
        out += "\\n";
        continue;
      case 0x0d:
        out += "\\r";
        continue;
      case 0x09:
        out += "\\t";
        continue;
    }
    if (c < 0x20 || c === 0x3c || c === 0x3e || c === 0x26 || c === 0x2028 || c === 0x2029) {
      out += "\\u" + c.toString(16).padStart(4, "0");
    } else if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        out += s[i] + s[i + 1];
        i++;
      } else out += "\\ufffd";
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      out += "\\ufffd";
    } else out += s[i];
  }
  return out + '"';
}

/** Re-indents compact JSON with four spaces, as Go's json.MarshalIndent(v, "", "    "). */
function indent(compact: string): string {
  let out = "";
  let depth = 0;
  let inString = false;
  for (let i = 0; i < compact.length; i++) {
    const ch = compact[i];
    if (inString) {
      out += ch;
      if (ch === "\\") out += compact[++i];
      else if (ch === '"') inString = false;
      continue;
    }
    switch (ch) {
      case '"':
        inString = true;
        out += ch;
        break;
      case "{":
      case "[": {
        const close = ch === "{" ? "}" : "]";
        if (compact[i + 1] === close) {
          out += ch + close;
          i++;
          break;
        }
        depth++;
        out += ch + "\n" + "    ".repeat(depth);
        break;
      }
      case "}":
      case "]":
        depth--;
        out += "\n" + "    ".repeat(depth) + ch;
        break;
      case ",":
        out += ",\n" + "    ".repeat(depth);
        break;
      case ":":
        out += ": ";
        break;
      default:
        out += ch;
    }
  }
  return out;
}
