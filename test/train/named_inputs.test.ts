// Named-input objects of the model and training functions reject misspelled keys, naming the closest one.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import {describe, expect, it} from 'vitest';
import {charTokenizer, completionForward, grpoStep, ppoStep, sftBatchLoss, TransformerPolicy, ValueHead} from '../../src/index.js';

const tok = charTokenizer({alphabet: '0123456789'});
const problems = [{prompt: '12', reference: '3'}];
const reward = (s: readonly unknown[]) => s.map(() => 0);

describe('named inputs of models and training steps', () => {
  it('completionForward, applyWithCache, sftBatchLoss, grpoStep and ppoStep name the closest key', async () => {
    const policy = TransformerPolicy.create({vocabSize: tok.vocabSize, contextLength: 8, layers: 1, width: 8, heads: 2});
    const before = tf.memory().numTensors;
    const t = tf.tensor2d([[2, 3]], [1, 2], 'int32');
    const m = tf.ones([1, 2]) as tf.Tensor2D;
    expect(() => completionForward(policy, {promptTokens: t, promptMask: m, completionToken: t} as never)).toThrow(
        /^completionForward: unknown input 'completionToken'; expected one of .*; did you mean 'completionTokens'\?$/);
    expect(() => policy.applyWithCache({tokens: t, positions: t, keymask: m, cache: null} as never)).toThrow(
        /^TransformerPolicy.applyWithCache: unknown input 'keymask'; .*did you mean 'keyMask'\?$/);
    expect(() => sftBatchLoss(policy, {promptTokens: t, promptMask: m, completionTokens: t, mask: m} as never)).toThrow(
        /^sftBatchLoss: unknown key of 'batch' 'mask'; expected one of 'promptTokens', 'promptMask', 'completionTokens', 'completionMask'$/);
    const optimizer = tf.train.sgd(0.1);
    await expect(grpoStep({policy, optimizer, tokenizer: tok, reward, refrence: policy} as never, problems,
        {groupSize: 2, maxNewTokens: 2})).rejects.toThrow(/^grpoStep: unknown key of 'ctx' 'refrence'; .*did you mean 'reference'\?$/);
    const head = new ValueHead(8);
    await expect(ppoStep({policy, critic: {trunk: policy, head}, optimizer, tokenizer: tok, rewards: reward} as never, problems,
        {groupSize: 2, maxNewTokens: 2})).rejects.toThrow(/^ppoStep: unknown key of 'ctx' 'rewards'; .*did you mean 'reward'\?$/);
    tf.dispose([t, m]);
    head.dispose();
    optimizer.dispose();
    expect(tf.memory().numTensors).toBe(before);
    policy.dispose();
  });
});
