/**
 * Compiles grammar/influxql.peggy into src/query/gen/influxql_parser.js (+ its .d.ts).
 *
 *   deno run --allow-read --allow-write --allow-env scripts/gen_parser.ts          # regenerate
 *   deno run --allow-read --allow-write --allow-env scripts/gen_parser.ts --check  # exit 1 if stale
 *
 * @module
 */
import { type PeggyTarget, runGenerator } from "./_peggy.ts";

/** What this script generates. */
export const TARGET: PeggyTarget = {
  script: "scripts/gen_parser.ts",
  grammar: "grammar/influxql.peggy",
  parser: "src/query/gen/influxql_parser.js",
  types: "src/query/gen/influxql_parser.d.ts",
  sourcePrefix: "// deno-lint-ignore-file\n",
  declarations: `import type { Statement } from "../ast.ts";

/** Peggy's syntax error: what was expected, what was found, where. */
export class SyntaxError extends Error {
  expected: { type: string; text?: string; description?: string; ignoreCase?: boolean }[] | null;
  found: string | null;
  location: {
    start: { offset: number; line: number; column: number };
    end: { offset: number; line: number; column: number };
  };
}

/** The rules a parse may start from. */
export const StartRules: string[];

/** Parses InfluxQL text into statements. */
export function parse(input: string, options?: { startRule?: string }): Statement[];
`,
};

if (import.meta.main) Deno.exit(await runGenerator(TARGET, Deno.args));
