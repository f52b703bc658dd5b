import fc from 'fast-check';
import {describe, expect, it} from 'vitest';
import {overlongPenalty} from '../../src/rewards/overlong_penalty.js';
import type {Sample} from '../../src/rewards/types.js';

const ofLength = (...ns: number[]): Sample[] => ns.map((n) => ({prompt: 'p', completion: 'x'.repeat(n)}));

describe('overlongPenalty', () => {
  it('is 0, then a linear ramp, then -1 (hand-computed, DAPO eq. 13)', () => {
    // L_max = 100, L_cache = 20: soft zone (80, 100]; 90 -> (80 - 90)/20 = -0.5; 100 -> -1; 101 -> -1
    expect(overlongPenalty({maxLength: 100, cacheLength: 20})(ofLength(0, 80, 81, 90, 100, 101, 5000)))
        .toEqual([0, 0, -0.05, -0.5, -1, -1, -1]);
  });
  it('defaults the cache to 20% of maxLength and accepts token counts', () => {
    expect(overlongPenalty({maxLength: 10})(ofLength(8, 9))).toEqual([0, -0.5]);
    const tokens = overlongPenalty({maxLength: 100, cacheLength: 50, lengthOf: (s) => s.tokens as number});
    expect(tokens([{prompt: 'p', completion: 'short', tokens: 75}])).toEqual([-0.5]);
  });
  it('is non-increasing in length and within [-1, 0] (property)', () => {
    fc.assert(fc.property(fc.integer({min: 1, max: 500}), fc.double({min: 0.01, max: 1, noNaN: true}),
        fc.integer({min: 0, max: 600}), fc.integer({min: 0, max: 600}), (maxLength, frac, a, b) => {
          const fn = overlongPenalty({maxLength, cacheLength: frac * maxLength});
          const [ra, rb] = fn(ofLength(Math.min(a, b), Math.max(a, b))) as number[];
          expect(ra!).toBeGreaterThanOrEqual(rb!);
          expect(rb!).toBeGreaterThanOrEqual(-1);
          expect(ra!).toBeLessThanOrEqual(0);
        }), {numRuns: 40});
  });
  it('gives -1 to non-string completions and rejects bad configuration', () => {
    expect(overlongPenalty({maxLength: 10})([{prompt: 'p', completion: 3 as never}])).toEqual([-1]);
    expect(() => overlongPenalty(undefined as never)).toThrow("overlongPenalty: 'options' expected an object with 'maxLength'");
    expect(() => overlongPenalty({maxLength: 0})).toThrow("overlongPenalty: 'maxLength' expected > 0, got 0");
    expect(() => overlongPenalty({maxLength: 10, cacheLength: 11})).toThrow("overlongPenalty: 'cacheLength' expected <= 10, got 11");
    expect(() => overlongPenalty({maxLength: 10, lengthOf: () => NaN})([{prompt: 'p', completion: ''}])).toThrow(
        "overlongPenalty: 'lengthOf' expected to return a finite number >= 0, got NaN for sample 0");
  });
});
