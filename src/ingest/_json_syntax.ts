/**
 * Finds where JSON text goes wrong. `JSON.parse` says only sometimes where (and in no fixed
 * words), so after it fails this small validator walks the text again and names the first
 * offending offset and what was expected there.
 *
 * @module
 */

/** Where and why a JSON text is malformed. */
export interface JsonSyntaxProblem {
  /** Offset in UTF-16 code units. */
  offset: number;
  /** 1-based line. */
  line: number;
  /** 1-based column in characters (UTF-16 code units). */
  column: number;
  /** What was wrong, e.g. `expected ',' or '}' after an object member, found ']'`. */
  message: string;
  /** Only nested deeper than this validator goes: JSON.parse may still accept the text. */
  tooDeep: boolean;
}

const MAX_DEPTH = 5_000;
const TOO_DEEP = `nesting deeper than ${MAX_DEPTH} levels`;

class Problem {
  constructor(readonly offset: number, readonly message: string) {}
}

/** Returns the first syntax problem of `text`, or undefined when it is valid JSON. */
export function findJsonSyntaxProblem(text: string): JsonSyntaxProblem | undefined {
  let i = 0;
  const n = text.length;

  const found = (at: number): string =>
    at >= n ? "end of input" : JSON.stringify(String.fromCodePoint(text.codePointAt(at)!));
  const fail = (at: number, expected: string): never => {
    throw new Problem(at, `expected ${expected}, found ${found(at)}`);
  };
  const ws = () => {
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
      i++;
    }
  };
  const digits = (what: string) => {
    const start = i;
    while (i < n && text.charCodeAt(i) >= 0x30 && text.charCodeAt(i) <= 0x39) i++;
    if (i === start) fail(i, what);
  };
  const string = () => {
    i++; // opening quote
    for (;;) {
      if (i >= n) throw new Problem(i, "unterminated string");
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return;
      }
      if (c < 0x20) {
        throw new Problem(i, `control character U+${c.toString(16).padStart(4, "0")} in a string`);
      }
      if (c === 0x5c) {
        const e = text[i + 1];
        if (e === "u") {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) {
            throw new Problem(i, "bad \\u escape (four hex digits expected)");
          }
          i += 6;
          continue;
        }
        if (e === undefined || !'"\\/bfnrt'.includes(e)) {
          throw new Problem(i, `bad escape ${JSON.stringify("\\" + (e ?? ""))} in a string`);
        }
        i += 2;
        continue;
      }
      i++;
    }
  };
  const word = (w: string) => {
    if (text.startsWith(w, i)) i += w.length;
    else fail(i, "a JSON value");
  };
  const value = (depth: number): void => {
    if (depth > MAX_DEPTH) throw new Problem(i, TOO_DEEP);
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      ws();
      if (text[i] === "}") {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail(i, "a string (an object key)");
        string();
        ws();
        if (text[i] !== ":") fail(i, "':' after an object key");
        i++;
        value(depth + 1);
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "}") {
          i++;
          return;
        }
        fail(i, "',' or '}' after an object member");
      }
    } else if (c === "[") {
      i++;
      ws();
      if (text[i] === "]") {
        i++;
        return;
      }
      for (;;) {
        value(depth + 1);
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "]") {
          i++;
          return;
        }
        fail(i, "',' or ']' after an array element");
      }
    } else if (c === '"') {
      string();
    } else if (c === "-" || (c !== undefined && c >= "0" && c <= "9")) {
      if (c === "-") i++;
      if (text[i] === "0") i++;
      else digits("a digit");
      if (text[i] === ".") {
        i++;
        digits("a digit after the decimal point");
      }
      if (text[i] === "e" || text[i] === "E") {
        i++;
        if (text[i] === "+" || text[i] === "-") i++;
        digits("a digit in the exponent");
      }
    } else if (c === "t") word("true");
    else if (c === "f") word("false");
    else if (c === "n") word("null");
    else fail(i, "a JSON value");
  };

  try {
    value(0);
    ws();
    if (i < n) throw new Problem(i, `unexpected ${found(i)} after the JSON value`);
    return undefined;
  } catch (e) {
    if (!(e instanceof Problem)) throw e;
    const tooDeep = e.message === TOO_DEEP;
    return { offset: e.offset, ...lineColumn(text, e.offset), message: e.message, tooDeep };
  }
}

/** The 1-based line and column of an offset. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1, lineStart = 0;
  for (let k = text.indexOf("\n"); k >= 0 && k < offset; k = text.indexOf("\n", k + 1)) {
    line++;
    lineStart = k + 1;
  }
  return { line, column: offset - lineStart + 1 };
}
