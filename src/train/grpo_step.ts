/**
 * One GRPO iteration: sample groups, score, group-relative advantages, mu clipped updates with a KL
 * to a frozen reference.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {assertKnownOptions, assertNumber, check} from '../math/assert.js';
import {groupAdvantages, type GroupAdvantagesOptions} from '../math/group_advantages.js';
import {grpoLossWithStats, type GrpoLossOptions} from '../math/grpo_loss.js';
import {tokenLogProbs} from '../math/token_log_probs.js';
import {completionForward} from '../models/completion_forward.js';
import type {Policy, Tokenizer} from '../models/policy.js';
import type {RewardFn} from '../rewards/types.js';
import {applyClippedGradients} from './apply_clipped_gradients.js';
import {type Problem, ROLLOUT_OPTIONS, type RolloutOptions} from './collect_rollout.js';
import {deprecatedAlias} from './deprecated_alias.js';
import {type DynamicSamplingOptions, sampleTrainingBatch} from './dynamic_sampling.js';
import {mergeOptions} from './merge_options.js';
import {HookMetrics, withAuxLoss} from './update_hooks.js';
import {assertNestedOptions, assertOptionsObject, assertRlStepContext, checkNestedOptions} from './assert_step_inputs.js';

/** What a GRPO step works on. */
export interface GrpoStepContext {
  /** The trainable policy (updated in place); any {@link Policy}. */
  policy: Policy;
  /** Frozen reference policy for the KL term (`policy.copy()` of the starting checkpoint); optional when `beta` is 0. */
  reference?: Policy;
  /** Optimizer over the policy's variables (e.g. `tf.train.adam(1e-3)`). */
  optimizer: tf.Optimizer;
  /** Tokenizer of the policy; any {@link Tokenizer}. */
  tokenizer: Tokenizer;
  /** Sequence-level reward (e.g. format-gated accuracy). */
  reward: RewardFn;
}

/** Options of {@link grpoStep}. */
export interface GrpoStepOptions extends RolloutOptions {
  /** Policy updates per batch (GRPO's mu; TRL `num_iterations`); default `1`. */
  mu?: number;
  /**
   * KL coefficient, the same as `loss.beta` (pass one of them); default `0.04` (DeepSeekMath's).
   * The same name as `ppoStep`'s `beta`.
   */
  beta?: number;
  /**
   * Options of `grpoLoss`, merged with the defaults `{beta: 0.04}` (so `{clipHigh: 0.28}` keeps
   * beta 0.04).
   */
  loss?: GrpoLossOptions;
  /** Options of `groupAdvantages` other than `groupSize`; default `{}` (group std, TRL's). */
  advantages?: Omit<GroupAdvantagesOptions, 'groupSize' | 'groupIds'>;
  /** Global gradient-norm clip; default `1`. */
  maxGradNorm?: number;
  /**
   * DAPO dynamic sampling (Yu et al. 2025, arXiv:2503.14476): drop groups whose rewards all tie and
   * sample more problems from `source` until the batch holds `problems.length` groups or
   * `maxTries` sampling rounds have run. Default off.
   */
  dynamicSampling?: DynamicSamplingOptions;
}

/**
 * Metrics of one RL step (JS numbers), shared by {@link grpoStep} and `ppoStep`. The metrics a
 * policy's `afterOptimizerStep` returns are merged in by name (mean over the step's updates).
 */
export interface RlStepMetrics {
  /** Mean total reward of the sampled completions (every sampling round). */
  reward: number;
  /** Mean of each named reward component. */
  rewardComponents: Record<string, number>;
  /** Mean KL estimate to the reference over completion tokens (k3 for GRPO; k1 for PPO); 0 without reference. */
  kl: number;
  /** Fraction of completion tokens whose ratio clip was active (last update of the step). */
  clipFraction: number;
  /** Objective of the first update (including the policy's `auxLoss`, if any). */
  loss: number;
  /** The policy's auxiliary loss at the first update (MoE balance, MTP); present when the policy has one. */
  auxLoss?: number;
  /** Mean completion length in tokens. */
  completionLength: number;
  /** Global gradient norm of the policy before clipping (first update). */
  gradNorm: number;
  /** Completions sampled in this step (every sampling round). */
  samples: number;
  /**
   * Fraction of the sampled groups whose rewards all tie (zero variance: zero GRPO advantage and no
   * gradient). Near 1 means nothing is learned: the task is too easy or too hard, or the sampler
   * gives identical completions.
   */
  zeroVarianceGroups: number;
  /** With dynamic sampling: the fraction of sampled groups kept for the update. */
  keptFraction?: number;
  /** With dynamic sampling: sampling rounds run. */
  samplingRounds?: number;
  /** Metrics of the policy's `afterOptimizerStep` (JS numbers), by the names it returns. */
  [metric: string]: unknown;
}

