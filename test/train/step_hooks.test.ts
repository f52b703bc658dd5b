import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import {describe, expect, it} from 'vitest';
import {charTokenizer} from '../../src/models/char_tokenizer.js';
import {encodePrompts} from '../../src/models/encode_prompts.js';
import {policyFromFunction} from '../../src/models/policy_from_function.js';
import {sampleCompletions} from '../../src/models/sample_completions.js';
import {TransformerPolicy} from '../../src/models/transformer_policy.js';
import {ValueHead} from '../../src/models/value_head.js';
import {encodeSftBatch, sftStep} from '../../src/train/sft_step.js';
import {grpoStep} from '../../src/train/grpo_step.js';
import {ppoStep} from '../../src/train/ppo_step.js';

const tok = charTokenizer({alphabet: '0123456789'});
const V = tok.vocabSize;
const problems = [{prompt: '12', reference: ''}, {prompt: '3', reference: ''}];
const sevens = (samples: readonly {completion: string}[]): number[] => samples.map((s) => s.completion.split('7').length - 1);

/** A bigram policy with hidden states, an optional auxiliary loss and a counting afterOptimizerStep. */
function bigram(options: {aux?: number} = {}) {
  const table = tf.variable(tf.randomNormal([V, V], 0, 0.1, 'float32', 1));
  const emb = tf.variable(tf.randomNormal([V, 4], 0, 0.1, 'float32', 2));
  let calls = 0;
  const policy = policyFromFunction({
    apply: (tokens) => ({
      logits: tf.gather(table, tokens) as tf.Tensor3D,
      hidden: tf.gather(emb, tokens) as tf.Tensor3D,
      ...(options.aux !== undefined ? {auxLoss: tf.mul(options.aux, tf.sum(tf.square(table))) as tf.Scalar} : {}),
    }),
    variables: [table, emb], vocabSize: V, contextLength: 16,
    afterOptimizerStep: () => ({'hook/calls': ++calls}),
    dispose: () => tf.dispose([table, emb]),
  });
  return {policy, table, calls: () => calls};
}

