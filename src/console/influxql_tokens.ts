/**
 * Splits InfluxQL text into tokens for syntax highlighting. It never fails: every character
 * lands in exactly one token, so the tokens' texts joined give the input back (the editor's
 * highlighted layer must line up with the text the user typed, whatever it is). Unfinished
 * strings and comments run to the end of the input, as they do while the user types.
 * @module
 */

/** What a token is, for colouring. */
export type TokenKind =
  | "keyword"
  | "function"
  | "identifier"
  | "quoted"
  | "string"
  | "number"
  | "duration"
  | "regex"
  | "variable"
  | "operator"
  | "punctuation"
  | "comment"
  | "space";

/** A run of the input text. */
export interface Token {
  kind: TokenKind;
  text: string;
}

/**
 * InfluxQL's reserved words (kept equal to the parser's list by a test), plus `FILL`-like words
 * that read as keywords though the grammar takes them as identifiers.
 */
export const KEYWORDS: ReadonlySet<string> = new Set(
  ("ALL ALTER ANALYZE AND ANY AS ASC BEGIN BY CARDINALITY CONTINUOUS CREATE DATABASE DATABASES " +
    "DEFAULT DELETE DESC DESTINATIONS DIAGNOSTICS DISTINCT DROP DURATION END EVERY EXACT EXPLAIN " +
    "FALSE FIELD FOR FROM GRANT GRANTS GROUP GROUPS IN INF INSERT INTO KEY KEYS KILL LIMIT " +
    "MEASUREMENT MEASUREMENTS NAME OFFSET ON OR ORDER PASSWORD POLICIES POLICY PRIVILEGES QUERIES " +
    "QUERY READ REPLICATION RESAMPLE RETENTION REVOKE SELECT SERIES SET SHARD SHARDS SHOW SLIMIT " +
    "SOFFSET STATS SUBSCRIPTION SUBSCRIPTIONS TAG TO TRUE USER USERS VALUES WHERE WITH WRITE")
    .split(" "),
);

const DURATION_UNITS = /^(ns|us|u|µs|µ|ms|s|m|h|d|w)(?![A-Za-z0-9_])/;
const OPERATORS = [
  "=~",
  "!~",
  "!=",
  "<>",
  "<=",
  ">=",
  "::",
  "=",
  "<",
  ">",
  "+",
  "-",
  "*",
  "/",
  "%",
];
/** Kinds after which `/` divides; anywhere else it opens a regex (`FROM /cpu.*`, `=~ /a/`). */
const DIVIDES_AFTER: ReadonlySet<TokenKind> = new Set([
  "identifier",
  "quoted",
  "number",
  "duration",
  "string",
  "function",
]);

/** Splits `text` into tokens whose texts, joined, are `text`. */
export function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let previous: Token | undefined; // the last token that is not space or comment
  let i = 0;
  const push = (kind: TokenKind, end: number) => {
    const token = { kind, text: text.slice(i, end) };
    out.push(token);
    if (kind !== "space" && kind !== "comment") previous = token;
    i = end;
  };
  while (i < text.length) {
    const c = text[i];
    if (/\s/.test(c)) {
      let end = i + 1;
      while (end < text.length && /\s/.test(text[end])) end++;
      push("space", end);
    } else if (c === "-" && text[i + 1] === "-") {
      const nl = text.indexOf("\n", i);
      push("comment", nl < 0 ? text.length : nl);
    } else if (c === "/" && text[i + 1] === "*") {
      const close = text.indexOf("*/", i + 2);
      push("comment", close < 0 ? text.length : close + 2);
    } else if (c === "'" || c === '"') {
      push(c === "'" ? "string" : "quoted", quotedEnd(text, i, c));
    } else if (
      c === "/" && !(previous && (DIVIDES_AFTER.has(previous.kind) || previous.text === ")"))
    ) {
      push("regex", quotedEnd(text, i, "/"));
    } else if (c === "$" && /[A-Za-z_]/.test(text[i + 1] ?? "")) {
      push("variable", wordEnd(text, i + 1));
    } else if (/[0-9]/.test(c) || (c === "." && /[0-9]/.test(text[i + 1] ?? ""))) {
      let end = i;
      while (end < text.length && /[0-9.]/.test(text[end])) end++;
      if (/[eE]/.test(text[end] ?? "") && /[-+0-9]/.test(text[end + 1] ?? "")) {
        end += 2;
        while (end < text.length && /[0-9]/.test(text[end])) end++;
      }
      const unit = DURATION_UNITS.exec(text.slice(end, end + 3));
      if (unit && !text.slice(i, end).includes(".")) push("duration", end + unit[0].length);
      else push("number", end);
    } else if (/[A-Za-z_]/.test(c)) {
      const end = wordEnd(text, i);
      const word = text.slice(i, end);
      let next = end;
      while (next < text.length && text[next] === " ") next++;
      if (text[next] === "(") push("function", end);
      else push(KEYWORDS.has(word.toUpperCase()) ? "keyword" : "identifier", end);
    } else {
      const operator = OPERATORS.find((op) => text.startsWith(op, i));
      if (operator) push("operator", i + operator.length);
      else push("punctuation", i + 1);
    }
  }
  return out;
}

/** The end of a quoted run opened at `start` (backslash escapes; unclosed: end of text). */
function quotedEnd(text: string, start: number, quote: string): number {
  let end = start + 1;
  while (end < text.length) {
    if (text[end] === "\\") end += 2;
    else if (text[end] === quote) return end + 1;
    else if (quote === "/" && text[end] === "\n") return end;
    else end++;
  }
  return Math.min(end, text.length);
}

function wordEnd(text: string, start: number): number {
  let end = start;
  while (end < text.length && /[A-Za-z0-9_]/.test(text[end])) end++;
  return end;
}
