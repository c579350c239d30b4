/**
 * Structural equality without recursion (an InfluxQL chain of 20,000 ANDs is a tree that deep,
 * and node:util's deep equality overflows the stack on it): plain objects, arrays, typed arrays,
 * Maps and Sets, primitives compared with `Object.is`.
 * @module
 */

/**
 * True when `a` and `b` hold the same data; `see` (when given) is applied to every value before
 * it is compared, to look through wrappers that carry no meaning.
 */
export function sameData(a: unknown, b: unknown, see?: (value: unknown) => unknown): boolean {
  const stack: [unknown, unknown][] = [[a, b]];
  // Bounded by the size of the two values: each pair is pushed once per edge.
  while (stack.length > 0) {
    let [x, y] = stack.pop()!;
    if (see) [x, y] = [see(x), see(y)];
    if (Object.is(x, y)) continue;
    if (typeof x !== "object" || typeof y !== "object" || x === null || y === null) return false;
    if (Object.getPrototypeOf(x) !== Object.getPrototypeOf(y)) return false;
    if (ArrayBuffer.isView(x)) {
      const u = x as unknown as ArrayLike<unknown>, v = y as unknown as ArrayLike<unknown>;
      if (u.length !== v.length) return false;
      for (let i = 0; i < u.length; i++) if (!Object.is(u[i], v[i])) return false;
      continue;
    }
    if (x instanceof Map || x instanceof Set) {
      const u = [...(x as Map<unknown, unknown>)], v = [...(y as Map<unknown, unknown>)];
      if (u.length !== v.length) return false;
      for (let i = 0; i < u.length; i++) stack.push([u[i], v[i]]);
      continue;
    }
    const kx = Object.keys(x), ky = Object.keys(y);
    if (kx.length !== ky.length) return false;
    for (const k of kx) {
      if (!Object.hasOwn(y, k)) return false;
      stack.push([(x as Record<string, unknown>)[k], (y as Record<string, unknown>)[k]]);
    }
  }
  return true;
}
