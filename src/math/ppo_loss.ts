/**
 * The PPO objective for language models: clipped policy loss + value loss - entropy bonus (+ KL term).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {aggregateMasked, LOSS_AGGREGATIONS, resolveAggregationOptions, type LossAggregation} from './aggregate_loss.js';
import {assertDtype, assertKnownInputs, assertKnownOptions, assertNumber, assertOneOf, assertSameShape, check} from './assert.js';
import {
  clipIndicators, clippedLossParts, resolveClipOptions, sanitizePolicyInputs, validatePolicyLossInputs, type RatioLevel,
} from './clipped_policy_loss.js';
import {KL_ESTIMATORS, klEstimate, type KlEstimator} from './kl_penalty.js';
import {checkPolicyLossValues, type NamedLogProbs} from './policy_loss_values.js';
import {validateValueLossInputs, valueLossParts} from './value_loss.js';

/** Tensors of {@link ppoLoss}, by name. Per-token tensors are `[batch, time]` float32. */
export interface PpoLossInputs {
  /** `[batch, time]` log pi_theta(y_t) of the sampled tokens under the policy being trained (gradients flow here). */
  logProbs: tf.Tensor2D;
  /** `[batch, time]` log pi_old(y_t) under the policy that sampled the rollout (a constant). */
  oldLogProbs: tf.Tensor2D;
  /**
   * `[batch, time]` advantages (e.g. `gae(...).advantages`, whitened by the caller if wanted), or `[batch]`
   * broadcast over time. Finite where `mask` is 1.
   */
  advantages: tf.Tensor;
  /** `[batch, time]` values V_theta of the critic being trained, e.g. `ValueHead.apply` (gradients flow here). */
  values: tf.Tensor2D;
  /** `[batch, time]` values of the rollout's critic V_old; required when `valueClip` is set. */
  oldValues?: tf.Tensor2D;
  /** `[batch, time]` value targets R (e.g. `gae(...).returns`). */
  returns: tf.Tensor2D;
  /**
   * `[batch, time]` per-token entropy of the policy being trained (e.g. `entropyFromLogits(logits)`, computed
   * inside the gradient closure so the bonus is differentiable). Required when `entropyCoef > 0`; when given,
   * reported in the stats.
   */
  entropy?: tf.Tensor2D;
  /**
   * `[batch, time]` log pi_ref(y_t) of the reference policy. Required when `klCoef > 0` (KL as a loss term);
   * when given, the KL is reported in the stats. Leave it out when the KL is in the rewards ({@link klShapedRewards}).
   */
  refLogProbs?: tf.Tensor2D;
  /** `[batch, time]` 0/1 completion-token mask (float32, int32 or bool); right padding and holes allowed. */
  mask: tf.Tensor2D;
}

/** Options of {@link ppoLoss}; every field is optional. Unknown names are rejected. */
export interface PpoLossOptions {
  /** Lower policy clip epsilon (ratio clipped below at 1 - clipLow). Default `0.2`. */
  clipLow?: number;
  /** Upper policy clip epsilon. Default `clipLow`. */
  clipHigh?: number;
  /** Dual-clip bound c > 1 for negative advantages (verl `clip_ratio_c`). Default off. */
  dualClip?: number;
  /** `'token'` (default, PPO) or `'sequence'` (GSPO's ratio; see `clippedPolicyLoss`). */
  ratioLevel?: RatioLevel;
  /** Value clip range c > 0 of {@link valueLoss}. Default: no value clipping. */
  valueClip?: number;
  /**
   * Weight of the value loss (which already carries the factor 0.5), >= 0. Default `0.5` (cleanrl's `vf_coef`;
   * TRL's PPO uses 0.1).
   */
  valueCoef?: number;
  /** Weight of the entropy bonus, >= 0. Default `0` (verl's `entropy_coeff`; cleanrl uses 0.01 on Atari). */
  entropyCoef?: number;
  /**
   * Weight of the KL-to-reference loss term, >= 0. Default `0`: for InstructGPT-style PPO the KL goes into the
   * rewards instead ({@link klShapedRewards}); use one or the other.
   */
  klCoef?: number;
  /** Per-token KL estimator of the loss term and the `kl` stat (see `klPenalty`). Default `'k3'`. */
  klEstimator?: KlEstimator;
  /** Reduction of every per-token term, as `aggregateLoss`. Default `'token-mean'`. */
  aggregation?: LossAggregation;
  /** `'seq-mean-token-sum-norm'` only: the constant per-sequence divisor. Default `time`. */
  maxLength?: number;
  /** Fixed denominator for gradient accumulation, as `aggregateLoss`. Default: this batch's count. */
  normalizer?: number;
}