describe('training steps take any Policy: auxLoss, afterOptimizerStep, zero-variance groups', () => {
  it('the cache-less sampler (apply on the whole prefix) draws exactly what the cached one draws', () => {
    const policy = TransformerPolicy.create({vocabSize: V, contextLength: 16, layers: 1, width: 8, heads: 2, seed: 3});
    const plain = policyFromFunction({apply: (t, o) => policy.apply(t, o), variables: policy.variables(), vocabSize: V, contextLength: 16});
    const prompts = encodePrompts(tok, ['12', '3', '456'], {contextLength: 16, maxNewTokens: 6});
    const a = sampleCompletions(policy, prompts, {maxNewTokens: 6, seed: 4, topK: 6, topP: 0.9});
    const b = sampleCompletions(plain, prompts, {maxNewTokens: 6, seed: 4, topK: 6, topP: 0.9});
    expect(b.tokens.arraySync()).toEqual(a.tokens.arraySync());
    const la = a.logProbs.dataSync(), lb = b.logProbs.dataSync();
    la.forEach((v, i) => expect(lb[i]).toBeCloseTo(v, 5));
    tf.dispose([a.tokens, a.logProbs, a.mask, b.tokens, b.logProbs, b.mask, prompts.tokens, prompts.mask]);
    policy.dispose();
  });

  it('grpoStep adds auxLoss to the objective, calls afterOptimizerStep after each of mu updates, merges its metrics', async () => {
    const {policy, table, calls} = bigram({aux: 0.5});
    const optimizer = tf.train.sgd(0.1);
    const constant = (s: readonly unknown[]): number[] => s.map(() => 1); // every group ties: no policy gradient
    const norm = (): number => tf.tidy(() => tf.sum(tf.square(table)).dataSync()[0]!);
    const before = norm();
    const m = await grpoStep({policy, optimizer, tokenizer: tok, reward: constant}, problems,
        {groupSize: 4, maxNewTokens: 3, mu: 3, beta: 0, maxGradNorm: Infinity});
    expect(calls()).toBe(3);
    expect(m['hook/calls']).toBe(2); // mean of 1, 2, 3
    expect(m.zeroVarianceGroups).toBe(1);
    expect(m.auxLoss).toBeCloseTo(0.5 * before, 4);
    expect(m.loss).toBeCloseTo(0.5 * before, 4); // the GRPO term is 0 with zero advantages
    // Only the auxiliary loss has a gradient: three SGD steps on 0.5 |W|^2 shrink W by (1 - 0.1)^3.
    expect(norm()).toBeCloseTo(before * 0.9 ** 6, 4);
    optimizer.dispose(); policy.dispose();
  });

  it('zeroVarianceGroups counts the groups whose rewards all tie', async () => {
    const {policy} = bigram();
    const optimizer = tf.train.sgd(0.01);
    // Group 0 ('12') always scores 1; group 1 ('3') scores by the 7s drawn (varies for this seed).
    const reward = (s: readonly {prompt: string; completion: string}[]): number[] =>
      s.map((x) => (x.prompt === '12' ? 1 : sevens([x])[0]! + x.completion.length));
    const m = await grpoStep({policy, optimizer, tokenizer: tok, reward}, problems,
        {groupSize: 6, maxNewTokens: 4, beta: 0, seed: 1, temperature: 3});
    expect(m.zeroVarianceGroups).toBe(0.5);
    optimizer.dispose(); policy.dispose();
  });

  it('sftStep and ppoStep call the hooks too (ppo: mu, or its deprecated alias epochs)', async () => {
    const {policy, calls} = bigram({aux: 0.1});
    const optimizer = tf.train.sgd(0.01);
    const batch = encodeSftBatch(tok, [{prompt: '1', completion: '77'}], {contextLength: 16});
    const s = await sftStep(policy, optimizer, batch);
    expect(s['hook/calls']).toBe(1);
    tf.dispose(Object.values(batch));
    const head = new ValueHead(4, {seed: 0});
    const ctx = {policy, critic: {trunk: policy, head}, optimizer, tokenizer: tok, reward: sevens};
    const p = await ppoStep(ctx, problems, {groupSize: 2, maxNewTokens: 3, beta: 0, mu: 2});
    expect(calls()).toBe(3);
    expect(p.auxLoss).toBeGreaterThan(0);
    await ppoStep(ctx, problems, {groupSize: 2, maxNewTokens: 3, klCoef: 0, epochs: 3});
    expect(calls()).toBe(6);
    head.dispose(); optimizer.dispose(); policy.dispose();
  });
});

