/**
 * The complementary sequence-wise balance loss of DeepSeek-V3.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {assertBinaryMask, assertKnownOptions, assertNumber, assertRank, assertShape} from '../math/assert.js';

/** Options of {@link sequenceBalanceLoss}. */
export interface SequenceBalanceLossOptions {
  /** Routed experts per token K_r (`num_experts_per_tok`); required. */
  topK: number;
  /** Balance factor α; default `0.0001` (DeepSeek-V3's). */
  alpha?: number;
  /** `[batch, time]` 1 for real tokens, 0 for padding (padding is left out of f and P); default all ones. */
  mask?: tf.Tensor2D;
}

/**
 * Complementary sequence-wise balance loss (DeepSeek-V3, arXiv:2412.19437 §2.1.2, eqs. 17-20), per
 * sequence of T real tokens and N_r routed experts, averaged over the batch:
 *
 *   L_Bal = α · Σ_i f_i P_i
 *   f_i   = N_r / (K_r T) · Σ_t 1(expert i selected for token t)      (no gradient)
 *   s'_{i,t} = s_{i,t} / Σ_j s_{j,t}
 *   P_i   = (1/T) · Σ_t s'_{i,t}
 *
 * Perfectly uniform routing and affinities give exactly α; concentrating both on the same experts
 * raises it. Sequences without real tokens contribute 0.
 *
 * @param affinities `[batch, time, experts]` sigmoid affinities s_{i,t} (from {@link moeRoute}).
 * @param selected `[batch, time, experts]` 1 where the expert was selected (K_r ones per token).
 * @param options see {@link SequenceBalanceLossOptions}; `topK` required.
 * @returns scalar loss, differentiable with respect to `affinities`.
 * @example
 * const s = tf.tensor3d([[[0.5, 0.5], [0.5, 0.5]]]);
 * const sel = tf.tensor3d([[[1, 0], [0, 1]]]);
 * sequenceBalanceLoss(s, sel, {topK: 1, alpha: 0.1}).dataSync(); // [0.1]: balanced
 */
export function sequenceBalanceLoss(
    affinities: tf.Tensor3D, selected: tf.Tensor3D, options: SequenceBalanceLossOptions): tf.Scalar {
  const fn = 'sequenceBalanceLoss';
  assertKnownOptions(options, ['topK', 'alpha', 'mask'], fn);
  assertRank(affinities, 3, fn, 'affinities', ['batch', 'time', 'experts'], 'float32');
  const [B, T, E] = affinities.shape;
  assertShape(selected, affinities.shape, fn, 'selected', ['batch', 'time', 'experts']);
  const {topK, alpha = 0.0001, mask} = options ?? ({} as SequenceBalanceLossOptions);
  assertNumber(topK, fn, 'topK', {integer: true, min: 1, max: E});
  assertNumber(alpha, fn, 'alpha', {min: 0});
  if (mask !== undefined) {
    assertShape(mask, [B, T], fn, 'mask', ['batch', 'time']);
    assertBinaryMask(mask, fn, 'mask');
  }
  return tf.tidy(() => {
    const m = mask === undefined ? tf.ones([B, T, 1]) : tf.reshape(tf.cast(mask, 'float32'), [B, T, 1]);
    const count = tf.sum(m, [1, 2]); // [B] real tokens T
    const safeCount = tf.maximum(count, 1);
    const sel = tf.mul(tf.cast(selected, 'float32'), m);
    const f = tf.div(tf.mul(tf.sum(sel, 1), E / topK), tf.expandDims(safeCount, 1)); // [B, E]
    const normed = tf.div(affinities, tf.sum(affinities, -1, true));
    const p = tf.div(tf.sum(tf.mul(normed, m), 1), tf.expandDims(safeCount, 1)); // [B, E]
    const perSeq = tf.sum(tf.mul(f, p), -1); // [B]
    return tf.mul(tf.mean(perSeq), alpha) as tf.Scalar;
  });
}
