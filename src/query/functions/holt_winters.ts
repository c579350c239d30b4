/**
 * holt_winters(agg, N, S) and holt_winters_with_fit(agg, N, S): the Holt-Winters damped
 * (seasonal when S >= 2) forecast of N buckets past the data, its parameters fitted by the
 * Nelder-Mead simplex method from a grid of starting guesses — step for step as InfluxDB 1.6's
 * FloatHoltWintersReducer and its neldermead package (Michael F. Hutt's formulation), so the
 * forecasts match to the bit. Note that, as there, the objective mutates the vertex it is given
 * (parameters are clamped to [0, 1] and the seasonal ring is written in place): the optimizer's
 * path depends on it.
 *
 * @module
 */
import { ValidationError } from "../../core/errors.ts";
import type { Call } from "../ast.ts";
import {
  checkArity,
  register,
  type Sequence,
  type TransformContext,
  type TransformFunction,
} from "./registry.ts";

interface HwParams {
  h: number;
  m: number;
  intervalMs: number;
}

/** Go's math.Pow for a positive integer exponent (mantissa squaring, as Go computes it). */
export function goPowInt(x: number, n: number): number {
  if (n === 0 || x === 1) return 1;
  if (n === 1) return x;
  if (x === 0 || !Number.isFinite(x)) return Math.pow(x, n);
  // Frexp: x = x1 * 2^xe, |x1| in [0.5, 1).
  let xe = Math.floor(Math.log2(Math.abs(x))) + 1;
  let x1 = x / 2 ** xe;
  if (Math.abs(x1) >= 1) {
    x1 /= 2;
    xe++;
  } else if (Math.abs(x1) < 0.5) {
    x1 *= 2;
    xe--;
  }
  let a1 = 1;
  let ae = 0;
  for (let i = n; i !== 0; i = Math.floor(i / 2)) {
    if (xe < -(1 << 12) || (1 << 12) < xe) {
      ae += xe;
      break;
    }
    if (i % 2 === 1) {
      a1 *= x1;
      ae += xe;
    }
    x1 *= x1;
    xe *= 2;
    if (x1 < 0.5) {
      x1 += x1;
      xe--;
    }
  }
  return a1 * 2 ** ae;
}

/**
 * `goPowInt(x, t)` for t = 0 .. length-1 at once, equal to the bit, one multiplication per t.
 * Go's Pow multiplies, in increasing bit order, the squares x^(2^k) (mantissa and exponent
 * apart) that the set bits of t select; so the product for t is the product for t without its
 * top bit times one more square. (The fit evaluates ~30,000 forecasts of n points; one Pow per
 * point, each redoing frexp and every squaring, was 87% of holt_winters' time.) The buffers are
 * reused across forecasts of one series.
 */
export class GoPowSeries {
  readonly powers: Float64Array;
  readonly #mant: Float64Array;
  readonly #exp: Float64Array;
  readonly #squareMant = new Float64Array(32);
  readonly #squareExp = new Float64Array(32);

  constructor(length: number) {
    this.powers = new Float64Array(length);
    this.#mant = new Float64Array(length);
    this.#exp = new Float64Array(length);
  }

