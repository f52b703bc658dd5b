/**
 * Held-out evaluation: sample completions for a fixed prompt set and score them.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {assertKnownOptions, assertNumber, check} from '../math/assert.js';
import {encodePrompts} from '../models/encode_prompts.js';
import type {Policy, Tokenizer} from '../models/policy.js';
import {sampleCompletions} from '../models/sample_completions.js';
import {scoreRewards} from '../rewards/score_rewards.js';
import type {RewardFn, Sample} from '../rewards/types.js';
import {checkTokenizer, decodeCompletion} from './collect_rollout.js';

/** Options of {@link evaluatePolicy}. */
export interface EvaluatePolicyOptions {
  /** Most completion tokens (required). */
  maxNewTokens: number;
  /** Stop token id; default the tokenizer's `eosId`. */
  stopToken?: number;
  /** Sampling temperature; default `0` (greedy: the accuracy of the policy's mode). */
  temperature?: number;
  /** Prompts per forward batch; default `128`. */
  batchSize?: number;
  /** Seed (only matters when `temperature > 0`); default `0`. */
  seed?: number;
}

/** Result of {@link evaluatePolicy}. */
export interface PolicyEvaluation {
  /** Mean of the reward over the prompts (e.g. format-gated accuracy in [0, 1]). */
  score: number;
  /** Mean of every named reward component. */
  components: Record<string, number>;
  /** The decoded completions, in prompt order. */
  completions: string[];
}

/**
 * Generates one completion per prompt (greedy by default) and scores it with `reward`: with a
 * format-gated accuracy reward, `score` is the held-out accuracy.
 *
 * @param policy any {@link Policy}.
 * @param tokenizer any {@link Tokenizer} (its vocabulary must fit the policy's).
 * @param problems `{prompt, reference}` items.
 * @param reward the reward function.
 * @param options see {@link EvaluatePolicyOptions}.
 * @returns `{score, components, completions}`.
 * @throws when the tokenizer's vocabulary differs from the policy's or a prompt does not fit.
 * @example
 * const tokenizer = charTokenizer({alphabet: '0123456789+', specialTokens: ['<think>', '</think>', '<answer>', '</answer>']});
 * const policy = TransformerPolicy.create({vocabSize: tokenizer.vocabSize, contextLength: 24, layers: 1, width: 16, heads: 2});
 * const heldOut = [{prompt: '1+2', reference: '3'}, {prompt: '4+4', reference: '8'}];
 * const {score, completions} = await evaluatePolicy(policy, tokenizer, heldOut, gate(formatReward(), accuracyReward()),
 *     {maxNewTokens: 16});
 * // score: the greedy accuracy in [0, 1] (0 for an untrained policy); completions: the 2 decoded texts
 * policy.dispose();
 */
export async function evaluatePolicy(
    policy: Policy, tokenizer: Tokenizer, problems: ReadonlyArray<{prompt: string; reference: string}>,
    reward: RewardFn, options: EvaluatePolicyOptions): Promise<PolicyEvaluation> {
  const fn = 'evaluatePolicy';
  assertKnownOptions(options, ['maxNewTokens', 'stopToken', 'temperature', 'batchSize', 'seed'], fn);
  const {maxNewTokens, stopToken = tokenizer.eosId, temperature = 0, batchSize = 128, seed = 0} = options;
  assertNumber(batchSize, fn, 'batchSize', {integer: true, min: 1});
  checkTokenizer(policy, tokenizer, fn);
  check(problems.length > 0, fn, () => `'problems' expected at least one item`);
  const completions: string[] = [];
  for (let i = 0; i < problems.length; i += batchSize) {
    const chunk = problems.slice(i, i + batchSize);
    const prompts = encodePrompts(tokenizer, chunk.map((p) => p.prompt), {contextLength: policy.contextLength, maxNewTokens});
    const out = sampleCompletions(policy, prompts, {maxNewTokens, stopToken, padToken: tokenizer.padId, temperature, seed: seed + i});
    const rows = (await out.tokens.array()) as number[][];
    tf.dispose([prompts.tokens, prompts.mask, out.tokens, out.logProbs, out.mask]);
    rows.forEach((r, b) => completions.push(decodeCompletion(tokenizer, r, out.lengths[b]!)));
  }
  const samples: Sample[] = problems.map((p, i) => ({prompt: p.prompt, reference: p.reference, completion: completions[i]!}));
  const scored = await scoreRewards(reward, samples);
  const components: Record<string, number> = {};
  for (const [name, c] of Object.entries(scored.components)) components[name] = c.mean;
  return {score: scored.stats.mean, components, completions};
}
