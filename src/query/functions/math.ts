/**
 * Math functions: abs, acos, asin, atan, atan2, ceil, cos, exp, floor, ln, log, log2, log10,
 * pow, round, sin, sqrt, tan. They apply row by row, to raw values (`sqrt(x)`) and to aggregate
 * results (`round(mean(x))` with GROUP BY time), as InfluxDB 1.6's query/math.go does:
 * abs, ceil, floor and round keep integers integer; everything else answers a float; a null or
 * non-numeric argument (a string, a boolean) answers null.
 *
 * @module
 */
import type { Value } from "../result.ts";
import { type MathFunction, register } from "./registry.ts";

function num(v: Value): number | undefined {
  if (typeof v === "number") return v;
  if (typeof v === "bigint") return Number(v);
  return undefined;
}

function unary(name: string, f: (x: number) => number): MathFunction {
  return {
    kind: "math",
    name,
    arity: 1,
    apply([a]) {
      const x = num(a);
      return x === undefined ? null : f(x);
    },
  };
}

/** abs, ceil, floor, round: integers stay integers. */
function integral(name: string, f: (x: number) => number): MathFunction {
  return {
    kind: "math",
    name,
    arity: 1,
    apply([a]) {
      if (typeof a === "bigint") return name === "abs" && a < 0n ? BigInt.asIntN(64, -a) : a;
      if (typeof a !== "number") return null;
      return f(a);
    },
  };
}

function binary(name: string, f: (x: number, y: number) => number): MathFunction {
  return {
    kind: "math",
    name,
    arity: 2,
    apply([a, b]) {
      const x = num(a), y = num(b);
      return x === undefined || y === undefined ? null : f(x, y);
    },
  };
}

/** Go's math.Round: half away from zero (JS Math.round rounds half up). */
export function goRound(x: number): number {
  if (!Number.isFinite(x)) return x;
  // ax - t is exact for doubles, so the half test is exact too.
  const ax = Math.abs(x);
  const t = Math.trunc(ax);
  const out = ax - t >= 0.5 ? t + 1 : t;
  return x < 0 ? -out : out;
}

// Go's pure-Go (Cephes) implementations where V8's differ in the last bit, so answers match
// InfluxDB's to the bit.

function xatan(x: number): number {
  const P0 = -8.750608600031904122785e-01, P1 = -1.615753718733365076637e+01;
  const P2 = -7.500855792314704667340e+01, P3 = -1.228866684490136173410e+02;
  const P4 = -6.485021904942025371773e+01, Q0 = +2.485846490142306297962e+01;
  const Q1 = +1.650270098316988542046e+02, Q2 = +4.328810604912902668951e+02;
  const Q3 = +4.853903996359136964868e+02, Q4 = +1.945506571482613964425e+02;
  let z = x * x;
  z = z * ((((P0 * z + P1) * z + P2) * z + P3) * z + P4) /
    (((((z + Q0) * z + Q1) * z + Q2) * z + Q3) * z + Q4);
  return x * z + x;
}

function satan(x: number): number {
  const morebits = 6.123233995736765886130e-17;
  const tan3pio8 = 2.41421356237309504880;
  if (x <= 0.66) return xatan(x);
  if (x > tan3pio8) return Math.PI / 2 - xatan(1 / x) + morebits;
  return Math.PI / 4 + xatan((x - 1) / (x + 1)) + 0.5 * morebits;
}

/** Go's math.Atan. */
export function goAtan(x: number): number {
  if (x === 0) return x;
  return x > 0 ? satan(x) : -satan(-x);
}

/** Go's math.Asin. */
export function goAsin(x: number): number {
  if (x === 0) return x;
  let sign = false;
  if (x < 0) {
    x = -x;
    sign = true;
  }
  if (x > 1) return NaN;
  let temp = Math.sqrt(1 - x * x);
  temp = x > 0.7 ? Math.PI / 2 - satan(temp / x) : satan(x / temp);
  return sign ? -temp : temp;
}

/** Go's math.Acos. */
export function goAcos(x: number): number {
  return Math.PI / 2 - goAsin(x);
}

/** Go's math.Tan (arguments below 2^29; larger ones fall back to V8). */
export function goTan(x: number): number {
  if (x === 0 || Number.isNaN(x)) return x;
  if (!Number.isFinite(x)) return NaN;
  let sign = false;
  if (x < 0) {
    x = -x;
    sign = true;
  }
  if (x >= 2 ** 29) return sign ? -Math.tan(x) : Math.tan(x);
  const PI4A = 7.85398125648498535156e-1, PI4B = 3.77489470793079817668e-8;
  const PI4C = 2.69515142907905952645e-15;
  let j = Math.trunc(x * (4 / Math.PI));
  let y = j;
  if (j % 2 === 1) {
    j++;
    y++;
  }
  const z = ((x - y * PI4A) - y * PI4B) - y * PI4C;
  const zz = z * z;
  if (zz > 1e-14) {
    y = z + z * (zz * ((-1.30936939181383777646e4 * zz + 1.15351664838587416140e6) * zz +
          -1.79565251976484877988e7) /
          ((((zz + 1.36812963470692954678e4) * zz + -1.32089234440210967447e6) * zz +
                2.50083801823357915839e7) * zz + -5.38695755929454629881e7));
  } else y = z;
  if ((j & 2) === 2) y = -1 / y;
  return sign ? -y : y;
}

// Cephes' sin and cos polynomials, as Go's math/sin.go has them.
const SIN = [
  1.58962301576546568060e-10,
  -2.50507477628578072866e-8,
  2.75573136213857245213e-6,
  -1.98412698295895385996e-4,
  8.33333333332211858878e-3,
  -1.66666666666666307295e-1,
];
const COS = [
  -1.13585365213876817300e-11,
  2.08757008419747316778e-9,
  -2.75573141792967388112e-7,
  2.48015872888517045348e-5,
  -1.38888888888730564116e-3,
  4.16666666666665929218e-2,
];