  /** Fills and returns `powers` with x^t as Go's math.Pow computes it. */
  fill(x: number): Float64Array {
    const p = this.powers, n = p.length;
    if (n === 0) return p;
    if (x === 1) return p.fill(1);
    p[0] = 1;
    if (n > 1) p[1] = x;
    if (x === 0 || !Number.isFinite(x)) {
      for (let t = 2; t < n; t++) p[t] = Math.pow(x, t);
      return p;
    }
    // The squares before each step k, up to the first whose exponent is out of Go's range
    // (there Pow stops multiplying and only adds that exponent).
    const sm = this.#squareMant, se = this.#squareExp;
    let xe = Math.floor(Math.log2(Math.abs(x))) + 1;
    let x1 = x / 2 ** xe;
    if (Math.abs(x1) >= 1) {
      x1 /= 2;
      xe++;
    } else if (Math.abs(x1) < 0.5) {
      x1 *= 2;
      xe--;
    }
    let stop = 32;
    for (let k = 0; k < 32; k++) {
      sm[k] = x1;
      se[k] = xe;
      if (xe < -(1 << 12) || (1 << 12) < xe) {
        stop = k;
        break;
      }
      x1 *= x1;
      xe *= 2;
      if (x1 < 0.5) {
        x1 += x1;
        xe--;
      }
    }
    const mant = this.#mant, exp = this.#exp;
    mant[0] = 1;
    exp[0] = 0;
    const below = stop >= 31 ? 0x7fffffff : (1 << stop) - 1;
    for (let t = 1; t < n; t++) {
      const top = 31 - Math.clz32(t);
      let a1: number, ae: number;
      if (top < stop) {
        const low = t - (1 << top);
        a1 = mant[t] = mant[low] * sm[top];
        ae = exp[t] = exp[low] + se[top];
      } else {
        const low = t & below;
        a1 = mant[low];
        ae = exp[low] + se[stop];
      }
      if (t > 1) p[t] = a1 * (ae >= -POW2_BIAS && ae <= POW2_BIAS ? POW2[ae + POW2_BIAS] : 2 ** ae);
    }
    return p;
  }
}

/** 2 ** e for every e whose power is neither 0 nor Infinity: one load instead of a pow call. */
const POW2_BIAS = 1100;
const POW2 = Float64Array.from({ length: 2 * POW2_BIAS + 1 }, (_, i) => 2 ** (i - POW2_BIAS));

/**
 * The Nelder-Mead simplex minimisation (1000 iterations, reflection 1, contraction 0.5,
 * expansion 2). A generator that yields after each iteration, so a caller can let other work
 * run during a long fit.
 */
function* nelderMead(
  objective: (x: number[]) => number,
  start: number[],
  epsilon: number,
  scale: number,
): Generator<void, [number, number[]], void> {
  const n = start.length;
  const v = Array.from({ length: n + 1 }, () => new Array<number>(n).fill(0));
  const f = new Array<number>(n + 1).fill(0);
  const vr = new Array<number>(n).fill(0);
  const ve = new Array<number>(n).fill(0);
  const vc = new Array<number>(n).fill(0);
  const vm = new Array<number>(n).fill(0);
  const pn = scale * (Math.sqrt(n + 1) - 1 + n) / (n * Math.sqrt(2));
  const qn = scale * (Math.sqrt(n + 1) - 1) / (n * Math.sqrt(2));
  for (let i = 0; i < n; i++) v[0][i] = start[i];
  for (let i = 1; i <= n; i++) {
    for (let j = 0; j < n; j++) v[i][j] = (i - 1 === j ? pn : qn) + start[j];
  }
  for (let j = 0; j <= n; j++) f[j] = objective(v[j]);
  for (let itr = 1; itr <= 1000; itr++) {
    if (itr > 1) yield;
    let vg = 0, vs = 0;
    for (let i = 0; i <= n; i++) {
      if (f[i] > f[vg]) vg = i;
      if (f[i] < f[vs]) vs = i;
    }
    let vh = vs;
    for (let i = 0; i <= n; i++) if (f[i] > f[vh] && f[i] < f[vg]) vh = i;
    for (let i = 0; i < n; i++) {
      let cent = 0;
      for (let m = 0; m <= n; m++) if (m !== vg) cent += v[m][i];
      vm[i] = cent / n;
    }
    for (let i = 0; i < n; i++) vr[i] = vm[i] + 1 * (vm[i] - v[vg][i]);
    const fr = objective(vr);
    if (fr < f[vh] && fr >= f[vs]) {
      for (let i = 0; i < n; i++) v[vg][i] = vr[i];
      f[vg] = fr;
    }
    if (fr < f[vs]) {
      for (let i = 0; i < n; i++) ve[i] = vm[i] + 2 * (vr[i] - vm[i]);
      const fe = objective(ve);
      if (fe < fr) {
        for (let i = 0; i < n; i++) v[vg][i] = ve[i];
        f[vg] = fe;
      } else {
        for (let i = 0; i < n; i++) v[vg][i] = vr[i];
        f[vg] = fr;
      }
    }
    if (fr >= f[vh]) {
      if (fr < f[vg] && fr >= f[vh]) {
        for (let i = 0; i < n; i++) vc[i] = vm[i] + 0.5 * (vr[i] - vm[i]);
      } else {
        for (let i = 0; i < n; i++) vc[i] = vm[i] - 0.5 * (vm[i] - v[vg][i]);
      }
      const fc = objective(vc);
      if (fc < f[vg]) {
        for (let i = 0; i < n; i++) v[vg][i] = vc[i];
        f[vg] = fc;
      } else {
        for (let row = 0; row <= n; row++) {
          if (row === vs) continue;
          for (let i = 0; i < n; i++) v[row][i] = v[vs][i] + (v[row][i] - v[vs][i]) / 2;
        }
        f[vg] = objective(v[vg]);
        f[vh] = objective(v[vh]);
      }
    }
    let fsum = 0;
    for (let i = 0; i <= n; i++) fsum += f[i];
    const favg = fsum / (n + 1);
    let s = 0;
    for (let i = 0; i <= n; i++) s += goPowInt(f[i] - favg, 2) / n;
    s = Math.sqrt(s);
    if (s < epsilon) break;
  }
  let vs = 0;
  for (let i = 0; i <= n; i++) if (f[i] < f[vs]) vs = i;
  const best = v[vs].slice();
  return [objective(v[vs]), best];
}

