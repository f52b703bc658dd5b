/**
 * Clipped value (critic) loss of PPO.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  aggregateMasked, LOSS_AGGREGATIONS, resolveAggregationOptions, type LossAggregation,
} from './aggregate_loss.js';
import {
  assertBinaryMask, assertDtype, assertFiniteOnMask, assertKnownInputs, assertKnownOptions, assertNumber, assertOneOf, assertRank,
  assertSameShape, check,
} from './assert.js';

/** Tensors of {@link valueLoss}, all `[batch, time]`, by name so that they cannot be swapped silently. */
export interface ValueLossInputs {
  /** `[batch, time]` float32 values V_theta of the critic being trained (gradients flow here), finite where `mask` is 1. */
  values: tf.Tensor2D;
  /**
   * `[batch, time]` float32 values of the critic that produced the rollout, V_old (a constant). Required when
   * `clip` is set; without `clip` it is not used.
   */
  oldValues?: tf.Tensor2D;
  /** `[batch, time]` float32 value targets R (e.g. `gae(...).returns`), finite where `mask` is 1. */
  returns: tf.Tensor2D;
  /** `[batch, time]` 0/1 completion-token mask (float32, int32 or bool); right padding and holes allowed. */
  mask: tf.Tensor2D;
}

/** Options of {@link valueLoss}. */
export interface ValueLossOptions {
  /**
   * Value clip range c > 0: V is clipped to [V_old - c, V_old + c] and the larger of the two squared errors
   * is used. Default: no clipping (plain 0.5 (V - R)^2). verl's `cliprange_value` is 0.5, TRL's 0.2, cleanrl
   * reuses its policy `clip_coef` 0.2.
   */
  clip?: number;
  /** How the per-token loss becomes a scalar, as `aggregateLoss`. Default `'token-mean'` (verl's critic default). */
  aggregation?: LossAggregation;
  /** `'seq-mean-token-sum-norm'` only: the constant per-sequence divisor, as `aggregateLoss`. Default `time`. */
  maxLength?: number;
  /** Fixed denominator for gradient accumulation, as `aggregateLoss`. Default: this batch's count. */
  normalizer?: number;
}

/** @internal Per-token value loss and where its clip is active; inputs sanitized (0 where masked). */
export interface ValueLossParts {
  /** `[batch, time]` 0.5 * max((V - R)^2, (clip(V) - R)^2), 0 where masked. */
  perToken: tf.Tensor2D;
  /** `[batch, time]` bool: the clipped error is strictly larger (verl's `vf_clipfrac` event), unmasked. */
  clipped: tf.Tensor2D;
}

const FN = 'valueLoss';
const KNOWN = ['clip', 'aggregation', 'maxLength', 'normalizer'];
const MASK_DTYPES: readonly tf.DataType[] = ['float32', 'int32', 'bool'];

/**
 * Clipped value loss of PPO, aggregated over the completion tokens.
 *
 * Per token:
 * $$l_t = \tfrac{1}{2} \max\big((V_t - R_t)^2,\ (\operatorname{clip}(V_t, V^{old}_t - c, V^{old}_t + c) - R_t)^2\big),$$
 * or $\tfrac{1}{2}(V_t - R_t)^2$ without `clip` (c = `clip`); then reduced with `aggregation` exactly as `aggregateLoss` does. Inside the clip range
 * (|V - V_old| <= c) both terms are equal, so the clipped loss equals the plain one; where the clipped term is
 * the larger, V is outside the range and the token's gradient is exactly 0.
 * Schulman et al. 2017, PPO, arXiv:1707.06347 (value clipping from OpenAI baselines' PPO2; see also
 * Engstrom et al. 2020, arXiv:2005.12729, on its effect). Matches verl's `compute_value_loss` and cleanrl's
 * `--clip-vloss`.
 *
 * Padded positions never reach the result, even when NaN or infinite (`tf.where`), and get 0 gradient.
 *
 * @param inputs.values `[batch, time]` float32, V_theta (gradients flow here).
 * @param inputs.oldValues `[batch, time]` float32, V_old; required with `clip`.
 * @param inputs.returns `[batch, time]` float32 targets R.
 * @param inputs.mask `[batch, time]` 0/1.
 * @param options.clip value clip range c > 0; default none.
 * @param options.aggregation default `'token-mean'`.
 * @param options.maxLength `'seq-mean-token-sum-norm'` only; default `time`.
 * @param options.normalizer fixed denominator; default this batch's count.
 * @returns float32 scalar loss (already includes the factor 0.5).
 * @throws Error naming `valueLoss` and the argument on a wrong shape or dtype, a mask that is not 0/1,
 *   non-finite values, returns or old values on the mask, `clip` without `oldValues`, or a bad option.
 * @example
 * // V = 2 moved from V_old = 1 toward R = 3; clip 0.5 holds it at 1.5:
 * // 0.5 * max((2 - 3)^2, (1.5 - 3)^2) = 0.5 * 2.25 = 1.125
 * valueLoss({
 *   values: tf.tensor2d([[2]]), oldValues: tf.tensor2d([[1]]), returns: tf.tensor2d([[3]]), mask: tf.tensor2d([[1]]),
 * }, {clip: 0.5}).print(); // 1.125
 */
