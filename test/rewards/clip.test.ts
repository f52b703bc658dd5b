import fc from 'fast-check';
import {describe, expect, it} from 'vitest';
import {clip} from '../../src/rewards/clip.js';
import {batch, fixed, rewardValue, valueArrays} from './reward_fixtures.js';

describe('clip', () => {
  it('clips to [lo, hi] (hand-computed)', () => {
    expect(clip(fixed([-3, 0.5, 3]), -1, 1)(batch(3))).toEqual([-1, 0.5, 1]);
  });
  it('bounds hold and values inside are unchanged (property)', () => {
    fc.assert(fc.property(valueArrays, rewardValue, rewardValue, ([vals], a, b) => {
      const [lo, hi] = a <= b ? [a, b] : [b, a];
      const out = clip(fixed(vals), lo, hi)(batch(vals.length)) as number[];
      out.forEach((v, i) => {
        expect(v).toBeGreaterThanOrEqual(lo);
        expect(v).toBeLessThanOrEqual(hi);
        if (vals[i]! >= lo && vals[i]! <= hi) expect(v).toBe(vals[i]! + 0); // -0 is reported as +0
      });
    }), {numRuns: 40});
  });
  it('rejects lo > hi', () => {
    expect(() => clip(fixed([1]), 1, 0)).toThrow("clip: 'hi' expected >= 'lo' (1), got 0");
    expect(() => clip(fixed([1]), NaN, 0)).toThrow("clip: 'lo' expected a finite number, got NaN");
  });
});
