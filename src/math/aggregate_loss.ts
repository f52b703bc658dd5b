/**
 * Reduction of a per-token loss to a scalar: the loss-aggregation modes of GRPO, DAPO and Dr. GRPO.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {assertBinaryMask, assertDtype, assertFiniteOnMask, assertKnownOptions, assertNumber, assertOneOf, assertRank, assertSameShape, check} from './assert.js';
import {aggregateLossWebGPU} from './fused/aggregate_loss_webgpu.js';

/**
 * How a `[batch, time]` per-token loss becomes a scalar (verl's `loss_agg_mode` names); see
 * {@link aggregateLoss}.
 */
export type LossAggregation = 'token-mean' | 'seq-mean-token-mean' | 'seq-mean-token-sum' | 'seq-mean-token-sum-norm';

/** The aggregation modes {@link aggregateLoss} accepts. */
export const LOSS_AGGREGATIONS: readonly LossAggregation[] =
    ['token-mean', 'seq-mean-token-mean', 'seq-mean-token-sum', 'seq-mean-token-sum-norm'];

/** Options of {@link aggregateLoss}. */
export interface AggregateLossOptions {
  /**
   * Constant per-sequence divisor of `'seq-mean-token-sum-norm'` (Dr. GRPO's maximum completion
   * length), integer >= 1. Default: `time`, the padded length of this batch. Rejected by the other
   * modes (it would be silently ignored).
   */
  maxLength?: number;
  /**
   * Fixed denominator (> 0) replacing this batch's count, for gradient accumulation: the number of
   * mask tokens over all micro-batches for `'token-mean'`, the number of non-empty sequences over
   * all micro-batches for the `seq-mean-*` modes. Then the micro-batch losses (and gradients) sum
   * exactly to the full batch's. Default: this batch's count (at least 1).
   */
  normalizer?: number;
}

const FN = 'aggregateLoss';
const KNOWN = ['maxLength', 'normalizer'];
const MASK_DTYPES: readonly tf.DataType[] = ['float32', 'int32', 'bool'];

/**
 * Aggregates a per-token loss over the mask tokens into a scalar.
 *
 * With m the mask, n_i = sum_t m_it the tokens of sequence i, N = sum_i n_i, S the non-empty
 * sequences (n_i > 0) and L_i = sum_t m_it l_it:
 * - `'token-mean'`: sum_i L_i / N (DAPO's token-level loss, arXiv:2503.14476; TRL `bnpo`, or `dapo`
 *   with `normalizer`).
 * - `'seq-mean-token-mean'`: mean over S of L_i / n_i (original GRPO, arXiv:2402.03300; TRL `grpo`).
 * - `'seq-mean-token-sum'`: mean over S of L_i.
 * - `'seq-mean-token-sum-norm'`: mean over S of L_i / maxLength (Dr. GRPO, arXiv:2503.20783; TRL
 *   `dr_grpo`; verl's mode of the same name divides the sum over sequences by `time` without the
 *   mean over sequences).
 *
 * Fully masked rows are excluded from the `seq-mean-*` means (they are not counted in |S|); a batch
 * with no mask token gives exactly 0, never NaN. With `normalizer` the denominator (N, or |S|) is
 * replaced by the given constant, so that splitting a batch into micro-batches and summing their
 * losses reproduces the full-batch loss and gradient exactly (up to float rounding).
 *
 * Padded positions of `perToken` never reach the result, not even as NaN or Inf (`tf.where`), and
 * get exactly 0 gradient.
 *
 * On webgpu (the direct-dispatch backend) this runs as two fused dispatches forward and one backward
 * (every mode and option), the 0/1 mask check in the kernel (a failure gives NaN and the named
 * error on the next fused call); elsewhere as tfjs ops.
 *
 * @param perToken `[batch, time]` float32 per-token loss.
 * @param mask `[batch, time]` 0/1 (float32, int32 or bool).
 * @param mode one of {@link LOSS_AGGREGATIONS}.
 * @param options.maxLength `'seq-mean-token-sum-norm'` only; default `time`.
 * @param options.normalizer fixed denominator for gradient accumulation; default this batch's count.
 * @returns float32 scalar.
 * @throws on wrong rank/shape/dtype, a mask that is not 0/1, NaN / +-Infinity in `perToken` where
 *   `mask` is 1 (a value check: skipped with `configureValidation({valueChecks: false})` and on webgpu),
 *   an unknown mode or option, a non-positive `normalizer`, or `maxLength` that is not an integer >= 1
 *   or given for another mode.
 * @example
 * const perToken = tf.tensor2d([[1, 2, 3], [4, 0, 0]]);
 * const mask = tf.tensor2d([[1, 1, 1], [1, 0, 0]]);
 * aggregateLoss(perToken, mask, 'token-mean');          // (1+2+3+4)/4 = 2.5
 * aggregateLoss(perToken, mask, 'seq-mean-token-mean'); // (6/3 + 4/1)/2 = 3
 * aggregateLoss(perToken, mask, 'seq-mean-token-sum-norm', {maxLength: 4}); // (6/4 + 4/4)/2 = 1.25
 */
