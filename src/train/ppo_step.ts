/**
 * One PPO iteration for a language-model policy with a value head (InstructGPT-style: KL to the
 * reference in the per-token rewards, GAE, clipped policy and value losses).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {assertKnownInputs, assertKnownOptions, assertNumber, check} from '../math/assert.js';
import {gae, type GaeOptions} from '../math/gae.js';
import {klShapedRewards} from '../math/kl_reward_shaping.js';
import {whiten} from '../math/masked_stats.js';
import {ppoLoss, type PpoLossOptions} from '../math/ppo_loss.js';
import {tokenLogProbs} from '../math/token_log_probs.js';
import {completionForward} from '../models/completion_forward.js';
import type {Policy, Tokenizer} from '../models/policy.js';
import type {ValueHead} from '../models/value_head.js';
import type {RewardFn} from '../rewards/types.js';
import {applyClippedGradients} from './apply_clipped_gradients.js';
import {type Problem, ROLLOUT_OPTIONS, type RolloutOptions} from './collect_rollout.js';
import {deprecatedAlias} from './deprecated_alias.js';
import {sampleTrainingBatch} from './dynamic_sampling.js';
import type {RlStepMetrics} from './grpo_step.js';
import {mergeOptions} from './merge_options.js';
import {HookMetrics, withAuxLoss} from './update_hooks.js';
import {
  assertNestedOptions, assertOptionsObject, assertPolicy, assertRlStepContext, checkNestedOptions,
  describeValue,
} from './assert_step_inputs.js';

/**
 * The critic: a trunk and a linear value head on its hidden states. `trunk === policy` shares the
 * policy's trunk (one forward pass, value gradients reach the policy's weights, as TRL's
 * `AutoModelForCausalLMWithValueHead`); a separate trunk (`policy.copy({trainable: true})`) is the
 * InstructGPT / verl layout, with a second model's worth of parameters and compute. The trunk's
 * `apply` must return `hidden` states.
 */
export interface Critic {
  /** The trunk whose hidden states feed the head (`policy` itself when shared); any {@link Policy} exposing `hidden`. */
  trunk: Policy;
  /** The value head (`new ValueHead(width)`). */
  head: ValueHead;
}

/** What a PPO step works on. */
export interface PpoStepContext {
  /** The trainable policy (updated in place); any {@link Policy}. */
  policy: Policy;
  /** Frozen reference policy for the KL penalty in the rewards; optional when `beta` is 0. */
  reference?: Policy;
  /** The critic (shared or separate trunk, see {@link Critic}). */
  critic: Critic;
  /** One optimizer over the policy's, the critic trunk's and the head's variables. */
  optimizer: tf.Optimizer;
  /** Tokenizer of the policy; any {@link Tokenizer}. */
  tokenizer: Tokenizer;
  /** Sequence-level reward. */
  reward: RewardFn;
}

