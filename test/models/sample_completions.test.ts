import * as tf from '@tensorflow/tfjs-core';
import {describe, expect, it} from 'vitest';
import {tokenLogProbs} from '../../src/math/token_log_probs.js';
import {charTokenizer} from '../../src/models/char_tokenizer.js';
import {completionForward} from '../../src/models/completion_forward.js';
import {encodePrompts} from '../../src/models/encode_prompts.js';
import {sampleCompletions, sampleCompletionsAsync} from '../../src/models/sample_completions.js';
import {TransformerPolicy} from '../../src/models/transformer_policy.js';
import {policyFromFunction} from '../../src/models/policy_from_function.js';

const tok = charTokenizer({alphabet: '0123456789+'});
const make = (seed = 0): TransformerPolicy =>
  TransformerPolicy.create({vocabSize: tok.vocabSize, contextLength: 16, layers: 1, width: 16, heads: 2, seed});

describe('sampleCompletions', () => {
  it('sampleCompletionsAsync draws exactly what sampleCompletions draws, cached or not, and leaks nothing', async () => {
    const policy = make(2);
    const noCache = policyFromFunction({
      apply: (t: tf.Tensor2D) => policy.apply(t).logits, variables: policy.variables(),
      vocabSize: policy.vocabSize, contextLength: policy.contextLength,
    });
    const prompts = encodePrompts(tok, ['1+2', '1+2', '44', '7'], {contextLength: 16, maxNewTokens: 6});
    const opts = {maxNewTokens: 6, stopToken: tok.id('3'), seed: 7, temperature: 0.9};
    for (const p of [policy, noCache]) {
      const before = tf.memory().numTensors;
      const a = sampleCompletions(p, prompts, opts);
      const b = await sampleCompletionsAsync(p, prompts, opts);
      expect(await b.tokens.array()).toEqual(await a.tokens.array());
      expect(await b.mask.array()).toEqual(await a.mask.array());
      expect(Array.from(await b.logProbs.data())).toEqual(Array.from(await a.logProbs.data()));
      expect(b.lengths).toEqual(a.lengths);
      expect(b.stopped).toEqual(a.stopped);
      tf.dispose([a.tokens, a.logProbs, a.mask, b.tokens, b.logProbs, b.mask]);
      expect(tf.memory().numTensors).toBe(before);
    }
    await expect(sampleCompletionsAsync(policy, prompts, {...opts, topK: -1})).rejects.toThrow(/topK/);
    tf.dispose([prompts.tokens, prompts.mask]);
    policy.dispose();
  });

  it('masks and pads everything after the stop token, and keeps the stop token', () => {
    const policy = make(1);
    const prompts = encodePrompts(tok, ['1+2', '33+4', '5', '9', '8+8', '2', '1', '7+7'], {contextLength: 16, maxNewTokens: 10});
    // Stop on a common digit so that most rows stop early.
    const stop = tok.id('3');
    const out = sampleCompletions(policy, prompts, {maxNewTokens: 10, stopToken: stop, padToken: tok.padId, seed: 3, temperature: 5});
    const tokens = out.tokens.arraySync() as number[][];
    const mask = out.mask.arraySync() as number[][];
    const logp = out.logProbs.arraySync() as number[][];
    let sawStop = false;
    tokens.forEach((row, b) => {
      const at = row.indexOf(stop);
      row.forEach((t, j) => {
        const inside = at < 0 || j <= at;
        expect(mask[b]![j]).toBe(inside ? 1 : 0);
        if (!inside) { expect(t).toBe(tok.padId); expect(logp[b]![j]).toBe(0); }
        else expect(logp[b]![j]).toBeLessThan(0);
      });
      expect(out.lengths[b]).toBe(at < 0 ? row.length : at + 1);
      expect(out.stopped[b]).toBe(at >= 0);
      sawStop ||= at >= 0 && at < row.length - 1;
    });
    expect(sawStop).toBe(true);
    tf.dispose([prompts.tokens, prompts.mask, out.tokens, out.logProbs, out.mask]);
    policy.dispose();
  });

  it.each([1, 0.7])('log-probs equal the model\'s log-probs of the sampled tokens (temperature %s)', (temperature) => {
    const policy = make(2);
    const prompts = encodePrompts(tok, ['12+3', '4'], {contextLength: 16, maxNewTokens: 8});
    const out = sampleCompletions(policy, prompts, {maxNewTokens: 8, seed: 5, temperature, topK: 5});
    const {logits} = completionForward(policy, {promptTokens: prompts.tokens, promptMask: prompts.mask, completionTokens: out.tokens});
    const want = tokenLogProbs(logits, out.tokens, {temperature}).arraySync() as number[][];
    const got = out.logProbs.arraySync() as number[][];
    got.forEach((row, b) => row.forEach((v, j) => expect(v).toBeCloseTo(want[b]![j]!, 4)));
    tf.dispose([prompts.tokens, prompts.mask, out.tokens, out.logProbs, out.mask, logits]);
    policy.dispose();
  });

  it('is deterministic with a seed; greedy picks the argmax', () => {
    const policy = make(3);
    const prompts = encodePrompts(tok, ['7+8'], {contextLength: 16, maxNewTokens: 6});
    const a = sampleCompletions(policy, prompts, {maxNewTokens: 6, seed: 9});
    const b = sampleCompletions(policy, prompts, {maxNewTokens: 6, seed: 9});
    expect(a.tokens.arraySync()).toEqual(b.tokens.arraySync());
    const g = sampleCompletions(policy, prompts, {maxNewTokens: 6, temperature: 0});
    const {logits} = completionForward(policy, {promptTokens: prompts.tokens, promptMask: prompts.mask, completionTokens: g.tokens});
    expect(tf.argMax(logits, 2).arraySync()).toEqual(g.tokens.arraySync());
    tf.dispose([prompts.tokens, prompts.mask, a.tokens, a.logProbs, a.mask, b.tokens, b.logProbs, b.mask, g.tokens, g.logProbs, g.mask, logits]);
    policy.dispose();
  });

  it('leaks no tensors and throws named errors', () => {
    const policy = make(4);
    const prompts = encodePrompts(tok, ['1+1'], {contextLength: 16, maxNewTokens: 4});
    const before = tf.memory().numTensors;
    const out = sampleCompletions(policy, prompts, {maxNewTokens: 4});
    expect(tf.memory().numTensors).toBe(before + 3);
    tf.dispose([out.tokens, out.logProbs, out.mask]);
    expect(() => sampleCompletions(policy, prompts, {maxNewTokens: 14})).toThrow(
        /sampleCompletions: prompt length 3 \+ maxNewTokens 14 exceeds the policy's contextLength 16/);
    expect(() => encodePrompts(tok, ['1'.repeat(17)], {contextLength: 16})).toThrow(
        /encodePrompts: 'prompts\[0\]' has 17 tokens; with maxNewTokens=0 that exceeds contextLength=16/);
    expect(() => sampleCompletions(policy, prompts, {maxNewTokens: 4, topK: -1})).toThrow(/'topK' expected >= 0/);
    tf.dispose([prompts.tokens, prompts.mask]);
    policy.dispose();
  });

  it('topP keeps the smallest most-likely set reaching the mass (after topK, renormalised), with the right frequencies', () => {
    // Next-token distribution independent of the prefix: p = [0, 0, .5, .3, .15, .05, 0...] over the vocabulary.
    const V = tok.vocabSize;
    const p = new Array(V).fill(1e-9);
    [0.5, 0.3, 0.15, 0.05].forEach((v, i) => { p[2 + i] = v; });
    const row = tf.log(tf.tensor1d(p));
    const policy = policyFromFunction({
      apply: (tokens) => tf.tile(tf.reshape(row, [1, 1, V]), [tokens.shape[0], tokens.shape[1], 1]),
      variables: [], vocabSize: V, contextLength: 16,
    });
    const prompts = encodePrompts(tok, new Array(400).fill('1'), {contextLength: 16, maxNewTokens: 1});
    const draw = (o: {topP?: number; topK?: number}): number[] => {
      const out = sampleCompletions(policy, prompts, {maxNewTokens: 1, seed: 7, ...o});
      const counts = new Array(V).fill(0);
      for (const t of out.tokens.dataSync()) counts[t]++;
      tf.dispose([out.tokens, out.logProbs, out.mask]);
      return counts.map((c) => c / 400);
    };
    const a = draw({topP: 0.79}); // .5 + .3 reaches .79: tokens 2, 3 with .625 / .375
    expect(a[2]! + a[3]!).toBeCloseTo(1, 10);
    expect(a[2]).toBeGreaterThan(0.55); expect(a[2]).toBeLessThan(0.7);
    const b = draw({topP: 0.81}); // needs token 4 too
    expect(b[4]).toBeGreaterThan(0.08);
    expect(b[2]! + b[3]! + b[4]!).toBeCloseTo(1, 10);
    const c = draw({topK: 3, topP: 0.85}); // renormalised top-3: .526, .316, .158: .842 < .85 keeps all three
    expect(c[4]).toBeGreaterThan(0.08);
    expect(c[5]).toBe(0);
    const d = draw({topP: 1});
    expect(d[5]).toBeGreaterThan(0.02);
    expect(() => sampleCompletions(policy, prompts, {maxNewTokens: 1, topP: 0})).toThrow(/sampleCompletions: 'topP' expected > 0, got 0/);
    expect(() => sampleCompletions(policy, prompts, {maxNewTokens: 1, topP: 1.5})).toThrow(/'topP' expected <= 1, got 1.5/);
    tf.dispose([row, prompts.tokens, prompts.mask]);
  });
});