/**
 * Diagnostics of {@link ppoLoss}, float32 scalars. The loss terms are aggregated with `aggregation`, so
 * loss = policyLoss + valueCoef * valueLoss - entropyCoef * entropy + klCoef * kl exactly; the fractions
 * and `approxKl` are plain means over the mask tokens (0 with no tokens).
 */
export interface PpoLossStats {
  /** Aggregated clipped policy loss. */
  policyLoss: tf.Scalar;
  /** Aggregated (clipped) value loss, including its factor 0.5. */
  valueLoss: tf.Scalar;
  /** Aggregated per-token entropy; present when `entropy` is given. */
  entropy?: tf.Scalar;
  /** Aggregated per-token KL estimate to the reference (`klEstimator`); present when `refLogProbs` is given. */
  kl?: tf.Scalar;
  /**
   * Estimate of KL(pi_old || pi_theta), the size of the update: mean over mask tokens of (r - 1) - log r with the
   * token ratio r = exp(logProbs - oldLogProbs): Schulman's k3 (http://joschu.net/blog/kl-approx.html), cleanrl's
   * `approx_kl`. >= 0; use it for early stopping (cleanrl's `target_kl`).
   */
  approxKl: tf.Scalar;
  /** Fraction of mask tokens whose policy clip is active (lower or upper); verl's `pg_clipfrac`. */
  clipFraction: tf.Scalar;
  /** Fraction of mask tokens with A < 0 and ratio < 1 - clipLow. */
  clipFracLow: tf.Scalar;
  /** Fraction of mask tokens with A > 0 and ratio > 1 + clipHigh. */
  clipFracHigh: tf.Scalar;
  /** Fraction of mask tokens where the dual-clip bound is active; 0 when off. */
  clipFracDual: tf.Scalar;
  /** Fraction of mask tokens where the clipped value error is the larger one (verl's `vf_clipfrac`); 0 without `valueClip`. */
  valueClipFraction: tf.Scalar;
}

/** Result of {@link ppoLoss}; the caller owns (and disposes) every tensor. */
export interface PpoLossResult {
  /** Scalar float32 total loss to minimise (gradients flow to `logProbs`, `values` and `entropy`). */
  loss: tf.Scalar;
  /** Scalar float32 diagnostics. */
  stats: PpoLossStats;
}

const FN = 'ppoLoss';
const KNOWN_OPTIONS = [
  'clipLow', 'clipHigh', 'dualClip', 'ratioLevel', 'valueClip', 'valueCoef', 'entropyCoef', 'klCoef', 'klEstimator',
  'aggregation', 'maxLength', 'normalizer',
];

