/**
 * Technical analysis transformations, as InfluxDB 1.6 computes them (its query/internal/gota
 * package): exponential_moving_average, double_exponential_moving_average,
 * triple_exponential_moving_average, relative_strength_index, triple_exponential_derivative,
 * kaufmans_efficiency_ratio, kaufmans_adaptive_moving_average, chande_momentum_oscillator.
 *
 * Every function reads `(field, period[, hold_period[, warmup_type]])`; a point is emitted once
 * more than `hold_period` points were seen (default: the algorithm's warm-up count). Warm-up
 * types: `exponential` (EMA from the first point, its alpha scaled during warm-up), `simple`
 * (a simple average until warm) and, for chande_momentum_oscillator only, `none` (the
 * unsmoothed oscillator, its default).
 *
 * @module
 */
import { ValidationError } from "../../core/errors.ts";
import type { Call } from "../ast.ts";
import { checkArity, register, type Sequence, type TransformFunction } from "./registry.ts";

type Warmup = "exponential" | "simple" | "none";

/** One streaming algorithm: add a value, get the current output. */
interface Algorithm {
  add(v: number): number;
  warmCount(): number;
}

/** An exponential moving average with InfluxDB's warm-up rules. */
class Ema implements Algorithm {
  last = 0;
  count = 0;
  alpha: number;
  constructor(readonly period: number, readonly warm: Warmup) {
    this.alpha = 2 / (period + 1);
  }
  warmCount(): number {
    return this.period - 1;
  }
  warmed(): boolean {
    return this.count === this.period;
  }
  add(v: number): number {
    let avg: number;
    if (this.count === 0) avg = v;
    else if (!this.warmed()) {
      avg = this.warm === "simple"
        ? (this.last * this.count + v) / (this.count + 1)
        : (v - this.last) * (2 / (this.count + 2)) + this.last;
    } else avg = (v - this.last) * this.alpha + this.last;
    this.last = avg;
    if (this.count < this.period) this.count++;
    return avg;
  }
}

class Dema implements Algorithm {
  e1: Ema;
  e2: Ema;
  constructor(period: number, warm: Warmup) {
    this.e1 = new Ema(period, warm);
    this.e2 = new Ema(period, warm);
  }
  warmCount(): number {
    return this.e1.warm === "exponential"
      ? this.e1.warmCount()
      : this.e1.warmCount() + this.e2.warmCount();
  }
  add(v: number): number {
    const a1 = this.e1.add(v);
    const a2 = this.e1.warmed() || this.e1.warm === "exponential" ? this.e2.add(a1) : a1;
    return 2 * a1 - a2;
  }
}

class Tema implements Algorithm {
  e1: Ema;
  e2: Ema;
  e3: Ema;
  constructor(period: number, warm: Warmup) {
    this.e1 = new Ema(period, warm);
    this.e2 = new Ema(period, warm);
    this.e3 = new Ema(period, warm);
  }
  warmCount(): number {
    return this.e1.warm === "exponential"
      ? this.e1.warmCount()
      : this.e1.warmCount() + this.e2.warmCount() + this.e3.warmCount();
  }
  add(v: number): number {
    const a1 = this.e1.add(v);
    const a2 = this.e1.warmed() || this.e1.warm === "exponential" ? this.e2.add(a1) : a1;
    const a3 = this.e2.warmed() || this.e2.warm === "exponential" ? this.e3.add(a2) : a2;
    return 3 * a1 - 3 * a2 + a3;
  }
}

/** Up and down moves smoothed by EMAs of alpha 1/period (RSI, and smoothed CMO). */
class UpDown {
  up: Ema;
  down: Ema;
  lastV = 0;
  constructor(period: number, warm: Warmup) {
    this.up = new Ema(period + 1, warm);
    this.up.alpha = 1 / period;
    this.down = new Ema(period + 1, warm);
    this.down.alpha = 1 / period;
  }
  step(v: number): void {
    let up = 0, down = 0;
    if (v > this.lastV) up = v - this.lastV;
    else if (v < this.lastV) down = this.lastV - v;
    this.up.add(up);
    this.down.add(down);
    this.lastV = v;
  }
}

