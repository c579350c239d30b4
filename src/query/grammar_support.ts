/**
 * What the generated InfluxQL parser's predicates call besides the AST constructors: the
 * reserved words, and the nesting limit that keeps a parse (and every walker over its tree)
 * within the stack.
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
