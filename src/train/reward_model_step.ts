/**
 * Training and using a learned reward model (DeepSeek-R1 stage 4).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {assertGradientsRegistered, assertKnownInputs, assertKnownOptions, assertNumber, check} from '../math/assert.js';
import {pairwiseRewardLoss} from '../math/pairwise_reward_loss.js';
import type {Tokenizer} from '../models/policy.js';
import {encodeLastTokens, type RewardModel} from '../models/reward_model.js';
import type {RewardFn, Sample} from '../rewards/types.js';
import {applyClippedGradients} from './apply_clipped_gradients.js';
import {assertOptimizer, describeValue} from './assert_step_inputs.js';

/** A preference pair: for one prompt, the completion people preferred and the one they did not. */
export interface PreferencePair {
  /** The prompt text both completions answer. */
  prompt: string;
  /** The preferred completion. */
  chosen: string;
  /** The completion not preferred. */
  rejected: string;
  /** Optional required gap (e.g. rating difference); default 0. */
  margin?: number;
}

/** Options of {@link rewardModelStep}. */
export interface RewardModelStepOptions {
  /** Global gradient-norm clip; default `1` (`Infinity`: none). */
  maxGradNorm?: number;
}

/** Result of {@link rewardModelStep}. */
export interface RewardModelStepResult {
  /** Pairwise loss before the update. */
  loss: number;
  /** Share of pairs the model ranks right (r_chosen > r_rejected), before the update. */
  accuracy: number;
  /** Mean r_chosen - r_rejected before the update. */
  meanGap: number;
}

/**
 * One optimizer step of a reward model on preference pairs with the Bradley-Terry loss
 * (`pairwiseRewardLoss`, margins per pair), scoring `prompt + chosen` and `prompt + rejected`.
 *
 * @param ctx.model the reward model (trained in place).
 * @param ctx.optimizer any tfjs optimizer.
 * @param ctx.tokenizer the trunk's tokenizer.
 * @param pairs at least one pair.
 * @param options.maxGradNorm gradient clip; default `1`.
 * @returns `{loss, accuracy, meanGap}` (before the update).
 * @throws on no pairs or a pair that is not `{prompt, chosen, rejected}` strings, an unknown `ctx` key, a
 *   `model` that is not a RewardModel or an `optimizer` that is not a tf.Optimizer, bad options, or
 *   unregistered gradients.
 * @example
 * const tok = charTokenizer({alphabet: 'abc'});
 * const policy = TransformerPolicy.create({vocabSize: tok.vocabSize, contextLength: 8, layers: 1, width: 8, heads: 2});
 * const model = RewardModel.fromPolicy(policy);
 * const optimizer = tf.train.adam(1e-2);
 * const pairs = [{prompt: 'a', chosen: 'bc', rejected: 'cb'}];
 * for (let i = 0; i < 10; i++) await rewardModelStep({model, optimizer, tokenizer: tok}, pairs); // {loss, accuracy, meanGap} before each update
 * model.dispose(); policy.dispose();
 */
