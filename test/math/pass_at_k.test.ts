import fc from 'fast-check';
import {describe, expect, it} from 'vitest';
import {passAtK} from '../../src/math/pass_at_k.js';

/** C(a, b) exactly with BigInt. */
function binom(a: number, b: number): bigint {
  if (b < 0 || b > a) return 0n;
  let r = 1n;
  for (let i = 0; i < b; i++) r = (r * BigInt(a - i)) / BigInt(i + 1);
  return r;
}

describe('passAtK', () => {
  it('hand-computed values', () => {
    expect(passAtK(10, 3, 1)).toBeCloseTo(0.3, 12);
    expect(passAtK(10, 3, 5)).toBeCloseTo(1 - 21 / 252, 12); // C(7,5)=21, C(10,5)=252
    expect(passAtK(10, 0, 5)).toBe(0);
    expect(passAtK(10, 6, 5)).toBe(1); // n - c = 4 < k: every 5-subset holds a correct sample
    expect(passAtK(5, 5, 5)).toBe(1);
    expect(passAtK(2, 1, 2)).toBe(1);
  });

  it('equals 1 - C(n-c,k)/C(n,k) computed exactly; pass@1 = c/n; monotone in k and c', () => {
    fc.assert(fc.property(fc.integer({min: 1, max: 60}), fc.nat(), fc.nat(), (n, cc, kk) => {
      const c = cc % (n + 1);
      const k = 1 + (kk % n);
      const exact = 1 - Number((binom(n - c, k) * 1_000_000_000_000n) / binom(n, k)) / 1e12;
      expect(passAtK(n, c, k)).toBeCloseTo(exact, 9);
      expect(passAtK(n, c, 1)).toBeCloseTo(c / n, 12);
      if (k < n) expect(passAtK(n, c, k + 1)).toBeGreaterThanOrEqual(passAtK(n, c, k) - 1e-12);
      if (c < n) expect(passAtK(n, c + 1, k)).toBeGreaterThanOrEqual(passAtK(n, c, k) - 1e-12);
    }));
  });

  it('is stable for large n (binomials far beyond float range)', () => {
    // C(100000, 5000) overflows any float; the product form does not.
    const v = passAtK(100_000, 10, 5000);
    const want = 1 - Math.exp(Array.from({length: 10}, (_, i) => Math.log(1 - 5000 / (100_000 - 9 + i))).reduce((a, b) => a + b));
    expect(v).toBeCloseTo(want, 12);
    expect(v).toBeGreaterThan(0.4); expect(v).toBeLessThan(0.41); // ~ 1 - 0.95^10 = 0.4013
    expect(passAtK(1_000_000, 1, 1)).toBeCloseTo(1e-6, 15);
  });

  it('names invalid n, c, k', () => {
    expect(() => passAtK(0, 0, 1)).toThrow(/passAtK: 'n' expected >= 1, got 0/);
    expect(() => passAtK(5, 6, 1)).toThrow(/passAtK: 'c' \(correct samples\) expected <= n = 5, got 6/);
    expect(() => passAtK(5, 2, 6)).toThrow(/passAtK: 'k' expected <= n = 5 \(the samples drawn\), got 6/);
    expect(() => passAtK(5, 2, 0)).toThrow(/passAtK: 'k' expected >= 1, got 0/);
    expect(() => passAtK(5, 1.5, 1)).toThrow(/passAtK: 'c' expected an integer, got 1.5/);
    expect(() => passAtK(NaN, 1, 1)).toThrow(/passAtK: 'n' expected a finite number, got NaN/);
  });
});
