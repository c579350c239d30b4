/**
 * The one door to the generated InfluxQL parser: text in, statements out, and every syntax
 * error turned into one {@linkcode ParseError} shaped as InfluxDB words it:
 * `found EOF, expected identifier at line 1, char 8` (the HTTP layer adds the
 * `error parsing query: ` prefix).
 *
 * @module
 */
import { ParseError } from "../core/errors.ts";
import { GrammarFailure } from "./grammar_support.ts";
import { lineColumn, skipSpace, tokenAt } from "./influx_tokens.ts";
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
    if (e instanceof GrammarFailure) throw fromFailure(text, e);
    throw e;
  }
}

/** A commit-point failure of the grammar, worded and positioned as InfluxDB's. */
function fromFailure(text: string, f: GrammarFailure): ParseError {
  if (f.position === "none") return new ParseError(f.message, { cause: f });
  let where: { line: number; column: number };
  let found = "";
  if (f.position === "start") where = { line: 1, column: 1 };
  else if (f.position === "regex") {
    // InfluxDB names the character before the regex's opening slash.
    where = f.offset === 0 ? { line: 1, column: 1 } : lineColumn(text, f.offset - 1);
  } else {
    const token = tokenAt(text, f.offset, f.position === "raw", f.peeksPastEnd);
    where = token;
    found = token.found;
  }
  const at = `at line ${where.line}, char ${where.column}`;
  const message = f.expected !== undefined
    ? `found ${found}, expected ${f.expected} ${at}`
    : f.message.includes("{at}")
    ? f.message.replace("{at}", at)
    : `${f.message} ${at}`;
  return new ParseError(message, { line: where.line, column: where.column, cause: f });
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

/** Token classes InfluxDB names, in the order it lists them. */
const CLASS_ORDER = ["identifier", "string", "number", "bool", "integer", "regex", "duration"];

function toParseError(text: string, e: PeggySyntaxError): ParseError {
  const offset = skipSpace(text, e.location.start.offset);
  const token = tokenAt(text, offset);
  const expected = describeExpected(e.expected ?? []);
  const { line, column } = token;
  return new ParseError(
    `found ${token.found}, expected ${expected} at line ${line}, char ${column}`,
    {
      line,
      column,
      cause: e,
    },
  );
}

/**
 * Peggy's expectation set as InfluxDB would list it. Reached only where the grammar has no
 * commit point of its own (see grammar_support.ts): most errors are worded there.
 */
function describeExpected(items: NonNullable<PeggySyntaxError["expected"]>): string {
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

export { KEYWORDS } from "./grammar_support.ts";
