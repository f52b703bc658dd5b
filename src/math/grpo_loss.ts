/**
 * The GRPO objective: clipped policy loss plus a KL penalty, aggregated (GRPO, DAPO, Dr. GRPO, GSPO).
 *
 * Structure: `grpoLoss` / `grpoLossWithStats` validate and resolve options
 * (`resolveGrpoLossOptions`, `validateGrpoLossInputs`), then call the composed tensor computation
 * `grpoLossComposed` (internal), the reference a fused kernel is checked against.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {aggregateMasked, LOSS_AGGREGATIONS, type LossAggregation, resolveAggregationOptions} from './aggregate_loss.js';
import {assertKnownOptions, assertNumber, assertOneOf, assertSameShape, assertDtype, check} from './assert.js';
import {assertKnownInputs} from './assert.js';
import {
  clipIndicators, clippedLossParts, type RatioLevel, resolveClipOptions, sanitizePolicyInputs, validatePolicyLossInputs,
} from './clipped_policy_loss.js';
import {KL_ESTIMATORS, klEstimate, type KlEstimator} from './kl_penalty.js';
import {grpoLossFused, type GrpoLossImplementation, useFusedGrpoLoss} from './fused/grpo_loss_fused.js'; // fused dispatch (issue 6)

/** Tensors of {@link grpoLoss}. All per-token tensors are `[batch, time]` float32. */
export interface GrpoLossInputs {
  /** `[batch, time]` log pi_theta(y_t) of the sampled tokens; gradients flow here. */
  logProbs: tf.Tensor;
  /**
   * `[batch, time]` log pi_old(y_t), the sampling policy. Default: stop-gradient(`logProbs`), i.e.
   * one update per batch (ratio 1, the gradient still flows, as TRL with `num_iterations = 1`).
   */
  oldLogProbs?: tf.Tensor;
  /** `[batch, time]` log pi_ref(y_t) of the reference policy; required when `beta > 0`. */
  refLogProbs?: tf.Tensor;
  /** `[batch]` (per sequence, broadcast over time) or `[batch, time]` float32 advantages. */
  advantages: tf.Tensor;
  /** `[batch, time]` 1 for completion tokens, 0 for padding (holes allowed); float32, int32 or bool. */
  mask: tf.Tensor;
}

/** Options of {@link grpoLoss}; every field is optional. Unknown names are rejected. */
export interface GrpoLossOptions {
  /**
   * KL coefficient. Default `0`, as TRL (since v0.17), DAPO and Dr. GRPO: the KL term is not needed
   * for verifiable-reward training and its reference forward pass is the most expensive part of a
   * step. DeepSeekMath's GRPO used `0.04` (TRL's earlier default). Must be >= 0.
   */
  beta?: number;
  /** Per-token KL estimator (see {@link klPenalty}). Default `'k3'` (GRPO's, TRL's, verl `low_var_kl`). */
  klEstimator?: KlEstimator;
  /** Lower clip epsilon (ratio clipped below at 1 - clipLow). Default `0.2`. */
  clipLow?: number;
  /** Upper clip epsilon. Default `clipLow`; DAPO's clip-higher uses `0.28`. */
  clipHigh?: number;
  /** Dual-clip bound c > 1 for negative advantages (verl `clip_ratio_c`, TRL `delta`). Default off. */
  dualClip?: number;
  /** `'token'` (default) or `'sequence'` (GSPO; see {@link clippedPolicyLoss}). */
  ratioLevel?: RatioLevel;
  /** Loss aggregation (see {@link aggregateLoss}). Default `'token-mean'` (DAPO's token-level loss). */
  aggregation?: LossAggregation;
  /** Divisor of `'seq-mean-token-sum-norm'` (Dr. GRPO's max completion length). Default `time`. */
  maxLength?: number;
  /**
   * Fixed denominator for gradient accumulation: total mask tokens over all micro-batches
   * (`'token-mean'`) or total non-empty sequences (`seq-mean-*`). Default: this batch's count.
   */
  normalizer?: number;
  // --- fused dispatch (issue 6, src/math/fused/) ---
  /**
   * Which implementation runs (see {@link fusedGrpoLossAvailable}). Default `'auto'`: the fused
   * kernel where the active backend has one (`cpu`, `wasm`: one typed-array loop; `webgpu`: WGSL
   * compute shaders), else the composed tfjs ops. `'fused'` insists (an error elsewhere);
   * `'composed'` always runs tfjs ops. Both give the same loss and gradients to float32 tolerance,
   * with one exception: the composed ops clamp the log-ratio to ±20 before `exp` (as verl), the fused
   * kernels do not (as TRL), so they differ on tokens with |log r| > 20 (ratios beyond 4.9e8, which
   * only a diverged policy produces) that the clip does not cover. On `webgpu` the fused kernel
   * differentiates w.r.t. `logProbs` only. Ignored by {@link grpoLossWithStats}, which always runs
   * the composed ops.
   */
  implementation?: GrpoLossImplementation;
  // --- end fused dispatch ---
}

