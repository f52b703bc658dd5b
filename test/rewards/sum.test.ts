import fc from 'fast-check';
import {describe, expect, it} from 'vitest';
import {sum} from '../../src/rewards/sum.js';
import {weighted} from '../../src/rewards/weighted.js';
import {batch, fixed, fixedAsync, valueArrays} from './reward_fixtures.js';

describe('sum', () => {
  it('adds rewards (hand-computed)', async () => {
    expect(await sum(fixed([1, 2]), fixedAsync([0.5, -2]))(batch(2))).toEqual([1.5, 0]);
  });
  it('equals weighted with unit weights (property)', () => {
    fc.assert(fc.property(valueArrays, ([a, b]) => {
      const n = a.length;
      expect(sum(fixed(a), fixed(b))(batch(n))).toEqual(weighted([[fixed(a), 1], [fixed(b), 1]])(batch(n)));
    }), {numRuns: 30});
  });
  it('needs at least one reward', () => {
    expect(() => sum()).toThrow('sum: expected at least one reward, got 0');
  });
});
