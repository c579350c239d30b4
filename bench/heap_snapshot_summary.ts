/**
 * Who holds a V8 heap snapshot (from bench/high_card_live_heap.ts with SNAPSHOT=, or DevTools):
 * self size summed by node type and name (a constructor, "(object properties)", a string...),
 * the largest first, with the count and, given SERIES, the bytes per series.
 *
 * DETAIL=1 splits further: strings by their text with digits as `#` (which copies of keys and
 * tags are held), objects by their first property names (which shape of object).
 *
 *   SERIES=100000 deno run -A bench/heap_snapshot_summary.ts /tmp/hc-settled.heapsnapshot [TOP]
 * @module
 */
const [file, top = "30"] = Deno.args;
if (!file) throw new Error("usage: heap_snapshot_summary.ts <file.heapsnapshot> [top]");
const SERIES = Number(Deno.env.get("SERIES") ?? "0");
const DETAIL = Deno.env.get("DETAIL") === "1";
const snap = JSON.parse(await Deno.readTextFile(file));
const fields: string[] = snap.snapshot.meta.node_fields;
const types: string[] = snap.snapshot.meta.node_types[0];
const width = fields.length;
const [TYPE, NAME, SIZE, EDGES] = ["type", "name", "self_size", "edge_count"].map((f) =>
  fields.indexOf(f)
);
const nodes: number[] = snap.nodes;
const strings: string[] = snap.strings;
const edgeFields: string[] = snap.snapshot.meta.edge_fields;
const edgeTypes: string[] = snap.snapshot.meta.edge_types[0];
const edgeWidth = edgeFields.length;
const [EDGE_TYPE, EDGE_NAME] = ["type", "name_or_index"].map((f) => edgeFields.indexOf(f));
const edges: number[] = snap.edges;
let edgeAt = 0;
/** The first property names of the node at `i` (edges are stored in node order). */
function propertyNames(count: number): string {
  const names: string[] = [];
  for (let e = edgeAt; e < edgeAt + count * edgeWidth && names.length < 6; e += edgeWidth) {
    if (edgeTypes[edges[e + EDGE_TYPE]] === "property") names.push(strings[edges[e + EDGE_NAME]]);
  }
  return names.join(",");
}
const byKind = new Map<string, { count: number; bytes: number }>();
let total = 0;
for (let i = 0; i < nodes.length; i += width) {
  const type = types[nodes[i + TYPE]];
  const edgeCount = nodes[i + EDGES];
  const text = type === "string" || type === "concatenated string" || type === "sliced string";
  // Strings are grouped by type alone (each one's text would be its own row) unless DETAIL.
  const name = text
    ? DETAIL ? strings[nodes[i + NAME]].slice(0, 40).replace(/\d+/g, "#") : ""
    : DETAIL && type === "object"
    ? `${strings[nodes[i + NAME]]} {${propertyNames(edgeCount)}}`
    : strings[nodes[i + NAME]].slice(0, 60);
  edgeAt += edgeCount * edgeWidth;
  const kind = `${type} ${name}`;
  const row = byKind.get(kind) ?? { count: 0, bytes: 0 };
  row.count++;
  row.bytes += nodes[i + SIZE];
  total += nodes[i + SIZE];
  byKind.set(kind, row);
}
const rows = [...byKind].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, Number(top));
const perSeries = (b: number) => SERIES ? ` ${(b / SERIES).toFixed(1).padStart(7)} B/series` : "";
console.log(`total ${(total / 2 ** 20).toFixed(1)} MiB${perSeries(total)}`);
for (const [kind, { count, bytes }] of rows) {
  console.log(
    `${(bytes / 2 ** 20).toFixed(1).padStart(7)} MiB${perSeries(bytes)} ${
      String(count).padStart(9)
    }  ${kind}`,
  );
}
