/**
 * A YAML file read for a configuration loader that names lines in its errors: the data, and the
 * line of any key path in it. Schema files and alert/downsampling rules files read YAML this way.
 * @module
 */
import { isMap, isNode, LineCounter, parseDocument } from "yaml";

/** A path of keys and indexes into the data. */
export type KeyPath = readonly PropertyKey[];

/**
 * Parses `text` (from `path`); duplicate keys are errors.
 * @throws what `toError` makes of `path:line:col: invalid YAML: ...` for text that is not YAML.
 */
export function readYamlDocument(
  path: string,
  text: string,
  toError: (message: string) => Error,
): { data: unknown; lineOf: (keyPath: KeyPath) => number } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const pos = lines.linePos(e.pos[0]);
    throw toError(`${path}:${pos.line}:${pos.col}: invalid YAML: ${e.message.split("\n")[0]}`);
  }
  const lineOf = (keyPath: KeyPath): number => {
    // The deepest node that exists on the path; a key's own line when the path ends at a key.
    for (let n = keyPath.length; n > 0; n--) {
      const parent = n > 1 ? doc.getIn(keyPath.slice(0, n - 1) as unknown[], true) : doc.contents;
      if (isMap(parent)) {
        const pair = parent.items.find((p) =>
          String(isNode(p.key) ? (p.key as { value?: unknown }).value : p.key) ===
            String(keyPath[n - 1])
        );
        const range = pair && isNode(pair.key) ? pair.key.range : undefined;
        if (range) return lines.linePos(range[0]).line;
      }
      const node = doc.getIn(keyPath.slice(0, n) as unknown[], true);
      if (isNode(node) && node.range) return lines.linePos(node.range[0]).line;
    }
    return 1;
  };
  return { data: doc.toJS(), lineOf };
}