export async function rewardModelStep(
    ctx: {model: RewardModel; optimizer: tf.Optimizer; tokenizer: Tokenizer}, pairs: readonly PreferencePair[],
    options: RewardModelStepOptions = {}): Promise<RewardModelStepResult> {
  const fn = 'rewardModelStep';
  assertKnownOptions(options, ['maxGradNorm'], fn);
  assertGradientsRegistered(fn);
  const {maxGradNorm = 1} = options;
  check(typeof maxGradNorm === 'number' && maxGradNorm > 0, fn, () => `'maxGradNorm' expected > 0, got ${maxGradNorm}`);
  assertKnownInputs(ctx, ['model', 'optimizer', 'tokenizer'], fn, 'ctx');
  const {model, optimizer, tokenizer} = ctx;
  check(model !== null && typeof model === 'object' && typeof model.score === 'function' && typeof model.variables === 'function' &&
      model.trunk !== undefined, fn, () => `'model' expected a RewardModel (new RewardModel(trunk, head)), got ${describeValue(model)}`);
  assertOptimizer(optimizer, fn);
  check(Array.isArray(pairs) && pairs.length > 0, fn, () => `'pairs' expected at least one preference pair`);
  pairs.forEach((p, i) => check(p !== null && typeof p === 'object' && typeof p.prompt === 'string' &&
      typeof p.chosen === 'string' && typeof p.rejected === 'string', fn, () =>
    `'pairs[${i}]' expected {prompt: string, chosen: string, rejected: string}, got ${describeValue(p)}`));
  const n = pairs.length;
  const texts = [...pairs.map((p) => p.prompt + p.chosen), ...pairs.map((p) => p.prompt + p.rejected)];
  const margins = pairs.map((p, i) => {
    if (p.margin !== undefined) assertNumber(p.margin, fn, `pairs[${i}].margin`);
    return p.margin ?? 0;
  });
  const {tokens, mask} = encodeLastTokens(tokenizer, texts, model.trunk.contextLength, fn);
  const margin = tf.tensor1d(margins);
  const held: {gaps?: tf.Tensor} = {};
  try {
    const {loss, gradNorms} = applyClippedGradients(optimizer, () => {
      const scores = model.score(tokens, mask);
      const chosen = tf.slice(scores, [0], [n]);
      const rejected = tf.slice(scores, [n], [n]);
      held.gaps?.dispose();
      held.gaps = tf.keep(tf.sub(chosen, rejected));
      return pairwiseRewardLoss({chosenRewards: chosen, rejectedRewards: rejected}, {margin});
    }, [model.variables()], maxGradNorm);
    const [l, g] = await Promise.all([loss.data(), held.gaps!.data()]);
    tf.dispose([loss, ...gradNorms]);
    const gap = Array.from(g);
    return {loss: l[0]!, accuracy: gap.filter((x) => x > 0).length / n, meanGap: gap.reduce((a, b) => a + b, 0) / n};
  } finally {
    tf.dispose([tokens, mask, margin]);
    held.gaps?.dispose();
  }
}

/** Options of {@link rewardModelReward}. */
export interface RewardModelRewardOptions {
  /** Texts per forward batch; default `64`. */
  batchSize?: number;
  /** The text scored for a sample; default `sample.prompt + sample.completion`. */
  textOf?: (sample: Sample) => string;
}

/**
 * A learned reward model as a {@link RewardFn}: r_i = model(prompt_i + completion_i), for the
 * general (non-verifiable) prompts of R1's RL for all scenarios (combine with `routeReward`).
 * Non-string completions score as an empty completion. Async; reads the scores back.
 *
 * @param model a trained {@link RewardModel} (not disposed by the reward).
 * @param tokenizer its tokenizer.
 * @param options.batchSize texts per forward pass; default `64`.
 * @param options.textOf text to score; default prompt + completion.
 * @returns an async reward (values are the model's scores, unbounded).
 * @example
 * const tok = charTokenizer({alphabet: 'ab'});
 * const policy = TransformerPolicy.create({vocabSize: tok.vocabSize, contextLength: 8, layers: 1, width: 8, heads: 2});
 * const rm = RewardModel.fromPolicy(policy);
 * await rewardModelReward(rm, tok)([{prompt: 'a', completion: 'b'}]); // [0] before training
 * rm.dispose(); policy.dispose();
 */
export function rewardModelReward(model: RewardModel, tokenizer: Tokenizer, options: RewardModelRewardOptions = {}): RewardFn {
  const fn = 'rewardModelReward';
  assertKnownOptions(options, ['batchSize', 'textOf'], fn);
  const {batchSize = 64, textOf = (s: Sample) => `${s.prompt}${typeof s.completion === 'string' ? s.completion : ''}`} = options;
  assertNumber(batchSize, fn, 'batchSize', {integer: true, min: 1});
  check(typeof textOf === 'function', fn, () => `'textOf' expected a function`);
  return async (samples) => {
    const out: number[] = [];
    for (let i = 0; i < samples.length; i += batchSize) {
      const texts = samples.slice(i, i + batchSize).map(textOf);
      const scores = tf.tidy(() => model.scoreTexts(tokenizer, texts));
      out.push(...Array.from(await scores.data()));
      scores.dispose();
    }
    return out;
  };
}