class Rsi implements Algorithm {
  ud: UpDown;
  constructor(period: number, warm: Warmup) {
    this.ud = new UpDown(period, warm);
  }
  warmCount(): number {
    return this.ud.up.warmCount();
  }
  add(v: number): number {
    this.ud.step(v);
    return 100 - 100 / (1 + this.ud.up.last / this.ud.down.last);
  }
}

class SmoothedCmo implements Algorithm {
  ud: UpDown;
  constructor(period: number, warm: Warmup) {
    this.ud = new UpDown(period, warm);
  }
  warmCount(): number {
    return this.ud.up.warmCount();
  }
  add(v: number): number {
    this.ud.step(v);
    const up = this.ud.up.last, down = this.ud.down.last;
    return 100 * ((up - down) / (up + down));
  }
}

/** The unsmoothed Chande momentum oscillator over a ring of period-1 moves. */
class Cmo implements Algorithm {
  prices: Float64Array;
  diffs: Float64Array;
  sumUp = 0;
  sumDown = 0;
  count = 0;
  idx = 0;
  constructor(period: number) {
    this.prices = new Float64Array(period - 1);
    this.diffs = new Float64Array(period - 1);
  }
  warmCount(): number {
    return this.prices.length;
  }
  add(v: number): number {
    const n = this.prices.length;
    let oldest = this.idx + 1;
    if (oldest === n) oldest = 0;
    let diff = 0;
    if (this.count !== 0) {
      diff = v - this.prices[this.idx];
      if (diff > 0) this.sumUp += diff;
      else if (diff < 0) this.sumDown -= diff;
    }
    let out = 0;
    if (this.sumUp !== 0 || this.sumDown !== 0) {
      out = 100 * ((this.sumUp - this.sumDown) / (this.sumUp + this.sumDown));
    }
    const od = this.diffs[oldest];
    if (od > 0) this.sumUp -= od;
    else if (od < 0) this.sumDown += od;
    this.prices[oldest] = v;
    this.diffs[oldest] = diff;
    this.idx = oldest;
    if (this.count !== n + 2) this.count++;
    return out;
  }
}

/** Kaufman's efficiency ratio over a ring of `period` points. */
class Ker implements Algorithm {
  prices: Float64Array;
  diffs: Float64Array;
  noise = 0;
  count = 0;
  idx = 0;
  constructor(period: number) {
    this.prices = new Float64Array(period);
    this.diffs = new Float64Array(period);
  }
  warmCount(): number {
    return this.prices.length;
  }
  warmed(): boolean {
    return this.count === this.prices.length + 1;
  }
  add(v: number): number {
    const n = this.prices.length;
    let oldest = this.idx + 1;
    if (oldest >= n) oldest = 0;
    const signal = Math.abs(v - this.prices[oldest]);
    const diff = Math.abs(v - this.prices[this.idx]);
    this.noise -= this.diffs[oldest];
    this.noise += diff;
    const noise = this.noise;
    this.idx = oldest;
    this.prices[oldest] = v;
    this.diffs[oldest] = diff;
    if (!this.warmed()) this.count++;
    if (signal === 0 || noise === 0) return 0;
    return signal / noise;
  }
}

class Kama implements Algorithm {
  ker: Ker;
  last = 0;
  constructor(period: number) {
    this.ker = new Ker(period);
  }
  warmCount(): number {
    return this.ker.warmCount();
  }
  add(v: number): number {
    if (!this.ker.warmed()) this.last = this.ker.prices[this.ker.idx];
    const er = this.ker.add(v);
    // Go folds 2/3 - 2/31 exactly at compile time: 56/93, rounded once.
    const sc = Math.pow(er * (56 / 93) + 2 / 31, 2);
    this.last = this.last + sc * (v - this.last);
    return this.last;
  }
}

/** The triple exponential derivative: the rate of change of a triple EMA, in percent. */
class Trix implements Algorithm {
  e1: Ema;
  e2: Ema;
  e3: Ema;
  last = 0;
  count = 0;
  constructor(period: number, warm: Warmup) {
    this.e1 = new Ema(period, warm);
    this.e2 = new Ema(period, warm);
    this.e3 = new Ema(period, warm);
  }
  warmCount(): number {
    return this.e1.warm === "exponential" ? this.e1.warmCount() + 1 : this.e1.warmCount() * 3 + 1;
  }
  add(v: number): number {
    let cur = this.e1.add(v);
    if (this.e1.warmed() || this.e1.warm === "exponential") {
      cur = this.e2.add(cur);
      if (this.e2.warmed() || this.e2.warm === "exponential") cur = this.e3.add(cur);
    }
    const rate = (cur / this.last - 1) * 100;
    this.last = cur;
    if (this.count !== 2 && this.e3.warmed()) this.count++;
    return rate;
  }
}

