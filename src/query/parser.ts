/**
 * The one door to the generated InfluxQL parser: text in, statements out, and every syntax
 * error turned into one {@linkcode ParseError} shaped as InfluxDB words it:
 * `found EOF, expected identifier at line 1, char 8` (the HTTP layer adds the
 * `error parsing query: ` prefix).
 *
 * @module
 */
import { ParseError } from "../core/errors.ts";
import { KEYWORDS } from "./grammar_support.ts";
import { checkTimeZone } from "./zone.ts";
import type { Statement } from "./ast.ts";
import { parse as generatedParse, SyntaxError as PeggySyntaxError } from "./gen/influxql_parser.js";

/**
 * Parses one or more `;`-separated InfluxQL statements.
 *
 * @example
 * ```ts
 * const [stmt] = parseQuery("SELECT mean(usage) FROM cpu GROUP BY time(1m)");
 * ```
 * @throws {ParseError} with InfluxDB's message shape, `line` and `column` (1-based).
 */
export function parseQuery(text: string): Statement[] {
  try {
    const statements = generatedParse(text);
    for (const s of statements) checkZones(s);
    return statements;
  } catch (e) {
    if (e instanceof PeggySyntaxError) throw toParseError(text, e);
    if (e instanceof ParseError) throw e;
    throw e;
  }
}

/** tz() names a zone of the IANA database, in a statement and its subqueries. */
function checkZones(s: Statement): void {
  const select = s.kind === "explain" ? s.statement : s.kind === "select" ? s : undefined;
  if (select === undefined) return;
  if (select.timezone !== undefined) checkTimeZone(select.timezone);
  for (const src of select.sources) if (src.kind === "subquery") checkZones(src.statement);
}

/** Parses exactly one statement. @throws {ParseError} */
export function parseStatement(text: string): Statement {
  const statements = parseQuery(text);
  if (statements.length !== 1) {
    throw new ParseError(`expected exactly one statement, found ${statements.length}`);
  }
  return statements[0];
}

// InfluxDB's fixed lists where the statement keyword alone decides what may follow.
const STATEMENT_START =
  "SELECT, DELETE, SHOW, CREATE, DROP, EXPLAIN, GRANT, REVOKE, ALTER, SET, KILL";
const AFTER_SHOW =
  "CONTINUOUS, DATABASES, DIAGNOSTICS, FIELD, GRANTS, MEASUREMENT, MEASUREMENTS, " +
  "QUERIES, RETENTION, SERIES, SHARD, SHARDS, STATS, SUBSCRIPTIONS, TAG, USERS";
const AFTER_CREATE = "CONTINUOUS, DATABASE, USER, RETENTION, SUBSCRIPTION";
const AFTER_DROP =
  "CONTINUOUS, DATABASE, MEASUREMENT, RETENTION, SERIES, SHARD, SUBSCRIPTION, USER";

/** Token classes InfluxDB names, in the order it lists them. */
const CLASS_ORDER = ["identifier", "string", "number", "bool", "integer", "regex", "duration"];

function toParseError(text: string, e: PeggySyntaxError): ParseError {
  let offset = e.location.start.offset;
  offset = skipSpace(text, offset);
  const { found, bad } = tokenAt(text, offset);
  const previousWord = wordBefore(text, offset);
  const expected = describeExpected(e.expected ?? [], previousWord);
  // InfluxDB's scanner reports EOF two past the last token (one past a number or a string),
  // and an unterminated quote one before it.
  let shift = bad ? -1 : 0;
  if (found === "EOF") {
    offset = text.trimEnd().length;
    shift = ENDS_IN_LITERAL.test(text.trimEnd()) ? 0 : 1;
  }
  const { line, column } = lineColumn(text, offset);
  const char = column + shift;
  return new ParseError(`found ${found}, expected ${expected} at line ${line}, char ${char}`, {
    line,
    column: char,
    cause: e,
  });
}

/**
 * The run of letters and underscores that ends just before `offset` and any whitespace there
 * (what `/([A-Za-z_]+)\s*$/` finds in the text up to `offset`, in linear time: that regex tried
 * every start in a long word, and a 24 kB identifier before a syntax error took 3.5 s).
 */
function wordBefore(text: string, offset: number): string {
  let end = Math.min(offset, text.length);
  while (end > 0 && /\s/.test(text[end - 1])) end--;
  let start = end;
  while (start > 0 && /[A-Za-z_]/.test(text[start - 1])) start--;
  return text.slice(start, end);
}

