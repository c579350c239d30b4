/// <reference lib="dom" />
/**
 * A button that opens a panel under itself; a click elsewhere or Escape closes it.
 * @module
 */
import { type Child, h, replace } from "./dom.ts";

/** A popover: its wrapper element, and a way to close it. */
export interface Popover {
  element: HTMLElement;
  button: HTMLButtonElement;
  close(): void;
}

/** A button labelled `label` whose panel is built by `content` each time it opens. */
export function popover(
  options: {
    label: Child;
    title: string;
    className?: string;
    content: (close: () => void) => Child;
  },
): Popover {
  const panel = h("div", { class: "popover-panel", hidden: true, role: "dialog" });
  const button = h("button", {
    class: `button ${options.className ?? ""}`,
    type: "button",
    title: options.title,
    "aria-haspopup": "dialog",
  }, options.label);
  const element = h("div", { class: "popover" }, button, panel);
  const close = () => {
    panel.hidden = true;
    button.setAttribute("aria-expanded", "false");
    document.removeEventListener("mousedown", outside);
    document.removeEventListener("keydown", escape);
  };
  const outside = (event: MouseEvent) => {
    if (!element.contains(event.target as Node)) close();
  };
  const escape = (event: KeyboardEvent) => {
    if (event.key === "Escape") close();
  };
  button.addEventListener("click", () => {
    if (!panel.hidden) return close();
    replace(panel, options.content(close));
    panel.hidden = false;
    button.setAttribute("aria-expanded", "true");
    document.addEventListener("mousedown", outside);
    document.addEventListener("keydown", escape);
  });
  return { element, button, close };
}
