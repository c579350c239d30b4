/**
 * What the generated InfluxQL parser's predicates call besides the AST constructors: the
 * reserved words, the nesting limit that keeps a parse (and every walker over its tree) within
 * the stack, and the errors thrown where InfluxDB's parser commits.
 *
 * InfluxDB's parser is hand-written and commits as soon as a keyword decides the statement: past
 * `CREATE DATABASE`, a wrong token is an error naming what that parser expected there
 * (`found WITH, expected ;`), not a backtrack. The grammar mirrors those commit points: where
 * InfluxDB fails, an alternative throws a {@linkcode GrammarFailure} and src/query/parser.ts
 * words it as InfluxDB does (`found X, expected Y at line L, char C`), computing X and the
 * position from the text the way InfluxDB's scanner does.
 *
 * @module
 */
import { ParseError } from "../core/errors.ts";

/** InfluxQL's reserved words: bare identifiers may not be one of these. */
export const KEYWORDS: ReadonlySet<string> = new Set(
  ("ALL ALTER ANALYZE AND ANY AS ASC BEGIN BY CARDINALITY CONTINUOUS CREATE DATABASE DATABASES " +
    "DEFAULT DELETE DESC DESTINATIONS DIAGNOSTICS DISTINCT DROP DURATION END EVERY EXACT EXPLAIN " +
    "FALSE FIELD FOR FROM GRANT GRANTS GROUP GROUPS IN INF INSERT INTO KEY KEYS KILL LIMIT " +
    "MEASUREMENT MEASUREMENTS NAME OFFSET ON OR ORDER PASSWORD POLICIES POLICY PRIVILEGES QUERIES " +
    "QUERY READ REPLICATION RESAMPLE RETENTION REVOKE SELECT SERIES SET SHARD SHARDS SHOW SLIMIT " +
    "SOFFSET STATS SUBSCRIPTION SUBSCRIPTIONS TAG TO TRUE USER USERS VALUES WHERE WITH WRITE")
    .split(" "),
);

/** True when `word` (any case) is a reserved word. */
export function isKeyword(word: string): boolean {
  return word.length <= 13 && KEYWORDS.has(word.toUpperCase());
}

/**
 * How deep expressions (parentheses, call arguments), unary signs and subqueries may nest.
 * InfluxDB 1.6 has no limit (Go stacks grow); a JavaScript stack overflows near 1,000 levels of
 * the generated parser, so deeper input is refused as a parse error. Hand-written queries nest
 * a handful of levels; long flat chains (`a OR b OR ...`, 10,000 terms) do not nest and are
 * not limited by this.
 */
export const MAX_NESTING = 200;

/**
 * Called on entering each nesting level, with Peggy's `location` function (called only for the
 * error).
 * @throws {ParseError} `expression nested too deeply at line L, char C` past {@linkcode MAX_NESTING}.
 */
export function checkNesting(
  depth: number,
  location: () => { start: { line: number; column: number } },
): void {
  if (depth <= MAX_NESTING) return;
  // Asked for only here: Peggy computes (and caches) a line and column per position asked.
  const { line, column } = location().start;
  throw new ParseError(
    `expression nested too deeply (more than ${MAX_NESTING} levels) at line ${line}, char ${column}`,
    { line, column },
  );
}

/** How a {@linkcode GrammarFailure}'s position is told. */
export type FailurePosition =
  /** The InfluxDB token at the offset (whitespace and comments before it skipped). */
  | "token"
  /** The token at the offset itself, whitespace being one (where InfluxDB reads it unskipped). */
  | "raw"
  /** A regex literal whose `/` is at the offset: InfluxDB names the character before it. */
  | "regex"
  /** `at line 1, char 1`: errors InfluxDB raises with no position of their own. */
  | "start"
  /** No position: the message alone. */
  | "none";

/**
 * A syntax error at a point where InfluxDB's parser commits. parser.ts turns it into a
 * {@linkcode ParseError} worded as InfluxDB's: `found X, expected <expected> at line L, char C`
 * when `expected` is set, else the message with the position put where it says `{at}` (at its
 * end when it does not say).
 */
