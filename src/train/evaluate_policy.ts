/**
 * Held-out evaluation as DeepSeek-R1 reports it: greedy accuracy, and pass@1, pass@k and cons@k
 * from k samples per prompt.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {assertKnownOptions, assertNumber, check} from '../math/assert.js';
import {passAtK} from '../math/pass_at_k.js';
import {encodePrompts} from '../models/encode_prompts.js';
import type {Policy, Tokenizer} from '../models/policy.js';
import {sampleCompletionsAsync, type SampleCompletionsOptions} from '../models/sample_completions.js';
import {answersEquivalent} from '../rewards/answers_equivalent.js';
import {extractAnswer as defaultExtractAnswer} from '../rewards/extract_answer.js';
import {scoreRewardsAs} from '../rewards/score_rewards.js';
import type {RewardFn, Sample} from '../rewards/types.js';
import {assertOptionsObject, assertPolicy, assertProblems, assertRewardFn, assertSamplingOptions} from './assert_step_inputs.js';
import {checkTokenizer, decodeCompletion} from './collect_rollout.js';

/** Options of {@link evaluatePolicy}. */
export interface EvaluatePolicyOptions {
  /** Most completion tokens (required). */
  maxNewTokens: number;
  /** Stop token id; default the tokenizer's `eosId`. */
  stopToken?: number;
  /** Temperature of the one completion per prompt behind `score`; default `0` (greedy: the accuracy of the policy's mode). */
  temperature?: number;
  /** Rows (prompts, or prompt samples) per sampling batch; default `128`. */
  batchSize?: number;
  /** Seed (only matters when sampling); default `0`. */
  seed?: number;
  /** Samples per prompt for `pass1`, `passAtK` and `consAtK`, integer >= 0; default `0` (off). */
  k?: number;
  /** Temperature of the k samples; default `0.6` (DeepSeek-R1's evaluation). */
  sampleTemperature?: number;
  /** Top-p of the k samples; default `0.95` (DeepSeek-R1's evaluation). */
  topP?: number;
  /** A sample counts as correct when its reward is >= this; default `1` (an accuracy reward's "right"). */
  minReward?: number;
  /** The final answer of a completion, for cons@k's vote; default `extractAnswer` (answer tag or `\boxed`). */
  extractAnswer?: (completion: string) => string | null;
}

/** Result of {@link evaluatePolicy}. */
export interface PolicyEvaluation {
  /** Mean of the reward over the prompts, one completion each (greedy by default): with a format-gated accuracy reward, the greedy accuracy. */
  score: number;
  /** Mean of every named reward component (of those completions). */
  components: Record<string, number>;
  /** The decoded completions, in prompt order. */
  completions: string[];
  /** With `k`: the samples per prompt. */
  k?: number;
  /** With `k`: pass@1 estimated from the k samples, mean over prompts of c / k (c correct samples). */
  pass1?: number;
  /** With `k`: mean over prompts of the unbiased pass@k, {@link passAtK}(k, c, k) (1 when any sample is correct). */
  passAtK?: number;
  /**
   * With `k`: cons@k, the share of prompts whose majority answer is right: answers grouped by
   * `answersEquivalent`, the largest group wins (ties: the first answer drawn), right when one of its
   * samples reaches `minReward`. Samples without an answer do not vote.
   */
  consAtK?: number;
  /** With `k`: the k sampled completions of each prompt. */
  samples?: string[][];
}

const KNOWN = ['maxNewTokens', 'stopToken', 'temperature', 'batchSize', 'seed', 'k', 'sampleTemperature', 'topP', 'minReward', 'extractAnswer'];

/**
 * Evaluates a policy on held-out problems. Generates one completion per prompt (greedy by default)
 * and scores it with `reward` (`score`). With `k > 0` it also draws k samples per prompt at
 * `sampleTemperature` 0.6 and `topP` 0.95, as DeepSeek-R1 evaluates (DeepSeek-AI 2025,
 * arXiv:2501.12948, §3.1), and reports pass@1 (mean of c / k), the unbiased pass@k (Chen et al.
 * 2021, arXiv:2107.03374) and cons@k (majority vote).
 *
 * @param policy any {@link Policy}.
 * @param tokenizer any {@link Tokenizer} (its vocabulary must fit the policy's).
 * @param problems `{prompt, reference}` items, at least one.
 * @param reward the reward function (a sample is correct when its reward >= `minReward`).
 * @param options see {@link EvaluatePolicyOptions}: `maxNewTokens` (required), `stopToken`
 *   (`eosId`), `temperature` (0), `batchSize` (128), `seed` (0), `k` (0), `sampleTemperature`
 *   (0.6), `topP` (0.95), `minReward` (1), `extractAnswer`.
 * @returns `{score, components, completions}`, plus `{k, pass1, passAtK, consAtK, samples}` with `k`.
 * @throws when `options` is not an object or has an unknown key, an option is out of range
 *   (`maxNewTokens`, `temperature`, `sampleTemperature`, `topP`, `seed`, `stopToken`, `batchSize`, `k`),
 *   `policy` is not a Policy, the tokenizer does not fit it, `problems` is empty or an entry is not
 *   `{prompt, reference}` strings, `reward` is not a function or returns the wrong count or a non-finite
 *   value, or a prompt does not fit.
 * @example
 * const tok = charTokenizer({alphabet: '0123456789+', specialTokens: ['<answer>', '</answer>']});
 * const policy = TransformerPolicy.create({vocabSize: tok.vocabSize, contextLength: 24, layers: 1, width: 16, heads: 2});
 * const ev = await evaluatePolicy(policy, tok, [{prompt: '1+2', reference: '3'}], accuracyReward(),
 *     {maxNewTokens: 8, stopToken: tok.id('</answer>'), k: 4});
 * ev.score; ev.pass1; ev.passAtK; ev.consAtK; // all 0 for an untrained policy
 * policy.dispose();
 */