function clamp01(x: number[]): void {
  for (let i = 0; i < 4; i++) {
    if (x[i] > 1) x[i] = 1;
    if (x[i] < 0) x[i] = 0;
  }
}

/** The forecast of `y` extended by `h` points, with parameters `p` (mutated as Go does). */
function forecast(
  y: number[],
  seasonal: boolean,
  h: number,
  p: number[],
  powers: GoPowSeries = new GoPowSeries(y.length + h),
): number[] {
  clamp01(p);
  let yT = y[0];
  const phi = p[3];
  let phiH = phi;
  let lT = p[4];
  let bT = p[5];
  let m = 0, so = 0;
  if (seasonal) {
    m = p.length - 6;
    if (m === 1) p[6] = 1;
    so = m - 1;
  }
  const out = new Array<number>(y.length + h);
  out[0] = yT;
  const l = y.length;
  let stm = 1, stmh = 1;
  const [alpha, beta, gamma] = p;
  const phiPow = powers.fill(phi);
  for (let t = 1; t < l + h; t++) {
    if (seasonal) {
      const hm = t % m;
      stm = p[6 + (t - m + so) % m];
      stmh = p[6 + (t - m + hm + so) % m];
    }
    const lTp = lT, bTp = bT;
    lT = alpha * (yT / stm) + (1 - alpha) * (lTp + phi * bTp);
    bT = beta * (lT - lTp) + (1 - beta) * phi * bTp;
    const sT = gamma * (yT / (lTp + phi * bTp)) + (1 - gamma) * stm;
    yT = (lT + phiH * bT) * stmh;
    phiH += phiPow[t];
    if (seasonal) {
      p[6 + (t + so) % m] = sT;
      so++;
    }
    out[t] = yT;
  }
  return out;
}