/** Options of {@link ppoStep}. */
export interface PpoStepOptions extends RolloutOptions {
  /** Updates (epochs) over the batch; default `1`. The same name as `grpoStep`'s `mu`. */
  mu?: number;
  /** @deprecated since 0.2: use `mu` (same meaning). Removed in the next release. */
  epochs?: number;
  /**
   * KL coefficient of the per-token reward shaping `-beta * (log pi_old - log pi_ref)` (k1
   * estimator, as InstructGPT/TRL/verl); default `0.04`. The same name as `grpoStep`'s `beta`.
   */
  beta?: number;
  /** @deprecated since 0.2: use `beta` (same meaning). Removed in the next release. */
  klCoef?: number;
  /** GAE options, merged with the defaults `{gamma: 1, lambda: 0.95}`. */
  gae?: GaeOptions;
  /** Options of `ppoLoss`, merged with the default `{valueCoef: 0.5}` (its own defaults otherwise). */
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

const KNOWN = [...ROLLOUT_OPTIONS, 'mu', 'epochs', 'beta', 'klCoef', 'gae', 'loss', 'whitenAdvantages', 'maxGradNorm'];

/**
 * One PPO step (Schulman et al. 2017, arXiv:1707.06347; Ouyang et al. 2022, InstructGPT,
 * arXiv:2203.02155): sample completions (`groupSize` per prompt, only so that the sample budget
 * matches GRPO's; PPO does not use the groups), score them, shape per-token rewards with
 * `-beta * (log pi_old - log pi_ref)` plus the score on the last token (`klShapedRewards`), compute
 * old values and `gae` advantages and returns, whiten the advantages, then take `mu` optimizer
 * steps on `ppoLoss` (clipped policy loss + value loss, plus the policy's `auxLoss` if any) over the
 * policy and the critic, calling `afterOptimizerStep` of the policy (and of a separate trunk, its
 * metrics prefixed `critic.`) after each.
 *
 * @param ctx policy, reference, critic, optimizer, tokenizer and reward (any `Policy` and `Tokenizer`).
 * @param problems the prompts of this step.
 * @param options see {@link PpoStepOptions}.
 * @returns the step's metrics.
 * @throws when `options` is not an object or has an unknown key; `mu` is not an integer >= 1, `beta`
 *   negative or not finite, `maxGradNorm` not > 0, `whitenAdvantages` not a boolean, or a sampling option
 *   out of range; `gae` / `loss` is not an object or is invalid (`in 'gae': ...`); `beta > 0` without a
 *   reference; both a name and its deprecated alias are given; `policy` / `reference` / `critic.trunk` is
 *   not a Policy, `critic` has a key other than `trunk` and `head`, `critic.head` is not a ValueHead,
 *   `optimizer` not a tf.Optimizer or `reward` not a function; `problems` is empty or malformed; the reward
 *   returns the wrong count or a non-finite value; the trunk returns no `hidden` or the head's size
 *   differs from its width; or sizes disagree.
 * @example
 * const tok = charTokenizer({alphabet: '0123456789+'});
 * const policy = TransformerPolicy.create({vocabSize: tok.vocabSize, contextLength: 16, layers: 1, width: 16, heads: 2});
 * const critic = {trunk: policy, head: new ValueHead(16)};
 * const optimizer = tf.train.adam(1e-3);
 * const reward = (samples: readonly Sample[]) => samples.map((s) => (s.completion.includes('3') ? 1 : 0));
 * const metrics = await ppoStep({policy, critic, optimizer, tokenizer: tok, reward}, [{prompt: '1+2', reference: '3'}],
 *     {groupSize: 4, maxNewTokens: 6, beta: 0});
 * metrics.valueLoss;
 * critic.head.dispose(); optimizer.dispose(); policy.dispose();
 */
export async function ppoStep(
    ctx: PpoStepContext, problems: readonly Problem[], options: PpoStepOptions): Promise<PpoStepMetrics> {
  const fn = 'ppoStep';
  assertOptionsObject(options, fn, '{groupSize, maxNewTokens, ...}');
  assertKnownOptions(options, KNOWN, fn);
  assertRlStepContext(ctx, ['policy', 'reference', 'critic', 'optimizer', 'tokenizer', 'reward'], fn);
  const {policy, reference, critic, optimizer, tokenizer, reward} = ctx;
  assertNestedOptions(options.gae, fn, 'gae');
  assertNestedOptions(options.loss, fn, 'loss');
  const mu = deprecatedAlias<number>(options, 'mu', 'epochs', fn) ?? 1;
  const beta = deprecatedAlias<number>(options, 'beta', 'klCoef', fn) ?? 0.04;
  const gaeOptions = mergeOptions<GaeOptions>({gamma: 1, lambda: 0.95}, options.gae);
  const lossOptions = mergeOptions<PpoLossOptions>({valueCoef: 0.5}, options.loss);
  const {whitenAdvantages = true, maxGradNorm = 1} = options;
  const temperature = options.temperature ?? 1;
  assertNumber(mu, fn, 'mu', {integer: true, min: 1});
  assertNumber(beta, fn, 'beta', {min: 0});
  check(typeof maxGradNorm === 'number' && maxGradNorm > 0, fn, () => `'maxGradNorm' expected a number > 0 (Infinity: no clip), got ${maxGradNorm}`);
  check(typeof whitenAdvantages === 'boolean', fn, () => `'whitenAdvantages' expected a boolean, got ${describeValue(whitenAdvantages)}`);
  check(beta === 0 || reference !== undefined, fn, () => `'reference' is required when beta > 0 (got beta ${beta})`);
  assertKnownInputs(critic, ['trunk', 'head'], fn, 'critic');
  check(critic.trunk !== undefined && critic.head !== undefined, fn, () => `'critic' expected {trunk, head}`);
  assertPolicy(critic.trunk, fn, 'critic.trunk', true);
  check(critic.head !== null && typeof critic.head === 'object' && typeof critic.head.apply === 'function' &&
      Number.isInteger(critic.head.hiddenSize), fn, () =>
    `'critic.head' expected a ValueHead (new ValueHead(width)), got ${describeValue(critic.head)}`);
  const shared = critic.trunk === policy;

  // Nested options fail here, before sampling, not inside the gradient tape (tfjs keeps the tape's
  // saved tensors of a forward pass that throws).
  checkNestedOptions(fn, 'loss', () => tf.tidy(() => {
    const z = tf.zeros([1, 1]) as tf.Tensor2D;
    ppoLoss({logProbs: z, oldLogProbs: z, advantages: z, values: z, oldValues: z, returns: z, mask: tf.ones([1, 1]) as tf.Tensor2D}, lossOptions);
  }));
  checkNestedOptions(fn, 'gae', () => tf.tidy(() => {
    const z = tf.zeros([1, 1]) as tf.Tensor2D;
    gae({rewards: z, values: z, mask: tf.ones([1, 1]) as tf.Tensor2D}, gaeOptions);
  }));
  const batch = await sampleTrainingBatch(policy, tokenizer, problems, reward, options, fn);
  const hooks = new HookMetrics();
  const core: PpoStepMetrics = {
    reward: batch.reward, rewardComponents: batch.rewardComponents, kl: 0, clipFraction: 0, loss: 0, gradNorm: 0,
    valueLoss: 0, completionLength: batch.completionLength, samples: batch.samples, zeroVarianceGroups: batch.zeroVarianceGroups,
  };
  const {promptTokens, promptMask, completionTokens, completionMask: mask, oldLogProbs, rewards: scores} = batch.data!;
  const forwardInputs = {promptTokens, promptMask, completionTokens};
  const hiddenOf = (trunk: Policy): tf.Tensor3D => {
    const {hidden} = completionForward(trunk, forwardInputs);
    check(hidden !== undefined, fn, () => `'critic.trunk' returned no hidden states from apply; the value head needs them`);
    check(hidden.shape[2] === critic.head.hiddenSize, fn, () =>
      `'critic.head' expected hiddenSize ${hidden.shape[2]} (the trunk's width), got ${critic.head.hiddenSize}`);
    return hidden;
  };
  let prepared: {oldValues: tf.Tensor2D; advantages: tf.Tensor2D; returns: tf.Tensor2D; klMean: tf.Scalar} | undefined;
  try {
    prepared = tf.tidy(() => {
      const refLogProbs = reference === undefined ? undefined :
        tokenLogProbs(completionForward(reference, forwardInputs).logits, completionTokens, {temperature});
      const kl = refLogProbs === undefined ? tf.zerosLike(mask) : tf.mul(tf.sub(oldLogProbs, refLogProbs), mask);
      const rewards = klShapedRewards({scores: tf.tensor1d(scores), kl: kl as tf.Tensor2D, mask}, {klCoef: beta});
      const oldValues = critic.head.apply(hiddenOf(critic.trunk));
      const {advantages, returns} = gae({rewards, values: oldValues, mask}, gaeOptions);
      const adv = whitenAdvantages ? whiten(advantages, mask) : advantages;
      const klMean = tf.div(tf.sum(kl), tf.maximum(tf.sum(mask), 1)) as tf.Scalar;
      return {oldValues, advantages: adv as tf.Tensor2D, returns, klMean};
    });
    const policyVars = policy.variables();
    const criticVars = shared ? critic.head.variables : [...critic.trunk.variables(), ...critic.head.variables];
    const groups = shared ? [[...policyVars, ...criticVars]] : [policyVars, criticVars];
    for (let e = 0; e < mu; e++) {
      let kept: tf.Scalar[] = [];
      let hadAux = false;
      const {loss, gradNorms} = applyClippedGradients(optimizer, () => {
        const out = completionForward(policy, forwardInputs);
        const trunkOut = shared ? out : completionForward(critic.trunk, forwardInputs);
        check(trunkOut.hidden !== undefined, fn, () => `'critic.trunk' returned no hidden states from apply; the value head needs them`);
        const {loss: l, stats} = ppoLoss({
          logProbs: tokenLogProbs(out.logits, completionTokens, {temperature}),
          oldLogProbs,
          advantages: prepared!.advantages,
          values: critic.head.apply(trunkOut.hidden),
          oldValues: prepared!.oldValues,
          returns: prepared!.returns,
          mask,
        }, lossOptions);
        const aux = out.auxLoss === undefined ? trunkOut === out ? undefined : trunkOut.auxLoss :
          trunkOut === out || trunkOut.auxLoss === undefined ? out.auxLoss : tf.add(out.auxLoss, trunkOut.auxLoss) as tf.Scalar;
        hadAux = aux !== undefined;
        kept = [tf.keep(stats.clipFraction), tf.keep(stats.valueLoss), tf.keep(aux ?? tf.scalar(0))];
        return withAuxLoss(l, aux);
      }, groups, maxGradNorm);
      hooks.after([['', policy], ['critic.', shared ? undefined : critic.trunk]]);
      const [lv, gv, cv, vv, av] = await Promise.all([loss.data(), gradNorms[0]!.data(), ...kept.map((k) => k.data())]);
      tf.dispose([loss, ...gradNorms, ...kept]);
      if (e === 0) {
        core.loss = lv[0]!; core.gradNorm = gv[0]!; core.valueLoss = vv![0]!;
        if (hadAux) core.auxLoss = av![0]!;
      }
      core.clipFraction = cv![0]!;
    }
    core.kl = (await prepared.klMean.data())[0]!;
  } finally {
    if (prepared) tf.dispose(Object.values(prepared));
    batch.dispose();
  }
  return hooks.mergeInto(core, fn);
}
