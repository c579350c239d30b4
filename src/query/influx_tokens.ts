/**
 * InfluxDB's scanner, as far as its error messages show it: which token starts at an offset
 * (what `found X` names) and the position InfluxDB reports for it (`at line L, char C`). The
 * grammar decides what is valid; this only words the errors as InfluxDB 1.6.7 does, quirks
 * included: a string is reported at the character before its opening quote, a bad escape at the
 * escaped character, the end of input one or two characters past the last one.
 *
 * @module
 */
import { KEYWORDS } from "./grammar_support.ts";

/** A token as an error names it. */
export interface InfluxToken {
  /** What InfluxDB prints after `found`: a keyword upper-cased, a literal's text, `EOF`. */
  found: string;
  /** 1-based line and character (code points) InfluxDB reports. */
  line: number;
  column: number;
  /** Where the token's text starts and ends (offsets into the text). */
  start: number;
  end: number;
}

const TWO_CHAR: Record<string, string> = {
  "=~": "=~",
  "!~": "!~",
  "!=": "!=",
  "<>": "!=",
  "<=": "<=",
  ">=": ">=",
  "::": "::",
};
const ONE_CHAR = new Set("+-*/%&|^=<>(),;:.");
const IDENT_START = /[A-Za-z_]/;
const IDENT_CHAR = /[A-Za-z0-9_]/;
const DIGIT = /[0-9]/;
const LETTER = /[A-Za-zµ]/;

