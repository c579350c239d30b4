/**
 * Go's strconv.FormatFloat(v, 'f', -1, 64): shortest round-trip digits, never an exponent.
 * @module
 */

/** Formats a float without exponent, as Go's 'f' format with precision -1. */
export function formatFloatPlain(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (!Number.isFinite(v)) return v > 0 ? "+Inf" : "-Inf";
  const s = String(Math.abs(v));
  const m = /^(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(s);
  let body = s;
  if (m) {
    const digits = m[1] + (m[2] ?? "");
    const point = 1 + Number(m[3]);
    if (point <= 0) body = "0." + "0".repeat(-point) + digits;
    else if (point >= digits.length) body = digits + "0".repeat(point - digits.length);
    else body = digits.slice(0, point) + "." + digits.slice(point);
  }
  return v < 0 || Object.is(v, -0) ? "-" + body : body;
}
