/**
 * Lookup tables for the `lookup` step: a key (a tag's value) -> tags to add. Read from YAML or
 * JSON (`key: {tag: value, ...}`) or from CSV with a header row (RFC 4180 quoting).
 *
 * Errors say where (file, line, entry number) and why, never what the file holds: they reach
 * whoever set the schema, who should learn nothing of a file from them.
 * @module
 */
import { parse as parseYaml, YAMLParseError } from "yaml";
import { sortTags, type Tag } from "../core/mod.ts";

/** A parsed lookup table: key -> tags (sorted by key). */
export type LookupTable = Map<string, Tag[]>;

/** A lookup file that cannot be read as a table. */
export class LookupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LookupError";
  }
}

/** Builds a table from a mapping of key -> {tag: value}, keeping only `columns` when given. */
export function tableFromRecord(
  record: Record<string, Record<string, unknown>>,
  columns?: readonly string[],
): LookupTable {
  const table: LookupTable = new Map();
  let entry = 0;
  for (const [key, row] of Object.entries(record)) {
    entry++;
    if (row === null || typeof row !== "object") {
      throw new LookupError(`entry ${entry} must map tag names to values`);
    }
    const tags: Tag[] = [];
    for (const [tag, value] of Object.entries(row)) {
      if (columns && !columns.includes(tag)) continue;
      if (value === null || value === undefined || value === "") continue;
      tags.push(Object.freeze({ key: tag, value: String(value) }));
    }
    table.set(key, sortTags(tags));
  }
  return table;
}

/**
 * Parses a lookup file by its extension (.csv, else YAML/JSON).
 * @throws {LookupError} with the file and what is wrong.
 */
export function parseLookupFile(
  path: string,
  text: string,
  options: { keyColumn?: string; columns?: readonly string[] } = {},
): LookupTable {
  if (/\.csv$/i.test(path)) {
    let rows: string[][];
    try {
      rows = parseCsv(text);
    } catch (error) {
      throw new LookupError(`${path}: ${(error as Error).message}`);
    }
    if (rows.length === 0) throw new LookupError(`${path}: empty CSV (a header row is required)`);
    const header = rows[0];
    const keyIndex = options.keyColumn === undefined ? 0 : header.indexOf(options.keyColumn);
    if (keyIndex < 0) {
      throw new LookupError(
        `${path}: no column ${JSON.stringify(options.keyColumn)} in the header row ` +
          `(${header.length} columns)`,
      );
    }
    for (const c of options.columns ?? []) {
      if (!header.includes(c)) {
        throw new LookupError(
          `${path}: no column ${JSON.stringify(c)} in the header row (${header.length} columns)`,
        );
      }
    }
    const record: Record<string, Record<string, string>> = {};
    for (let r = 1; r < rows.length; r++) {
      const row = rows[r];
      if (row.length === 1 && row[0] === "") continue;
      if (row.length !== header.length) {
        throw new LookupError(
          `${path}:${r + 1}: ${row.length} columns, the header has ${header.length}`,
        );
      }
      const entry: Record<string, string> = {};
      header.forEach((name, i) => {
        if (i !== keyIndex) entry[name] = row[i];
      });
      record[row[keyIndex]] = entry;
    }
    return tableFromRecord(record, options.columns);
  }
  let data: unknown;
  try {
    data = parseYaml(text);
  } catch (error) {
    // yaml's messages can quote the text (an alias's name, a key); its code and position do not.
    if (!(error instanceof YAMLParseError)) {
      throw new LookupError(`${path}: invalid YAML (${(error as Error).name})`);
    }
    const at = error.linePos?.[0];
    throw new LookupError(
      `${path}:${at ? `${at.line}:${at.col}` : "1:1"}: invalid YAML (${error.code})`,
    );
  }
  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    throw new LookupError(`${path}: expected a mapping of key -> {tag: value}`);
  }
  try {
    return tableFromRecord(data as Record<string, Record<string, unknown>>, options.columns);
  } catch (error) {
    throw new LookupError(`${path}: ${(error as Error).message}`);
  }
}

/** Parses CSV text (comma separated, double-quote quoting, CRLF or LF) into rows. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let i = 0;
  let quoted = false;
  while (i < text.length) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') (cell += '"'), (i += 2);
        else (quoted = false), i++;
      } else (cell += c), i++;
      continue;
    }
    if (c === '"' && cell === "") (quoted = true), i++;
    else if (c === ",") row.push(cell), (cell = ""), i++;
    else if (c === "\n" || c === "\r") {
      row.push(cell), rows.push(row), (row = []), (cell = "");
      i += c === "\r" && text[i + 1] === "\n" ? 2 : 1;
    } else (cell += c), i++;
  }
  if (quoted) throw new LookupError("unterminated quoted cell");
  if (cell !== "" || row.length > 0) row.push(cell), rows.push(row);
  return rows;
}
