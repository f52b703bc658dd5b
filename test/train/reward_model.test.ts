import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import {describe, expect, it} from 'vitest';
import {charTokenizer} from '../../src/models/char_tokenizer.js';
import {mulberry32} from '../../src/models/mulberry32.js';
import {RewardModel} from '../../src/models/reward_model.js';
import {TransformerPolicy} from '../../src/models/transformer_policy.js';
import {rewardModelReward, rewardModelStep, type PreferencePair} from '../../src/train/reward_model_step.js';

const tok = charTokenizer({alphabet: 'abxy:'});
// Preference: a polite reply ('y...') is preferred over a curt one ('x...'), whatever the prompt.
function pairs(n: number, seed: number): PreferencePair[] {
  const r = mulberry32(seed);
  const word = () => Array.from({length: 3}, () => (r() < 0.5 ? 'a' : 'b')).join('');
  return Array.from({length: n}, () => ({prompt: `${word()}:`, chosen: `y${word()}`, rejected: `x${word()}`}));
}

describe('RewardModel, rewardModelStep, rewardModelReward', () => {
  it('learns a generated preference (held-out pairwise accuracy > 0.9) and scores as a RewardFn', async () => {
    const policy = TransformerPolicy.create({vocabSize: tok.vocabSize, contextLength: 12, layers: 1, width: 16, heads: 2, seed: 1});
    const model = RewardModel.fromPolicy(policy, {seed: 2});
    const optimizer = tf.train.adam(3e-2);
    const before = tf.memory().numTensors;
    const first = await rewardModelStep({model, optimizer, tokenizer: tok}, pairs(16, 0));
    expect(first.loss).toBeCloseTo(Math.LN2, 5); // zero head: every score 0
    for (let s = 1; s < 10; s++) await rewardModelStep({model, optimizer, tokenizer: tok}, pairs(16, s));
    const optimizerState = tf.memory().numTensors - before; // adam moments, created on the first step
    await rewardModelStep({model, optimizer, tokenizer: tok}, pairs(16, 99));
    expect(tf.memory().numTensors - before).toBe(optimizerState); // no leak per step
    const heldOut = pairs(40, 1234);
    const reward = rewardModelReward(model, tok, {batchSize: 7});
    const chosen = await reward(heldOut.map((p) => ({prompt: p.prompt, completion: p.chosen})));
    const rejected = await reward(heldOut.map((p) => ({prompt: p.prompt, completion: p.rejected})));
    const accuracy = chosen.filter((c, i) => c > rejected[i]!).length / heldOut.length;
    expect(accuracy).toBeGreaterThan(0.9);
    // The reward equals the model's score of prompt + completion.
    const direct = model.scoreTexts(tok, [heldOut[0]!.prompt + heldOut[0]!.chosen]);
    expect(chosen[0]).toBeCloseTo(direct.dataSync()[0]!, 5);
    direct.dispose();
    expect(model.trunk).not.toBe(policy); // the trunk is a copy
    expect(policy.variables().every((v) => !v.isDisposed)).toBe(true);
    optimizer.dispose();
    model.dispose();
    policy.dispose();
  });
  it('names bad input', async () => {
    const policy = TransformerPolicy.create({vocabSize: tok.vocabSize, contextLength: 12, layers: 1, width: 8, heads: 2});
    const model = RewardModel.fromPolicy(policy);
    const optimizer = tf.train.sgd(0.1);
    await expect(rewardModelStep({model, optimizer, tokenizer: tok}, [])).rejects.toThrow("rewardModelStep: 'pairs' expected at least one preference pair");
    await expect(rewardModelStep({model, optimizer, tokenizer: tok}, pairs(1, 0), {maxGradNorm: 0})).rejects.toThrow(
        "rewardModelStep: 'maxGradNorm' expected > 0, got 0");
    await expect(rewardModelStep({model, optimizer, tokenizer: tok}, [{...pairs(1, 0)[0]!, margin: NaN}])).rejects.toThrow(
        "rewardModelStep: 'pairs[0].margin' expected a finite number, got NaN");
    expect(() => rewardModelReward(model, tok, {batch: 1} as never)).toThrow("rewardModelReward: unknown option 'batch'");
    expect(() => RewardModel.fromPolicy(policy, {seed: 0.5})).toThrow("RewardModel.fromPolicy: 'seed' expected an integer, got 0.5");
    model.dispose();
    policy.dispose();
  });
});
