import fc from 'fast-check';
import {describe, expect, it} from 'vitest';
import {scale} from '../../src/rewards/scale.js';
import {weighted} from '../../src/rewards/weighted.js';
import {batch, fixed, rewardValue, valueArrays} from './reward_fixtures.js';

describe('scale', () => {
  it('multiplies by a constant (hand-computed)', () => {
    expect(scale(fixed([1, -2]), 0.5)(batch(2))).toEqual([0.5, -1]);
  });
  it('equals a one-term weighted sum (property)', () => {
    fc.assert(fc.property(valueArrays, rewardValue, ([a], f) => {
      expect(scale(fixed(a), f)(batch(a.length))).toEqual(weighted([[fixed(a), f]])(batch(a.length)));
    }), {numRuns: 30});
  });
  it('rejects a non-finite factor', () => {
    expect(() => scale(fixed([1]), Infinity)).toThrow("scale: 'factor' expected a finite number, got Infinity");
  });
});
