/**
 * mulberry32: a tiny seeded generator of floats in [0, 1). Tests and benches use it where the
 * same seed must give the same data in every run (crash cuts, election jitter, codec inputs),
 * and one copy keeps them all drawing the same sequence.
 * @module
 */

/** A generator of floats in [0, 1) from a 32-bit seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
