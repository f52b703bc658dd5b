import * as tf from '@tensorflow/tfjs-core';
import {describe, expect, it} from 'vitest';
import {accuracyReward} from '../../src/rewards/accuracy_reward.js';
import {formatReward} from '../../src/rewards/format_reward.js';
import {gate} from '../../src/rewards/gate.js';
import {languageConsistencyReward} from '../../src/rewards/language_consistency_reward.js';
import {named} from '../../src/rewards/named.js';
import {scoreRewards} from '../../src/rewards/score_rewards.js';
import {weighted} from '../../src/rewards/weighted.js';
import {batch, fixed} from './reward_fixtures.js';

describe('scoreRewards', () => {
  it('returns Float32Array totals, per-component values and statistics (hand-computed)', async () => {
    // totals [1, 3]: mean 2, population std 1; component a = [1, 1]: std 0
    const r = weighted([[named('a', fixed([1, 1])), 1], [named('b', fixed([0, 1])), 2]]);
    const out = await scoreRewards(r, batch(2));
    expect(out.rewards).toEqual(Float32Array.from([1, 3]));
    expect(out.stats).toEqual({mean: 2, std: 1, min: 1, max: 3});
    expect(out.components.a).toEqual({values: Float32Array.from([1, 1]), mean: 1, std: 0, min: 1, max: 1});
    expect(out.components.b?.mean).toBe(0.5);
    expect(out.metrics).toEqual({
      'reward/mean': 2, 'reward/std': 1, 'rewards/a/mean': 1, 'rewards/a/std': 0, 'rewards/b/mean': 0.5, 'rewards/b/std': 0.5,
    });
  });
  it('builds the DeepSeek-R1 reward in a few lines', async () => {
    const r1 = weighted([
      [named('accuracy', gate(formatReward(), accuracyReward())), 1],
      [named('language', languageConsistencyReward({language: 'en'})), 0.1],
    ]);
    const samples = [
      {prompt: '2+3?', completion: '<think>Two plus three is five.</think><answer>5</answer>', reference: '5'},
      {prompt: '2+3?', completion: '<think>Two plus three 是 five.</think> <answer>5</answer>', reference: '5'},
      {prompt: '2+3?', completion: 'It is \\boxed{5}', reference: '5'},
      {prompt: '2+3?', completion: '<think>Two plus three is six.</think><answer>6</answer>', reference: '5'},
    ];
    const {rewards, components} = await scoreRewards(r1, samples);
    // language: 5/5, 4/5 (是 is one Han word), 1 (no think block: whole completion), 5/5
    expect(Array.from(components.language!.values)).toEqual([1, 0.8, 1, 1].map(Math.fround));
    expect(Array.from(components.accuracy!.values)).toEqual([1, 1, 0, 0]);
    expect(Array.from(rewards)).toEqual([1.1, 1.08, 0.1, 0.1].map(Math.fround));
    const t = tf.tensor1d(rewards);
    expect(t.shape).toEqual([4]);
    t.dispose();
  });
  it('reports counters and accepts a plain function', async () => {
    const out = await scoreRewards(accuracyReward(), [{prompt: 'p', completion: '\\boxed{1}', reference: '\\frac{'}]);
    expect(out.counters).toEqual({'accuracyReward.unparsableReference': 1});
    expect(out.metrics['counters/accuracyReward.unparsableReference']).toBe(1);
    const plain = await scoreRewards(() => [0.5], batch(1));
    expect(plain.components).toEqual({});
    expect(plain.rewards).toEqual(Float32Array.from([0.5]));
  });
  it('throws on a reward returning NaN or the wrong length, and on bad arguments', async () => {
    await expect(scoreRewards(fixed([NaN]), batch(1))).rejects.toThrow(
        "scoreRewards: 'fn' expected finite numbers, got NaN at index 0");
    await expect(scoreRewards(() => [], batch(1))).rejects.toThrow("scoreRewards: 'fn' expected to return 1 values");
    await expect(scoreRewards(null as never, batch(1))).rejects.toThrow("scoreRewards: 'fn' expected a function, got null");
    await expect(scoreRewards(fixed([1]), {} as never)).rejects.toThrow("scoreRewards: 'samples' expected an array");
  });
  it('handles an empty batch', async () => {
    const out = await scoreRewards(named('a', fixed([])), []);
    expect(out.rewards.length).toBe(0);
    expect(out.stats).toEqual({mean: 0, std: 0, min: 0, max: 0});
  });
});
