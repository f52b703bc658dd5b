import * as tf from '@tensorflow/tfjs-core';
import {assertBinaryMask, assertDtype, assertFiniteOnMask, assertRank, assertSameShape} from './assert.js';

const FN = 'explainedVariance';

/**
 * Explained variance of the value predictions over the masked tokens: 1 - Var[R - V] / Var[R].
 *
 * 1 is a perfect critic, 0 one no better than predicting the mean return, negative one worse than that. Both
 * variances are population variances over the tokens where `mask` is 1 (cleanrl's `np.var` over the rollout,
 * `cleanrl/ppo.py`; verl's `critic/vf_explained_var`). A diagnostic, not a loss: no gradient is intended.
 * As in cleanrl, the result is NaN when Var[R] = 0 (all returns equal, or fewer than one token) because
 * the ratio is undefined there; log it as "no data", do not train on it.
 *
 * @param values `[batch, time]` float32 predicted values V (e.g. the old values of the rollout).
 * @param returns `[batch, time]` float32 value targets R (e.g. `gae(...).returns`).
 * @param mask `[batch, time]` 0/1 completion-token mask (float32, int32 or bool).
 * @returns scalar float32 explained variance; NaN when Var[R] = 0.
 * @throws Error naming `explainedVariance` and the argument when a shape, dtype or mask value is wrong, or
 *   `values` / `returns` hold NaN / +-Infinity where `mask` is 1 (value checks: skipped with
 *   `configureValidation({valueChecks: false})`).
 * @example
 * explainedVariance(tf.tensor2d([[1, 2, 9]]), tf.tensor2d([[1, 3, 0]]), tf.tensor2d([[1, 1, 0]])).print();
 * // Var[R] over [1, 3] = 1, Var[R - V] over [0, 1] = 0.25  ->  0.75
 */
export function explainedVariance(values: tf.Tensor2D, returns: tf.Tensor2D, mask: tf.Tensor2D): tf.Scalar {
  assertRank(values, 2, FN, 'values', ['batch', 'time'], 'float32');
  assertSameShape(returns, values, FN, 'returns', 'values');
  assertDtype(returns, 'float32', FN, 'returns');
  assertSameShape(mask, values, FN, 'mask', 'values');
  assertDtype(mask, ['float32', 'int32', 'bool'], FN, 'mask');
  assertBinaryMask(mask, FN);
  assertFiniteOnMask(values, mask, FN, 'values');
  assertFiniteOnMask(returns, mask, FN, 'returns');
  return tf.tidy(() => {
    const on = tf.notEqual(tf.cast(mask, 'float32'), 0);
    const m = tf.cast(on, 'float32');
    const count = tf.sum(m);
    const maskedVariance = (x: tf.Tensor): tf.Tensor => {
      const xm = tf.where(on, x, tf.zerosLike(x));
      const mean = tf.div(tf.sum(xm), count);
      const centered = tf.where(on, tf.sub(x, mean), tf.zerosLike(x));
      return tf.div(tf.sum(tf.square(centered)), count);
    };
    const varReturns = maskedVariance(returns);
    const varResidual = maskedVariance(tf.sub(returns, values));
    const ratio = tf.sub(1, tf.div(varResidual, varReturns));
    return tf.where(tf.greater(varReturns, 0), ratio, tf.scalar(NaN)) as tf.Scalar;
  });
}