export async function evaluatePolicy(
    policy: Policy, tokenizer: Tokenizer, problems: ReadonlyArray<{prompt: string; reference: string}>,
    reward: RewardFn, options: EvaluatePolicyOptions): Promise<PolicyEvaluation> {
  const fn = 'evaluatePolicy';
  assertOptionsObject(options, fn, '{maxNewTokens, ...}');
  assertKnownOptions(options, KNOWN, fn);
  assertPolicy(policy, fn, 'policy');
  checkTokenizer(policy, tokenizer, fn);
  const {
    maxNewTokens, stopToken = tokenizer.eosId, temperature = 0, batchSize = 128, seed = 0, k = 0,
    sampleTemperature = 0.6, topP = 0.95, minReward = 1, extractAnswer = defaultExtractAnswer,
  } = options;
  assertNumber(batchSize, fn, 'batchSize', {integer: true, min: 1});
  assertNumber(k, fn, 'k', {integer: true, min: 0});
  assertNumber(sampleTemperature, fn, 'sampleTemperature', {min: 0});
  assertNumber(minReward, fn, 'minReward');
  check(typeof extractAnswer === 'function', fn, () => `'extractAnswer' expected a function, got ${typeof extractAnswer}`);
  assertSamplingOptions({maxNewTokens, stopToken: options.stopToken, temperature, seed}, fn, policy.vocabSize);
  assertSamplingOptions({maxNewTokens, temperature: sampleTemperature, topP}, fn, policy.vocabSize);
  assertProblems(problems, fn);
  assertRewardFn(reward, fn);
  const generate = (texts: string[], sampling: Omit<SampleCompletionsOptions, 'maxNewTokens' | 'seed'>, seed0: number) =>
    generateTexts(policy, tokenizer, texts, {maxNewTokens, stopToken, padToken: tokenizer.padId, ...sampling}, batchSize, seed0);

  const completions = await generate(problems.map((p) => p.prompt), {temperature}, seed);
  const samples: Sample[] = problems.map((p, i) => ({prompt: p.prompt, reference: p.reference, completion: completions[i]!}));
  const scored = await scoreRewardsAs(reward, samples, fn, `'reward'`);
  const components: Record<string, number> = {};
  for (const [name, c] of Object.entries(scored.components)) components[name] = c.mean;
  const result: PolicyEvaluation = {score: scored.stats.mean, components, completions};
  if (k === 0) return result;

  const texts = problems.flatMap((p) => new Array<string>(k).fill(p.prompt));
  const drawn = await generate(texts, {temperature: sampleTemperature, topP}, seed + 7919);
  const drawnSamples: Sample[] = drawn.map((completion, i) => {
    const p = problems[Math.floor(i / k)]!;
    return {prompt: p.prompt, reference: p.reference, completion, groupId: Math.floor(i / k)};
  });
  const rewards = (await scoreRewardsAs(reward, drawnSamples, fn, `'reward'`)).rewards;
  let pass1 = 0, passK = 0, cons = 0;
  const perPrompt: string[][] = [];
  for (let q = 0; q < problems.length; q++) {
    const rs = Array.from(rewards.subarray(q * k, (q + 1) * k));
    const c = rs.filter((r) => r >= minReward).length;
    pass1 += c / k;
    passK += passAtK(k, c, k);
    const group = drawn.slice(q * k, (q + 1) * k);
    perPrompt.push(group);
    if (await majorityIsRight(group, rs, minReward, extractAnswer)) cons++;
  }
  const n = problems.length;
  return {...result, k, pass1: pass1 / n, passAtK: passK / n, consAtK: cons / n, samples: perPrompt};
}

/** Samples one completion per text in batches of `batchSize` rows and decodes them. */
async function generateTexts(
    policy: Policy, tokenizer: Tokenizer, texts: string[], sampling: Omit<SampleCompletionsOptions, 'seed'>,
    batchSize: number, seed: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < texts.length; i += batchSize) {
    const chunk = texts.slice(i, i + batchSize);
    const prompts = encodePrompts(tokenizer, chunk, {contextLength: policy.contextLength, maxNewTokens: sampling.maxNewTokens});
    let rows: number[][];
    let lengths: number[];
    try {
      const s = await sampleCompletionsAsync(policy, prompts, {...sampling, seed: seed + i});
      lengths = s.lengths;
      rows = (await s.tokens.array()) as number[][];
      tf.dispose([s.tokens, s.logProbs, s.mask]);
    } finally {
      tf.dispose([prompts.tokens, prompts.mask]);
    }
    rows.forEach((r, b) => out.push(decodeCompletion(tokenizer, r, lengths[b]!)));
  }
  return out;
}

/** cons@k for one prompt: the largest class of equivalent answers (ties: first drawn) holds a right sample. */
async function majorityIsRight(
    completions: string[], rewards: number[], minReward: number, extract: (c: string) => string | null): Promise<boolean> {
  const classes: Array<{answer: string; members: number[]}> = [];
  for (let i = 0; i < completions.length; i++) {
    const answer = extract(completions[i]!);
    if (answer === null || answer === undefined) continue;
    let home: {answer: string; members: number[]} | undefined;
    for (const c of classes) if (await answersEquivalent(answer, c.answer)) { home = c; break; }
    if (home) home.members.push(i);
    else classes.push({answer, members: [i]});
  }
  if (classes.length === 0) return false;
  let best = classes[0]!;
  for (const c of classes) if (c.members.length > best.members.length) best = c;
  return best.members.some((i) => rewards[i]! >= minReward);
}