function describeExpected(
  items: NonNullable<PeggySyntaxError["expected"]>,
  previousWord: string,
): string {
  const classes = new Set<string>();
  const keywords = new Set<string>();
  const punctuation = new Set<string>();
  let end = false;
  for (const item of items) {
    if (item.type === "end") end = true;
    else if (item.type === "literal" && item.text !== undefined) {
      if (/^[a-z]+$/i.test(item.text)) keywords.add(item.text.toUpperCase());
      else punctuation.add(item.text);
    } else if (item.type === "other" && item.description !== undefined) {
      if (item.description !== "whitespace") classes.add(item.description);
    }
  }
  if (keywords.has("SELECT") && keywords.has("SHOW")) return STATEMENT_START;
  if (keywords.has("DATABASES") && keywords.has("MEASUREMENTS")) return AFTER_SHOW;
  if (keywords.has("DATABASE") && classes.size === 0) {
    return previousWord.toUpperCase() === "DROP" ? AFTER_DROP : AFTER_CREATE;
  }
  if (end || punctuation.has(";")) return ";";
  if (punctuation.has(")")) return ")";
  const operand = "identifier, string, number, bool";
  // time(...) and fill(...) read an expression in InfluxDB's parser.
  if (keywords.has("NULL") || (classes.size === 1 && classes.has("duration"))) return operand;
  classes.delete("bound parameter");
  keywords.delete("DISTINCT");
  if (classes.has("identifier")) classes.delete("regex");
  if (classes.has("number")) classes.delete("duration");
  if (classes.has("identifier") && classes.has("number")) {
    if (!classes.has("bool")) classes.add("bool");
    if (!classes.has("string")) classes.add("string");
  }
  const out = [...classes].sort((a, b) => rank(a) - rank(b));
  if (keywords.has("TIME") && !keywords.has("ASC")) return operand;
  const kw = [...keywords].filter((k) => !["NULL", "NONE", "PREVIOUS", "LINEAR"].includes(k))
    .sort((a, b) => (a === "TIME" ? -1 : b === "TIME" ? 1 : a < b ? -1 : 1));
  // ORDER BY reads its column as an identifier ("time"); InfluxDB names it so.
  if (kw[0] === "TIME") {
    kw.shift();
    if (!out.includes("identifier")) out.push("identifier");
  }
  out.push(...kw);
  if (out.length === 0) out.push(...punctuation);
  return out.length === 0 ? "EOF" : out.join(", ");
}

function rank(name: string): number {
  const i = CLASS_ORDER.indexOf(name);
  return i < 0 ? CLASS_ORDER.length : i;
}

function skipSpace(text: string, offset: number): number {
  for (;;) {
    while (offset < text.length && " \t\r\n".includes(text[offset])) offset++;
    if (text.startsWith("--", offset)) {
      const nl = text.indexOf("\n", offset);
      offset = nl < 0 ? text.length : nl;
    } else if (text.startsWith("/*", offset)) {
      const close = text.indexOf("*/", offset + 2);
      if (close < 0) return offset;
      offset = close + 2;
    } else return offset;
  }
}

const ENDS_IN_LITERAL = /(?:(?:^|[^A-Za-z0-9_])[0-9][0-9A-Za-zµ.]*|'|")$/;
const KEYWORD_LIKE = /^[A-Za-z_][A-Za-z0-9_]*/;
const NUMBER_LIKE = /^[0-9]*\.?[0-9]+[A-Za-zµ]*/;
const OPERATORS = ["=~", "!~", "!=", "<>", "<=", ">=", "::"];

/** The token at `offset` as InfluxDB prints it in "found X". */
function tokenAt(text: string, offset: number): { found: string; bad: boolean } {
  if (offset >= text.length) return { found: "EOF", bad: false };
  const rest = text.slice(offset);
  const word = KEYWORD_LIKE.exec(rest);
  if (word) {
    const w = word[0];
    return { found: KEYWORDS.has(w.toUpperCase()) ? w.toUpperCase() : w, bad: false };
  }
  const num = NUMBER_LIKE.exec(rest);
  if (num) return { found: num[0], bad: false };
  const q = rest[0];
  if (q === '"' || q === "'") {
    let i = 1;
    let value = "";
    while (i < rest.length && rest[i] !== q && rest[i] !== "\n") {
      if (rest[i] === "\\" && i + 1 < rest.length) i++;
      value += rest[i++];
    }
    return { found: value, bad: i >= rest.length || rest[i] !== q };
  }
  for (const op of OPERATORS) if (rest.startsWith(op)) return { found: op, bad: false };
  return { found: rest[0], bad: false };
}

function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

export { KEYWORDS } from "./grammar_support.ts";
