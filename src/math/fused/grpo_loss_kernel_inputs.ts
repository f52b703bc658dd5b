/**
 * What every fused GRPO kernel receives: the tensors and the resolved options. Defined here, not in
 * `grpo_loss.ts`, so that `src/math/fused/` never imports the module that dispatches to it (no
 * import circle); `grpo_loss.ts` re-exports {@link ResolvedGrpoLossOptions}.
 * @module
 */
import type * as tf from '@tensorflow/tfjs-core';
import type {LossAggregation} from '../aggregate_loss.js';
import type {RatioLevel} from '../clipped_policy_loss.js';
import type {KlEstimator} from '../kl_penalty.js';

/**
 * @internal `GrpoLossOptions` after validation, with the defaults filled in. `maxLength`
 * undefined means the batch's `time`; `dualClip` / `normalizer` undefined mean off / this batch's
 * count; `tisCap` undefined means no truncated importance sampling (no rollout log-probs).
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
  /** Cap C of the TIS weight min(exp(old - rollout), C); set exactly when `rolloutLogProbs` is given. */
  tisCap?: number | undefined;
}

/** @internal The validated tensors of a GRPO loss (all per-token tensors `[batch, time]`). */
export interface GrpoLossTensors {
  logProbs: tf.Tensor;
  oldLogProbs?: tf.Tensor | undefined;
  refLogProbs?: tf.Tensor | undefined;
  /** Log-probs the sampler reported (truncated importance sampling); only with `tisCap`. */
  rolloutLogProbs?: tf.Tensor | undefined;
  advantages: tf.Tensor;
  mask: tf.Tensor;
}

/**
 * Diagnostics of `grpoLossWithStats`: float32 scalars over the mask tokens (computed by the composed
 * ops or, with the same fields and meaning, by a fused kernel).
 */
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
