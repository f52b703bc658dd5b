import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import {describe, expect, it} from 'vitest';
import {charTokenizer} from '../../src/models/char_tokenizer.js';
import {TransformerPolicy} from '../../src/models/transformer_policy.js';
import {grpoStep} from '../../src/train/grpo_step.js';
import type {Problem} from '../../src/train/collect_rollout.js';

const tok = charTokenizer({alphabet: '0123456789'});
// Prompts starting with '0' always score 1 (every group ties); the others score the 7s drawn (groups differ).
const reward = (samples: readonly {prompt: string; completion: string}[]): number[] =>
  samples.map((s) => (s.prompt.startsWith('0') ? 1 : s.completion.split('7').length - 1 + s.completion.length / 10));
const tiny = (): TransformerPolicy => TransformerPolicy.create({vocabSize: tok.vocabSize, contextLength: 12, layers: 1, width: 8, heads: 2, seed: 0});

describe('grpoStep dynamic sampling (DAPO)', () => {
  it('drops tied groups, samples more problems from the source until the batch is full, reports the kept fraction', async () => {
    const policy = tiny();
    const optimizer = tf.train.adam(1e-3);
    const requests: number[] = [];
    const source = (count: number): Problem[] => { requests.push(count); return [{prompt: '123', reference: ''}, {prompt: '45', reference: ''}].slice(0, count); };
    const problems = [{prompt: '01', reference: ''}, {prompt: '02', reference: ''}, {prompt: '9', reference: ''}];
    const before = tf.memory().numTensors;
    const m = await grpoStep({policy, optimizer, tokenizer: tok, reward}, problems,
        {groupSize: 4, maxNewTokens: 5, beta: 0, temperature: 2, dynamicSampling: {source, maxTries: 3}});
    // Round 1: 3 groups, 2 tied -> 1 kept; round 2: 3 more requested, 2 given, both kept: batch full (3).
    expect(requests).toEqual([3]);
    expect(m.samplingRounds).toBe(2);
    expect(m.samples).toBe(20);
    expect(m.zeroVarianceGroups).toBeCloseTo(2 / 5, 12);
    expect(m.keptFraction).toBeCloseTo(3 / 5, 12);
    expect(m.gradNorm).toBeGreaterThan(0);
    // The first call creates the optimizer's slots (2 per variable); nothing else stays.
    expect(tf.memory().numTensors).toBe(before + 2 * policy.variables().length);
    optimizer.dispose(); policy.dispose();
  });

  it('stops at maxTries; with no group kept it reports and skips the update', async () => {
    const policy = tiny();
    const optimizer = tf.train.adam(1e-3);
    const weights = Array.from(policy.variables()[0]!.dataSync());
    let calls = 0;
    const source = (): Problem[] => { calls++; return [{prompt: '03', reference: ''}]; };
    const m = await grpoStep({policy, optimizer, tokenizer: tok, reward}, [{prompt: '01', reference: ''}],
        {groupSize: 2, maxNewTokens: 3, beta: 0, dynamicSampling: {source, maxTries: 4}});
    expect(calls).toBe(3);
    expect(m.samplingRounds).toBe(4);
    expect(m.keptFraction).toBe(0);
    expect(m.zeroVarianceGroups).toBe(1);
    expect(m.loss).toBe(0);
    expect(Array.from(policy.variables()[0]!.dataSync())).toEqual(weights);
    await expect(grpoStep({policy, optimizer, tokenizer: tok, reward}, [{prompt: '01', reference: ''}],
        {groupSize: 2, maxNewTokens: 3, beta: 0, dynamicSampling: {source: () => []}})).rejects.toThrow(
        /grpoStep: 'dynamicSampling.source' expected a non-empty array of problems/);
    await expect(grpoStep({policy, optimizer, tokenizer: tok, reward}, [{prompt: '01', reference: ''}],
        {groupSize: 2, maxNewTokens: 3, beta: 0, dynamicSampling: {source, maxTries: 0}})).rejects.toThrow(
        /grpoStep: 'dynamicSampling.maxTries' expected >= 1, got 0/);
    optimizer.dispose(); policy.dispose();
  });

  it('the merged batch trains the same as one rollout of the kept groups would (prompts re-padded)', async () => {
    // With every group kept in round 1, dynamic sampling changes nothing: same metrics, same weights.
    const a = tiny(), b = tiny();
    const oa = tf.train.sgd(0.1), ob = tf.train.sgd(0.1);
    const problems = [{prompt: '9', reference: ''}, {prompt: '123', reference: ''}];
    const options = {groupSize: 4, maxNewTokens: 4, beta: 0, seed: 3, temperature: 2};
    const ma = await grpoStep({policy: a, optimizer: oa, tokenizer: tok, reward}, problems, options);
    const mb = await grpoStep({policy: b, optimizer: ob, tokenizer: tok, reward}, problems,
        {...options, dynamicSampling: {source: () => { throw new Error('not needed'); }}});
    expect(mb.keptFraction).toBe(1);
    expect(mb.loss).toBeCloseTo(ma.loss, 6);
    const wa = a.variables()[0]!.dataSync(), wb = b.variables()[0]!.dataSync();
    wa.forEach((v, i) => expect(wb[i]).toBeCloseTo(v, 6));
    oa.dispose(); ob.dispose(); a.dispose(); b.dispose();
  });
});