/**
 * PPO loss for language models with a value head: clipped policy loss + value loss - entropy bonus, and
 * optionally a KL-to-reference loss term.
 *
 * $$\mathcal{L} = \operatorname{agg}(L^{clip}_t) + c_v \operatorname{agg}\big(\tfrac{1}{2}\max((V_t - R_t)^2, (\operatorname{clip}(V_t, V^{old}_t - c, V^{old}_t + c) - R_t)^2)\big) - c_H \operatorname{agg}(H_t) + c_{KL} \operatorname{agg}(\mathrm{KL}_t)$$
 * with $L^{clip}_t = -\min(r_t A_t, \operatorname{clip}(r_t, 1 - \epsilon_{low}, 1 + \epsilon_{high}) A_t)$,
 * $r_t = \exp(\log\pi_\theta(y_t) - \log\pi_{old}(y_t))$; $c_v$, $c_H$, $c_{KL}$, c = `valueCoef`, `entropyCoef`, `klCoef`, `valueClip`;
 * agg = `aggregation` over the mask tokens. Schulman et al. 2017, PPO, arXiv:1707.06347 (eq. 9);
 * Ouyang et al. 2022, InstructGPT, arXiv:2203.02155 (PPO for LMs, KL in the reward).
 *
 * Composed from `clippedPolicyLoss` (policy term, same clip options and zero-gradient guarantees),
 * {@link valueLoss} (value term) and `klPenalty` (KL term), reduced like `aggregateLoss`. The KL to the
 * reference goes either into the rewards before {@link gae} ({@link klShapedRewards}, InstructGPT / TRL / verl
 * PPO; leave `klCoef` 0) or into the loss (`klCoef > 0` with `refLogProbs`, GRPO style). The entropy is an
 * input, not computed here: pass `entropyFromLogits(logits)` from the same forward pass as `logProbs`.
 * Advantages are used as given: whiten them first (`whiten`) if wanted, as cleanrl's `--norm-adv` and verl do.
 *
 * Padded positions of every input never reach the loss or the stats, even when NaN or infinite, and get 0
 * gradient. Call inside `tf.variableGrads`/`minimize`; to keep the stats past the gradient call's tidy, wrap
 * them in `tf.keep` (see docs/ppo.md).
 *
 * @param inputs.logProbs `[batch, time]` float32, log pi_theta.
 * @param inputs.oldLogProbs `[batch, time]` float32, log pi_old.
 * @param inputs.advantages `[batch, time]` or `[batch]` float32.
 * @param inputs.values `[batch, time]` float32, V_theta.
 * @param inputs.oldValues `[batch, time]` float32, V_old; required with `valueClip`.
 * @param inputs.returns `[batch, time]` float32 value targets.
 * @param inputs.entropy `[batch, time]` float32 per-token entropy; required with `entropyCoef > 0`.
 * @param inputs.refLogProbs `[batch, time]` float32 log pi_ref; required with `klCoef > 0`.
 * @param inputs.mask `[batch, time]` 0/1.
 * @param options.clipLow default `0.2`.
 * @param options.clipHigh default `clipLow`.
 * @param options.dualClip default off.
 * @param options.ratioLevel default `'token'`.
 * @param options.valueClip default none.
 * @param options.valueCoef default `0.5`.
 * @param options.entropyCoef default `0`.
 * @param options.klCoef default `0`.
 * @param options.klEstimator default `'k3'`.
 * @param options.aggregation default `'token-mean'`.
 * @param options.maxLength default `time`.
 * @param options.normalizer default this batch's count.
 * @returns `{loss, stats}`: the scalar loss and {@link PpoLossStats}; the caller owns (and disposes) all of them.
 * @throws Error naming `ppoLoss` and the argument on a wrong shape or dtype, a mask that is not 0/1, non-finite
 *   advantages, values, returns (and oldValues with `valueClip`), entropy, or a non-finite or positive (> 1e-4:
 *   probabilities passed) logProbs/oldLogProbs/refLogProbs on an unmasked token, a missing
 *   `entropy`/`refLogProbs`/`oldValues` that an option needs, or a bad option.
 * @example
 * const mask = tf.tensor2d([[1, 1, 0]]);
 * const {loss, stats} = ppoLoss({
 *   logProbs: tf.tensor2d([[-1, -0.5, 0]]),
 *   oldLogProbs: tf.tensor2d([[-1, -1, 0]]),
 *   advantages: tf.tensor2d([[1, 1, 0]]),
 *   values: tf.tensor2d([[0.5, 0.5, 0]]),
 *   returns: tf.tensor2d([[1, 1, 0]]),
 *   mask,
 * });
 * // ratios [1, e^0.5 = 1.65]: token 2 is clipped at 1.2 -> policy loss (-1 - 1.2) / 2 = -1.1,
 * // value loss 0.5 * 0.25 = 0.125 -> loss = -1.1 + 0.5 * 0.125 = -1.0375; stats.clipFraction = 0.5
 */
