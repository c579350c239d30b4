/// <reference lib="dom" />
/**
 * The schemas view, read-only: each measurement's schema (tags, fields, policies and pipeline
 * steps) as the node enforces it, and the pipeline's dry run (`POST
 * /api/v1/pipelines/{measurement}/test`), which says what would be stored, rejected (with the
 * rule) and dropped, writing nothing. Changing schemas stays with the API and the config folder.
 * @module
 */
import type { Api } from "./api.ts";
import { type Child, h, replace } from "./dom.ts";

interface SchemaList {
  schemas: { measurement: string; origin: string }[];
}

type Rules = Record<string, unknown>;

interface Schema {
  description?: string;
  tags?: Record<string, Rules>;
  fields?: Record<string, Rules & { type?: string }>;
  pipeline?: Record<string, unknown>[];
  [policy: string]: unknown;
}

interface DryRunAnswer {
  stored?: { tags: Record<string, string>; fields: Record<string, unknown>; timestamp: string }[];
  rejected?: { index: number; rule: string; key?: string; reason: string }[];
  dropped?: unknown[];
  decode_errors?: { line?: number; column?: number; reason?: string; message?: string }[];
  error?: { message?: string };
}

/** A line of line protocol that satisfies the schema's required tags and fields. */
export function sampleLine(measurement: string, schema: Schema): string {
  const escape = (s: string) => s.replace(/[ ,=\\]/g, (c) => `\\${c}`);
  const tags = Object.entries(schema.tags ?? {})
    .filter(([, r]) => r.required)
    .map(([k, r]) => {
      const values = r.values as string[] | undefined;
      return `,${escape(k)}=${escape(values?.[0] ?? "example")}`;
    });
  const sample = (r: Rules & { type?: string }) => {
    const min = typeof r.min === "number" ? r.min : 0;
    switch (r.type) {
      case "integer":
        return `${Math.max(1, Math.ceil(min))}i`;
      case "unsigned":
        return `${Math.max(1, Math.ceil(min))}u`;
      case "boolean":
        return "true";
      case "string":
        return '"ok"';
      default:
        return String(typeof r.max === "number" ? (min + r.max) / 2 : min + 1);
    }
  };
  const fields = Object.entries(schema.fields ?? {});
  const chosen = fields.filter(([, r]) => r.required);
  const used = chosen.length ? chosen : fields.slice(0, 1);
  const fieldText = used.map(([k, r]) => `${escape(k)}=${sample(r)}`).join(",") || "value=1";
  return `${escape(measurement)}${tags.join("")} ${fieldText}`;
}

function rulesText(rules: Rules, skip: string[]): string {
  return Object.entries(rules)
    .filter(([k, v]) => !skip.includes(k) && v !== false && v !== undefined)
    .map(([k, v]) => (v === true ? k : `${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`))
    .join(" · ");
}

function stepText(step: Record<string, unknown>): Child {
  const [[name, args] = ["?", {}]] = Object.entries(step);
  return [h("code", null, name), " ", h("span", { class: "muted" }, JSON.stringify(args))];
}

/** The schemas view and the shell's handle on it. */
export interface SchemasView {
  element: HTMLElement;
  show(): Promise<void>;
}

