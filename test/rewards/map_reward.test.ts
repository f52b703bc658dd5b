import {describe, expect, it} from 'vitest';
import {mapReward} from '../../src/rewards/map_reward.js';
import {named} from '../../src/rewards/named.js';
import {batch, fixed, fixedAsync} from './reward_fixtures.js';

describe('mapReward', () => {
  it('applies f(value, sample, index)', async () => {
    const r = mapReward(fixedAsync([0.25, 1]), (v, s, i) => (s.prompt === 'p1' ? v * 10 : v) + i);
    expect(await r(batch(2))).toEqual([0.25, 11]);
  });
  it('keeps the breakdown of the inner reward', () => {
    const r = mapReward(named('raw', fixed([2])), (v) => v * v);
    expect(r.breakdown(batch(1))).toEqual({values: [4], components: {raw: [2]}, counters: {}});
  });
  it('never lets NaN out: a NaN from f is an error naming the index', () => {
    expect(() => mapReward(fixed([1, -1]), (v) => Math.sqrt(v))(batch(2))).toThrow(
        "mapReward: the combined reward expected finite numbers, got NaN at index 1");
    expect(() => mapReward(fixed([1]), 3 as never)).toThrow("mapReward: 'f' expected a function, got 3");
  });
});
