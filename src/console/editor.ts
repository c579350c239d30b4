/// <reference lib="dom" />
/**
 * The InfluxQL editor: a plain textarea (so typing, undo, selection, IME and screen readers
 * behave as the browser's own) over a highlighted copy of its text. Both share one font and
 * padding and scroll together; the textarea's own text is transparent. `Ctrl+Enter` (or
 * `Cmd+Enter`) runs, `Tab` indents.
 * @module
 */
import { h } from "./dom.ts";
import { tokenize } from "./influxql_tokens.ts";

/** The editor's element and its text. */
export interface Editor {
  element: HTMLElement;
  textarea: HTMLTextAreaElement;
  get value(): string;
  set value(text: string);
  focus(): void;
}

/** Builds an editor; `onRun` is called on Ctrl+Enter, `onChange` after each edit. */
export function createEditor(options: {
  value: string;
  onRun: () => void;
  onChange: (text: string) => void;
}): Editor {
  const highlight = h("pre", { class: "editor-highlight", "aria-hidden": "true" });
  const textarea = h("textarea", {
    class: "editor-input",
    spellcheck: "false",
    autocapitalize: "off",
    autocomplete: "off",
    "aria-label": "InfluxQL query",
    placeholder: 'SELECT mean("usage") FROM "cpu" WHERE $timeFilter GROUP BY time($__interval)',
    rows: "4",
  });
  const element = h("div", { class: "editor" }, highlight, textarea);
  const render = () => {
    highlight.replaceChildren();
    for (const token of tokenize(textarea.value)) {
      if (token.kind === "space" || token.kind === "identifier" || token.kind === "punctuation") {
        highlight.appendChild(document.createTextNode(token.text));
      } else highlight.appendChild(h("span", { class: `tok-${token.kind}` }, token.text));
    }
    // A trailing newline needs a character after it, or the copy is a line short.
    highlight.appendChild(document.createTextNode("\n"));
    const lines = textarea.value.split("\n").length;
    textarea.rows = Math.min(14, Math.max(4, lines));
  };
  textarea.addEventListener("input", () => {
    render();
    options.onChange(textarea.value);
  });
  textarea.addEventListener("scroll", () => {
    highlight.scrollTop = textarea.scrollTop;
    highlight.scrollLeft = textarea.scrollLeft;
  });
  textarea.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      options.onRun();
    } else if (event.key === "Tab" && !event.shiftKey && !event.ctrlKey && !event.altKey) {
      event.preventDefault();
      // execCommand keeps the browser's undo history; the replaced selection is the fallback.
      if (!document.execCommand("insertText", false, "  ")) textarea.setRangeText("  ");
    }
  });
  textarea.value = options.value;
  render();
  return {
    element,
    textarea,
    get value() {
      return textarea.value;
    },
    set value(text: string) {
      textarea.value = text;
      render();
      options.onChange(text);
    },
    focus: () => textarea.focus(),
  };
}