/** Skips InfluxDB's whitespace and comments from `offset`. */
export function skipSpace(text: string, offset: number): number {
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

/** The 1-based line and column (in code points, as Go counts runes) of an offset. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  const column = [...text.slice(lineStart, Math.max(lineStart, offset))].length + 1;
  return { line, column };
}

/** A token reported at the character before `offset` (or at 1, 1 when there is none). */
function before(text: string, offset: number) {
  return offset === 0 ? { line: 1, column: 1 } : lineColumn(text, offset - 1);
}

/** A quoted token's content: `bad` when unterminated, `escape` at a bad escape's character. */
function quoted(text: string, open: number) {
  const q = text[open];
  let i = open + 1;
  let value = "";
  while (i < text.length && text[i] !== q && text[i] !== "\n") {
    if (text[i] === "\\") {
      const e = text[i + 1];
      if (e === "n") value += "\n";
      else if (e === "\\" || e === "'" || e === '"') value += e;
      else return { value: "\\" + (e ?? ""), end: i + 2, bad: false, escape: i + 1 };
      i += 2;
      continue;
    }
    value += text[i++];
  }
  const bad = i >= text.length || text[i] !== q;
  return { value, end: bad ? i : i + 1, bad, escape: -1 };
}

/** End of InfluxDB's number lexeme at `offset` (digits, a fraction, or a duration's letters). */
function numberEnd(text: string, offset: number): number {
  let i = offset;
  while (i < text.length && DIGIT.test(text[i])) i++;
  if (text[i] === ".") {
    i++;
    while (i < text.length && DIGIT.test(text[i])) i++;
    return i;
  }
  if (i < text.length && LETTER.test(text[i])) {
    while (i < text.length && (LETTER.test(text[i]) || DIGIT.test(text[i]))) i++;
  }
  return i;
}

/** A character of InfluxDB's words (names, keywords, numbers, durations). */
const WORD_CHAR = /[A-Za-z0-9_µ]/;

/**
 * Whether InfluxDB reads one character past the end before it reads the end as a token, so
 * that it reports the end two characters past the last one instead of one: after a word (its
 * identifier scanner consumes the end), and where its parser peeks for a regex (after `=~`, a
 * `.` between names, the `,` of a field, source, dimension or argument list, a call's `(`).
 * `parserPeeks`, when the grammar knows, says whether the parser peeked after punctuation.
 */
function peeksPastEnd(text: string, parserPeeks: boolean | undefined): boolean {
  // A word starting with a letter is a name or keyword; with a digit, a number or duration.
  // The last word, scanned back from the end: /[…]+$/ would try every start in every run of
  // word characters, quadratic in a long run that is not at the end (found by tests/fuzz).
  let wordStart = text.length;
  while (wordStart > 0 && WORD_CHAR.test(text[wordStart - 1])) wordStart--;
  if (wordStart < text.length) return /[A-Za-z_]/.test(text[wordStart]);
  if (parserPeeks !== undefined) return parserPeeks;
  if (/(?:=~|!~|\.)$/.test(text)) return true;
  if (text.endsWith("(")) return /[A-Za-z0-9_"]\($/.test(text) && !/\bIN\s*\($/i.test(text);
  if (text.endsWith(",")) {
    if (/\bORDER\s+BY\b[^(]*$/i.test(text)) return false;
    // Inside IN ( ... ), a list of names read without a peek.
    let depth = 0;
    for (let i = text.length - 1; i >= 0; i--) {
      if (text[i] === ")") depth++;
      else if (text[i] === "(") {
        if (depth === 0) return !/\bIN\s*$/i.test(text.slice(0, i));
        depth--;
      }
    }
    return true;
  }
  return false;
}

/**
 * The token InfluxDB reads at `offset` after skipping whitespace and comments (with `raw`,
 * whitespace is a token of its own, as where InfluxDB reads without skipping it).
 */
export function tokenAt(
  text: string,
  offset: number,
  raw = false,
  peeks?: boolean,
): InfluxToken {
  if (raw && offset < text.length && " \t\r\n".includes(text[offset])) {
    let end = offset;
    while (end < text.length && " \t\r\n".includes(text[end])) end++;
    return { found: text.slice(offset, end), ...lineColumn(text, offset), start: offset, end };
  }
  offset = skipSpace(text, offset);
  if (offset >= text.length) {
    // InfluxDB's reader counts the end of input once, after one or two reads past the last
    // character depending on what came before.
    const trimmed = text.trimEnd();
    const { line, column } = lineColumn(text, trimmed.length);
    const shift = peeksPastEnd(trimmed, peeks) ? 1 : 0;
    return { found: "EOF", line, column: column + shift, start: text.length, end: text.length };
  }
  const c = text[offset];
  const at = (end: number, found: string) => ({
    found,
    ...lineColumn(text, offset),
    start: offset,
    end,
  });
  if (IDENT_START.test(c)) {
    let end = offset + 1;
    while (end < text.length && IDENT_CHAR.test(text[end])) end++;
    const word = text.slice(offset, end);
    return at(end, KEYWORDS.has(word.toUpperCase()) ? word.toUpperCase() : word);
  }
  if (DIGIT.test(c) || (c === "." && DIGIT.test(text[offset + 1] ?? ""))) {
    const end = numberEnd(text, offset);
    // `5.` is the number 5: InfluxDB reads the full stop into the number and drops it.
    return at(end, text.slice(offset, end).replace(/\.$/, ""));
  }
  if (c === '"' || c === "'") {
    const q = quoted(text, offset);
    if (q.escape >= 0) {
      return { found: q.value, ...lineColumn(text, q.escape), start: offset, end: q.end };
    }
    // A string (and an unterminated identifier) is reported at the character before its quote.
    const where = c === "'" || q.bad ? before(text, offset) : lineColumn(text, offset);
    const found = q.value !== "" ? q.value : q.bad ? "BADSTRING" : c === "'" ? "STRING" : "IDENT";
    return { found, ...where, start: offset, end: q.end };
  }
  if (c === "$") {
    let end = offset + 1;
    if (text[end] === '"') end = quoted(text, end).end;
    else while (end < text.length && IDENT_CHAR.test(text[end])) end++;
    return at(end, text.slice(offset, end));
  }
  const two = TWO_CHAR[text.slice(offset, offset + 2)];
  if (two !== undefined) return at(offset + 2, two);
  if (ONE_CHAR.has(c)) return at(offset + 1, c);
  const ch = String.fromCodePoint(text.codePointAt(offset)!);
  return at(offset + ch.length, ch);
}

/** The start of the last token that ends at or before `end` (skipping whitespace and comments). */
export function lastTokenStart(text: string, from: number, end: number): number {
  let last = from;
  let at = from;
  for (let guard = 0; guard < text.length + 1; guard++) {
    const t = tokenAt(text, at);
    if (t.start >= end || t.end > end || t.end <= at) return last;
    last = t.start;
    at = t.end;
  }
  return last;
}
