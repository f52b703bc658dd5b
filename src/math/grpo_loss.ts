/**
 * The GRPO objective: clipped policy loss plus a KL penalty, aggregated (GRPO, DAPO, Dr. GRPO, GSPO).
 *
 * Structure: `grpoLoss` / `grpoLossWithStats` validate inputs and options and choose the
 * implementation (`prepareGrpoLoss`, grpo_loss_options.ts), then run the fused kernel
 * (src/math/fused/) or the composed tensor computation `grpoLossComposed` (internal), the reference
 * a fused kernel is checked against.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {aggregateMasked} from './aggregate_loss.js';
import {clipIndicators, clippedLossParts, sanitizePolicyInputs, stopGradient} from './clipped_policy_loss.js';
import {klEstimate} from './kl_penalty.js';
import {runFusedGrpoLoss} from './fused/grpo_loss_fused.js'; // fused dispatch (issue 6)
import type {GrpoLossStats, GrpoLossTensors, ResolvedGrpoLossOptions} from './fused/grpo_loss_kernel_inputs.js';

export type {GrpoLossStats};
import {type GrpoLossInputs, type GrpoLossOptions, kernelChecks, prepareGrpoLoss} from './grpo_loss_options.js';

export type {ResolvedGrpoLossOptions} from './fused/grpo_loss_kernel_inputs.js';
export type {GrpoLossInputs, GrpoLossOptions} from './grpo_loss_options.js';
export {prepareGrpoLoss, resolveGrpoLossOptions, validateGrpoLossInputs} from './grpo_loss_options.js';

/** Result of {@link grpoLossWithStats}. */
export interface GrpoLossWithStatsResult {
  /** float32 scalar, the same value as {@link grpoLoss} returns. */
  loss: tf.Scalar;
  /** Diagnostics (float32 scalars); the caller disposes them. */
  stats: GrpoLossStats;
}

/**
 * GRPO loss: the clipped surrogate of {@link clippedPolicyLoss} plus `beta` times the per-token KL
 * estimate of {@link klPenalty}, reduced by {@link aggregateLoss}.
 *
 * $$\mathcal{L} = \operatorname{aggregate}_m\Big(-\min\big(r_t A_t,\ \operatorname{clip}(r_t, 1 - \epsilon_{low}, 1 + \epsilon_{high})\, A_t\big) + \beta\, \mathrm{KL}_t\Big)$$
 * with $r_t = \pi_\theta(y_t) / \pi_{old}(y_t)$ (or GSPO's sequence ratio), $\epsilon_{low}$ = `clipLow`,
 * $\epsilon_{high}$ = `clipHigh`, $\beta$ = `beta`, $\mathrm{KL}_t$ = `klEstimator`(logProbs, refLogProbs).
 * Shao et al. 2024, DeepSeekMath, arXiv:2402.03300 (GRPO); Yu et al. 2025, arXiv:2503.14476 (DAPO);
 * Liu et al. 2025, arXiv:2503.20783 (Dr. GRPO); Zheng et al. 2025, arXiv:2507.18071 (GSPO).
 *
 * Mapping (full table: docs/loss-modes.md):
 *
 * | TRL `loss_type` / verl `loss_agg_mode` | options |
 * | --- | --- |
 * | TRL `grpo` / verl `seq-mean-token-mean` | `{aggregation: 'seq-mean-token-mean'}` |
 * | TRL `bnpo` / verl `token-mean` | `{aggregation: 'token-mean'}` |
 * | TRL `dapo` (global token count) | `{aggregation: 'token-mean', normalizer: tokensInGlobalBatch}` |
 * | TRL `dr_grpo` | `{aggregation: 'seq-mean-token-sum-norm', maxLength: maxCompletionLength}` |
 * | verl `seq-mean-token-sum` | `{aggregation: 'seq-mean-token-sum'}` |
 * | TRL `epsilon`, `epsilon_high` / verl `clip_ratio_low`, `clip_ratio_high` | `clipLow`, `clipHigh` |
 * | TRL `delta` / verl `clip_ratio_c` | `dualClip` |
 * | TRL `importance_sampling_level='sequence'` / verl `policy_loss.loss_mode='gspo'` | `ratioLevel: 'sequence'` |
 * | TRL `beta` / verl `kl_loss_coef`, `kl_loss_type` | `beta`, `klEstimator` |
 * | verl `tis_imp_ratio_cap` with `rollout_log_probs` | `rolloutLogProbs`, `tisCap` |
 *
 * The log-ratio is clamped to ±20 before `exp` on every implementation (verl's convention).
 * Truncated importance sampling (with `rolloutLogProbs`): the policy term of each token is multiplied
 * by w_t = min(exp(oldLogProbs_t - rolloutLogProbs_t), tisCap), a constant (no gradient), correcting
 * for the sampler's log-probs differing from the trainer's; the KL term is not weighted.
 *
 * Padded tokens (mask 0) change neither the loss nor any gradient, even when their log-probs are
 * NaN or infinite. The KL term is computed only when `beta > 0`. Value checks (on unless
 * {@link configureValidation} turns them off; on `cpu`/`wasm` inside the fused kernel's pass): the
 * mask is 0/1, advantages are finite, and on unmasked tokens every log-prob used (policy, old,
 * reference when `beta > 0`, rollout) is finite and <= 1e-4 (larger: probabilities were passed).
 *
 * @param inputs.logProbs `[batch, time]` float32.
 * @param inputs.oldLogProbs `[batch, time]` float32; default stop-gradient(`logProbs`).
 * @param inputs.refLogProbs `[batch, time]` float32; required when `beta > 0`.
 * @param inputs.advantages `[batch]` or `[batch, time]` float32.
 * @param inputs.mask `[batch, time]` 0/1.
 * @param inputs.rolloutLogProbs `[batch, time]` float32 sampler log-probs; default none (no TIS).
 * @param options.beta KL coefficient, default `0`.
 * @param options.klEstimator default `'k3'`.
 * @param options.clipLow default `0.2`.
 * @param options.clipHigh default `clipLow`.
 * @param options.dualClip default off (> 1 when given).
 * @param options.ratioLevel default `'token'`.
 * @param options.aggregation default `'token-mean'`.
 * @param options.maxLength default `time` (`'seq-mean-token-sum-norm'` only).
 * @param options.normalizer default this batch's token (or sequence) count.
 * @param options.rolloutLogProbs alternative place for `inputs.rolloutLogProbs`.
 * @param options.tisCap TIS cap C > 0, default `2` with rollout log-probs (else rejected).
 * @param options.implementation `'auto'` (default: fused kernel on cpu/wasm/webgpu), `'fused'` or `'composed'`.
 * @returns float32 scalar loss to minimize.
 * @throws on wrong shapes/dtypes (message names `grpoLoss`, the argument, expected and given shape),
 *   a non-0/1 mask, non-finite advantages, a non-finite or positive (> 1e-4) log-prob on an unmasked
 *   token (naming the argument and the position), unknown option names or values, negative clips,
 *   `dualClip <= 1`, `beta > 0` without `refLogProbs`, `rolloutLogProbs` given twice or `tisCap`
 *   without it.
 * @example
 * const logProbs = tf.tensor2d([[-1, -2], [-0.5, -3]]);
 * const loss = grpoLoss({
 *   logProbs,
 *   advantages: tf.tensor1d([1, -1]),
 *   mask: tf.tensor2d([[1, 1], [1, 0]]),
 * });
 * // ratio 1 everywhere: token-mean of -A over 3 tokens = (-1 - 1 + 1) / 3 = -1/3
 */
