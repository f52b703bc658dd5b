/**
 * Rollout collection shared by the RL steps: sample a group of completions per prompt and score them.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {assertNumber, check} from '../math/assert.js';
import type {CharTokenizer} from '../models/char_tokenizer.js';
import {encodePrompts, type PromptBatch} from '../models/encode_prompts.js';
import {sampleCompletions, type SampledCompletions} from '../models/sample_completions.js';
import type {TransformerPolicy} from '../models/transformer_policy.js';
import {scoreRewards, type ScoredRewards} from '../rewards/score_rewards.js';
import type {RewardFn, Sample} from '../rewards/types.js';
import {defaultStopToken} from './evaluate_policy.js';

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
  /** Stop token id; default the tokenizer's `'</answer>'` (or `eosId`). */
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

/**
 * Samples `groupSize` completions for each problem (rows `i * groupSize ... (i + 1) * groupSize - 1`
 * belong to problem `i`), decodes them up to the stop token and scores them with `reward`.
 *
 * @param policy the sampling policy.
 * @param tokenizer its tokenizer; its `vocabSize` must equal the policy's.
 * @param problems the prompts with references, at least one.
 * @param reward the reward function.
 * @param options see {@link RolloutOptions}.
 * @returns the rollout.
 * @throws when sizes disagree, a prompt does not fit the context, or an option is invalid.
 * @example
 * const tokenizer = charTokenizer({alphabet: '0123456789+', specialTokens: ['<answer>', '</answer>']});
 * const policy = TransformerPolicy.create({vocabSize: tokenizer.vocabSize, contextLength: 16, layers: 1, width: 16, heads: 2});
 * const reward = gate(formatReward(), accuracyReward());
 * const rollout = await collectRollout(policy, tokenizer, [{prompt: '1+2', reference: '3'}], reward,
 *     {groupSize: 4, maxNewTokens: 8, seed: 1});
 * rollout.samples.length;        // 4 (one group of 4 completions)
 * rollout.scored.rewards.length; // 4; an untrained policy scores 0
 * disposeRollout(rollout);
 * policy.dispose();
 */
export async function collectRollout(
    policy: TransformerPolicy, tokenizer: CharTokenizer, problems: readonly Problem[], reward: RewardFn,
    options: RolloutOptions): Promise<Rollout> {
  const fn = 'collectRollout';
  const {groupSize, maxNewTokens, temperature = 1, topK = 0, seed = 0} = options;
  const stopToken = options.stopToken ?? defaultStopToken(tokenizer);
  assertNumber(groupSize, fn, 'groupSize', {integer: true, min: 1});
  check(tokenizer.vocabSize === policy.config.vocabSize, fn, () =>
    `'tokenizer' has vocabSize ${tokenizer.vocabSize} but the policy expects vocabSize ${policy.config.vocabSize}`);
  check(problems.length > 0, fn, () => `'problems' expected at least one problem`);
  const texts = problems.flatMap((p) => new Array<string>(groupSize).fill(p.prompt));
  const prompts = encodePrompts(tokenizer, texts, {contextLength: policy.config.contextLength, maxNewTokens});
  let completions: SampledCompletions | undefined;
  try {
    completions = sampleCompletions(policy, prompts, {
      maxNewTokens, stopToken, padToken: tokenizer.padId, temperature, topK, seed,
    });
    const rows = (await completions.tokens.array()) as number[][];
    const samples: Sample[] = rows.map((r, i) => ({
      prompt: texts[i]!,
      completion: tokenizer.decode(r.slice(0, completions!.lengths[i])),
      reference: problems[Math.floor(i / groupSize)]!.reference,
      groupId: Math.floor(i / groupSize),
    }));
    const scored = await scoreRewards(reward, samples);
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
