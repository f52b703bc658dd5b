import * as tf from '@tensorflow/tfjs-core';
import {describe, expect, it} from 'vitest';
import {charTokenizer} from '../../src/models/char_tokenizer.js';
import {TransformerPolicy} from '../../src/models/transformer_policy.js';
import {accuracyReward} from '../../src/rewards/accuracy_reward.js';
import type {RewardFn} from '../../src/rewards/types.js';
import {policySampler} from '../../src/train/policy_sampler.js';
import {rejectionSample, type CompletionSampler} from '../../src/train/rejection_sample.js';

// Per prompt, four fixed completions (sample index j): what a policy might write.
const table: Record<string, string[]> = {
  a: ['<think>x</think><answer>1</answer>', '<think>y</think><answer>1</answer>', '<think>x</think><answer>1</answer>', '<answer>1</answer>'],
  b: ['<think>z</think><answer>2</answer>', '<think>\u4e2d\u6587\u63a8\u7406</think><answer>7</answer>', '<think>zz</think><answer>7</answer>', '<think>long long long long long</think><answer>7</answer>'],
  c: ['<think>q</think><answer>0</answer>', '<think>q</think><answer>0</answer>', '<think>q</think><answer>0</answer>', '<think>q</think><answer>0</answer>'],
};
const fixedSampler: CompletionSampler = (prompts) => {
  const seen: Record<string, number> = {};
  return prompts.map((p) => table[p]![(seen[p] = (seen[p] ?? -1) + 1)]!);
};
const prompts = [{prompt: 'a', reference: '1'}, {prompt: 'b', reference: '7'}, {prompt: 'c', reference: '5'}];
const accuracy = accuracyReward();

