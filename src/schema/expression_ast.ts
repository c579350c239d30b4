/**
 * The AST of pipeline expressions and the builders the generated parser calls (one-line
 * actions in grammar/expression.peggy).
 * @module
 */

/** An expression node. */
export type Expr =
  | { kind: "literal"; value: number | string | boolean | null }
  | { kind: "ref"; name: string }
  | { kind: "unary"; op: "-" | "not"; operand: Expr }
  | { kind: "binary"; op: string; left: Expr; right: Expr }
  | { kind: "call"; name: string; args: Expr[] };

/** A literal. */
export function literal(value: number | string | boolean | null): Expr {
  return { kind: "literal", value };
}

/** A field or tag of the point. */
export function ref(name: string): Expr {
  return { kind: "ref", name };
}

/** A unary operator. */
export function unary(op: "-" | "not", operand: Expr): Expr {
  return { kind: "unary", op, operand };
}

/** A binary operator. */
export function binary(op: string, left: Expr, right: Expr): Expr {
  return { kind: "binary", op, left, right };
}

/** A left-associative chain of binary operators. */
export function chain(head: Expr, tail: [string, Expr][]): Expr {
  return tail.reduce((left, [op, right]) => binary(op.toLowerCase(), left, right), head);
}

/** A function call (also `if` and the `?:` conditional). */
export function call(name: string, args: Expr[]): Expr {
  return { kind: "call", name, args };
}
