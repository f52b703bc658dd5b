/**
 * One PPO iteration for a language-model policy with a value head (InstructGPT-style: KL to the
 * reference in the per-token rewards, GAE, clipped policy and value losses).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {assertGradientsRegistered, assertKnownOptions, assertNumber, check} from '../math/assert.js';
import {assertKnownInputs} from '../math/assert.js';
import {gae, type GaeOptions} from '../math/gae.js';
import {klShapedRewards} from '../math/kl_reward_shaping.js';
import {whiten} from '../math/masked_stats.js';
import {ppoLoss, type PpoLossOptions} from '../math/ppo_loss.js';
import {tokenLogProbs} from '../math/token_log_probs.js';
import type {CharTokenizer} from '../models/char_tokenizer.js';
import {completionForward} from '../models/completion_forward.js';
import type {TransformerPolicy} from '../models/transformer_policy.js';
import type {ValueHead} from '../models/value_head.js';
import type {RewardFn} from '../rewards/types.js';
import {applyClippedGradients} from './apply_clipped_gradients.js';
import {collectRollout, disposeRollout, type Problem, type RolloutOptions} from './collect_rollout.js';
import type {RlStepMetrics} from './grpo_step.js';

/**
 * The critic: a transformer trunk and a linear value head on its hidden states. `trunk === policy`
 * shares the policy's trunk (one forward pass, value gradients reach the policy's weights, as TRL's
 * `AutoModelForCausalLMWithValueHead`); a separate trunk (`policy.copy({trainable: true})`) is the
 * InstructGPT / verl layout, with a second model's worth of parameters and compute.
 */
export interface Critic {
  /** The trunk whose hidden states feed the head (`policy` itself when shared). */
  trunk: TransformerPolicy;
  /** The value head (`new ValueHead(width)`). */
  head: ValueHead;
}

/** What a PPO step works on. */
export interface PpoStepContext {
  /** The trainable policy (updated in place). */
  policy: TransformerPolicy;
  /** Frozen reference policy for the KL penalty in the rewards; optional when `klCoef` is 0. */
  reference?: TransformerPolicy;
  /** The critic (shared or separate trunk, see {@link Critic}). */
  critic: Critic;
  /** One optimizer over the policy's, the critic trunk's and the head's variables. */
  optimizer: tf.Optimizer;
  /** Tokenizer of the policy. */
  tokenizer: CharTokenizer;
  /** Sequence-level reward. */
  reward: RewardFn;
}

/** Options of {@link ppoStep}. */
export interface PpoStepOptions extends RolloutOptions {
  /** Epochs over the batch (PPO's update epochs); default `1`, as GRPO's `mu`, for the same budget. */
  epochs?: number;
  /** KL coefficient of the per-token reward shaping (k1 estimator, as InstructGPT/TRL/verl); default `0.04`. */
  klCoef?: number;
  /** GAE options; default `{gamma: 1, lambda: 0.95}`. */
  gae?: GaeOptions;
  /** Options of `ppoLoss`; default `{valueCoef: 0.5}` (its defaults otherwise). */
  loss?: PpoLossOptions;
  /** Whiten advantages over the completion tokens (cleanrl `--norm-adv`); default `true`. */
  whitenAdvantages?: boolean;
  /** Gradient-norm clip, applied to the policy and the critic separately; default `1`. */
  maxGradNorm?: number;
}

/** Metrics of {@link ppoStep}: the shared RL metrics plus the critic's. */
export interface PpoStepMetrics extends RlStepMetrics {
  /** Value loss (first update). */
  valueLoss: number;
}

const KNOWN = [
  'groupSize', 'maxNewTokens', 'temperature', 'topK', 'stopToken', 'seed', 'epochs', 'klCoef', 'gae', 'loss',
  'whitenAdvantages', 'maxGradNorm',
];

/**
 * One PPO step (Schulman et al. 2017, arXiv:1707.06347; Ouyang et al. 2022, InstructGPT,
 * arXiv:2203.02155): sample completions (`groupSize` per prompt, only so that the sample budget
 * matches GRPO's; PPO does not use the groups), score them, shape per-token rewards with
 * `-klCoef * (log pi_old - log pi_ref)` plus the score on the last token (`klShapedRewards`), compute
 * old values and `gae` advantages and returns, whiten the advantages, then take `epochs` optimizer
 * steps on `ppoLoss` (clipped policy loss + value loss) over the policy and the critic.
 *
 * @param ctx policy, reference, critic, optimizer, tokenizer and reward.
 * @param problems the prompts of this step.
 * @param options see {@link PpoStepOptions}.
 * @returns the step's metrics.
 * @throws when `klCoef > 0` without a reference, the head's size differs from the trunk's width, or
 *   sizes disagree.
 * @example
 * const tokenizer = charTokenizer({alphabet: '0123456789+', specialTokens: ['<think>', '</think>', '<answer>', '</answer>']});
 * const policy = TransformerPolicy.create({vocabSize: tokenizer.vocabSize, contextLength: 32, layers: 1, width: 16, heads: 2});
 * const reference = policy.copy();
 * const critic = {trunk: policy, head: new ValueHead(16)}; // shared trunk
 * const optimizer = tf.train.adam(1e-3);
 * const metrics = await ppoStep({policy, reference, critic, optimizer, tokenizer, reward: gate(formatReward(), accuracyReward())},
 *     [{prompt: '1+2', reference: '3'}], {groupSize: 4, maxNewTokens: 24});
 * // metrics: the RL metrics of grpoStep plus valueLoss
 * policy.dispose(); reference.dispose(); critic.head.dispose(); optimizer.dispose();
 */
