/**
 * The real {@linkcode Clock} and {@linkcode Rng}: the only place that reads the wall clock or
 * Math.random.
 * @module
 */
import type { Clock, Logger, Rng } from "../core/mod.ts";

/** The machine's clock. */
export const systemClock: Clock = {
  nowMs: () => Date.now(),
  nowNanos: () => {
    // performance.timeOrigin + now() carries sub-millisecond digits of the wall clock.
    const ms = performance.timeOrigin + performance.now();
    const whole = Math.floor(ms);
    return BigInt(whole) * 1_000_000n + BigInt(Math.floor((ms - whole) * 1e6));
  },
  monotonicMs: () => performance.now(),
};

/**
 * Runs `fn` once after `ms` without keeping the process alive for it (a log summary, not work
 * that must happen before exit).
 */
export function backgroundTimeout(fn: () => void, ms: number): void {
  Deno.unrefTimer(setTimeout(fn, ms));
}

/** Math.random as an {@linkcode Rng}. */
export const systemRng: Rng = { next: () => Math.random() };

const LEVELS = { debug: 0, info: 1, warn: 2, error: 3 } as const;

/**
 * A logger that writes one line per event to stderr: `time level message key=value ...`,
 * dropping events below `minLevel`.
 */
export function consoleLogger(minLevel: keyof typeof LEVELS = "info"): Logger {
  const line = (level: keyof typeof LEVELS, message: string, fields?: Record<string, unknown>) => {
    if (LEVELS[level] < LEVELS[minLevel]) return;
    let text = `${new Date().toISOString()} ${level} ${message}`;
    if (fields) {
      for (const [k, v] of Object.entries(fields)) text += ` ${k}=${JSON.stringify(v)}`;
    }
    console.error(text);
  };
  return {
    info: (m, f) => line("info", m, f),
    warn: (m, f) => line("warn", m, f),
    error: (m, f) => line("error", m, f),
  };
}

/** A new random identifier (UUID v4), for a new cluster. */
export function randomUuid(): string {
  return crypto.randomUUID();
}

/** This machine's host name, to advertise an address bound to every interface. */
export function hostName(): string {
  return Deno.hostname();
}