export function aggregateLoss(
    perToken: tf.Tensor, mask: tf.Tensor, mode: LossAggregation, options: AggregateLossOptions = {}): tf.Scalar {
  assertRank(perToken, 2, FN, 'perToken', ['batch', 'time'], 'float32');
  assertSameShape(mask, perToken, FN, 'mask', 'perToken');
  assertDtype(mask, MASK_DTYPES, FN, 'mask');
  assertOneOf(mode, LOSS_AGGREGATIONS, FN, 'mode');
  const {maxLength, normalizer} = resolveAggregationOptions(options, mode, FN, true);
  const fused = aggregateLossWebGPU(perToken as tf.Tensor2D, mask, mode, maxLength ?? perToken.shape[1]!, normalizer);
  if (fused !== null) return fused;
  assertBinaryMask(mask, FN, 'mask');
  assertFiniteOnMask(perToken, mask, FN, 'perToken');
  return tf.tidy(() => aggregateMasked(
      perToken as tf.Tensor2D, tf.cast(mask, 'bool') as tf.Tensor2D, mode, maxLength ?? perToken.shape[1]!, normalizer));
}

/**
 * @internal Validates `maxLength` / `normalizer` for `mode`; `fn` names the public function in errors.
 * `checkKnown` rejects other option names (callers that own a larger options object check those).
 */
export function resolveAggregationOptions(
    options: AggregateLossOptions | undefined, mode: LossAggregation, fn: string,
    checkKnown: boolean): {maxLength: number | undefined; normalizer: number | undefined} {
  const o = options ?? {};
  if (checkKnown) assertKnownOptions(o, KNOWN, fn);
  const {maxLength, normalizer} = o;
  if (maxLength !== undefined) {
    check(mode === 'seq-mean-token-sum-norm', fn, () =>
      `'maxLength' applies only to aggregation 'seq-mean-token-sum-norm', got it with '${mode}'`);
    assertNumber(maxLength, fn, 'maxLength', {min: 1, integer: true});
  }
  if (normalizer !== undefined) assertNumber(normalizer, fn, 'normalizer', {min: 0, minExclusive: true});
  return {maxLength, normalizer};
}

/**
 * @internal {@link aggregateLoss} without validation. `maskB` is the bool mask. Call inside `tf.tidy`.
 */
export function aggregateMasked(
    perToken: tf.Tensor2D, maskB: tf.Tensor2D, mode: LossAggregation, maxLength: number,
    normalizer: number | undefined): tf.Scalar {
  const maskF = tf.cast(maskB, 'float32');
  const masked = tf.where(maskB, perToken, tf.zerosLike(perToken));
  if (mode === 'token-mean') {
    const denom = normalizer ?? tf.maximum(tf.sum(maskF), 1);
    return tf.div(tf.sum(masked), denom);
  }
  const rowSum = tf.sum(masked, 1);
  const rowCount = tf.sum(maskF, 1);
  let seqLoss: tf.Tensor;
  switch (mode) {
    case 'seq-mean-token-mean': seqLoss = tf.div(rowSum, tf.maximum(rowCount, 1)); break;
    case 'seq-mean-token-sum': seqLoss = rowSum; break;
    case 'seq-mean-token-sum-norm': seqLoss = tf.div(rowSum, maxLength); break;
  }
  // Empty rows have rowSum 0, so they add nothing; they are also left out of the count.
  const denom = normalizer ?? tf.maximum(tf.sum(tf.cast(tf.greater(rowCount, 0), 'float32')), 1);
  return tf.div(tf.sum(seqLoss), denom);
}