export class GrammarFailure extends Error {
  constructor(
    message: string,
    readonly offset: number,
    readonly position: FailurePosition,
    readonly expected?: string,
    /**
     * At the end of input after punctuation: whether InfluxDB's parser peeked past it first
     * (see influx_tokens.ts); undefined lets the punctuation decide.
     */
    readonly peeksPastEnd?: boolean,
  ) {
    super(message);
    this.name = "GrammarFailure";
  }
}

/**
 * InfluxDB expected one of `list` (its words, in its order) at the token at `offset`.
 * Returns nothing: it always throws (typed as boolean for use in a Peggy predicate).
 * `peeksPastEnd` says, where the text ends there after punctuation, whether InfluxDB's parser
 * peeked past the end (which moves the position it reports).
 * @throws {GrammarFailure}
 */
export function expect(offset: number, list: string, peeksPastEnd?: boolean): boolean {
  throw new GrammarFailure("", offset, "token", list, peeksPastEnd);
}

/**
 * Like {@linkcode expect}, where InfluxDB reads the next token without skipping whitespace
 * (`found  , expected .` names a space).
 * @throws {GrammarFailure}
 */
export function expectHere(offset: number, list: string): boolean {
  throw new GrammarFailure("", offset, "raw", list);
}

/**
 * Refuses with InfluxDB's message, positioned as `position` says.
 * @throws {GrammarFailure}
 */
export function refuse(offset: number, message: string, position: FailurePosition): boolean {
  throw new GrammarFailure(message, offset, position);
}

/**
 * InfluxDB's statement dispatch: the keywords that lead to a statement, in the order its
 * parser lists them when the next word is none of them. A leaf (`true`) is a statement.
 */
type DispatchTree = { [keyword: string]: DispatchTree | true };
const DISPATCH: DispatchTree = {
  SELECT: true,
  DELETE: true,
  SHOW: {
    CONTINUOUS: { QUERIES: true },
    DATABASES: true,
    DIAGNOSTICS: true,
    FIELD: { KEY: true, KEYS: true },
    GRANTS: { FOR: true },
    MEASUREMENT: { EXACT: true, CARDINALITY: true },
    MEASUREMENTS: true,
    QUERIES: true,
    RETENTION: { POLICIES: true },
    SERIES: true,
    SHARD: { GROUPS: true },
    SHARDS: true,
    STATS: true,
    SUBSCRIPTIONS: true,
    TAG: { KEY: true, KEYS: true, VALUES: true },
    USERS: true,
  },
  CREATE: {
    CONTINUOUS: { QUERY: true },
    DATABASE: true,
    USER: true,
    RETENTION: { POLICY: true },
    SUBSCRIPTION: true,
  },
  DROP: {
    CONTINUOUS: { QUERY: true },
    DATABASE: true,
    MEASUREMENT: true,
    RETENTION: { POLICY: true },
    SERIES: true,
    SHARD: true,
    SUBSCRIPTION: true,
    USER: true,
  },
  EXPLAIN: true,
  GRANT: true,
  REVOKE: true,
  ALTER: { RETENTION: { POLICY: true } },
  SET: { PASSWORD: { FOR: true } },
  KILL: { QUERY: true },
};

const WORD = /[A-Za-z_][A-Za-z0-9_]*/y;
const SPACE = /(?:[ \t\r\n]+|--[^\n]*|\/\*[\s\S]*?\*\/)*/y;

/**
 * Called when no statement rule took the text at `offset`: walks InfluxDB's dispatch over the
 * leading keywords and throws `found X, expected <the words allowed there>`. Returns false
 * (a plain syntax error) when the words reach a statement whose own rule failed softly.
 * @throws {GrammarFailure}
 */
export function statementFailure(text: string, offset: number): boolean {
  let node: DispatchTree = DISPATCH;
  let at = offset;
  for (;;) {
    SPACE.lastIndex = at;
    SPACE.exec(text);
    at = SPACE.lastIndex;
    WORD.lastIndex = at;
    const word = WORD.exec(text)?.[0].toUpperCase();
    const next = word === undefined ? undefined : node[word];
    if (next === undefined) return expect(at, Object.keys(node).join(", "));
    if (next === true) return false;
    node = next;
    at += word!.length;
  }
}