/**
 * @internal {@link GrpoLossOptions} after validation, with the defaults filled in. `maxLength`
 * undefined means the batch's `time`; `dualClip` / `normalizer` undefined mean off / this batch's count.
 */
export interface ResolvedGrpoLossOptions {
  beta: number;
  klEstimator: KlEstimator;
  clipLow: number;
  clipHigh: number;
  dualClip: number | undefined;
  ratioLevel: RatioLevel;
  aggregation: LossAggregation;
  maxLength: number | undefined;
  normalizer: number | undefined;
}

/** Diagnostics of {@link grpoLossWithStats}: float32 scalars over the mask tokens. */
export interface GrpoLossStats {
  /**
   * Masked mean of the per-token KL estimate (`klEstimator`) against `refLogProbs`; present when
   * `refLogProbs` is given (also with `beta = 0`, for monitoring).
   */
  kl?: tf.Scalar;
  /** Fraction of mask tokens with A < 0 and ratio < 1 - clipLow (lower clip active). */
  clipFracLow: tf.Scalar;
  /** Fraction of mask tokens with A > 0 and ratio > 1 + clipHigh (upper clip active). */
  clipFracHigh: tf.Scalar;
  /** Fraction of mask tokens with A < 0 and ratio > dualClip (dual-clip bound active); 0 when off. */
  clipFracDual: tf.Scalar;
  /** Masked mean of the ratio the clip acts on (per token, or GSPO's per sequence). 1 with no tokens. */
  ratioMean: tf.Scalar;
  /** Masked minimum of the ratio; 1 with no tokens. */
  ratioMin: tf.Scalar;
  /** Masked maximum of the ratio; 1 with no tokens. */
  ratioMax: tf.Scalar;
}

/** Result of {@link grpoLossWithStats}. */
export interface GrpoLossWithStatsResult {
  /** float32 scalar, the same value as {@link grpoLoss} returns. */
  loss: tf.Scalar;
  /** Diagnostics (float32 scalars); the caller disposes them. */
  stats: GrpoLossStats;
}

const FN = 'grpoLoss';
const KNOWN_OPTIONS = [
  'beta', 'klEstimator', 'clipLow', 'clipHigh', 'dualClip', 'ratioLevel', 'aggregation', 'maxLength', 'normalizer',
  'implementation', // fused dispatch (issue 6)
];

/**
 * GRPO loss: the clipped surrogate of {@link clippedPolicyLoss} plus `beta` times the per-token KL
 * estimate of {@link klPenalty}, reduced by {@link aggregateLoss}.
 *
 * loss = aggregate_m( -min(r_t A_t, clip(r_t, 1 - clipLow, 1 + clipHigh) A_t) + beta * KL_t ),
 * r_t = pi_theta(y_t) / pi_old(y_t) (or GSPO's sequence ratio), KL_t = klEstimator(logProbs, refLogProbs).
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
 *
 * Padded tokens (mask 0) change neither the loss nor any gradient, even when their log-probs are
 * NaN or infinite. The KL term is computed only when `beta > 0`.
 *
 * @param inputs.logProbs `[batch, time]` float32.
 * @param inputs.oldLogProbs `[batch, time]` float32; default stop-gradient(`logProbs`).
 * @param inputs.refLogProbs `[batch, time]` float32; required when `beta > 0`.
 * @param inputs.advantages `[batch]` or `[batch, time]` float32.
 * @param inputs.mask `[batch, time]` 0/1.
 * @param options.beta KL coefficient, default `0`.
 * @param options.klEstimator default `'k3'`.
 * @param options.clipLow default `0.2`.
 * @param options.clipHigh default `clipLow`.
 * @param options.dualClip default off (> 1 when given).
 * @param options.ratioLevel default `'token'`.
 * @param options.aggregation default `'token-mean'`.
 * @param options.maxLength default `time` (`'seq-mean-token-sum-norm'` only).
 * @param options.normalizer default this batch's token (or sequence) count.
 * @param options.implementation `'auto'` (default: fused kernel on cpu/wasm/webgpu), `'fused'` or `'composed'`.
 * @returns float32 scalar loss to minimize.
 * @throws on wrong shapes/dtypes (message names `grpoLoss`, the argument, expected and given shape),
 *   a non-0/1 mask, unknown option names or values, negative clips, `dualClip <= 1`, or `beta > 0`
 *   without `refLogProbs`.
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
  const resolved = resolveGrpoLossOptions(options, FN);
  validateGrpoLossInputs(inputs, resolved, FN);
  // --- fused dispatch (issue 6, src/math/fused/) ---
  if (useFusedGrpoLoss(options?.implementation, inputs, FN)) return grpoLossFused(inputs, resolved);
  // --- end fused dispatch ---
  return grpoLossComposed(inputs, resolved);
}

/**
 * {@link grpoLoss} together with diagnostics: masked mean KL, clip fractions and ratio range.
 *
 * Same formula, defaults and errors as {@link grpoLoss}. The statistics are scalars with no effect on
 * the loss's gradient. Inside `tf.grad` / `optimizer.minimize`, tensors other than the returned loss
 * are disposed when the function returns: wrap `stats` in `tf.keep` to use them afterwards.
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
  const resolved = resolveGrpoLossOptions(options, 'grpoLossWithStats');
  validateGrpoLossInputs(inputs, resolved, 'grpoLossWithStats');
  const kept = tf.tidy(() => {
    const parts = grpoLossParts(inputs, resolved, true);
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
 * @internal Validates `options` (names and values) and fills in the defaults. `fn` names the public
 * function in error messages.
 */
