/// <reference lib="dom" />
/**
 * The schema explorer beside the editor: the database's retention policies and measurements;
 * a measurement opens to its fields (with types) and tag keys, a tag key to its values (loaded
 * when opened). Clicking a field or a tag value writes a query into the editor and runs it.
 * @module
 */
import type { Api } from "./api.ts";
import { h, replace } from "./dom.ts";

/** An identifier quoted for InfluxQL. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

/** A string literal for InfluxQL. */
export function quoteString(value: string): string {
  return `'${value.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

const NUMERIC = new Set(["float", "integer", "unsigned"]);
const TAG_VALUES_SHOWN = 200;

/** The query a click on a field writes: numbers averaged per bucket, other types raw. */
export function fieldQuery(measurement: string, field: string, type: string): string {
  const m = quoteIdent(measurement);
  if (NUMERIC.has(type)) {
    return `SELECT mean(${quoteIdent(field)}) FROM ${m} WHERE $timeFilter ` +
      `GROUP BY time($__interval) fill(none)`;
  }
  return `SELECT ${quoteIdent(field)} FROM ${m} WHERE $timeFilter LIMIT 1000`;
}

/** The explorer: its element and a way to show a database. */
export interface Explorer {
  element: HTMLElement;
  load(database: string): Promise<void>;
}

/** Builds the explorer; `onQuery` receives the query a click writes. */
export function createExplorer(api: Api, onQuery: (query: string) => void): Explorer {
  const body = h("div", { class: "explorer-body" });
  const filter = h("input", {
    class: "input filter",
    type: "search",
    placeholder: "Filter measurements",
    "aria-label": "Filter measurements",
  });
  const element = h(
    "aside",
    { class: "explorer panel", "aria-label": "Schema explorer" },
    h("div", { class: "panel-title" }, "Explorer"),
    filter,
    body,
  );
  filter.addEventListener("input", () => {
    const needle = filter.value.toLowerCase();
    for (const item of body.querySelectorAll<HTMLElement>("[data-measurement]")) {
      item.hidden = !item.dataset.measurement!.toLowerCase().includes(needle);
    }
  });
  let shown = "";

  const measurementNode = (database: string, measurement: string) => {
    const content = h("div", { class: "tree-children" }, h("div", { class: "muted" }, "Loading…"));
    const node = h(
      "details",
      { class: "tree-node", "data-measurement": measurement },
      h("summary", null, h("span", { class: "tree-label" }, measurement)),
      content,
    );
    node.addEventListener("toggle", async () => {
      if (!node.open || node.dataset.loaded) return;
      node.dataset.loaded = "1";
      const from = quoteIdent(measurement);
      try {
        const [fields, tagKeys] = await Promise.all([
          api.show(`SHOW FIELD KEYS FROM ${from}`, database),
          api.show(`SHOW TAG KEYS FROM ${from}`, database),
        ]);
        replace(
          content,
          h("div", { class: "tree-group" }, "Fields"),
          fields.map(([name, type]) =>
            h(
              "button",
              {
                class: "tree-leaf",
                type: "button",
                title: "Query this field",
                "data-field": String(name),
                onclick: () => onQuery(fieldQuery(measurement, String(name), String(type))),
              },
              h("span", null, String(name)),
              h("span", { class: "type-badge" }, String(type)),
            )
          ),
          tagKeys.length > 0 && h("div", { class: "tree-group" }, "Tags"),
          tagKeys.map(([key]) => tagKeyNode(database, measurement, String(key))),
        );
      } catch (error) {
        delete node.dataset.loaded;
        replace(content, h("div", { class: "form-error" }, String((error as Error).message)));
      }
    });
    return node;
  };

  const tagKeyNode = (database: string, measurement: string, key: string) => {
    const values = h("div", { class: "tree-children" }, h("div", { class: "muted" }, "Loading…"));
    const node = h(
      "details",
      { class: "tree-node", "data-tag": key },
      h("summary", null, h("span", { class: "tree-label tag-key" }, key)),
      values,
    );
    node.addEventListener("toggle", async () => {
      if (!node.open || node.dataset.loaded) return;
      node.dataset.loaded = "1";
      try {
        const rows = await api.show(
          `SHOW TAG VALUES FROM ${quoteIdent(measurement)} WITH KEY = ${quoteIdent(key)} ` +
            `LIMIT ${TAG_VALUES_SHOWN + 1}`,
          database,
        );
        replace(
          values,
          rows.slice(0, TAG_VALUES_SHOWN).map(([, value]) =>
            h("button", {
              class: "tree-leaf",
              type: "button",
              title: "Query this series",
              onclick: () =>
                onQuery(
                  `SELECT * FROM ${quoteIdent(measurement)} WHERE ${quoteIdent(key)} = ` +
                    `${quoteString(String(value))} AND $timeFilter LIMIT 1000`,
                ),
            }, String(value))
          ),
          rows.length > TAG_VALUES_SHOWN &&
            h("div", { class: "muted" }, `first ${TAG_VALUES_SHOWN} values`),
        );
      } catch (error) {
        delete node.dataset.loaded;
        replace(values, h("div", { class: "form-error" }, String((error as Error).message)));
      }
    });
    return node;
  };

  return {
    element,
    async load(database) {
      shown = database;
      if (!database) return replace(body, h("p", { class: "muted" }, "No database yet."));
      replace(body, h("div", { class: "muted" }, "Loading…"));
      try {
        const [policies, measurements] = await Promise.all([
          api.show(`SHOW RETENTION POLICIES ON ${quoteIdent(database)}`, database),
          api.show("SHOW MEASUREMENTS", database),
        ]);
        if (shown !== database) return; // another database was picked meanwhile
        filter.value = "";
        replace(
          body,
          h("div", { class: "tree-group" }, "Retention policies"),
          policies.map(([name, duration, , , isDefault]) =>
            h(
              "div",
              { class: "tree-row" },
              h("span", null, String(name)),
              h(
                "span",
                { class: "muted" },
                `${duration === "0s" ? "∞" : String(duration)}${isDefault ? " · default" : ""}`,
              ),
            )
          ),
          h("div", { class: "tree-group" }, `Measurements (${measurements.length})`),
          measurements.length === 0 && h("p", { class: "muted" }, "No data written yet."),
          measurements.map(([name]) => measurementNode(database, String(name))),
        );
      } catch (error) {
        replace(body, h("div", { class: "form-error" }, String((error as Error).message)));
      }
    },
  };
}
