/**
 * Rollout collection shared by the RL steps: sample a group of completions per prompt and score them.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {assertKnownOptions, assertNumber, check} from '../math/assert.js';
import {encodePrompts, type PromptBatch} from '../models/encode_prompts.js';
import type {Policy, Tokenizer} from '../models/policy.js';
import {sampleCompletionsAsync, type SampledCompletions} from '../models/sample_completions.js';
import {scoreRewardsAs, type ScoredRewards} from '../rewards/score_rewards.js';
import type {RewardFn, Sample} from '../rewards/types.js';
import {assertOptionsObject, assertPolicy, assertProblems, assertRewardFn, assertSamplingOptions} from './assert_step_inputs.js';

/** A prompt with its verifiable reference answer. */
export interface Problem {
  /** Prompt text. */
  prompt: string;
  /** Reference answer (`Sample.reference`). */
  reference: string;
}

/** Sampling options of {@link collectRollout}. */
export interface RolloutOptions {
  /** Completions per prompt (contiguous groups), integer >= 1 (>= 2 for GRPO). Required. */
  groupSize: number;
  /** Most completion tokens. Required. */
  maxNewTokens: number;
  /** Sampling temperature; default `1`. */
  temperature?: number;
  /** Top-k; default `0` (off). */
  topK?: number;
  /** Top-p (nucleus); default `1` (off). */
  topP?: number;
  /** Stop token id; default the tokenizer's `eosId`. */
  stopToken?: number;
  /** Sampling seed; default `0`. */
  seed?: number;
}

/** A scored rollout; the caller disposes it with {@link disposeRollout}. */
export interface Rollout {
  /** Left-padded prompts, each repeated `groupSize` times: `[numPrompts * groupSize, promptTime]`. */
  prompts: PromptBatch;
  /** The sampled completions (tokens, behaviour log-probs, mask). */
  completions: SampledCompletions;
  /** The scored samples (decoded text, reference, groupId). */
  samples: Sample[];
  /** Rewards and components from `scoreRewards`. */
  scored: ScoredRewards;
}

/** @internal The option names of {@link RolloutOptions}. */
export const ROLLOUT_OPTIONS = ['groupSize', 'maxNewTokens', 'temperature', 'topK', 'topP', 'stopToken', 'seed'];

/**
 * Samples `groupSize` completions for each problem (rows `i * groupSize ... (i + 1) * groupSize - 1`
 * belong to problem `i`), decodes them up to the stop token and scores them with `reward`. The
 * decoded text keeps a stop token other than `eosId` (e.g. `'</answer>'`, which the format reward
 * needs) and drops a final `eosId`.
 *
 * @param policy any {@link Policy} (the sampling policy).
 * @param tokenizer any {@link Tokenizer}; its `vocabSize` must not exceed the policy's.
 * @param problems the prompts with references, at least one.
 * @param reward the reward function.
 * @param options see {@link RolloutOptions}; `stopToken` defaults to `tokenizer.eosId`.
 * @returns the rollout.
 * @throws when an option is unknown or invalid (`groupSize`, `maxNewTokens` not positive integers), the
 *   policy has no `apply`, `problems` is empty or an entry is not `{prompt: string, reference: string}`,
 *   `reward` is not a function or returns the wrong count or a non-finite value, sizes disagree, or a
 *   prompt does not fit the context.
 * @example
 * const tok = charTokenizer({alphabet: '0123456789+'});
 * const policy = TransformerPolicy.create({vocabSize: tok.vocabSize, contextLength: 16, layers: 1, width: 16, heads: 2});
 * const rollout = await collectRollout(policy, tok, [{prompt: '1+2', reference: '3'}],
 *     (samples) => samples.map((s) => (s.completion.includes('3') ? 1 : 0)), {groupSize: 4, maxNewTokens: 6});
 * rollout.scored.rewards; // 4 rewards, one group
 * disposeRollout(rollout);
 * policy.dispose();
 */