/** Builds the view; `databases` gives the node's databases and the one the query view uses. */
export function createSchemasView(
  api: Api,
  databases: () => { names: string[]; current: string },
): SchemasView {
  const list = h("div", { class: "schema-list" });
  const detail = h("div", { class: "schema-detail" });
  const element = h(
    "div",
    { class: "view schemas-view" },
    h(
      "aside",
      { class: "panel" },
      h("div", { class: "panel-title" }, "Schemas"),
      list,
    ),
    detail,
  );
  let selected = "";

  const showSchema = async (measurement: string) => {
    selected = measurement;
    for (const b of list.querySelectorAll<HTMLElement>("button")) {
      b.classList.toggle("active", b.dataset.measurement === measurement);
    }
    replace(detail, h("div", { class: "muted" }, "Loading…"));
    let answer: { origin: string; schema: Schema } | undefined;
    try {
      answer = await api.getJson(`api/v1/schemas/${encodeURIComponent(measurement)}`);
    } catch (error) {
      return replace(detail, h("div", { class: "error-box" }, (error as Error).message));
    }
    if (!answer || selected !== measurement) return;
    const { schema, origin } = answer;
    const policies = Object.entries(schema).filter(([k]) =>
      !["description", "tags", "fields", "pipeline"].includes(k)
    );
    replace(
      detail,
      h(
        "section",
        { class: "panel", "aria-label": `Schema of ${measurement}` },
        h(
          "div",
          { class: "schema-head" },
          h("h2", null, measurement),
          h("span", { class: "origin muted" }, origin),
        ),
        schema.description && h("p", null, schema.description),
        h(
          "div",
          { class: "policy-chips" },
          policies.map(([k, v]) =>
            h(
              "span",
              { class: "tag-chip" },
              `${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`,
            )
          ),
        ),
        h("div", { class: "tree-group" }, "Tags"),
        h(
          "table",
          { class: "data" },
          h("thead", null, h("tr", null, h("th", null, "tag"), h("th", null, "rules"))),
          h(
            "tbody",
            null,
            Object.entries(schema.tags ?? {}).map(([k, r]) =>
              h("tr", null, h("td", null, k), h("td", null, rulesText(r, [])))
            ),
          ),
        ),
        h("div", { class: "tree-group" }, "Fields"),
        h(
          "table",
          { class: "data schema-fields" },
          h(
            "thead",
            null,
            h("tr", null, h("th", null, "field"), h("th", null, "type"), h("th", null, "rules")),
          ),
          h(
            "tbody",
            null,
            Object.entries(schema.fields ?? {}).map(([k, r]) =>
              h(
                "tr",
                null,
                h("td", null, k),
                h("td", null, h("span", { class: "type-badge" }, String(r.type ?? "any"))),
                h("td", null, rulesText(r, ["type"])),
              )
            ),
          ),
        ),
        (schema.pipeline?.length ?? 0) > 0 && [
          h("div", { class: "tree-group" }, "Pipeline"),
          h("ol", { class: "pipeline" }, schema.pipeline!.map((s) => h("li", null, stepText(s)))),
        ],
        h(
          "details",
          { class: "raw" },
          h("summary", null, "JSON"),
          h("pre", { class: "json" }, JSON.stringify(schema, null, 2)),
        ),
      ),
      dryRunPanel(measurement, sampleLine(measurement, schema)),
    );
  };

  const dryRunPanel = (measurement: string, sample: string) => {
    const input = h("textarea", {
      class: "input mono",
      rows: "4",
      spellcheck: "false",
      "aria-label": "Points to test",
    });
    input.value = sample;
    const { names, current } = databases();
    const db = h(
      "select",
      { class: "input", "aria-label": "Database" },
      names.map((n) => h("option", { value: n }, n)),
    );
    if (names.includes(current)) db.value = current;
    const out = h("div", { class: "dry-run-result" });
    const button = h("button", { class: "button primary", type: "submit" }, "Dry run");
    const run = async () => {
      button.disabled = true;
      replace(out, h("span", { class: "spinner" }), "Running…");
      try {
        const { status, body } = await api.postJson(
          `api/v1/pipelines/${encodeURIComponent(measurement)}/test`,
          { points: input.value, ...(db.value && { db: db.value }) },
        );
        const answer = body as DryRunAnswer;
        if (status >= 400) {
          return replace(out, h("div", { class: "error-box" }, answer.error?.message ?? status));
        }
        replace(out, dryRunResult(answer));
      } catch (error) {
        replace(out, h("div", { class: "error-box" }, (error as Error).message));
      } finally {
        button.disabled = false;
      }
    };
    return h(
      "section",
      { class: "panel dry-run", "aria-label": "Dry run" },
      h(
        "div",
        { class: "panel-title" },
        "Dry run",
        h(
          "span",
          { class: "muted" },
          "line protocol or a JSON array of points; nothing is written",
        ),
      ),
      h(
        "form",
        {
          onsubmit: (e: Event) => {
            e.preventDefault();
            void run();
          },
        },
        input,
        h(
          "div",
          { class: "toolbar" },
          names.length > 0 && db,
          h("span", { class: "spacer" }),
          button,
        ),
      ),
      out,
    );
  };

  const dryRunResult = (answer: DryRunAnswer) => {
    const stored = answer.stored ?? [];
    const rejected = answer.rejected ?? [];
    const decodeErrors = answer.decode_errors ?? [];
    return h(
      "div",
      null,
      h(
        "div",
        { class: "stat-cards compact" },
        h(
          "div",
          { class: "stat-card good" },
          h("div", { class: "stat-value" }, stored.length),
          "stored",
        ),
        h(
          "div",
          { class: rejected.length ? "stat-card bad" : "stat-card" },
          h("div", { class: "stat-value" }, rejected.length + decodeErrors.length),
          "rejected",
        ),
        h(
          "div",
          { class: "stat-card" },
          h("div", { class: "stat-value" }, (answer.dropped ?? []).length),
          "dropped",
        ),
      ),
      stored.length > 0 &&
        h(
          "table",
          { class: "data", "data-result": "stored" },
          h(
            "thead",
            null,
            h(
              "tr",
              null,
              h("th", null, "tags"),
              h("th", null, "fields"),
              h("th", null, "timestamp (ns)"),
            ),
          ),
          h(
            "tbody",
            null,
            stored.map((p) =>
              h(
                "tr",
                null,
                h(
                  "td",
                  null,
                  Object.entries(p.tags).map(([k, v]) =>
                    h("span", { class: "tag-chip" }, `${k}=${v}`)
                  ),
                ),
                h(
                  "td",
                  { class: "mono" },
                  Object.entries(p.fields).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(" "),
                ),
                h("td", { class: "mono" }, p.timestamp),
              )
            ),
          ),
        ),
      [
        ...rejected.map((r) =>
          `point ${r.index + 1}: ${r.rule}${r.key ? ` (${r.key})` : ""}: ${r.reason}`
        ),
        ...decodeErrors.map((e) =>
          `line ${e.line ?? "?"}${e.column ? `:${e.column}` : ""}: ${
            e.reason ?? e.message ?? JSON.stringify(e)
          }`
        ),
      ]
        .map((text) => h("div", { class: "error-box" }, text)),
    );
  };

  return {
    element,
    async show() {
      replace(list, h("div", { class: "muted" }, "Loading…"));
      let answer: SchemaList | undefined;
      try {
        answer = await api.getJson<SchemaList>("api/v1/schemas");
      } catch (error) {
        return replace(list, h("div", { class: "error-box" }, (error as Error).message));
      }
      if (!answer) {
        replace(list);
        return replace(
          detail,
          h(
            "div",
            { class: "panel empty" },
            h("p", null, "Schemas are not enabled on this node."),
            h(
              "p",
              { class: "muted" },
              "Start it with EPOCHNEXUS_SCHEMA_DIR pointing at a folder of schemas.",
            ),
          ),
        );
      }
      if (answer.schemas.length === 0) {
        replace(list, h("p", { class: "muted" }, "No schema: every measurement is schemaless."));
        return replace(detail, dryRunPanel("measurement", "measurement,tag=a value=1"));
      }
      replace(
        list,
        answer.schemas.map((s) =>
          h(
            "button",
            {
              type: "button",
              class: "list-item",
              "data-measurement": s.measurement,
              onclick: () => void showSchema(s.measurement),
            },
            h("span", null, s.measurement),
            h("span", { class: "muted origin" }, s.origin.replace(/^file:/, "")),
          )
        ),
      );
      const keep = answer.schemas.some((s) => s.measurement === selected);
      await showSchema(keep ? selected : answer.schemas[0].measurement);
    },
  };
}
