/**
 * The auxiliary-loss-free load-balancing update of the DeepSeek-V3 router bias.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {assertFinite, assertKnownOptions, assertNumber, assertRank, assertShape} from '../math/assert.js';

/** Options of {@link routerBiasUpdate}. */
export interface RouterBiasUpdateOptions {
  /** Bias update speed γ; default `0.001` (DeepSeek-V3's value for the first 14.3T tokens). */
  gamma?: number;
}

/**
 * Auxiliary-loss-free load balancing (DeepSeek-V3, arXiv:2412.19437 §2.1.2; Wang et al. 2024,
 * arXiv:2408.15664): after each training step every expert's selection bias moves by a fixed step
 * toward balance,
 *
 *   b_i <- b_i + γ · sign(mean_j load_j − load_i),
 *
 * down for overloaded experts, up for underloaded ones, unchanged for an expert exactly at the mean.
 * The bias enters only the top-k selection ({@link moeRoute}), never the gates. Pure: returns a new
 * tensor, the inputs are left alone.
 *
 * @param bias `[experts]` float32 current bias (`e_score_correction_bias`).
 * @param expertLoad `[experts]` tokens routed to each expert over the step (counts or fractions:
 *   only the sign of mean − load matters).
 * @param options.gamma update speed γ >= 0; default `0.001`.
 * @returns `[experts]` the updated bias.
 * @throws on an unknown option, when `bias` is not `[experts]` float32, `expertLoad` not of its shape,
 *   or `gamma` not a finite number >= 0; value checks (skipped with `configureValidation({valueChecks:
 *   false})`, one scalar read back each): `bias` and `expertLoad` finite (a NaN load would silently
 *   give an all-zero update, an infinite one a wrong sign).
 * @example
 * routerBiasUpdate(tf.zeros([4]), tf.tensor1d([6, 2, 2, 2]), {gamma: 0.1}).arraySync();
 * // mean load 3: [-0.1, 0.1, 0.1, 0.1]
 */
export function routerBiasUpdate(
    bias: tf.Tensor1D, expertLoad: tf.Tensor1D, options: RouterBiasUpdateOptions = {}): tf.Tensor1D {
  const fn = 'routerBiasUpdate';
  assertKnownOptions(options, ['gamma'], fn);
  assertRank(bias, 1, fn, 'bias', ['experts'], 'float32');
  assertShape(expertLoad, bias.shape, fn, 'expertLoad', ['experts']);
  const {gamma = 0.001} = options;
  assertNumber(gamma, fn, 'gamma', {min: 0});
  assertFinite(bias, fn, 'bias');
  assertFinite(expertLoad, fn, 'expertLoad');
  return tf.tidy(() => {
    const load = tf.cast(expertLoad, 'float32');
    return tf.add(bias, tf.mul(tf.sign(tf.sub(tf.mean(load), load)), gamma)) as tf.Tensor1D;
  });
}