export async function collectRollout(
    policy: Policy, tokenizer: Tokenizer, problems: readonly Problem[], reward: RewardFn,
    options: RolloutOptions): Promise<Rollout> {
  const fn = 'collectRollout';
  assertOptionsObject(options, fn, '{groupSize, maxNewTokens, ...}');
  assertKnownOptions(options, ROLLOUT_OPTIONS, fn);
  assertPolicy(policy, fn, 'policy');
  return collectRolloutAs(fn, policy, tokenizer, problems, reward, options);
}

/**
 * @internal {@link collectRollout} whose errors name `fn` (the training step that samples); the caller
 * checked the options object and the policy.
 */
export async function collectRolloutAs(
    fn: string, policy: Policy, tokenizer: Tokenizer, problems: readonly Problem[], reward: RewardFn,
    options: RolloutOptions): Promise<Rollout> {
  const {groupSize, maxNewTokens, temperature = 1, topK = 0, topP = 1, seed = 0} = options;
  assertNumber(groupSize, fn, 'groupSize', {integer: true, min: 1});
  assertSamplingOptions(options, fn, policy.vocabSize);
  checkTokenizer(policy, tokenizer, fn);
  const stopToken = options.stopToken ?? tokenizer.eosId;
  assertProblems(problems, fn);
  assertRewardFn(reward, fn);
  const texts = problems.flatMap((p) => new Array<string>(groupSize).fill(p.prompt));
  const prompts = encodePrompts(tokenizer, texts, {contextLength: policy.contextLength, maxNewTokens});
  let completions: SampledCompletions | undefined;
  try {
    completions = await sampleCompletionsAsync(policy, prompts, {
      maxNewTokens, stopToken, padToken: tokenizer.padId, temperature, topK, topP, seed,
    });
    const rows = (await completions.tokens.array()) as number[][];
    const samples: Sample[] = rows.map((r, i) => ({
      prompt: texts[i]!,
      completion: decodeCompletion(tokenizer, r, completions!.lengths[i]!),
      reference: problems[Math.floor(i / groupSize)]!.reference,
      groupId: Math.floor(i / groupSize),
    }));
    const scored = await scoreRewardsAs(reward, samples, fn, `'reward'`);
    return {prompts, completions, samples, scored};
  } catch (e) {
    tf.dispose([prompts.tokens, prompts.mask]);
    if (completions) tf.dispose([completions.tokens, completions.logProbs, completions.mask]);
    throw e;
  }
}

/**
 * Disposes the tensors of a {@link Rollout} (prompts and completions; the JS parts need nothing).
 *
 * @param rollout a rollout from {@link collectRollout}.
 * @example
 * const tokenizer = charTokenizer({alphabet: '0123456789+'});
 * const policy = TransformerPolicy.create({vocabSize: tokenizer.vocabSize, contextLength: 12, layers: 1, width: 8, heads: 2});
 * const rollout = await collectRollout(policy, tokenizer, [{prompt: '2+2', reference: '4'}], () => [0, 0],
 *     {groupSize: 2, maxNewTokens: 4});
 * disposeRollout(rollout); // tf.memory().numTensors is back to its value before collectRollout
 * policy.dispose();
 */
export function disposeRollout(rollout: Rollout): void {
  const {prompts, completions} = rollout;
  tf.dispose([prompts.tokens, prompts.mask, completions.tokens, completions.logProbs, completions.mask]);
}

/** @internal The text of the first `length` ids, without a final `eosId`. */
export function decodeCompletion(tokenizer: Tokenizer, ids: readonly number[], length: number): string {
  const n = length > 0 && ids[length - 1] === tokenizer.eosId ? length - 1 : length;
  return tokenizer.decode(ids.slice(0, n));
}

/** @internal The tokenizer's ids must fit the policy's output distribution. */
export function checkTokenizer(policy: Policy, tokenizer: Tokenizer, fn: string): void {
  check(tokenizer !== null && typeof tokenizer === 'object' && typeof tokenizer.encode === 'function', fn, () =>
    `'tokenizer' expected a Tokenizer (encode, decode, vocabSize, padId, eosId), got ${String(tokenizer)}`);
  check(tokenizer.vocabSize <= policy.vocabSize, fn, () =>
    `'tokenizer' has vocabSize ${tokenizer.vocabSize} but the policy's vocabSize is ${policy.vocabSize} (the tokenizer's must not exceed it)`);
}
