/// <reference lib="dom" />
/**
 * The query view: the explorer, the editor with its toolbar (database, time range, history,
 * Run), and the results as a chart, a table or the raw JSON. The draft, database, range and
 * history survive a reload (localStorage); the address bar carries the last query run, so a link
 * opens the view and runs it.
 * @module
 */
import type { Api, QueryAnswer } from "./api.ts";
import { drawChart } from "./chart.ts";
import { formatCount, h, icon, ICONS, replace } from "./dom.ts";
import { createEditor } from "./editor.ts";
import { createExplorer } from "./explorer.ts";
import { type HistoryEntry, readHistory, remember } from "./history.ts";
import { popover } from "./popover.ts";
import { renderTables } from "./result_table.ts";
import { createTimePicker } from "./time_picker.ts";
import {
  applyTimeMacros,
  durationMs,
  rangeBounds,
  type TimeRange,
  usesTimeMacros,
} from "./time_range.ts";

const KEYS = {
  draft: "epochnexus.console.query",
  database: "epochnexus.console.database",
  range: "epochnexus.console.range",
  history: "epochnexus.console.history",
};

type ResultTab = "chart" | "table" | "json";

/** The query view and what the shell needs from it. */
export interface QueryView {
  element: HTMLElement;
  /** Fills the database picker (after a sign-in, or when databases change). */
  setDatabases(names: string[]): void;
  /** Applies `?db=&q=&range=` from the address bar, and runs the query when one is given. */
  openLink(params: URLSearchParams): void;
  /** Draws the result again (the theme changed). */
  redraw(): void;
  /** The database picked. */
  readonly database: string;
}

function readRange(text: string | null): TimeRange {
  if (text) {
    const [a, b] = text.split(",");
    if (b !== undefined && Number(a) < Number(b)) {
      return { kind: "absolute", fromMs: Number(a), toMs: Number(b) };
    }
    try {
      durationMs(a);
      return { kind: "relative", last: a };
    } catch { /* fall through to the default */ }
  }
  return { kind: "relative", last: "1h" };
}

function rangeText(range: TimeRange): string {
  return range.kind === "relative" ? range.last : `${range.fromMs},${range.toMs}`;
}

