import fc from 'fast-check';
import {describe, expect, it} from 'vitest';
import {named} from '../../src/rewards/named.js';
import {weighted} from '../../src/rewards/weighted.js';
import {batch, fixed, fixedAsync, rewardValue, valueArrays} from './reward_fixtures.js';

describe('weighted', () => {
  it('computes sum_k w_k r_k (hand-computed)', () => {
    // sample 0: 2*1 + 0.5*4 = 4; sample 1: 2*0 + 0.5*(-2) = -1
    expect(weighted([[fixed([1, 0]), 2], [fixed([4, -2]), 0.5]])(batch(2))).toEqual([4, -1]);
  });
  it('stays synchronous for synchronous terms and is async if any term is', async () => {
    const sync = weighted([[fixed([1]), 1]])(batch(1));
    expect(Array.isArray(sync)).toBe(true);
    const mixed = weighted([[fixed([1]), 1], [fixedAsync([2]), 1]])(batch(1));
    expect(mixed).toBeInstanceOf(Promise);
    expect(await mixed).toEqual([3]);
  });
  it('is linear in each reward and each weight (property)', async () => {
    await fc.assert(fc.asyncProperty(valueArrays, rewardValue, rewardValue, async ([a, b, c], w1, w2) => {
      const n = a.length;
      const lhs = await weighted([[fixed(a), w1], [fixedAsync(b), w2]])(batch(n));
      // w1*a + w2*b = weighted(a,w1) + weighted(b,w2); and scaling a weight scales its term
      const parts = [weighted([[fixed(a), w1]])(batch(n)) as number[], weighted([[fixed(b), w2]])(batch(n)) as number[]];
      lhs.forEach((v, i) => expect(v).toBeCloseTo(parts[0]![i]! + parts[1]![i]!, 9));
      const sumAC = a.map((x, i) => x + c[i]!);
      const additive = weighted([[fixed(sumAC), w1]])(batch(n)) as number[];
      const split = weighted([[fixed(a), w1], [fixed(c), w1]])(batch(n)) as number[];
      additive.forEach((v, i) => expect(v).toBeCloseTo(split[i]!, 9));
    }), {numRuns: 40});
  });
  it('keeps the named components of its terms', async () => {
    const r = weighted([[named('a', fixed([1, 0])), 2], [named('b', fixedAsync([3, 4])), -1]]);
    expect(r.componentNames).toEqual(['a', 'b']);
    expect(await r.breakdown(batch(2))).toEqual({values: [-1, -4], components: {a: [1, 0], b: [3, 4]}, counters: {}});
  });
  it('rejects bad configuration and a term returning NaN or the wrong length', async () => {
    expect(() => weighted([])).toThrow("weighted: 'terms' expected a non-empty array of [reward, weight] pairs");
    expect(() => weighted([[fixed([1]), NaN]])).toThrow("weighted: 'terms[0][1] (weight)' expected a finite number, got NaN");
    expect(() => weighted([[42 as never, 1]])).toThrow("weighted: 'terms[0][0]' expected a function, got 42");
    expect(() => weighted([[fixed([NaN]), 1]])(batch(1))).toThrow(
        "weighted: 'terms[0][0]' expected finite numbers, got NaN at index 0");
    expect(() => weighted([[() => [1], 1]])(batch(2))).toThrow(
        "weighted: 'terms[0][0]' expected to return 2 values (one per sample), got 1");
    await expect(weighted([[fixedAsync([Infinity]), 1]])(batch(1))).rejects.toThrow('expected finite numbers, got Infinity');
  });
});