const KNOWN = [...ROLLOUT_OPTIONS, 'mu', 'beta', 'loss', 'advantages', 'maxGradNorm', 'dynamicSampling'];

/**
 * One GRPO step (Shao et al. 2024, DeepSeekMath, arXiv:2402.03300, Algorithm 1, one outer
 * iteration): sample `groupSize` completions per problem with the current policy (which becomes
 * pi_old: its log-probs are kept), score them, compute group-relative advantages, get the reference
 * log-probs once, then take `mu` optimizer steps on `grpoLoss` (clipped ratio to pi_old, KL to
 * pi_ref) plus the policy's `auxLoss` when its forward pass returns one, calling
 * `policy.afterOptimizerStep` after each. Composed from `collectRollout`, `groupAdvantages`,
 * `completionForward` + `tokenLogProbs` and `grpoLossWithStats`; every tensor it creates is
 * disposed before it returns.
 *
 * @param ctx policy, reference, optimizer, tokenizer and reward (any `Policy` and `Tokenizer`).
 * @param problems the prompts of this step (batch = problems.length * groupSize).
 * @param options sampling ({@link RolloutOptions}), `mu` (default 1), `beta` / `loss` (default
 *   `{beta: 0.04}`, merged), `advantages`, `maxGradNorm` (default 1), `dynamicSampling` (off).
 * @returns the step's {@link RlStepMetrics}.
 * @throws when `options` is not an object or has an unknown key; `groupSize` is not an integer >= 2, `mu`
 *   not an integer >= 1, `beta` negative or not finite, `maxGradNorm` not > 0, or a sampling option out of
 *   range; `loss` / `advantages` / `dynamicSampling` is not an object or is invalid (`in 'loss': ...`);
 *   `beta > 0` without a reference; `policy` / `reference` is not a Policy, `optimizer` not a tf.Optimizer
 *   or `reward` not a function; `problems` is empty or an entry is not `{prompt, reference}` strings; the
 *   reward returns the wrong count or a non-finite value; or sizes disagree.
 * @example
 * const tok = charTokenizer({alphabet: '0123456789+'});
 * const policy = TransformerPolicy.create({vocabSize: tok.vocabSize, contextLength: 16, layers: 1, width: 16, heads: 2});
 * const optimizer = tf.train.adam(1e-3);
 * const reward = (samples: readonly Sample[]) => samples.map((s) => (s.completion.includes('3') ? 1 : 0));
 * const metrics = await grpoStep({policy, optimizer, tokenizer: tok, reward}, [{prompt: '1+2', reference: '3'}],
 *     {groupSize: 4, maxNewTokens: 6, beta: 0});
 * metrics.zeroVarianceGroups; // 1 when all 4 completions got the same reward
 * optimizer.dispose(); policy.dispose();
 */