/** The forecast (or fit and forecast) of a series, in steps (see {@linkcode nelderMead}). */
function* holtWinters(
  s: Sequence,
  params: HwParams,
  withFit: boolean,
): Generator<void, Sequence, void> {
  const out: Sequence = { ms: [], subMs: [], values: [] };
  const { h, m } = params;
  const interval = params.intervalMs;
  const seasonal = m >= 2;
  const n = s.values.length;
  if (n < 2 || (seasonal && n < m) || h <= 0) return out;
  const half = Math.trunc(interval / 2);
  const round = (t: number) => {
    const rem = t % interval;
    return rem > half
      ? (Math.trunc(t / interval) + 1) * interval
      : Math.trunc(t / interval) * interval;
  };
  const start = round(s.ms[0]), stop = round(s.ms[n - 1]);
  if ((stop - start) / interval <= 0) return out;
  const y: number[] = [Number(s.values[0])];
  let t = start;
  for (let i = 1; i < n; i++) {
    const rounded = round(s.ms[i]);
    if (rounded <= t) continue;
    t += interval;
    while (rounded !== t) {
      y.push(NaN);
      t += interval;
    }
    y.push(Number(s.values[i]));
  }
  let l0 = 0;
  if (seasonal) {
    for (let i = 0; i < m; i++) if (!Number.isNaN(y[i])) l0 += (1 / m) * y[i];
  } else l0 += 0.5 * y[0];
  let b0 = 0;
  if (seasonal) {
    for (let i = 0; i < m && m + i < y.length; i++) {
      if (!Number.isNaN(y[i]) && !Number.isNaN(y[m + i])) b0 += 1 / (m * m) * (y[m + i] - y[i]);
    }
  } else if (!Number.isNaN(y[1])) b0 = 0.5 * (y[1] - y[0]);
  const season: number[] = [];
  if (seasonal) { for (let i = 0; i < m; i++) season.push(Number.isNaN(y[i]) ? 0 : y[i] / l0); }
  const start6 = [0, 0, 0, 0, l0, b0, ...season];
  const powers = new GoPowSeries(y.length);
  const sse = (p: number[]) => {
    const f = forecast(y, seasonal, 0, p, powers);
    let acc = 0;
    for (let i = 0; i < f.length; i++) {
      if (Number.isNaN(y[i])) continue;
      if (Number.isNaN(f[i])) return Infinity;
      const d = f[i] - y[i];
      acc += d * d;
    }
    return acc;
  };
  let minSSE = Infinity;
  let best: number[] | undefined;
  for (let alpha = 0.3; alpha < 1; alpha += 0.4) {
    for (let beta = 0.3; beta < 1; beta += 0.4) {
      for (let gamma = 0.3; gamma < 1; gamma += 0.4) {
        for (let phi = 0.3; phi < 1; phi += 0.4) {
          start6[0] = alpha, start6[1] = beta, start6[2] = gamma, start6[3] = phi;
          const [e, p] = yield* nelderMead(sse, start6, 1e-4, 1);
          if (e < minSSE || best === undefined) {
            minSSE = e;
            best = p;
          }
        }
      }
    }
  }
  const f = forecast(y, seasonal, h, best!);
  if (withFit) {
    for (let i = 0; i < f.length; i++) {
      if (Number.isNaN(f[i])) continue;
      out.ms.push(s.ms[0] + interval * i);
      out.subMs.push(s.subMs[0]);
      out.values.push(f[i]);
    }
  } else {
    for (let i = y.length; i < f.length; i++) {
      if (Number.isNaN(f[i])) continue;
      out.ms.push(s.ms[n - 1] + interval * (i - y.length + 1));
      out.subMs.push(s.subMs[n - 1]);
      out.values.push(f[i]);
    }
  }
  return out;
}

function holtWintersFunction(name: string, withFit: boolean): TransformFunction<HwParams> {
  return {
    kind: "transform",
    name,
    newTimes: true,
    parseArgs(call: Call, ctx: TransformContext) {
      checkArity(call, 3);
      const [, hArg, mArg] = call.args;
      if (hArg.kind !== "integer") {
        throw new ValidationError(`expected integer argument as second arg in ${name}`);
      }
      if (mArg.kind !== "integer") {
        throw new ValidationError(`expected integer argument as third arg in ${name}`);
      }
      const h = Number(hArg.value), m = Number(mArg.value);
      if (h <= 0) {
        throw new ValidationError(`second arg to ${name} must be greater than 0, got ${h}`);
      }
      if (m < 0) throw new ValidationError(`third arg to ${name} cannot be negative, got ${m}`);
      return { h, m, intervalMs: ctx.intervalNs / 1e6 };
    },
    apply(s, p) {
      const steps = holtWinters(s, p, withFit);
      for (;;) {
        const next = steps.next();
        if (next.done) return next.value;
      }
    },
    steps: (s, p) => holtWinters(s, p, withFit),
  };
}

register(
  holtWintersFunction("holt_winters", false),
  holtWintersFunction("holt_winters_with_fit", true),
);