export function grpoLoss(inputs: GrpoLossInputs, options?: GrpoLossOptions): tf.Scalar {
  const fn = 'grpoLoss';
  const {tensors, resolved, fused} = prepareGrpoLoss(inputs, options, fn, false);
  // --- fused dispatch (issue 6, src/math/fused/) ---
  if (fused) return runFusedGrpoLoss(tensors, resolved, {fn, checkValues: kernelChecks(), withStats: false})!.loss;
  // --- end fused dispatch ---
  return grpoLossComposed(tensors, resolved);
}

/**
 * {@link grpoLoss} together with diagnostics: masked mean KL, clip fractions and ratio range.
 *
 * Same formula, defaults, `implementation` choice and errors as {@link grpoLoss}; the fused kernel
 * computes the statistics in its pass (`cpu`/`wasm`), or on `webgpu` in its dispatches plus one
 * small reduction dispatch (scalars on the GPU, nothing read back). The statistics are scalars with no effect
 * on the loss's gradient. Inside `tf.grad` / `optimizer.minimize`, tensors other than the returned
 * loss are disposed when the function returns: wrap `stats` in `tf.keep` to use them afterwards.
 *
 * @param inputs see {@link grpoLoss}.
 * @param options see {@link grpoLoss}.
 * @returns `{loss, stats}`: the scalar loss and {@link GrpoLossStats}.
 * @example
 * const {loss, stats} = grpoLossWithStats({
 *   logProbs: tf.tensor2d([[-1.0, -2.0]]),
 *   oldLogProbs: tf.tensor2d([[-1.5, -2.0]]),
 *   advantages: tf.tensor1d([1]),
 *   mask: tf.tensor2d([[1, 1]]),
 * });
 * // ratios [e^0.5, 1] = [1.649, 1]: the first is clipped at 1.2  =>  clipFracHigh = 0.5, ratioMax = 1.649
 */
