/**
 * A seeded pseudo-random number generator for the sampler and the task generator.
 * @module
 */

/**
 * Mulberry32: a 32-bit-state PRNG returning floats in [0, 1). Small, fast and the same on every
 * platform, which is what reproducible sampling needs; not cryptographic. Written here because
 * tfjs-core exposes no stateful seeded generator for JS-side draws (its `seedrandom` is internal).
 *
 * @param seed any integer; equal seeds give equal streams.
 * @returns a function drawing the next number in [0, 1); equal seeds give equal streams.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