function relativeAge(ms: number): string {
  const s = Math.max(0, (Date.now() - ms) / 1000);
  if (s < 60) return "just now";
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

/** Builds the query view; `onSchemaChange` is called after a statement that changes databases. */
export function createQueryView(api: Api, onSchemaChange: () => void): QueryView {
  let database = localStorage.getItem(KEYS.database) ?? "";
  let range = readRange(localStorage.getItem(KEYS.range));
  let history = readHistory(localStorage.getItem(KEYS.history));
  /** The last answer, with the query text and the time range it ran over. */
  let answer: (QueryAnswer & { text: string; range: { fromMs: number; toMs: number } }) | undefined;
  let tab: ResultTab = "chart";
  let inFlight: AbortController | undefined;

  const editor = createEditor({
    value: localStorage.getItem(KEYS.draft) ?? "",
    onRun: () => void run(),
    onChange: (text) => localStorage.setItem(KEYS.draft, text),
  });
  const databaseSelect = h("select", {
    class: "input",
    "aria-label": "Database",
    title: "Database",
    onchange: () => {
      database = databaseSelect.value;
      localStorage.setItem(KEYS.database, database);
      void explorer.load(database);
    },
  });
  const picker = createTimePicker({
    range,
    onChange: (next) => {
      setRange(next);
      if (usesTimeMacros(editor.value)) void run();
    },
  });
  const setRange = (next: TimeRange) => {
    range = next;
    picker.set(next);
    localStorage.setItem(KEYS.range, rangeText(next));
  };
  const historyButton = popover({
    title: "Query history",
    label: [icon(ICONS.history), "History"],
    content: (close) =>
      history.length === 0
        ? h("p", { class: "muted history-empty" }, "Queries you run appear here.")
        : h(
          "ul",
          { class: "history-list" },
          history.map((entry: HistoryEntry) =>
            h(
              "li",
              null,
              h(
                "button",
                {
                  type: "button",
                  onclick: () => {
                    editor.value = entry.query;
                    if (entry.database) selectDatabase(entry.database);
                    close();
                    editor.focus();
                  },
                },
                h("code", null, entry.query),
                h("span", { class: "muted" }, `${entry.database} · ${relativeAge(entry.ranAtMs)}`),
              ),
            )
          ),
        ),
  });
  const runButton = h(
    "button",
    { class: "button primary run", type: "button", onclick: () => void run(), title: "Ctrl+Enter" },
    icon(ICONS.play),
    "Run",
    h("kbd", null, "Ctrl ↵"),
  );
  const explorer = createExplorer(api, (query) => {
    editor.value = query;
    void run();
  });

  const status = h("div", { class: "result-status", role: "status" });
  const tabs = h("div", { class: "tabs", role: "tablist" });
  const resultBody = h("div", { class: "result-body" });
  const results = h(
    "section",
    { class: "results panel", "aria-label": "Results" },
    h("div", { class: "results-head" }, tabs, status),
    resultBody,
  );
  showEmpty();

  const element = h(
    "div",
    { class: "view query-view" },
    explorer.element,
    h(
      "div",
      { class: "query-main" },
      h(
        "section",
        { class: "panel editor-panel", "aria-label": "Query editor" },
        h(
          "div",
          { class: "toolbar" },
          databaseSelect,
          picker.element,
          historyButton.element,
          h("span", { class: "spacer" }),
          h(
            "span",
            { class: "hint muted" },
            h("code", null, "$timeFilter"),
            " and ",
            h("code", null, "$__interval"),
            " follow the time range",
          ),
          runButton,
        ),
        editor.element,
      ),
      results,
    ),
  );

  /** Picks a database; `explore: false` leaves the explorer to the database list's arrival. */
  function selectDatabase(name: string, explore = true) {
    if (![...databaseSelect.options].some((o) => o.value === name)) {
      databaseSelect.appendChild(h("option", { value: name }, name));
    }
    databaseSelect.value = name;
    database = name;
    localStorage.setItem(KEYS.database, name);
    if (explore) void explorer.load(name);
  }

  function showEmpty() {
    replace(tabs);
    replace(status);
    replace(
      resultBody,
      h(
        "div",
        { class: "empty" },
        h("p", null, "Write a query and press ", h("kbd", null, "Ctrl ↵"), "."),
        h(
          "p",
          { class: "muted" },
          "Pick a field in the explorer to start from a chart of it.",
        ),
      ),
    );
  }

  function renderTabs() {
    const names: [ResultTab, string][] = [["chart", "Chart"], ["table", "Table"], ["json", "JSON"]];
    replace(
      tabs,
      names.map(([id, label]) =>
        h("button", {
          type: "button",
          role: "tab",
          class: id === tab ? "tab active" : "tab",
          "aria-selected": String(id === tab),
          "data-tab": id,
          disabled: id === "chart" && !answer?.result.chart,
          onclick: () => {
            tab = id;
            renderAnswer();
          },
        }, label)
      ),
    );
  }

  function renderAnswer() {
    if (!answer) return showEmpty();
    const { result } = answer;
    renderTabs();
    const errors = result.errors.map((e) =>
      h(
        "div",
        { class: "error-box" },
        result.errors.length > 1 || result.tables.length ? `statement ${e.statementId}: ` : "",
        e.message,
      )
    );
    const messages = result.messages.map((m) => h("div", { class: "message-box" }, m));
    if (tab === "chart" && result.chart) {
      const host = h("div", { class: "chart", id: "query-chart" });
      replace(resultBody, errors, messages, host);
      const { fromMs, toMs } = answer.range;
      drawChart(host, result.chart, {
        height: 360,
        ...(usesTimeMacros(answer.text) && { xRangeMs: [fromMs, toMs] }),
        onZoom: (fromMs, toMs) => {
          if (!usesTimeMacros(editor.value)) return; // uPlot zoomed the chart itself
          setRange({ kind: "absolute", fromMs: Math.floor(fromMs), toMs: Math.ceil(toMs) });
          void run();
        },
      });
    } else if (tab === "json") {
      const text = JSON.stringify(answer.raw, null, 2);
      replace(
        resultBody,
        h("pre", { class: "json" }, text.length > 200_000 ? `${text.slice(0, 200_000)}\n…` : text),
      );
    } else {
      replace(
        resultBody,
        errors,
        messages,
        result.tables.length > 0
          ? renderTables(result.tables)
          : errors.length === 0 && h("p", { class: "muted empty" }, "The query returned no rows."),
      );
    }
  }

  async function run() {
    const text = editor.value.trim();
    if (!text) return editor.focus();
    inFlight?.abort();
    const controller = inFlight = new AbortController();
    const nowMs = Date.now();
    const query = applyTimeMacros(text, {
      range,
      nowMs,
      maxBuckets: Math.max(100, Math.floor(resultBody.clientWidth || 1000)),
    });
    runButton.disabled = true;
    replace(status, h("span", { class: "spinner" }), "Running…");
    try {
      answer = {
        ...await api.query(query, database, controller.signal),
        text,
        range: rangeBounds(range, nowMs),
      };
    } catch (error) {
      if (controller.signal.aborted) return;
      answer = undefined;
      replace(status);
      replace(tabs);
      replace(resultBody, h("div", { class: "error-box" }, String((error as Error).message)));
      return;
    } finally {
      if (inFlight === controller) runButton.disabled = false;
    }
    history = remember(history, { query: text, database, ranAtMs: Date.now() });
    localStorage.setItem(KEYS.history, JSON.stringify(history));
    const link = new URLSearchParams({ db: database, q: text, range: rangeText(range) });
    globalThis.history.replaceState(null, "", `#/query?${link}`);
    const { result, elapsedMs } = answer;
    const series = result.tables.length;
    replace(
      status,
      h(
        "span",
        { title: query },
        result.errors.length ? h("span", { class: "bad" }, "error · ") : "",
        `${series} series · ${formatCount(result.rowCount)} rows · ${Math.round(elapsedMs)} ms`,
      ),
    );
    tab = result.chart ? "chart" : "table";
    renderAnswer();
    if (/^\s*(CREATE|DROP)\s+(DATABASE|RETENTION|MEASUREMENT|SERIES)/im.test(text)) {
      onSchemaChange();
    }
  }

  return {
    element,
    redraw: () => renderAnswer(),
    get database() {
      return database;
    },
    setDatabases(names) {
      const wanted = database && names.includes(database) ? database : names[0] ?? "";
      replace(databaseSelect, names.map((n) => h("option", { value: n }, n)));
      if (wanted) selectDatabase(wanted);
      else void explorer.load("");
    },
    openLink(params) {
      const q = params.get("q");
      if (params.get("db")) selectDatabase(params.get("db")!, false);
      if (params.get("range")) setRange(readRange(params.get("range")));
      if (q) {
        editor.value = q;
        void run();
      }
    },
  };
}
