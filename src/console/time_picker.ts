/// <reference lib="dom" />
/**
 * The time range picker: the last 5 minutes to 30 days, or a custom range typed as local times.
 * It fills the query's `$timeFilter` and `$__interval` (see time_range.ts).
 * @module
 */
import { formatTime, h, icon, ICONS, replace } from "./dom.ts";
import { popover } from "./popover.ts";
import { PRESETS, rangeBounds, rangeLabel, type TimeRange } from "./time_range.ts";

/** The picker: its element, and a way to set the range from outside (a chart zoom). */
export interface TimePicker {
  element: HTMLElement;
  set(range: TimeRange): void;
}

/** `datetime-local` input text for epoch ms (local time, seconds precision). */
function inputValue(ms: number): string {
  return formatTime(ms).slice(0, 19).replace(" ", "T");
}

/** Builds the picker; `onChange` runs when the user picks a range. */
export function createTimePicker(
  options: { range: TimeRange; onChange: (range: TimeRange) => void },
): TimePicker {
  let range = options.range;
  const label = h("span", null);
  const showLabel = () => replace(label, rangeLabel(range, (ms) => formatTime(ms).slice(0, 16)));
  const pick = (next: TimeRange, close: () => void) => {
    range = next;
    showLabel();
    close();
    options.onChange(range);
  };
  const picker = popover({
    title: "Time range: fills $timeFilter and $__interval in the query",
    className: "time-button",
    label: [icon(ICONS.clock), label],
    content: (close) => {
      const { fromMs, toMs } = rangeBounds(range, Date.now());
      const from = h("input", { type: "datetime-local", step: "1", value: inputValue(fromMs) });
      const to = h("input", { type: "datetime-local", step: "1", value: inputValue(toMs) });
      const error = h("div", { class: "form-error" });
      const apply = () => {
        const f = new Date(from.value).getTime();
        const t = new Date(to.value).getTime();
        if (!Number.isFinite(f) || !Number.isFinite(t) || f >= t) {
          replace(error, "The start must be a date before the end.");
          return;
        }
        pick({ kind: "absolute", fromMs: f, toMs: t }, close);
      };
      return h(
        "div",
        { class: "time-panel" },
        h(
          "div",
          { class: "time-presets" },
          PRESETS.map((last) =>
            h("button", {
              type: "button",
              class: range.kind === "relative" && range.last === last ? "preset active" : "preset",
              onclick: () => pick({ kind: "relative", last }, close),
            }, `Last ${last}`)
          ),
        ),
        h(
          "form",
          {
            class: "time-custom",
            onsubmit: (e: Event) => {
              e.preventDefault();
              apply();
            },
          },
          h("div", { class: "panel-title" }, "Custom range"),
          h("label", null, "From", from),
          h("label", null, "To", to),
          error,
          h("button", { class: "button primary", type: "submit" }, "Apply"),
        ),
      );
    },
  });
  showLabel();
  return {
    element: picker.element,
    set(next) {
      range = next;
      showLabel();
    },
  };
}
