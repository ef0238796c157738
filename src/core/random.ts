/**
 * A small, fast, seeded pseudo-random generator (mulberry32): floats in [0, 1). The same seed gives the same
 * sequence, so a random test, crash run or benchmark workload can be repeated from its printed seed.
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
