/**
 * One GRPO iteration: sample groups, score, group-relative advantages, mu clipped updates with a KL
 * to a frozen reference.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {assertGradientsRegistered, assertKnownOptions, assertNumber, check} from '../math/assert.js';
import {assertKnownInputs} from '../math/assert.js';
import {groupAdvantages, type GroupAdvantagesOptions} from '../math/group_advantages.js';
import {grpoLossWithStats, type GrpoLossOptions} from '../math/grpo_loss.js';
import {tokenLogProbs} from '../math/token_log_probs.js';
import type {CharTokenizer} from '../models/char_tokenizer.js';
import {completionForward} from '../models/completion_forward.js';
import type {TransformerPolicy} from '../models/transformer_policy.js';
import type {RewardFn} from '../rewards/types.js';
import {applyClippedGradients} from './apply_clipped_gradients.js';
import {collectRollout, disposeRollout, type Problem, type RolloutOptions} from './collect_rollout.js';

/** What a GRPO step works on. */
export interface GrpoStepContext {
  /** The trainable policy (updated in place). */
  policy: TransformerPolicy;
  /** Frozen reference policy for the KL term (`policy.copy()` of the starting checkpoint); optional when `beta` is 0. */
  reference?: TransformerPolicy;
  /** Optimizer over the policy's variables (e.g. `tf.train.adam(1e-3)`). */
  optimizer: tf.Optimizer;
  /** Tokenizer of the policy. */
  tokenizer: CharTokenizer;
  /** Sequence-level reward (e.g. format-gated accuracy). */
  reward: RewardFn;
}

/** Options of {@link grpoStep}. */
export interface GrpoStepOptions extends RolloutOptions {
  /** Policy updates per batch (GRPO's mu; TRL `num_iterations`); default `1`. */
  mu?: number;
  /** Options of `grpoLoss`; default `{beta: 0.04}` (DeepSeekMath's KL coefficient). */
  loss?: GrpoLossOptions;
  /** Options of `groupAdvantages` other than `groupSize`; default `{}` (group std, TRL's). */
  advantages?: Omit<GroupAdvantagesOptions, 'groupSize' | 'groupIds'>;
  /** Global gradient-norm clip; default `1`. */
  maxGradNorm?: number;
}

/** Metrics of one RL step (JS numbers), shared by {@link grpoStep} and `ppoStep`. */
export interface RlStepMetrics {
  /** Mean total reward of the sampled completions. */
  reward: number;
  /** Mean of each named reward component. */
  rewardComponents: Record<string, number>;
  /** Mean KL estimate to the reference over completion tokens (k3 for GRPO; k1 for PPO); 0 without reference. */
  kl: number;
  /** Fraction of completion tokens whose ratio clip was active (last update of the step). */
  clipFraction: number;
  /** Loss of the first update. */
  loss: number;
  /** Mean completion length in tokens. */
  completionLength: number;
  /** Global gradient norm of the policy before clipping (first update). */
  gradNorm: number;
  /** Completions sampled in this step. */
  samples: number;
}

const KNOWN = ['groupSize', 'maxNewTokens', 'temperature', 'topK', 'stopToken', 'seed', 'mu', 'loss', 'advantages', 'maxGradNorm'];

/**
 * One GRPO step (Shao et al. 2024, DeepSeekMath, arXiv:2402.03300, Algorithm 1, one outer
 * iteration): sample `groupSize` completions per problem with the current policy (which becomes
 * pi_old: its log-probs are kept), score them, compute group-relative advantages, get the reference
 * log-probs once, then take `mu` optimizer steps on `grpoLoss` (clipped ratio to pi_old, KL to pi_ref).
 * Composed from `collectRollout`, `groupAdvantages`, `completionForward` + `tokenLogProbs` and
 * `grpoLossWithStats`; every tensor it creates is disposed before it returns.
 *
 * @param ctx policy, reference, optimizer, tokenizer and reward.
 * @param problems the prompts of this step (batch = problems.length * groupSize).
 * @param options sampling ({@link RolloutOptions}), `mu` (default 1), `loss` (default `{beta: 0.04}`),
 *   `advantages`, `maxGradNorm` (default 1).
 * @returns the step's {@link RlStepMetrics}.
 * @throws when `groupSize < 2`, `beta > 0` without a reference, or sizes disagree.
 * @example
 * const tokenizer = charTokenizer({alphabet: '0123456789+', specialTokens: ['<think>', '</think>', '<answer>', '</answer>']});
 * const policy = TransformerPolicy.create({vocabSize: tokenizer.vocabSize, contextLength: 32, layers: 1, width: 16, heads: 2});
 * const reference = policy.copy(); // frozen
 * const optimizer = tf.train.adam(1e-3);
 * const metrics = await grpoStep({policy, reference, optimizer, tokenizer, reward: gate(formatReward(), accuracyReward())},
 *     [{prompt: '1+2', reference: '3'}], {groupSize: 4, maxNewTokens: 24});
 * // metrics: {reward, kl, clipFraction, loss, gradNorm, completionLength, samples: 4, ...}
 * policy.dispose(); reference.dispose(); optimizer.dispose();
 */