export function ppoLoss(inputs: PpoLossInputs, options: PpoLossOptions = {}): PpoLossResult {
  const o = options ?? {};
  assertKnownOptions(o, KNOWN_OPTIONS, FN);
  const clip = resolveClipOptions(o, FN);
  const {valueClip, valueCoef = 0.5, entropyCoef = 0, klCoef = 0, klEstimator = 'k3', aggregation = 'token-mean'} = o;
  if (valueClip !== undefined) assertNumber(valueClip, FN, 'valueClip', {min: 0, minExclusive: true});
  assertNumber(valueCoef, FN, 'valueCoef', {min: 0});
  assertNumber(entropyCoef, FN, 'entropyCoef', {min: 0});
  assertNumber(klCoef, FN, 'klCoef', {min: 0});
  assertOneOf(klEstimator, KL_ESTIMATORS, FN, 'klEstimator');
  assertOneOf(aggregation, LOSS_AGGREGATIONS, FN, 'aggregation');
  const {maxLength, normalizer} = resolveAggregationOptions(
      {maxLength: o.maxLength, normalizer: o.normalizer}, aggregation, FN, false);

  assertKnownInputs(inputs, ['logProbs', 'oldLogProbs', 'advantages', 'values', 'oldValues', 'returns', 'entropy', 'refLogProbs', 'mask'], FN);
  // Shapes and dtypes here; the value checks of the policy side run below, in one read-back with
  // entropy and refLogProbs.
  validatePolicyLossInputs(inputs, FN, false, false);
  const {logProbs, oldLogProbs, advantages, mask, entropy, refLogProbs} = inputs;
  check(entropyCoef === 0 || entropy !== undefined, FN, () =>
    `'entropy' is required when entropyCoef > 0 (entropyCoef = ${entropyCoef}); pass entropyFromLogits(logits) ` +
    `or set entropyCoef: 0`);
  if (entropy !== undefined) {
    assertSameShape(entropy, logProbs, FN, 'entropy', 'logProbs');
    assertDtype(entropy, 'float32', FN, 'entropy');
  }
  check(klCoef === 0 || refLogProbs !== undefined, FN, () =>
    `'refLogProbs' is required when klCoef > 0 (klCoef = ${klCoef}); pass the reference policy's log-probs, ` +
    `or set klCoef: 0 and put the KL into the rewards with klShapedRewards`);
  if (refLogProbs !== undefined) {
    assertSameShape(refLogProbs, logProbs, FN, 'refLogProbs', 'logProbs');
    assertDtype(refLogProbs, 'float32', FN, 'refLogProbs');
  }
  // Mask 0/1, advantages finite, and on unmasked tokens: log-probs finite and <= 1e-4, entropy finite.
  const perToken: Array<NamedLogProbs<tf.Tensor>> = [
    {name: 'logProbs', values: logProbs}, {name: 'oldLogProbs', values: oldLogProbs}];
  if (entropy !== undefined) perToken.push({name: 'entropy', values: entropy, finiteOnly: true});
  if (refLogProbs !== undefined) perToken.push({name: 'refLogProbs', values: refLogProbs});
  checkPolicyLossValues(FN, mask, advantages, perToken);
  validateValueLossInputs(inputs, valueClip, FN, {tensor: logProbs, name: 'logProbs'}, 'valueClip');

  const kept = tf.tidy((): tf.NamedTensorMap => {
    const {maskB, lp, old, adv} = sanitizePolicyInputs(inputs);
    const time = logProbs.shape[1];
    const agg = (perToken: tf.Tensor2D) => aggregateMasked(perToken, maskB, aggregation, maxLength ?? time, normalizer);
    const zeros = tf.zerosLike(lp);
    const policy = clippedLossParts(lp, old, adv, maskB, clip);
    const clipped = clipIndicators(policy.ratio, adv, maskB, clip);
    const value = valueLossParts(inputs.values, inputs.oldValues, inputs.returns, maskB, valueClip);
    const policyLoss = agg(policy.perToken);
    const valueLossTerm = agg(value.perToken);
    let loss: tf.Tensor = tf.add(policyLoss, tf.mul(valueCoef, valueLossTerm));
    let entropyTerm: tf.Scalar | undefined;
    if (entropy !== undefined) {
      entropyTerm = agg(tf.where(maskB, entropy, zeros) as tf.Tensor2D);
      if (entropyCoef > 0) loss = tf.sub(loss, tf.mul(entropyCoef, entropyTerm));
    }
    let klTerm: tf.Scalar | undefined;
    if (refLogProbs !== undefined) {
      const ref = tf.where(maskB, refLogProbs, zeros);
      klTerm = agg(klEstimate(lp, ref, {estimator: klEstimator}) as tf.Tensor2D);
      if (klCoef > 0) loss = tf.add(loss, tf.mul(klCoef, klTerm));
    }

    const maskF = tf.cast(maskB, 'float32');
    const count = tf.maximum(tf.sum(maskF), 1);
    const fraction = (b: tf.Tensor) => tf.div(tf.sum(tf.cast(b, 'float32')), count) as tf.Scalar;
    // Token-level log-ratio (0 on padding, where lp and old are both sanitized to 0); k3 = (r - 1) - log r.
    const logRatio = tf.sub(lp, old!);
    const k3 = tf.sub(tf.sub(tf.exp(logRatio), 1), logRatio);
    const stats: PpoLossStats = {
      policyLoss,
      valueLoss: valueLossTerm,
      approxKl: tf.div(tf.sum(tf.where(maskB, k3, zeros)), count) as tf.Scalar,
      clipFraction: fraction(tf.logicalOr(clipped.lowClipped, clipped.highClipped)),
      clipFracLow: fraction(clipped.lowClipped),
      clipFracHigh: fraction(clipped.highClipped),
      clipFracDual: fraction(clipped.dualClipped),
      valueClipFraction: fraction(value.clipped),
    };
    if (entropyTerm !== undefined) stats.entropy = entropyTerm;
    if (klTerm !== undefined) stats.kl = klTerm;
    return {...stats, loss} as unknown as tf.NamedTensorMap;
  });
  const {loss, ...stats} = kept;
  return {loss: loss as tf.Scalar, stats: stats as unknown as PpoLossStats};
}
