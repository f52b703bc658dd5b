import fc from 'fast-check';
import {describe, expect, it} from 'vitest';
import {lengthReward} from '../../src/rewards/length_reward.js';
import {named} from '../../src/rewards/named.js';
import type {Sample} from '../../src/rewards/types.js';
import {fixed, fixedAsync} from './reward_fixtures.js';

const ofLength = (ns: number[], groupIds?: number[]): Sample[] =>
  ns.map((n, i) => ({prompt: 'p', completion: 'x'.repeat(n), ...(groupIds ? {groupId: groupIds[i]} : {})}));

describe('lengthReward', () => {
  it('computes lambda = 0.5 - (len - min)/(max - min) per group (hand-computed, Kimi 1.5)', async () => {
    // group 0 lengths [10, 20, 30]: lambda [0.5, 0, -0.5]; correct [1, 0, 1] -> [0.5, min(0, 0)=0, -0.5]
    // group 1 lengths [100, 300]: lambda [0.5, -0.5]; correct [0, 0] -> [min(0, .5)=0, -0.5]
    const r = lengthReward({isCorrect: fixed([1, 0, 1, 0, 0])});
    expect(await r(ofLength([10, 20, 30, 100, 300], [0, 0, 0, 1, 1]))).toEqual([0.5, 0, -0.5, 0, -0.5]);
    // Same with contiguous groups; over the whole batch the result would differ (open-r1's choice).
    const contiguous = lengthReward({isCorrect: fixed([1, 0, 1, 0, 0, 1]), groupSize: 3});
    expect(await contiguous(ofLength([10, 20, 30, 100, 300, 200]))).toEqual([0.5, 0, -0.5, 0, -0.5, 0]);
  });
  it('is 0 for a group whose lengths are all equal and -0.5 for a non-string completion', async () => {
    const r = lengthReward({isCorrect: fixedAsync([1, 1, 1]), groupSize: 3});
    const samples = ofLength([5, 5, 5]);
    expect(await r(samples)).toEqual([0, 0, 0]);
    samples[2] = {prompt: 'p', completion: null as never};
    expect(await r(samples)).toEqual([0, 0, -0.5]);
  });
  it('shuffling groups does not change a sample\'s reward (per-group, property)', () => {
    fc.assert(fc.property(fc.array(fc.integer({min: 0, max: 50}), {minLength: 4, maxLength: 4}),
        fc.array(fc.integer({min: 0, max: 50}), {minLength: 4, maxLength: 4}), (g0, g1) => {
          const correct = [1, 0, 1, 0, 1, 0, 1, 0];
          const a = lengthReward({isCorrect: fixed(correct), groupSize: 4})(ofLength([...g0, ...g1])) as number[];
          const b = lengthReward({isCorrect: fixed([...correct.slice(4), ...correct.slice(0, 4)]), groupSize: 4})(
              ofLength([...g1, ...g0])) as number[];
          expect([...b.slice(4), ...b.slice(0, 4)]).toEqual(a);
          a.forEach((v, i) => {
            expect(Math.abs(v)).toBeLessThanOrEqual(0.5);
            if (correct[i] === 0) expect(v).toBeLessThanOrEqual(0);
          });
        }), {numRuns: 30});
  });
  it('keeps the breakdown of its correctness reward', () => {
    const r = lengthReward({isCorrect: named('correct', fixed([1, 0])), groupSize: 2});
    expect(r.breakdown(ofLength([1, 2]))).toEqual({values: [0.5, -0.5], components: {correct: [1, 0]}, counters: {}});
  });
  it('needs groups: groupId on every sample or groupSize', async () => {
    expect(() => lengthReward({isCorrect: fixed([1, 1])})(ofLength([1, 2]))).toThrow(
        "lengthReward: sample 0 expected a numeric 'groupId' (or pass the option groupSize), got undefined");
    expect(() => lengthReward({isCorrect: fixed([1, 1, 1]), groupSize: 2})(ofLength([1, 2, 3]))).toThrow(
        "lengthReward: 'samples' expected a multiple of groupSize=2 samples, got 3");
    expect(() => lengthReward({groupSize: 0})).toThrow("lengthReward: 'groupSize' expected >= 1, got 0");
  });
});