export function resolveGrpoLossOptions(options: GrpoLossOptions | undefined, fn = FN): ResolvedGrpoLossOptions {
  const o = options ?? {};
  assertKnownOptions(o, KNOWN_OPTIONS, fn);
  const beta = o.beta ?? 0;
  assertNumber(beta, fn, 'beta', {min: 0});
  const klEstimator = o.klEstimator ?? 'k3';
  assertOneOf(klEstimator, KL_ESTIMATORS, fn, 'klEstimator');
  const clip = resolveClipOptions(o, fn);
  const aggregation = o.aggregation ?? 'token-mean';
  assertOneOf(aggregation, LOSS_AGGREGATIONS, fn, 'aggregation');
  const {maxLength, normalizer} = resolveAggregationOptions(
      {maxLength: o.maxLength, normalizer: o.normalizer}, aggregation, fn, false);
  return {beta, klEstimator, ...clip, aggregation, maxLength, normalizer};
}

/**
 * @internal Validates the tensors against resolved options: shapes, dtypes, 0/1 mask, finite
 * advantages; `refLogProbs` required when `beta > 0`.
 */
export function validateGrpoLossInputs(inputs: GrpoLossInputs, resolved: ResolvedGrpoLossOptions, fn = FN): void {
  assertKnownInputs(inputs, ['logProbs', 'oldLogProbs', 'rolloutLogProbs', 'refLogProbs', 'advantages', 'mask'], fn);
  validatePolicyLossInputs(inputs, fn, true);
  const {refLogProbs, logProbs} = inputs;
  if (refLogProbs === undefined) {
    check(resolved.beta === 0, fn, () =>
      `'refLogProbs' is required when beta > 0 (beta = ${resolved.beta}); pass the reference policy's ` +
      `log-probs or set beta: 0`);
  } else {
    assertSameShape(refLogProbs, logProbs, fn, 'refLogProbs', 'logProbs');
    assertDtype(refLogProbs, 'float32', fn, 'refLogProbs');
  }
}

/**
 * @internal The composed GRPO loss on validated inputs and resolved options: tfjs ops only, the
 * reference for fused kernels. Keeps only the returned scalar.
 */
export function grpoLossComposed(inputs: GrpoLossInputs, resolved: ResolvedGrpoLossOptions): tf.Scalar {
  return tf.tidy(() => grpoLossParts(inputs, resolved, false).loss);
}

/** Loss and (optionally) statistics; call inside `tf.tidy`. */
function grpoLossParts(inputs: GrpoLossInputs, resolved: ResolvedGrpoLossOptions, withStats: boolean):
    {loss: tf.Scalar; stats?: GrpoLossStats} {
  const {maskB, lp, old, adv} = sanitizePolicyInputs(inputs);
  const parts = clippedLossParts(lp, old, adv, maskB, resolved);
  let perToken: tf.Tensor2D = parts.perToken;
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
