/**
 * Walking expressions without a stack frame per node of a long chain. `a OR b OR ...` with
 * 10,000 terms parses (left-associative) into a left-deep tree 10,000 nodes tall: a walker that
 * recurses into `lhs` overflows the stack on it. Nesting through parentheses, calls and signs
 * is bounded by the parser (grammar_support.ts MAX_NESTING); chains are not, so every walker
 * goes along a chain's left spine in a loop and recurses only into the other operands.
 *
 * @module
 */
import type { BinaryExpr, Expr } from "./ast.ts";

/**
 * The binary nodes down `e`'s left spine while `within` holds, outermost first: for
 * `(a + b) - c` (no parentheses in the source) `[-, +]`. The last node's `lhs` is the chain's
 * first operand; each node's `rhs` is one further operand, left to right from the end.
 */
export function leftChain(
  e: BinaryExpr,
  within: (b: BinaryExpr) => boolean = () => true,
): BinaryExpr[] {
  const chain = [e];
  let x = e.lhs;
  while (x.kind === "binary" && within(x)) {
    chain.push(x);
    x = x.lhs;
  }
  return chain;
}

/**
 * Folds a left-deep chain in evaluation order: `first` on the first operand, then `step` for
 * each node from the innermost out. The callbacks recurse into operands, never along the chain.
 */
export function foldChain<T>(
  e: BinaryExpr,
  first: (operand: Expr) => T,
  step: (acc: T, node: BinaryExpr) => T,
  within?: (b: BinaryExpr) => boolean,
): T {
  const chain = leftChain(e, within);
  let acc = first(chain[chain.length - 1].lhs);
  for (let i = chain.length - 1; i >= 0; i--) acc = step(acc, chain[i]);
  return acc;
}

/**
 * Rebuilds a chain with every operand mapped, left to right (so side effects of `map`, such as
 * planning slots, happen in source order). Nodes whose operands did not change are kept.
 */
export function mapChain(e: BinaryExpr, map: (operand: Expr) => Expr): Expr {
  return foldChain<Expr>(e, map, (lhs, node) => {
    const rhs = map(node.rhs);
    return lhs === node.lhs && rhs === node.rhs ? node : { ...node, lhs, rhs };
  });
}

/**
 * Visits `e` and every expression below it in source order (pre-order, left to right) with an
 * explicit stack: no recursion at all. `visit` returns false to skip a node's sub-expressions.
 */
export function walkExpr(e: Expr, visit: (x: Expr) => boolean | void): void {
  const stack: Expr[] = [e];
  while (stack.length > 0) {
    const x = stack.pop()!;
    if (visit(x) === false) continue;
    if (x.kind === "binary") stack.push(x.rhs, x.lhs);
    else if (x.kind === "paren") stack.push(x.expr);
    else if (x.kind === "call") {
      for (let i = x.args.length - 1; i >= 0; i--) stack.push(x.args[i]);
    }
  }
}

/**
 * The first expression (in source order) for which `test` holds, or undefined. Calls'
 * arguments are searched only when `intoCalls` says so (default: always).
 */
export function findExpr(
  e: Expr,
  test: (x: Expr) => boolean,
  intoCalls: (call: Extract<Expr, { kind: "call" }>) => boolean = () => true,
): Expr | undefined {
  const stack: Expr[] = [e];
  while (stack.length > 0) {
    const x = stack.pop()!;
    if (test(x)) return x;
    if (x.kind === "binary") stack.push(x.rhs, x.lhs);
    else if (x.kind === "paren") stack.push(x.expr);
    else if (x.kind === "call" && intoCalls(x)) {
      for (let i = x.args.length - 1; i >= 0; i--) stack.push(x.args[i]);
    }
  }
  return undefined;
}

/** True when `test` holds for `e` or an expression below it (see {@linkcode findExpr}). */
export function someExpr(
  e: Expr,
  test: (x: Expr) => boolean,
  intoCalls?: (call: Extract<Expr, { kind: "call" }>) => boolean,
): boolean {
  return findExpr(e, test, intoCalls) !== undefined;
}