export async function ppoStep(
    ctx: PpoStepContext, problems: readonly Problem[], options: PpoStepOptions): Promise<PpoStepMetrics> {
  const fn = 'ppoStep';
  assertKnownOptions(options, KNOWN, fn);
  assertKnownInputs(ctx, ['policy', 'reference', 'critic', 'optimizer', 'tokenizer', 'reward'], fn, 'ctx');
  assertGradientsRegistered(fn);
  const {policy, reference, critic, optimizer, tokenizer, reward} = ctx;
  const {
    epochs = 1, klCoef = 0.04, gae: gaeOptions = {gamma: 1, lambda: 0.95}, loss: lossOptions = {valueCoef: 0.5},
    whitenAdvantages = true, maxGradNorm = 1,
  } = options;
  const temperature = options.temperature ?? 1;
  assertNumber(epochs, fn, 'epochs', {integer: true, min: 1});
  assertNumber(klCoef, fn, 'klCoef', {min: 0});
  check(klCoef === 0 || reference !== undefined, fn, () => `'reference' is required when klCoef > 0 (got ${klCoef})`);
  check(critic?.head?.hiddenSize === critic?.trunk?.config.width, fn, () =>
    `'critic.head' expected hiddenSize ${critic?.trunk?.config.width} (the trunk's width), got ${critic?.head?.hiddenSize}`);
  const shared = critic.trunk === policy;

  const rollout = await collectRollout(policy, tokenizer, problems, reward, options);
  const {prompts, completions, scored} = rollout;
  const mask = completions.mask;
  const forwardInputs = {promptTokens: prompts.tokens, promptMask: prompts.mask, completionTokens: completions.tokens};
  const prepared = tf.tidy(() => {
    const refLogProbs = reference === undefined ? undefined :
      tokenLogProbs(completionForward(reference, forwardInputs).logits, completions.tokens, {temperature});
    const kl = refLogProbs === undefined ? tf.zerosLike(mask) : tf.mul(tf.sub(completions.logProbs, refLogProbs), mask);
    const rewards = klShapedRewards({scores: tf.tensor1d(scored.rewards), kl: kl as tf.Tensor2D, mask}, {klCoef});
    const oldValues = critic.head.apply(completionForward(critic.trunk, forwardInputs).hidden);
    const {advantages, returns} = gae({rewards, values: oldValues, mask}, gaeOptions);
    const adv = whitenAdvantages ? whiten(advantages, mask) : advantages;
    const klMean = tf.div(tf.sum(kl), tf.maximum(tf.sum(mask), 1));
    return {oldValues, advantages: adv as tf.Tensor2D, returns, klMean};
  });
  const policyVars = policy.variables();
  const criticVars = shared ? critic.head.variables : [...critic.trunk.variables(), ...critic.head.variables];
  const groups = shared ? [[...policyVars, ...criticVars]] : [policyVars, criticVars];
  let firstLoss = 0, gradNorm = 0, clipFraction = 0, valueLossValue = 0;
  try {
    for (let e = 0; e < epochs; e++) {
      let kept: tf.Scalar[] = [];
      const {loss, gradNorms} = applyClippedGradients(optimizer, () => {
        const out = completionForward(policy, forwardInputs);
        const hidden = shared ? out.hidden : completionForward(critic.trunk, forwardInputs).hidden;
        const {loss: l, stats} = ppoLoss({
          logProbs: tokenLogProbs(out.logits, completions.tokens, {temperature}),
          oldLogProbs: completions.logProbs,
          advantages: prepared.advantages,
          values: critic.head.apply(hidden),
          oldValues: prepared.oldValues,
          returns: prepared.returns,
          mask,
        }, lossOptions);
        kept = [tf.keep(stats.clipFraction), tf.keep(stats.valueLoss)];
        return l;
      }, groups, maxGradNorm);
      const [lv, gv, cv, vv] = await Promise.all([loss.data(), gradNorms[0]!.data(), kept[0]!.data(), kept[1]!.data()]);
      tf.dispose([loss, ...gradNorms, ...kept]);
      if (e === 0) { firstLoss = lv[0]!; gradNorm = gv[0]!; valueLossValue = vv[0]!; }
      clipFraction = cv[0]!;
    }
  } finally {
    const kl = (await prepared.klMean.data())[0]!;
    tf.dispose(Object.values(prepared));
    disposeRollout(rollout);
    const rewardComponents: Record<string, number> = {};
    for (const [name, c] of Object.entries(scored.components)) rewardComponents[name] = c.mean;
    // eslint-disable-next-line no-unsafe-finally
    return {
      reward: scored.stats.mean, rewardComponents, kl, clipFraction, loss: firstLoss, gradNorm, valueLoss: valueLossValue,
      completionLength: completions.lengths.reduce((a, b) => a + b, 0) / completions.lengths.length,
      samples: completions.lengths.length,
    };
  }
}