export function valueLoss(inputs: ValueLossInputs, options: ValueLossOptions = {}): tf.Scalar {
  assertKnownOptions(options, KNOWN, FN);
  const {clip, aggregation = 'token-mean'} = options;
  assertOneOf(aggregation, LOSS_AGGREGATIONS, FN, 'aggregation');
  const {maxLength, normalizer} = resolveAggregationOptions(options, aggregation, FN, false);
  assertKnownInputs(inputs, ['values', 'oldValues', 'returns', 'mask'], FN);
  validateValueLossInputs(inputs, clip, FN);
  return tf.tidy(() => {
    const {values, returns, mask} = inputs;
    const maskB = tf.cast(mask, 'bool') as tf.Tensor2D;
    const {perToken} = valueLossParts(values, inputs.oldValues, returns, maskB, clip);
    return aggregateMasked(perToken, maskB, aggregation, maxLength ?? values.shape[1], normalizer);
  });
}

/**
 * @internal Validates the value-loss tensors and `clip`; `fn` names the public function in errors.
 * `values` fixes the expected shape unless `shapeOf` is given (then the mask is checked by the caller);
 * `clipName` is the option name of `clip` in `fn`'s options.
 */
export function validateValueLossInputs(
    inputs: Partial<ValueLossInputs> | undefined, clip: number | undefined, fn: string,
    shapeOf?: {tensor: tf.Tensor; name: string}, clipName = 'clip'): void {
  check(typeof inputs === 'object' && inputs !== null, fn, () =>
    `'inputs' expected an object {values, oldValues, returns, mask}, got ${String(inputs)}`);
  const {values, oldValues, returns, mask} = inputs;
  if (shapeOf === undefined) {
    assertRank(values, 2, fn, 'values', ['batch', 'time'], 'float32');
  } else {
    assertSameShape(values, shapeOf.tensor, fn, 'values', shapeOf.name);
    assertDtype(values, 'float32', fn, 'values');
  }
  assertSameShape(returns, values, fn, 'returns', 'values');
  assertDtype(returns, 'float32', fn, 'returns');
  if (shapeOf === undefined) {
    assertSameShape(mask, values, fn, 'mask', 'values');
    assertDtype(mask, MASK_DTYPES, fn, 'mask');
  }
  if (clip !== undefined) {
    assertNumber(clip, fn, clipName, {min: 0, minExclusive: true});
    check(oldValues !== undefined, fn, () =>
      `'oldValues' expected a [batch, time] tensor when '${clipName}' is set, got undefined`);
  }
  if (oldValues !== undefined) {
    assertSameShape(oldValues, values, fn, 'oldValues', 'values');
    assertDtype(oldValues, 'float32', fn, 'oldValues');
  }
  if (shapeOf === undefined) assertBinaryMask(mask as tf.Tensor, fn, 'mask');
  for (const [name, x] of [['values', values], ['returns', returns], ['oldValues', clip === undefined ? undefined : oldValues]] as const) {
    if (x !== undefined) assertFiniteOnMask(x, mask as tf.Tensor, fn, name);
  }
}

/**
 * @internal Per-token clipped value loss without validation; `maskB` is the bool mask. Padded positions are
 * replaced by 0 before any arithmetic. Call inside `tf.tidy`.
 */
export function valueLossParts(
    values: tf.Tensor2D, oldValues: tf.Tensor2D | undefined, returns: tf.Tensor2D, maskB: tf.Tensor2D,
    clip: number | undefined): ValueLossParts {
  const zeros = tf.zerosLike(values);
  const v = tf.where(maskB, values, zeros);
  const r = tf.where(maskB, returns, zeros);
  const plain = tf.square(tf.sub(v, r));
  if (clip === undefined || oldValues === undefined) {
    return {perToken: tf.where(maskB, tf.mul(0.5, plain), zeros) as tf.Tensor2D, clipped: tf.zerosLike(maskB)};
  }
  const old = tf.where(maskB, oldValues, zeros);
  const vClipped = tf.clipByValue(tf.sub(v, old), -clip, clip);
  const clippedError = tf.square(tf.sub(tf.add(old, vClipped), r));
  const clipped = tf.logicalAnd(maskB, tf.greater(clippedError, plain)) as tf.Tensor2D;
  // Where the clipped error is larger, V is outside [old - c, old + c] and clip() has zero gradient there.
  const perToken = tf.where(maskB, tf.mul(0.5, tf.maximum(plain, clippedError)), zeros) as tf.Tensor2D;
  return {perToken, clipped};
}