describe('options: errors reach the caller, nested defaults merge, one name per concept', () => {
  const tiny = (): TransformerPolicy => TransformerPolicy.create({vocabSize: V, contextLength: 16, layers: 1, width: 8, heads: 2, seed: 0});

  it('ppoStep rejects bad loss options (loss: {clipLow: -1}) before sampling, leaking nothing', async () => {
    const policy = tiny();
    const head = new ValueHead(8);
    const optimizer = tf.train.adam(1e-3);
    const ctx = {policy, critic: {trunk: policy, head}, optimizer, tokenizer: tok, reward: sevens};
    await ppoStep(ctx, problems, {groupSize: 2, maxNewTokens: 3, beta: 0}); // optimizer slots exist now
    const before = tf.memory().numTensors;
    await expect(ppoStep(ctx, problems, {groupSize: 2, maxNewTokens: 3, beta: 0, loss: {clipLow: -1}})).rejects.toThrow(/clipLow/);
    expect(tf.memory().numTensors).toBe(before);
    head.dispose(); optimizer.dispose(); policy.dispose();
  });

  it('an error inside the update loop reaches the caller of ppoStep and grpoStep (no return from finally)', async () => {
    const inner = TransformerPolicy.create({vocabSize: V, contextLength: 16, layers: 1, width: 8, heads: 2, seed: 0});
    let calls = 0;
    // Sampling (cache-less) makes 3 calls for maxNewTokens 3; the 4th, inside the update, throws.
    const policy = policyFromFunction({
      apply: (t, o) => { if (++calls > 3 && calls % 2 === 0) throw new Error('model exploded'); return inner.apply(t, o); },
      variables: inner.variables(), vocabSize: V, contextLength: 16,
    });
    const head = new ValueHead(8);
    const optimizer = tf.train.adam(1e-3);
    const always7 = (s: readonly unknown[]): number[] => s.map((_, i) => i % 2);
    await expect(ppoStep({policy, critic: {trunk: inner, head}, optimizer, tokenizer: tok, reward: always7}, problems,
        {groupSize: 2, maxNewTokens: 3, beta: 0})).rejects.toThrow(/model exploded/);
    calls = 0;
    await expect(grpoStep({policy, optimizer, tokenizer: tok, reward: always7}, problems,
        {groupSize: 2, maxNewTokens: 3, beta: 0})).rejects.toThrow(/model exploded/);
    head.dispose(); optimizer.dispose(); inner.dispose();
  });

  it('grpoStep merges loss options with its defaults: {clipHigh: 0.28} keeps beta 0.04', async () => {
    const policy = tiny();
    const optimizer = tf.train.adam(1e-3);
    const ctx = {policy, optimizer, tokenizer: tok, reward: sevens};
    await expect(grpoStep(ctx, problems, {groupSize: 2, maxNewTokens: 3, loss: {clipHigh: 0.28}})).rejects.toThrow(
        /grpoStep: 'reference' is required when beta > 0 \(got beta 0.04\)/);
    await expect(grpoStep(ctx, problems, {groupSize: 2, maxNewTokens: 3, beta: 0, loss: {beta: 0}})).rejects.toThrow(
        /grpoStep: got both 'beta' and 'loss.beta'/);
    const m = await grpoStep(ctx, problems, {groupSize: 2, maxNewTokens: 3, beta: 0, loss: {clipHigh: 0.28}});
    expect(m.kl).toBe(0);
    optimizer.dispose(); policy.dispose();
  });

  it('ppoStep: beta and mu; the deprecated klCoef / epochs are aliases, both names at once is an error', async () => {
    const policy = tiny();
    const head = new ValueHead(8);
    const optimizer = tf.train.adam(1e-3);
    const ctx = {policy, critic: {trunk: policy, head}, optimizer, tokenizer: tok, reward: sevens};
    await expect(ppoStep(ctx, problems, {groupSize: 2, maxNewTokens: 3})).rejects.toThrow(
        /ppoStep: 'reference' is required when beta > 0 \(got beta 0.04\)/);
    await expect(ppoStep(ctx, problems, {groupSize: 2, maxNewTokens: 3, klCoef: 0.1})).rejects.toThrow(
        /ppoStep: 'reference' is required when beta > 0 \(got beta 0.1\)/);
    await expect(ppoStep(ctx, problems, {groupSize: 2, maxNewTokens: 3, beta: 0, klCoef: 0})).rejects.toThrow(
        /ppoStep: got both 'beta' and its deprecated alias 'klCoef': pass only 'beta'/);
    await expect(ppoStep(ctx, problems, {groupSize: 2, maxNewTokens: 3, beta: 0, mu: 1, epochs: 1})).rejects.toThrow(
        /ppoStep: got both 'mu' and its deprecated alias 'epochs'/);
    // gae options merge: {gamma: 0.5} keeps lambda 0.95 (no error, finite metrics).
    const m = await ppoStep(ctx, problems, {groupSize: 2, maxNewTokens: 3, beta: 0, gae: {gamma: 0.5}, loss: {clipLow: 0.1}});
    expect(Number.isFinite(m.valueLoss)).toBe(true);
    head.dispose(); optimizer.dispose(); policy.dispose();
  });
});