interface Params {
  period: number;
  hold: number;
  warmup: Warmup;
}

function technical(
  name: string,
  options: { warmups: Warmup[]; defaultWarmup: Warmup; minPeriod: number; dropInf: boolean },
  make: (p: Params) => Algorithm,
): TransformFunction<Params> {
  const maxArgs = options.warmups.length > 1 ? 4 : 3;
  return {
    kind: "transform",
    name,
    extraBucket: true,
    parseArgs(call: Call) {
      checkArity(call, 2, maxArgs);
      const p = call.args[1];
      if (p.kind !== "integer") {
        throw new ValidationError(`${name} period must be an integer`);
      }
      const period = Number(p.value);
      if (period < options.minPeriod) {
        throw new ValidationError(
          `${name} period must be greater than or equal to ${options.minPeriod}`,
        );
      }
      let hold = -1;
      const h = call.args[2];
      if (h !== undefined) {
        if (h.kind !== "integer") {
          throw new ValidationError(`${name} hold period must be an integer`);
        }
        hold = Number(h.value);
        if (hold < -1) {
          throw new ValidationError(`${name} hold period must be greater than or equal to 0`);
        }
      }
      let warmup = options.defaultWarmup;
      const w = call.args[3];
      if (w !== undefined) {
        if (w.kind !== "string" || !options.warmups.includes(w.value as Warmup)) {
          throw new ValidationError(
            `${name} warmup type must be one of: ${options.warmups.map((x) => `'${x}'`).join(" ")}`,
          );
        }
        warmup = w.value as Warmup;
      }
      return { period, hold, warmup };
    },
    apply(s: Sequence, p: Params): Sequence {
      const alg = make(p);
      const hold = p.hold === -1 ? alg.warmCount() : p.hold;
      const out: Sequence = { ms: [], subMs: [], values: [] };
      for (let i = 0; i < s.values.length; i++) {
        const v = alg.add(Number(s.values[i]));
        if (i + 1 <= hold) continue;
        if (options.dropInf && (v === Infinity || v === -Infinity)) continue;
        out.ms.push(s.ms[i]);
        out.subMs.push(s.subMs[i]);
        out.values.push(v);
      }
      return out;
    },
  };
}

const EMA_WARMUPS: Warmup[] = ["exponential", "simple"];
const ema = { warmups: EMA_WARMUPS, defaultWarmup: "exponential" as Warmup, dropInf: false };

register(
  technical(
    "exponential_moving_average",
    { ...ema, minPeriod: 1 },
    (p) => new Ema(p.period, p.warmup),
  ),
  technical(
    "double_exponential_moving_average",
    { ...ema, minPeriod: 1 },
    (p) => new Dema(p.period, p.warmup),
  ),
  technical(
    "triple_exponential_moving_average",
    { ...ema, minPeriod: 1 },
    (p) => new Tema(p.period, p.warmup),
  ),
  technical(
    "relative_strength_index",
    { ...ema, minPeriod: 1 },
    (p) => new Rsi(p.period, p.warmup),
  ),
  technical(
    "triple_exponential_derivative",
    { ...ema, minPeriod: 1, dropInf: true },
    (p) => new Trix(p.period, p.warmup),
  ),
  technical(
    "kaufmans_efficiency_ratio",
    { warmups: [], defaultWarmup: "none", minPeriod: 1, dropInf: true },
    (p) => new Ker(p.period),
  ),
  technical(
    "kaufmans_adaptive_moving_average",
    { warmups: [], defaultWarmup: "none", minPeriod: 1, dropInf: true },
    (p) => new Kama(p.period),
  ),
  technical(
    "chande_momentum_oscillator",
    {
      warmups: ["none", "exponential", "simple"],
      defaultWarmup: "none",
      minPeriod: 1,
      dropInf: false,
    },
    (p) => (p.warmup === "none" ? new Cmo(p.period) : new SmoothedCmo(p.period, p.warmup)),
  ),
);