/**
 * Go's octant reduction for sin and cos (arguments below 2^29): the octant j (even, mod 8) and
 * the remainder z, in Go's extended-precision steps.
 */
function trigOctant(x: number): [number, number] {
  const PI4A = 7.85398125648498535156e-1, PI4B = 3.77489470793079817668e-8;
  const PI4C = 2.69515142907905952645e-15;
  let j = Math.trunc(x * (4 / Math.PI));
  let y = j;
  if (j % 2 === 1) {
    j++;
    y++;
  }
  return [j & 7, ((x - y * PI4A) - y * PI4B) - y * PI4C];
}

function sinPoly(z: number, zz: number): number {
  return z + z * zz * ((((((SIN[0] * zz) + SIN[1]) * zz + SIN[2]) * zz + SIN[3]) * zz + SIN[4]) *
          zz + SIN[5]);
}

function cosPoly(zz: number): number {
  return 1.0 - 0.5 * zz +
    zz * zz * ((((((COS[0] * zz) + COS[1]) * zz + COS[2]) * zz + COS[3]) * zz + COS[4]) * zz +
        COS[5]);
}

/** Go's math.Cos (arguments below 2^29; larger ones fall back to V8). */
export function goCos(x: number): number {
  if (!Number.isFinite(x)) return NaN;
  x = Math.abs(x);
  if (x >= 2 ** 29) return Math.cos(x);
  let [j, z] = trigOctant(x);
  let sign = false;
  if (j > 3) {
    j -= 4;
    sign = !sign;
  }
  if (j > 1) sign = !sign;
  const zz = z * z;
  const y = j === 1 || j === 2 ? sinPoly(z, zz) : cosPoly(zz);
  return sign ? -y : y;
}

/** Go's math.Sin (arguments below 2^29; larger ones fall back to V8). */
export function goSin(x: number): number {
  if (x === 0 || Number.isNaN(x)) return x;
  if (!Number.isFinite(x)) return NaN;
  let sign = false;
  if (x < 0) {
    x = -x;
    sign = true;
  }
  if (x >= 2 ** 29) return sign ? -Math.sin(x) : Math.sin(x);
  let [j, z] = trigOctant(x);
  if (j > 3) {
    sign = !sign;
    j -= 4;
  }
  const zz = z * z;
  const y = j === 1 || j === 2 ? cosPoly(zz) : sinPoly(z, zz);
  return sign ? -y : y;
}

/** Frexp: x = frac * 2^exp with frac in [0.5, 1), for finite positive x. */
function frexp(x: number): [number, number] {
  let exp = Math.floor(Math.log2(x)) + 1;
  let frac = x / 2 ** exp;
  if (frac >= 1) {
    frac /= 2;
    exp++;
  } else if (frac < 0.5) {
    frac *= 2;
    exp--;
  }
  return [frac, exp];
}

/** Go's math.Log (FreeBSD's e_log.c, as Go ports it). */
export function goLog(x: number): number {
  if (Number.isNaN(x) || x === Infinity) return x;
  if (x < 0) return NaN;
  if (x === 0) return -Infinity;
  if (x < 2 ** -1020) return Math.log(x); // subnormal: frexp below is not exact there
  const Ln2Hi = 6.93147180369123816490e-01, Ln2Lo = 1.90821492927058770002e-10;
  const L1 = 6.666666666666735130e-01, L2 = 3.999999999940941908e-01;
  const L3 = 2.857142874366239149e-01, L4 = 2.222219843214978396e-01;
  const L5 = 1.818357216161805012e-01, L6 = 1.531383769920937332e-01;
  const L7 = 1.479819860511658591e-01;
  let [f1, ki] = frexp(x);
  if (f1 < Math.SQRT2 / 2) {
    f1 *= 2;
    ki--;
  }
  const f = f1 - 1;
  const k = ki;
  const s = f / (2 + f);
  const s2 = s * s;
  const s4 = s2 * s2;
  const t1 = s2 * (L1 + s4 * (L3 + s4 * (L5 + s4 * L7)));
  const t2 = s4 * (L2 + s4 * (L4 + s4 * L6));
  const R = t1 + t2;
  const hfsq = 0.5 * f * f;
  return k * Ln2Hi - ((hfsq - (s * (hfsq + R) + k * Ln2Lo)) - f);
}

/** Go's math.Log10: log(x) * (1/ln 10), the constant rounded once (Go folds it exactly). */
export function goLog10(x: number): number {
  return goLog(x) * Math.LOG10E;
}

/** Go's math.Log2: exact for powers of two, else log(frac) / ln 2 + exp. */
export function goLog2(x: number): number {
  if (!(x > 0) || !Number.isFinite(x) || x < 2 ** -1020) return Math.log2(x);
  const [frac, exp] = frexp(x);
  if (frac === 0.5) return exp - 1;
  return goLog(frac) * Math.LOG2E + exp;
}

register(
  integral("abs", Math.abs),
  unary("acos", goAcos),
  unary("asin", goAsin),
  unary("atan", goAtan),
  binary("atan2", Math.atan2),
  integral("ceil", Math.ceil),
  unary("cos", goCos),
  unary("exp", Math.exp),
  integral("floor", Math.floor),
  unary("ln", goLog),
  binary("log", (x, b) => goLog(x) / goLog(b)),
  unary("log2", goLog2),
  unary("log10", goLog10),
  binary("pow", Math.pow),
  integral("round", goRound),
  unary("sin", goSin),
  unary("sqrt", Math.sqrt),
  unary("tan", goTan),
);