describe('rejectionSample', () => {
  it('accepts correct samples, dedupes, and reports the statistics (hand-computed)', async () => {
    const {accepted, stats} = await rejectionSample(fixedSampler, prompts, accuracy, {samplesPerPrompt: 4, accept: {minReward: 1}});
    // a: 4 correct, sample 2 repeats sample 0 -> 3 kept. b: samples 1-3 correct. c: none correct.
    expect(accepted.map((s) => [s.promptIndex, s.sampleIndex])).toEqual([[0, 0], [0, 1], [0, 3], [1, 1], [1, 2], [1, 3]]);
    expect(stats.samples).toBe(12);
    expect(stats.accepted).toBe(6);
    expect(stats.acceptanceRate).toBe(0.5);
    expect(stats.perPrompt.map((p) => p.accepted)).toEqual([3, 3, 0]);
    expect(stats.perPrompt[0]!.acceptanceRate).toBe(0.75);
    expect(stats.passAtK).toEqual({k: 4, value: 2 / 3});
    expect(stats.promptsWithoutAccepted).toEqual([2]);
    expect(stats.removed).toEqual({unreadable: 0, mixedLanguage: 0, overlong: 0, duplicate: 1, rejected: 5});
    expect(stats.tokensKept).toBe(accepted.reduce((a, s) => a + s.completion.length, 0)); // characters: no token counts
    expect(accepted[0]).toMatchObject({prompt: 'a', reference: '1', reward: 1, completion: table.a![0]});
  });
  it('applies the R1 filters: unreadable, mixed language, overlong, in that order', async () => {
    const {accepted, stats} = await rejectionSample(fixedSampler, prompts, accuracy, {
      samplesPerPrompt: 4, accept: {minReward: 1}, dedupe: false,
      filters: {unreadable: true, mixedLanguage: {language: 'en'}, overlong: {maxTokens: 40}},
    });
    // a[3] has no <think>: unreadable. b[1] reasons in Chinese: mixed language. b[3] is 54 characters: overlong.
    expect(stats.removed).toEqual({unreadable: 1, mixedLanguage: 1, overlong: 1, duplicate: 0, rejected: 5});
    expect(accepted.map((s) => [s.promptIndex, s.sampleIndex])).toEqual([[0, 0], [0, 1], [0, 2], [1, 2]]);
  });
  it('bestOf keeps the k best of each prompt, maxPerPrompt caps, and both combine with minReward', async () => {
    const graded: RewardFn = (ss) => ss.map((s) => Number(/<answer>(\d)/.exec(s.completion)?.[1] ?? 0) / 10);
    const best = await rejectionSample(fixedSampler, prompts, graded, {samplesPerPrompt: 4, accept: {bestOf: 1}});
    // a: all 0.1, first wins; b: 0.7 at 1, 2, 3 -> sample 1; c: all 0 -> sample 0.
    expect(best.accepted.map((s) => [s.promptIndex, s.sampleIndex, s.reward])).toEqual([[0, 0, 0.1], [1, 1, 0.7], [2, 0, 0]]);
    expect(best.stats.passAtK).toBeNull();
    const capped = await rejectionSample(fixedSampler, prompts, accuracy, {samplesPerPrompt: 4, accept: {minReward: 1}, maxPerPrompt: 1});
    expect(capped.accepted.map((s) => [s.promptIndex, s.sampleIndex])).toEqual([[0, 0], [1, 1]]);
    const both = await rejectionSample(fixedSampler, prompts, graded, {samplesPerPrompt: 4, accept: {minReward: 0.5, bestOf: 2}});
    expect(both.accepted.map((s) => [s.promptIndex, s.sampleIndex])).toEqual([[1, 1], [1, 2]]);
  });
  it('is deterministic for a seed with a policy sampler, and counts tokens', async () => {
    const tok = charTokenizer({alphabet: '0123456789'});
    const policy = TransformerPolicy.create({vocabSize: tok.vocabSize, contextLength: 12, layers: 1, width: 16, heads: 2, seed: 3});
    const sampler = policySampler(policy, tok, {maxNewTokens: 5, temperature: 1, topP: 1});
    const always: RewardFn = (ss) => ss.map(() => 1);
    const opts = {samplesPerPrompt: 3, accept: {minReward: 1}, dedupe: false, seed: 7};
    const before = tf.memory().numTensors;
    const r1 = await rejectionSample(sampler, [{prompt: '12'}, {prompt: '345'}], always, opts);
    expect(tf.memory().numTensors).toBe(before);
    const r2 = await rejectionSample(sampler, [{prompt: '12'}, {prompt: '345'}], always, opts);
    const r3 = await rejectionSample(sampler, [{prompt: '12'}, {prompt: '345'}], always, {...opts, seed: 8});
    expect(r2.accepted).toEqual(r1.accepted);
    expect(r3.accepted.map((s) => s.completion)).not.toEqual(r1.accepted.map((s) => s.completion));
    expect(r1.stats.tokensKept).toBe(r1.accepted.reduce((a, s) => a + s.tokens, 0));
    expect(r1.accepted.every((s) => s.tokens >= 1 && s.tokens <= 5)).toBe(true);
    policy.dispose();
  });
  it('names bad input', async () => {
    const run = (overrides: object, ps: unknown = prompts, reward: RewardFn = accuracy, sampler: unknown = fixedSampler) =>
      rejectionSample(sampler as CompletionSampler, ps as never, reward, {samplesPerPrompt: 4, accept: {minReward: 1}, ...overrides});
    await expect(run({}, [])).rejects.toThrow("rejectionSample: 'prompts' expected at least one prompt, got an empty list");
    await expect(run({samplesPerPrompt: 0})).rejects.toThrow("rejectionSample: 'samplesPerPrompt' expected >= 1, got 0");
    await expect(run({accept: {}})).rejects.toThrow("rejectionSample: 'accept' expected {minReward: number} or {bestOf: k}, got neither");
    await expect(run({accept: {bestOf: 5}})).rejects.toThrow("rejectionSample: 'accept.bestOf' expected <= 4, got 5");
    await expect(run({accept: {minReward: 1, best: 1}})).rejects.toThrow("unknown option 'best'");
    await expect(run({filter: {}})).rejects.toThrow("rejectionSample: unknown option 'filter'");
    await expect(run({}, prompts, (ss) => ss.map(() => NaN))).rejects.toThrow(
        "rejectionSample: 'reward' expected finite numbers, got NaN at index 0");
    await expect(run({}, prompts, accuracy, () => ['x'])).rejects.toThrow(
        "rejectionSample: 'sampler' expected to return 12 completions (one per prompt entry), got 1");
    const tok = charTokenizer({alphabet: '01'});
    const policy = TransformerPolicy.create({vocabSize: tok.vocabSize - 1, contextLength: 8, layers: 1, width: 8, heads: 2});
    expect(() => policySampler(policy, tok, {maxNewTokens: 2})).toThrow('policySampler');
    policy.dispose();
  });
});
