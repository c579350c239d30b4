/// <reference lib="dom" />
/**
 * The EpochNexus mark: a pulse line in a rounded square (the favicon in index.html is the same).
 * @module
 */

/** The mark as an inline SVG element. */
export function logo(): SVGSVGElement {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 32 32");
  svg.setAttribute("class", "logo");
  svg.setAttribute("aria-hidden", "true");
  const box = document.createElementNS(ns, "rect");
  for (
    const [k, v] of Object.entries({ width: "32", height: "32", rx: "8", fill: "var(--accent)" })
  ) {
    box.setAttribute(k, v);
  }
  const line = document.createElementNS(ns, "path");
  line.setAttribute("d", "M5 18h5l3-8 5 14 3-9h6");
  line.setAttribute("fill", "none");
  line.setAttribute("stroke", "#fff");
  line.setAttribute("stroke-width", "2.6");
  line.setAttribute("stroke-linecap", "round");
  line.setAttribute("stroke-linejoin", "round");
  svg.append(box, line);
  return svg;
}