export async function grpoStep(
    ctx: GrpoStepContext, problems: readonly Problem[], options: GrpoStepOptions): Promise<RlStepMetrics> {
  const fn = 'grpoStep';
  assertOptionsObject(options, fn, '{groupSize, maxNewTokens, ...}');
  assertKnownOptions(options, KNOWN, fn);
  assertRlStepContext(ctx, ['policy', 'reference', 'optimizer', 'tokenizer', 'reward'], fn);
  const {policy, reference, optimizer, tokenizer, reward} = ctx;
  assertNestedOptions(options.loss, fn, 'loss');
  assertNestedOptions(options.advantages, fn, 'advantages');
  const {groupSize, mu = 1, advantages: advOptions = {}, maxGradNorm = 1} = options;
  check(options.beta === undefined || options.loss?.beta === undefined, fn, () =>
    `got both 'beta' and 'loss.beta': pass one of them`);
  const lossOptions = mergeOptions<GrpoLossOptions>({beta: 0.04}, {...options.loss, beta: options.beta ?? options.loss?.beta});
  const temperature = options.temperature ?? 1;
  assertNumber(groupSize, fn, 'groupSize', {integer: true, min: 2});
  assertNumber(mu, fn, 'mu', {integer: true, min: 1});
  check(typeof maxGradNorm === 'number' && maxGradNorm > 0, fn, () => `'maxGradNorm' expected a number > 0 (Infinity: no clip), got ${maxGradNorm}`);
  const beta = lossOptions.beta!;
  assertNumber(beta, fn, options.loss?.beta !== undefined ? 'loss.beta' : 'beta', {min: 0});
  check(beta === 0 || reference !== undefined, fn, () => `'reference' is required when beta > 0 (got beta ${beta})`);
  if (reference) {
    check(reference.vocabSize === policy.vocabSize, fn, () =>
      `'reference' expected the policy's vocabSize ${policy.vocabSize}, got ${reference.vocabSize}`);
  }
  for (const key of ['groupSize', 'groupIds']) {
    check(!(key in advOptions), fn, () => `'advantages.${key}' is set by the step (groups of 'groupSize'); remove it`);
  }
  // Nested options fail here, before sampling, not inside the gradient tape (tfjs keeps the tape's
  // saved tensors of a forward pass that throws).
  checkNestedOptions(fn, 'loss', () => tf.tidy(() => {
    const z = tf.zeros([1, 1]);
    grpoLossWithStats({logProbs: z, oldLogProbs: z, refLogProbs: beta > 0 ? z : undefined, advantages: tf.zeros([1]), mask: tf.ones([1, 1])},
        lossOptions);
  }));
  checkNestedOptions(fn, 'advantages', () => tf.tidy(() => { groupAdvantages(tf.zeros([groupSize]), {...advOptions, groupSize}); }));
  const batch = await sampleTrainingBatch(policy, tokenizer, problems, reward, options, fn);
  const core: RlStepMetrics = {
    reward: batch.reward, rewardComponents: batch.rewardComponents, kl: 0, clipFraction: 0, loss: 0, gradNorm: 0,
    completionLength: batch.completionLength, samples: batch.samples, zeroVarianceGroups: batch.zeroVarianceGroups,
    ...(options.dynamicSampling ? {keptFraction: batch.keptFraction, samplingRounds: batch.rounds} : {}),
  };
  const hooks = new HookMetrics();
  if (batch.data === null) return core; // dynamic sampling kept no group: nothing to learn from
  const {promptTokens, promptMask, completionTokens, completionMask, oldLogProbs} = batch.data;
  const forwardInputs = {promptTokens, promptMask, completionTokens};
  let advantages: tf.Tensor1D | undefined;
  let refLogProbs: tf.Tensor2D | undefined;
  try {
    advantages = tf.tidy(() => groupAdvantages(tf.tensor1d(batch.data!.rewards), {...advOptions, groupSize}));
    refLogProbs = reference === undefined ? undefined : tf.tidy(() =>
      tokenLogProbs(completionForward(reference, forwardInputs).logits, completionTokens, {temperature}));
    for (let i = 0; i < mu; i++) {
      let kept: tf.Scalar[] = [];
      let hadAux = false;
      const {loss, gradNorms} = applyClippedGradients(optimizer, () => {
        const out = completionForward(policy, forwardInputs);
        const logProbs = tokenLogProbs(out.logits, completionTokens, {temperature});
        const {loss: l, stats} = grpoLossWithStats({
          logProbs, oldLogProbs, refLogProbs, advantages: advantages!, mask: completionMask,
        }, lossOptions);
        const clip = tf.add(tf.add(stats.clipFracLow, stats.clipFracHigh), stats.clipFracDual) as tf.Scalar;
        hadAux = out.auxLoss !== undefined;
        kept = [tf.keep(clip), tf.keep(stats.kl ?? tf.scalar(0)), tf.keep(out.auxLoss ?? tf.scalar(0))];
        return withAuxLoss(l, out.auxLoss);
      }, [policy.variables()], maxGradNorm);
      hooks.after([['', policy]]);
      const [lv, gv, cv, kv, av] = await Promise.all([loss.data(), gradNorms[0]!.data(), ...kept.map((k) => k.data())]);
      tf.dispose([loss, ...gradNorms, ...kept]);
      if (i === 0) {
        core.loss = lv[0]!; core.gradNorm = gv[0]!; core.kl = kv![0]!;
        if (hadAux) core.auxLoss = av![0]!;
      }
      core.clipFraction = cv![0]!;
    }
  } finally {
    tf.dispose([...(advantages ? [advantages] : []), ...(refLogProbs ? [refLogProbs] : [])]);
    batch.dispose();
  }
  return hooks.mergeInto(core, fn);
}
