/**
 * Per-token estimators of KL(pi || pi_ref) from sampled-token log-probabilities.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {assertFinite, assertKnownOptions, assertNumber, assertOneOf, assertRank, assertSameShape, check} from './assert.js';
import {assertTensor} from './assert.js';
import {klPenaltyWebGPU} from './fused/kl_penalty_webgpu.js';

/** Name of a per-token KL estimator; see {@link klPenalty}. */
export type KlEstimator = 'k1' | 'k2' | 'k3' | 'abs';

/** The estimator names {@link klPenalty} accepts. */
export const KL_ESTIMATORS: readonly KlEstimator[] = ['k1', 'k2', 'k3', 'abs'];

/** Options of {@link klPenalty}. */
export interface KlPenaltyOptions {
  /**
   * Which estimator of KL(pi || pi_ref), with d = logProbs - refLogProbs:
   * `'k1'` = d (unbiased, can be negative), `'k2'` = d^2 / 2, `'k3'` = exp(-d) + d - 1 (unbiased,
   * >= 0, low variance: the one GRPO uses), `'abs'` = |d|. Required.
   */
  estimator: KlEstimator;
  /**
   * Clamp the log-ratio d to [-logRatioClamp, logRatioClamp] before the estimator (> 0). Default: no
   * clamp. verl's `low_var_kl` (k3) uses 20. The gradient is 0 where the clamp is active.
   */
  logRatioClamp?: number;
  /**
   * Clamp the estimator's value to [-valueClamp, valueClamp] (> 0). Default: no clamp. verl's
   * `low_var_kl` (k3) uses 10. The gradient is 0 where the clamp is active.
   */
  valueClamp?: number;
}

const FN = 'klPenalty';
const KNOWN = ['estimator', 'logRatioClamp', 'valueClamp'];

/**
 * Per-token estimate of KL(pi || pi_ref) for tokens sampled from pi.
 *
 * With $d = \log\pi_\theta - \log\pi_{ref}$ = logProbs - refLogProbs (optionally clamped to ±logRatioClamp):
 * $$k_1 = d, \qquad k_2 = \tfrac{1}{2} d^2, \qquad k_3 = e^{-d} + d - 1, \qquad \mathrm{abs} = |d|;$$
 * the value is then optionally clamped to ±valueClamp.
 * J. Schulman 2020, "Approximating KL divergence" (http://joschu.net/blog/kl-approx.html).
 * k3 is the estimator of GRPO (Shao et al. 2024, DeepSeekMath, arXiv:2402.03300, eq. 4), TRL's
 * only one and verl's `low_var_kl`; verl's `kl_penalty` = `{estimator: 'k3', logRatioClamp: 20,
 * valueClamp: 10}` for `low_var_kl`, no clamps for `kl`/`k1`, `mse`/`k2`, `abs`.
 *
 * All four are 0 where the two log-probs are equal; k2, k3 and abs are >= 0. No mask: every element
 * is computed (and must be finite, padding included); mask the result (or use {@link grpoLoss},
 * which ignores padded positions exactly).
 *
 * On webgpu (the direct-dispatch backend) this runs as one fused kernel forward and one per requested
 * gradient (every option included); elsewhere as tfjs ops.
 *
 * @param logProbs float32 log pi(y_t) of the sampled tokens under the trained policy, any shape
 *   (typically `[batch, time]`).
 * @param refLogProbs float32 log pi_ref(y_t), the same shape.
 * @param options.estimator `'k1'`, `'k2'`, `'k3'` or `'abs'` (required).
 * @param options.logRatioClamp clamp of d before the estimator; default none.
 * @param options.valueClamp clamp of the estimate; default none.
 * @returns float32 tensor of the input shape, the per-token estimate.
 * @throws if the inputs are not float32 tensors of the same shape, an element of either is NaN or
 *   infinite (a value check, every element: there is no mask; skipped with
 *   `configureValidation({valueChecks: false})` and on webgpu), the estimator is unknown, or a clamp
 *   is not a positive number.
 * @example
 * const lp = tf.tensor2d([[Math.log(0.5), Math.log(0.25)]]);
 * const ref = tf.tensor2d([[Math.log(0.25), Math.log(0.25)]]);
 * klPenalty(lp, ref, {estimator: 'k3'}); // [[exp(-ln 2) + ln 2 - 1, 0]] = [[0.1931, 0]]
 */
export function klPenalty(logProbs: tf.Tensor, refLogProbs: tf.Tensor, options: KlPenaltyOptions): tf.Tensor {
  check(typeof options === 'object' && options !== null, FN, () =>
    `'options' expected an object with 'estimator', got ${String(options)}`);
  assertKnownOptions(options, KNOWN, FN);
  assertTensorLike(logProbs, 'logProbs');
  assertSameShape(refLogProbs, logProbs, FN, 'refLogProbs', 'logProbs');
  assertRank(refLogProbs, logProbs.rank, FN, 'refLogProbs', undefined, 'float32');
  const {estimator, logRatioClamp, valueClamp} = options;
  assertOneOf(estimator, KL_ESTIMATORS, FN, 'estimator');
  if (logRatioClamp !== undefined) assertNumber(logRatioClamp, FN, 'logRatioClamp', {min: 0, minExclusive: true});
  if (valueClamp !== undefined) assertNumber(valueClamp, FN, 'valueClamp', {min: 0, minExclusive: true});
  const fused = klPenaltyWebGPU(logProbs, refLogProbs, {estimator, logRatioClamp, valueClamp});
  if (fused !== null) return fused;
  // No mask: every element is used, so every element must be finite (NaN stays NaN through the clamps).
  assertFinite(logProbs, FN, 'logProbs');
  assertFinite(refLogProbs, FN, 'refLogProbs');
  return tf.tidy(() => klEstimate(logProbs, refLogProbs, {estimator, logRatioClamp, valueClamp}));
}

function assertTensorLike(x: unknown, name: string): asserts x is tf.Tensor {
  assertTensor(x, FN, name);
  assertRank(x, (x as tf.Tensor).rank, FN, name, undefined, 'float32');
}

/**
 * @internal The estimator without validation (callers validate): used by {@link grpoLoss}, which
 * passes log-probs already zeroed at padded positions.
 */
export function klEstimate(
    logProbs: tf.Tensor, refLogProbs: tf.Tensor,
    {estimator, logRatioClamp, valueClamp}: {estimator: KlEstimator; logRatioClamp?: number | undefined;
      valueClamp?: number | undefined}): tf.Tensor {
  return tf.tidy(() => {
    let d = tf.sub(logProbs, refLogProbs);
    if (logRatioClamp !== undefined) d = tf.clipByValue(d, -logRatioClamp, logRatioClamp);
    let k: tf.Tensor;
    switch (estimator) {
      case 'k1': k = d; break;
      case 'k2': k = tf.mul(0.5, tf.square(d)); break;
      // exp(-d) + d - 1 = expm1(-d) + d: expm1 keeps the small-d values accurate (k3 ~ d^2/2 there).
      case 'k3': k = tf.add(tf.expm1(tf.neg(d)), d); break;
      case 'abs': k = tf.abs(d); break;
    }
    if (valueClamp !== undefined) k = tf.clipByValue(k, -valueClamp, valueClamp);
    return k;
  });
}
