import fc from 'fast-check';
import {describe, expect, it} from 'vitest';
import {accuracyReward} from '../../src/rewards/accuracy_reward.js';
import {named} from '../../src/rewards/named.js';
import {routeReward} from '../../src/rewards/route_reward.js';
import {scoreRewards} from '../../src/rewards/score_rewards.js';
import type {RewardFn, Sample} from '../../src/rewards/types.js';
import {rewardValue} from './reward_fixtures.js';

const kinded = (kinds: string[]): Sample[] => kinds.map((kind, i) => ({prompt: `p${i}`, completion: `c${i}`, kind}));
const kindOf = (s: Sample) => s.kind as string;

describe('routeReward', () => {
  it('scores each sample with the reward of its kind, each route on its own samples (hand-computed)', async () => {
    const seen: Record<string, string[]> = {};
    const record = (name: string, value: number): RewardFn => (samples) => {
      seen[name] = samples.map((s) => s.prompt);
      return samples.map(() => value);
    };
    const r = routeReward({reasoning: record('reasoning', 1), general: record('general', 0.25)}, kindOf);
    // kinds r g r g g -> values 1 .25 1 .25 .25
    expect(await r(kinded(['reasoning', 'general', 'reasoning', 'general', 'general']))).toEqual([1, 0.25, 1, 0.25, 0.25]);
    expect(seen).toEqual({reasoning: ['p0', 'p2'], general: ['p1', 'p3', 'p4']});
  });
  it('equals the per-kind reward on every sample (property) and stays synchronous', async () => {
    await fc.assert(fc.property(fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c'), rewardValue), {maxLength: 12}), (rows) => {
      const samples = rows.map(([kind, v], i) => ({prompt: `p${i}`, completion: '', kind, v}));
      const byValue: RewardFn = (ss) => ss.map((s) => s.v as number);
      const byNeg: RewardFn = (ss) => ss.map((s) => -(s.v as number));
      const out = routeReward({a: byValue, b: byNeg, c: () => []}, kindOf);
      if (rows.some(([k]) => k === 'c')) {
        expect(() => out(samples)).toThrow("routeReward: 'routes.c' expected to return");
        return;
      }
      const values = out(samples) as number[];
      expect(Array.isArray(values)).toBe(true); // sync parts -> sync result
      values.forEach((v, i) => expect(v).toBe((rows[i]![0] === 'a' ? rows[i]![1] : -rows[i]![1]) + 0));
    }), {numRuns: 60});
  });
  it('reports per-route counters and keeps the routes\' components, counters and async rewards', async () => {
    const accuracy = named('accuracy', accuracyReward());
    const r = routeReward({reasoning: accuracy, general: named('rm', async (ss) => ss.map(() => 0.5))},
        (s) => (s.reference === undefined ? 'general' : 'reasoning'));
    const samples: Sample[] = [
      {prompt: 'q', completion: '<answer>4</answer>', reference: '4'},
      {prompt: 'q', completion: 'hello'},
      {prompt: 'q', completion: '<answer>5</answer>', reference: '4'},
    ];
    const scored = await scoreRewards(r, samples);
    expect(Array.from(scored.rewards)).toEqual([1, 0.5, 0]);
    expect(scored.counters).toEqual({
      'routeReward.reasoning.count': 2, 'routeReward.reasoning.sum': 1,
      'routeReward.general.count': 1, 'routeReward.general.sum': 0.5,
    });
    expect(Array.from(scored.components.accuracy!.values)).toEqual([1, 0, 0]); // 0 on the general sample
    expect(Array.from(scored.components.rm!.values)).toEqual([0, 0.5, 0]);
    expect(r.componentNames).toEqual(['accuracy', 'rm']);
  });
  it('does not call a route with no sample, and handles an empty batch', async () => {
    let calls = 0;
    const r = routeReward({a: (ss) => ss.map(() => 1), b: (ss) => { calls++; return ss.map(() => 2); }}, kindOf);
    expect(await r(kinded(['a', 'a']))).toEqual([1, 1]);
    expect(await r([])).toEqual([]);
    expect(calls).toBe(0);
  });
  it('names an unknown kind and rejects bad configuration', async () => {
    const r = routeReward({reasoning: () => [1], general: () => [0]}, kindOf);
    expect(() => r(kinded(['math']))).toThrow("routeReward: sample 0 has kind \"math\", expected one of 'reasoning', 'general'");
    expect(() => r([{prompt: 'p', completion: 'c'}])).toThrow('routeReward: sample 0 has kind undefined');
    expect(() => r(kinded(['toString']))).toThrow('routeReward: sample 0 has kind "toString"');
    expect(() => routeReward({}, kindOf)).toThrow("routeReward: 'routes' expected at least one kind");
    expect(() => routeReward({a: 1 as never}, kindOf)).toThrow("routeReward: 'routes.a' expected a function, got 1");
    expect(() => routeReward({a: () => []}, 'kind' as never)).toThrow("routeReward: 'kindOf' expected a function");
    expect(() => routeReward({a: named('x', () => [1]), b: named('x', () => [2])}, kindOf)).toThrow(
        "routeReward: component name 'x' is used by two different rewards");
    const failing = routeReward({a: () => { throw new Error('boom'); }}, kindOf);
    expect(() => failing(kinded(['a']))).toThrow('boom'); // errors reach the caller
  });
});
