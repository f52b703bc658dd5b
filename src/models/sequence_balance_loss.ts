/**
 * The complementary sequence-wise balance loss of DeepSeek-V3.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  assertBinaryMask, assertFiniteValues, assertKnownOptions, assertNumber, assertRank, assertShape, fmtShape, syncValueChecksEnabled,
} from '../math/assert.js';

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
 * raises it. Sequences without real tokens contribute 0; padding positions (mask 0) may hold any
 * affinities (they are left out, NaN included).
 *
 * @param affinities `[batch, time, experts]` sigmoid affinities s_{i,t} (from {@link moeRoute}).
 * @param selected `[batch, time, experts]` 1 where the expert was selected (K_r ones per token).
 * @param options see {@link SequenceBalanceLossOptions}; `topK` required.
 * @returns scalar loss, differentiable with respect to `affinities`.
 * @throws on an unknown option, when `affinities` is not `[batch, time, experts]` float32, `selected`
 *   or `mask` not of its shape, `topK` not an integer in [1, experts] or `alpha` not a finite number
 *   >= 0; value checks (skipped with `configureValidation({valueChecks: false})`, one scalar read back
 *   per tensor): `mask` in {0, 1}; at real positions `affinities` finite and each row over the
 *   experts of positive sum (s'_{i,t} divides by it; sigmoid affinities are positive). The model
 *   forward calls `sequenceBalanceLossInModel` (internal), which skips the checks of `affinities`.
 * @example
 * const s = tf.tensor3d([[[0.5, 0.5], [0.5, 0.5]]]);
 * const sel = tf.tensor3d([[[1, 0], [0, 1]]]);
 * sequenceBalanceLoss(s, sel, {topK: 1, alpha: 0.1}).dataSync(); // [0.1]: balanced
 */
export function sequenceBalanceLoss(
    affinities: tf.Tensor3D, selected: tf.Tensor3D, options: SequenceBalanceLossOptions): tf.Scalar {
  checkSequenceBalanceLoss(affinities, selected, options);
  assertAffinityValues(affinities, options.mask);
  return balanceLoss(affinities, selected, options);
}

/**
 * @internal {@link sequenceBalanceLoss} without the value checks of `affinities` (no read-back per
 * MoE layer): the model forward's call, whose affinities are the sigmoid of {@link moeRoute} (finite
 * and positive for finite router logits). The mask is still checked.
 */
export function sequenceBalanceLossInModel(
    affinities: tf.Tensor3D, selected: tf.Tensor3D, options: SequenceBalanceLossOptions): tf.Scalar {
  checkSequenceBalanceLoss(affinities, selected, options);
  return balanceLoss(affinities, selected, options);
}

/** The checks of {@link sequenceBalanceLoss} other than those of the affinities' values. */
function checkSequenceBalanceLoss(affinities: tf.Tensor3D, selected: tf.Tensor3D, options: SequenceBalanceLossOptions): void {
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
}

/**
 * Value check of the affinities at real positions: finite, each row of positive sum. One read-back
 * (a 2-flag tensor); the data is read only to name the bad value.
 */
function assertAffinityValues(affinities: tf.Tensor3D, mask: tf.Tensor2D | undefined): void {
  if (!syncValueChecksEnabled() || affinities.size === 0) return;
  const fn = 'sequenceBalanceLoss';
  const [B, T, E] = affinities.shape;
  const flagsT = tf.tidy(() => {
    const a = realAffinities(affinities, mask);
    return tf.stack([tf.any(tf.logicalNot(tf.isFinite(a))), tf.any(tf.lessEqual(tf.sum(a, -1), 0))]);
  });
  const [notFinite, zeroRow] = flagsT.dataSync();
  flagsT.dispose();
  if (!notFinite && !zeroRow) return;
  const real = tf.tidy(() => realAffinities(affinities, mask));
  const data = real.dataSync();
  if (real !== affinities) real.dispose(); // never the caller's tensor
  assertFiniteValues(data, fn, 'affinities', affinities.shape);
  for (let row = 0; row < B * T; row++) {
    let sum = 0;
    for (let i = 0; i < E; i++) sum += data[row * E + i]!;
    if (sum <= 0) {
      throw new Error(`${fn}: 'affinities' expected each row over the experts to have a positive sum ` +
          `(sigmoid affinities), got sum ${sum} at [batch, time]=${fmtShape([Math.floor(row / T), row % T])} ` +
          `(shape ${fmtShape(affinities.shape)})`);
    }
  }
}

/** The affinities with padding rows (mask 0) set to 1: left out of the loss and of the checks. */
function realAffinities(affinities: tf.Tensor3D, mask: tf.Tensor2D | undefined): tf.Tensor3D {
  if (mask === undefined) return affinities;
  const keep = tf.broadcastTo(tf.greater(tf.reshape(mask, [...mask.shape, 1]), 0), affinities.shape);
  return tf.where(keep, affinities, tf.onesLike(affinities));
}

/** The loss of checked inputs. */
function balanceLoss(affinities: tf.Tensor3D, selected: tf.Tensor3D, options: SequenceBalanceLossOptions): tf.Scalar {
  const [B, T, E] = affinities.shape;
  const {topK, alpha = 0.0001, mask} = options;
  return tf.tidy(() => {
    const m = mask === undefined ? tf.ones([B, T, 1]) : tf.reshape(tf.cast(mask, 'float32'), [B, T, 1]);
    const count = tf.sum(m, [1, 2]); // [B] real tokens T
    const safeCount = tf.maximum(count, 1);
    const sel = tf.mul(tf.cast(selected, 'float32'), m);
    const f = tf.div(tf.mul(tf.sum(sel, 1), E / topK), tf.expandDims(safeCount, 1)); // [B, E]
    const a = realAffinities(affinities, mask);
    const normed = tf.div(a, tf.sum(a, -1, true));
    const p = tf.div(tf.sum(tf.mul(normed, m), 1), tf.expandDims(safeCount, 1)); // [B, E]
    const perSeq = tf.sum(tf.mul(f, p), -1); // [B]
    return tf.mul(tf.mean(perSeq), alpha) as tf.Scalar;
  });
}
