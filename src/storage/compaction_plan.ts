/**
 * The compaction plan, pure: which segments of a shard to merge next. Segments are ordered by
 * generation; a merge takes a run of `fanout` adjacent segments of the same level and writes one
 * segment of the next level covering their generation range, so generation order (which decides
 * the last write at equal timestamps) is kept: no other segment's generations fall inside it.
 * @module
 */

/** What the plan needs to know of a segment. */
export interface PlannedSegment {
  minGen: number;
  maxGen: number;
  level: number;
}

/** One merge: the inputs (adjacent, oldest first) and the output level. */
export interface CompactionStep<S extends PlannedSegment> {
  inputs: S[];
  level: number;
}

/** Options of {@linkcode planCompaction}. */
export interface PlanOptions {
  /** Segments of one level merged at once. @default {4} */
  fanout?: number;
  /** No merge produces a level above this. @default {5} */
  maxLevel?: number;
}

/**
 * The merges to run now, lowest level first, never sharing an input.
 * @example
 * ```ts
 * planCompaction([0, 1, 2, 3].map((g) => ({ minGen: g, maxGen: g, level: 0 })));
 * // [{ inputs: [all four], level: 1 }]
 * ```
 */
export function planCompaction<S extends PlannedSegment>(
  segments: readonly S[],
  options: PlanOptions = {},
): CompactionStep<S>[] {
  const fanout = options.fanout ?? 4;
  const maxLevel = options.maxLevel ?? 5;
  if (fanout < 2) throw new Error(`BUG: compaction fanout ${fanout} < 2`);
  const sorted = [...segments].sort((a, b) => a.minGen - b.minGen);
  const steps: CompactionStep<S>[] = [];
  let i = 0;
  while (i < sorted.length) {
    const level = sorted[i].level;
    let j = i;
    while (j < sorted.length && sorted[j].level === level) j++;
    // sorted[i .. j) is a run of one level; merge it in chunks of `fanout`.
    if (level < maxLevel) {
      for (let k = i; k + fanout <= j; k += fanout) {
        steps.push({ inputs: sorted.slice(k, k + fanout), level: level + 1 });
      }
    }
    i = j;
  }
  return steps.sort((a, b) => a.level - b.level);
}

/**
 * Segments made obsolete by a merge whose inputs were not all deleted (a crash between writing
 * the output and removing the inputs): those whose generation range lies inside another's
 * range of a higher level.
 */
export function obsoleteSegments<S extends PlannedSegment>(segments: readonly S[]): S[] {
  return segments.filter((s) =>
    segments.some((o) =>
      o !== s && o.level > s.level && o.minGen <= s.minGen && s.maxGen <= o.maxGen
    )
  );
}

/** What {@linkcode CpuBudget} needs: a monotonic clock and a way to wait. */
export interface BudgetTime {
  /** Monotonic milliseconds. */
  monotonicMs(): number;
  /** Resolves after `ms` milliseconds (0: after one turn of the event loop). */
  sleep(ms: number): Promise<void>;
}

/**
 * A share of one CPU for background work: the work runs in slices of about `sliceMs`; after
 * each, {@linkcode pause} sleeps `busy × (1 − share) / share`, so over time the work holds the
 * event loop at most `share` of the wall time (a slice's time includes the IO it awaited, so the
 * CPU used is at most that). A share of 1 only gives the event loop a turn between slices.
 * @example
 * ```ts
 * const budget = new CpuBudget(time, { share: 0.25 });
 * for (const item of work) {
 *   step(item);
 *   if (budget.due()) await budget.pause();
 * }
 * ```
 */
export class CpuBudget {
  readonly #time: BudgetTime;
  readonly #share: number;
  readonly #sliceMs: number;
  #sliceStart: number;
  /** Milliseconds spent in slices so far. */
  busyMs = 0;
  /** Milliseconds slept so far. */
  sleptMs = 0;

  /**
   * @param options.share the share of the wall time the work may use, in (0, 1].
   * @param options.sliceMs work between two pauses. @default {10}
   * @throws {RangeError} for a share outside (0, 1].
   */
  constructor(time: BudgetTime, options: { share: number; sliceMs?: number }) {
    if (!(options.share > 0 && options.share <= 1)) {
      throw new RangeError(`CPU share must be in (0, 1], got ${options.share}`);
    }
    this.#time = time;
    this.#share = options.share;
    this.#sliceMs = options.sliceMs ?? 10;
    this.#sliceStart = time.monotonicMs();
  }

  /** True when the current slice has run its length. */
  due(): boolean {
    return this.#time.monotonicMs() - this.#sliceStart >= this.#sliceMs;
  }

  /** Ends the slice: sleeps in proportion to its length, then starts the next. */
  async pause(): Promise<void> {
    const busy = Math.max(0, this.#time.monotonicMs() - this.#sliceStart);
    const rest = busy * (1 - this.#share) / this.#share;
    this.busyMs += busy;
    this.sleptMs += rest;
    await this.#time.sleep(rest);
    this.#sliceStart = this.#time.monotonicMs();
  }
}
