/**
 * Exact decimal-to-double conversion of `digits / 10^fraction` for up to 19 digits, without
 * making a string: the line-protocol parser's path for the 16- and 17-digit mantissas that
 * shortest-round-trip printers (JavaScript, Go, Python) give most doubles.
 *
 * The quotient is computed in double-double arithmetic (Dekker's exact products), accurate to
 * about 2^-100 of the value; the double nearest to that is the answer unless it lies within that
 * error of the midpoint between two doubles, where the function declines (`NaN`) and the caller
 * falls back to `Number(text)`. Declining happens for exact ties (`9007199254740993`) and, for
 * other inputs, with a probability near 2^-40.
 *
 * @module
 */

/** Veltkamp's splitter for doubles: 2^27 + 1. */
const SPLITTER = 134217729;
/** 10^k, exact, for k <= 22. */
const POW10 = Array.from({ length: 23 }, (_, k) => Number(`1e${k}`));

// The bits of a double, to find its ulp. Typed arrays use the platform's byte order; the
// high word is the second one on little-endian machines.
const F64 = new Float64Array(1);
const U32 = new Uint32Array(F64.buffer);
const HIGH = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;

/** Half the ulp of a double, by its biased exponent. */
const HALF_ULP = Float64Array.from({ length: 2048 }, (_, e) => 2 ** (e - 1076));

// Outputs of twoProduct / twoSum (module scratch: no allocation per call).
let hi = 0, lo = 0;

/** hi + lo = a * b exactly (Dekker), for finite products far from overflow and underflow. */
function twoProduct(a: number, b: number): void {
  const p = a * b;
  let t = SPLITTER * a;
  const ah = t - (t - a), al = a - ah;
  t = SPLITTER * b;
  const bh = t - (t - b), bl = b - bh;
  hi = p;
  lo = ((ah * bh - p) + ah * bl + al * bh) + al * bl;
}

/** hi + lo = a + b exactly (Knuth). */
function twoSum(a: number, b: number): void {
  const s = a + b;
  const bb = s - a;
  hi = s;
  lo = (a - (s - bb)) + (b - bb);
}

/**
 * The double nearest to `(high * 10^9 + low) / 10^fraction` (ties to even), or `NaN` when the
 * computation cannot prove which double that is. `high` < 10^10 and `low` < 10^9 are
 * non-negative integers (the leading digits and the last nine), `fraction` <= 22.
 *
 * @example
 * ```ts
 * decimalToDouble(57734561, 324547680, 15); // 57.73456132454768
 * ```
 */
export function decimalToDouble(high: number, low: number, fraction: number): number {
  // m = high * 10^9 + low exactly as sh + ml: the error terms are integers below 2^11.
  twoProduct(high, 1e9);
  const ph = hi, pl = lo;
  twoSum(ph, low);
  const sh = hi, ml = lo + pl;
  if (fraction === 0) {
    twoSum(sh, ml);
    return checked(hi, lo, hi);
  }
  const p = POW10[fraction];
  // q1 + q2 = m / p to about 2^-104 relative: q1 rounded, q2 the quotient of the remainder.
  const q1 = sh / p;
  twoProduct(q1, p);
  const r = (sh - hi) - lo + ml; // sh - hi is exact (Sterbenz)
  const q2 = r / p;
  twoSum(q1, q2);
  return checked(hi, lo, q1);
}

/**
 * `c` when the exact value `c + err + δ` (|δ| tiny) surely rounds to it, else NaN: |err| must
 * stay clear of half an ulp of `c` by more than the computation's error bound.
 */
function checked(c: number, err: number, magnitude: number): number {
  if (!(c > 0) || c === Infinity) return c === 0 && err === 0 ? 0 : NaN;
  F64[0] = c;
  const word = U32[HIGH];
  const exponent = (word >>> 20) & 0x7ff;
  // At a power of two the gap below is half the gap above: not worth the case, decline.
  if (exponent === 0 || ((word & 0xfffff) === 0 && U32[1 - HIGH] === 0)) return NaN;
  const halfUlp = HALF_ULP[exponent];
  const margin = halfUlp - Math.abs(err);
  return margin > magnitude * 2 ** -90 ? c : NaN;
}
