/// <reference lib="dom" />
/**
 * Query results as tables, one per series, with the series' name and tags above it. Rendering is
 * capped at {@linkcode MAX_RENDERED_ROWS} rows (the DOM, not the query, is the limit); the
 * status says how many there were.
 * @module
 */
import { formatTime, h } from "./dom.ts";
import type { Cell, ResultTable } from "./results.ts";

/** Rows put in the page at most, across all tables. */
export const MAX_RENDERED_ROWS = 2000;

function cell(value: Cell, isTime: boolean): HTMLTableCellElement {
  if (value === null) return h("td", { class: "null" });
  if (isTime && typeof value === "number") {
    return h("td", { class: "time", title: `${value} ms` }, formatTime(value));
  }
  if (typeof value === "number" || (typeof value === "string" && /^-?\d{16,}$/.test(value))) {
    return h("td", { class: "num" }, String(value));
  }
  if (typeof value === "boolean") return h("td", { class: "bool" }, String(value));
  return h("td", null, value);
}

/** The tables of a result in one element. */
export function renderTables(tables: ResultTable[]): HTMLElement {
  let budget = MAX_RENDERED_ROWS;
  const total = tables.reduce((n, t) => n + t.rows.length, 0);
  const sections = tables.map((table) => {
    const rows = table.rows.slice(0, Math.max(0, budget));
    budget -= rows.length;
    const timeColumn = table.columns.indexOf("time");
    // A column of numbers is right-aligned, its header too.
    const numeric = table.columns.map((_, c) => {
      const first = table.rows.find((r) => r[c] !== null)?.[c];
      return c !== timeColumn && typeof first === "number";
    });
    const tags = Object.entries(table.tags);
    return h(
      "section",
      { class: "result-series" },
      (table.name || tags.length > 0) &&
        h(
          "header",
          null,
          h("span", { class: "series-name" }, table.name),
          tags.map(([k, v]) => h("span", { class: "tag-chip" }, `${k}=${v}`)),
          h(
            "span",
            { class: "muted" },
            `${table.rows.length} ${table.rows.length === 1 ? "row" : "rows"}`,
          ),
        ),
      h(
        "div",
        { class: "table-scroll" },
        h(
          "table",
          { class: "data" },
          h(
            "thead",
            null,
            h("tr", null, table.columns.map((c, i) => h("th", { class: numeric[i] && "num" }, c))),
          ),
          h(
            "tbody",
            null,
            rows.map((row) => h("tr", null, row.map((v, i) => cell(v, i === timeColumn)))),
          ),
        ),
      ),
    );
  });
  return h(
    "div",
    { class: "result-tables" },
    sections,
    total > MAX_RENDERED_ROWS &&
      h("p", { class: "muted" }, `Showing the first ${MAX_RENDERED_ROWS} of ${total} rows.`),
  );
}
