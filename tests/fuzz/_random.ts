/**
 * Random access to a fuzzer's inputs: input `i` of seed `s` is generated from a random source
 * seeded by `(s, i)` alone, so any input can be made again without the ones before it (a hang
 * found at input 734,112 is rebuilt from its number, and a run can be split between workers).
 * @module
 */
import fc from "fast-check";

/**
 * A 32-bit SplitMix generator in the shape fast-check's `Random` wraps (pure-rand's
 * `RandomGenerator`: `next` gives a signed 32-bit integer, `clone` an independent copy).
 */
class SplitMix32 {
  #state: number;
  constructor(state: number) {
    this.#state = state | 0;
  }
  clone(): SplitMix32 {
    return new SplitMix32(this.#state);
  }
  next(): number {
    let z = (this.#state = (this.#state + 0x9e3779b9) | 0);
    z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
    z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
    return (z ^ (z >>> 15)) | 0;
  }
  getState(): number[] {
    return [this.#state];
  }
}

/** Mixes a run's seed and an input's number into one 32-bit state. */
function mix(seed: number, index: number): number {
  let h = Math.imul(seed ^ 0x5bd1e995, 0x27d4eb2f) ^ index;
  h = Math.imul(h ^ (h >>> 15), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  h ^= Math.floor(index / 0x100000000); // indexes past 2^32 stay distinct
  return h ^ (h >>> 16);
}

/**
 * Input `index` of `seed`: the arbitrary's value for that pair. Every other input leans on
 * fast-check's bias (small sizes, edge values); the rest are drawn unbiased.
 */
export function inputAt<T>(arbitrary: fc.Arbitrary<T>, seed: number, index: number): T {
  const random = new fc.Random(new SplitMix32(mix(seed, index)));
  return arbitrary.generate(random, index % 2 === 0 ? 4 : undefined).value;
}

/** A small deterministic source of integers for targets that split or pick by input. */
export function hashBytes(bytes: Uint8Array): number {
  let h = 0x811c9dc5 | 0;
  const step = bytes.length > 4096 ? Math.ceil(bytes.length / 4096) : 1;
  for (let i = 0; i < bytes.length; i += step) h = Math.imul(h ^ bytes[i], 0x01000193);
  return (h ^ bytes.length) >>> 0;
}

/**
 * `arbitrary`'s value once in `oneIn` draws, else null. (fast-check's `fc.option(a, { freq })`
 * is the other way round: null once in `freq`.)
 */
export function rarely<T>(arbitrary: fc.Arbitrary<T>, oneIn: number): fc.Arbitrary<T | null> {
  return fc.oneof(
    { weight: oneIn - 1, arbitrary: fc.constant(null) },
    { weight: 1, arbitrary },
  );
}