export function grpoLossWithStats(
    inputs: GrpoLossInputs, options?: GrpoLossOptions): GrpoLossWithStatsResult {
  const fn = 'grpoLossWithStats';
  const {tensors, resolved, fused} = prepareGrpoLoss(inputs, options, fn, true);
  if (fused) {
    const r = runFusedGrpoLoss(tensors, resolved, {fn, checkValues: kernelChecks(), withStats: true});
    if (r !== null) return {loss: r.loss, stats: r.stats!};
    // webgpu without a usable buffer for the direct path: nothing ran; the composed ops below.
  }
  const kept = tf.tidy(() => {
    const parts = grpoLossParts(tensors, resolved, true);
    const out: tf.Tensor[] = [parts.loss];
    const stats = parts.stats!;
    out.push(stats.clipFracLow, stats.clipFracHigh, stats.clipFracDual, stats.ratioMean, stats.ratioMin,
        stats.ratioMax);
    if (stats.kl) out.push(stats.kl);
    return out;
  });
  const [loss, clipFracLow, clipFracHigh, clipFracDual, ratioMean, ratioMin, ratioMax, kl] = kept as tf.Scalar[];
  const stats: GrpoLossStats = {
    clipFracLow: clipFracLow!, clipFracHigh: clipFracHigh!, clipFracDual: clipFracDual!,
    ratioMean: ratioMean!, ratioMin: ratioMin!, ratioMax: ratioMax!,
  };
  if (kl) stats.kl = kl;
  return {loss: loss!, stats};
}

/**
 * @internal The composed GRPO loss on validated inputs and resolved options: tfjs ops only, the
 * reference for fused kernels. Keeps only the returned scalar.
 */
export function grpoLossComposed(inputs: GrpoLossTensors, resolved: ResolvedGrpoLossOptions): tf.Scalar {
  return tf.tidy(() => grpoLossParts(inputs, resolved, false).loss);
}

/** Loss and (optionally) statistics; call inside `tf.tidy`. */
function grpoLossParts(inputs: GrpoLossTensors, resolved: ResolvedGrpoLossOptions, withStats: boolean):
    {loss: tf.Scalar; stats?: GrpoLossStats} {
  const {maskB, lp, old, adv} = sanitizePolicyInputs(inputs);
  const parts = clippedLossParts(lp, old, adv, maskB, resolved);
  let perToken: tf.Tensor2D = parts.perToken;
  if (resolved.tisCap !== undefined && inputs.rolloutLogProbs !== undefined) {
    // TIS: w = min(exp(old - rollout), cap), a constant (stop-gradient) weight of the policy term.
    const roll = tf.where(maskB, inputs.rolloutLogProbs, tf.zerosLike(lp));
    const w = stopGradient(tf.minimum(tf.exp(tf.sub(old ?? lp, roll)), resolved.tisCap));
    perToken = tf.mul(perToken, w);
  }
  let klPerToken: tf.Tensor2D | undefined;
  if (inputs.refLogProbs !== undefined && (resolved.beta > 0 || withStats)) {
    const ref = tf.where(maskB, inputs.refLogProbs, tf.zerosLike(lp));
    klPerToken = klEstimate(lp, ref, {estimator: resolved.klEstimator}) as tf.Tensor2D;
    if (resolved.beta > 0) perToken = tf.add(perToken, tf.mul(resolved.beta, klPerToken));
  }
  const time = lp.shape[1];
  const loss = aggregateMasked(perToken, maskB, resolved.aggregation, resolved.maxLength ?? time, resolved.normalizer);
  if (!withStats) return {loss};

  const maskF = tf.cast(maskB, 'float32');
  const count = tf.maximum(tf.sum(maskF), 1);
  const hasTokens = tf.greater(tf.sum(maskF), 0);
  const fraction = (b: tf.Tensor) => tf.div(tf.sum(tf.cast(b, 'float32')), count) as tf.Scalar;
  const one = tf.scalar(1);
  const ratio = parts.ratio;
  const clips = clipIndicators(ratio, adv, maskB, resolved);
  const ratioMean = tf.where(hasTokens, tf.div(tf.sum(tf.where(maskB, ratio, tf.zerosLike(ratio))), count), one);
  const ratioMin = tf.where(hasTokens, tf.min(tf.where(maskB, ratio, tf.fill(ratio.shape, Infinity))), one);
  const ratioMax = tf.where(hasTokens, tf.max(tf.where(maskB, ratio, tf.fill(ratio.shape, -Infinity))), one);
  const stats: GrpoLossStats = {
    clipFracLow: fraction(clips.lowClipped),
    clipFracHigh: fraction(clips.highClipped),
    clipFracDual: fraction(clips.dualClipped),
    ratioMean: ratioMean as tf.Scalar,
    ratioMin: ratioMin as tf.Scalar,
    ratioMax: ratioMax as tf.Scalar,
  };
  if (klPerToken !== undefined) {
    stats.kl = tf.div(tf.sum(tf.where(maskB, klPerToken, tf.zerosLike(klPerToken))), count) as tf.Scalar;
  }
  return {loss, stats};
}