export async function grpoStep(
    ctx: GrpoStepContext, problems: readonly Problem[], options: GrpoStepOptions): Promise<RlStepMetrics> {
  const fn = 'grpoStep';
  assertKnownOptions(options, KNOWN, fn);
  assertKnownInputs(ctx, ['policy', 'reference', 'optimizer', 'tokenizer', 'reward'], fn, 'ctx');
  assertGradientsRegistered(fn);
  const {policy, reference, optimizer, tokenizer, reward} = ctx;
  const {groupSize, mu = 1, loss: lossOptions = {beta: 0.04}, advantages: advOptions = {}, maxGradNorm = 1} = options;
  const temperature = options.temperature ?? 1;
  assertNumber(groupSize, fn, 'groupSize', {integer: true, min: 2});
  assertNumber(mu, fn, 'mu', {integer: true, min: 1});
  check((lossOptions.beta ?? 0) === 0 || reference !== undefined, fn, () =>
    `'reference' is required when loss.beta > 0 (got beta ${lossOptions.beta})`);
  if (reference) {
    check(JSON.stringify(reference.config) === JSON.stringify(policy.config), fn, () =>
      `'reference' expected the policy's config ${JSON.stringify(policy.config)}, got ${JSON.stringify(reference.config)}`);
  }
  const rollout = await collectRollout(policy, tokenizer, problems, reward, options);
  const {prompts, completions, scored} = rollout;
  const forwardInputs = {promptTokens: prompts.tokens, promptMask: prompts.mask, completionTokens: completions.tokens};
  const advantages = tf.tidy(() => groupAdvantages(tf.tensor1d(scored.rewards), {...advOptions, groupSize}));
  const refLogProbs = reference === undefined ? undefined : tf.tidy(() =>
    tokenLogProbs(completionForward(reference, forwardInputs).logits, completions.tokens, {temperature}));
  let firstLoss = 0, gradNorm = 0, kl = 0, clipFraction = 0;
  try {
    for (let i = 0; i < mu; i++) {
      let kept: tf.Scalar[] = [];
      const {loss, gradNorms} = applyClippedGradients(optimizer, () => {
        const logProbs = tokenLogProbs(completionForward(policy, forwardInputs).logits, completions.tokens, {temperature});
        const {loss: l, stats} = grpoLossWithStats({
          logProbs, oldLogProbs: completions.logProbs, refLogProbs, advantages, mask: completions.mask,
        }, lossOptions);
        const clip = tf.add(tf.add(stats.clipFracLow, stats.clipFracHigh), stats.clipFracDual) as tf.Scalar;
        kept = [tf.keep(clip), tf.keep(stats.kl ?? tf.scalar(0))];
        return l;
      }, [policy.variables()], maxGradNorm);
      const [lv, gv, cv, kv] = await Promise.all([loss.data(), gradNorms[0]!.data(), kept[0]!.data(), kept[1]!.data()]);
      tf.dispose([loss, ...gradNorms, ...kept]);
      if (i === 0) { firstLoss = lv[0]!; gradNorm = gv[0]!; kl = kv[0]!; }
      clipFraction = cv[0]!;
    }
  } finally {
    tf.dispose([advantages, ...(refLogProbs ? [refLogProbs] : [])]);
    disposeRollout(rollout);
  }
  const rewardComponents: Record<string, number> = {};
  for (const [name, c] of Object.entries(scored.components)) rewardComponents[name] = c.mean;
  return {
    reward: scored.stats.mean, rewardComponents, kl, clipFraction, loss: firstLoss, gradNorm,
    completionLength: completions.lengths.reduce((a, b) => a + b, 0) / completions.lengths.length,
    samples: completions.lengths.length,
  };
}
