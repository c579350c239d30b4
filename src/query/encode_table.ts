/**
 * A plain-text table of results for the CLI, in the shape of the `influx` shell's column
 * format: `name:` and `tags:` lines, a header, a dashed rule, aligned columns.
 *
 * @module
 */
import { formatRFC3339Nano } from "../core/time.ts";
import { formatFloatPlain } from "./_format_float.ts";
import type { StatementResult, Value } from "./result.ts";
import { isInstant } from "./result.ts";

/**
 * Formats results as text tables, one block per series; errors as `ERR: <message>`.
 *
 * @example
 * ```ts
 * formatTable(results);
 * // name: cpu
 * // time                 mean
 * // ----                 ----
 * // 2023-03-15T13:20:00Z 0.75
 * ```
 */
export function formatTable(results: readonly StatementResult[]): string {
  const blocks: string[] = [];
  for (const r of results) {
    if (r.error !== undefined) blocks.push(`ERR: ${r.error}\n`);
    for (const m of r.messages ?? []) blocks.push(`${m.level}: ${m.text}\n`);
    for (const s of r.series ?? []) {
      let out = "";
      if (s.name !== "") out += `name: ${s.name}\n`;
      if (s.tags && Object.keys(s.tags).length > 0) {
        out += "tags: " +
          Object.keys(s.tags).sort().map((k) => `${k}=${s.tags![k]}`).join(", ") + "\n";
      }
      const cells = s.values.map((row) =>
        row.map((v) => (isInstant(v) ? formatRFC3339Nano(v.ms, v.subMs) : text(v)))
      );
      const widths = s.columns.map((c, i) =>
        Math.max(c.length, ...cells.map((row) => (row[i] ?? "").length))
      );
      const line = (parts: string[]) =>
        parts.map((p, i) => (i === parts.length - 1 ? p : p.padEnd(widths[i]))).join(" ")
          .trimEnd() + "\n";
      out += line(s.columns);
      out += line(s.columns.map((c) => "-".repeat(c.length)));
      for (const row of cells) out += line(row);
      blocks.push(out);
    }
  }
  return blocks.join("\n");
}

function text(v: Value): string {
  if (v === null) return "";
  if (typeof v === "number") return formatFloatPlain(v);
  return String(v);
}
