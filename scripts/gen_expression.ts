/**
 * Compiles grammar/expression.peggy (the schema pipeline's expression language) into
 * src/schema/gen/expression_parser.js (+ its .d.ts).
 *
 *   deno run --allow-read --allow-write --allow-env scripts/gen_expression.ts          # regenerate
 *   deno run --allow-read --allow-write --allow-env scripts/gen_expression.ts --check  # exit 1 if stale
 *
 * @module
 */
import { type PeggyTarget, runGenerator } from "./_peggy.ts";

/** What this script generates. */
export const TARGET: PeggyTarget = {
  script: "scripts/gen_expression.ts",
  grammar: "grammar/expression.peggy",
  parser: "src/schema/gen/expression_parser.js",
  types: "src/schema/gen/expression_parser.d.ts",
  sourcePrefix: "// deno-fmt-ignore-file\n// deno-lint-ignore-file\n",
  declarations: `// deno-fmt-ignore-file
/** Peggy's syntax error: what was expected, what was found, where. */
export class SyntaxError extends Error {
  expected: { type: string; text?: string; description?: string }[] | null;
  found: string | null;
  location: {
    start: { offset: number; line: number; column: number };
    end: { offset: number; line: number; column: number };
  };
}

/** Parses an expression; \`options.ast\` builds the nodes. */
export function parse(input: string, options: { ast: unknown }): unknown;
`,
};

if (import.meta.main) Deno.exit(await runGenerator(TARGET, Deno.args));
