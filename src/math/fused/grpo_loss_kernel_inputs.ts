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
 * @internal The statistics of `grpoLossWithStats` as a fused kernel returns them (float32 scalars,
 * the same fields and meaning as `GrpoLossStats`; `kl` exactly when `refLogProbs` is given).
 */
export interface GrpoLossStatTensors {
  kl?: tf.Scalar;
  clipFracLow: tf.Scalar;
  clipFracHigh: tf.Scalar;
  clipFracDual: tf.Scalar;
  ratioMean: tf.Scalar;
  ratioMin: tf.Scalar;
  ratioMax: tf.Scalar;
}
