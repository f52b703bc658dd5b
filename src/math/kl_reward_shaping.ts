import * as tf from '@tensorflow/tfjs-core';
import {
  assertBinaryMask, assertDtype, assertFinite, assertKnownInputs, assertKnownOptions, assertNumber, assertRank, assertSameShapes,
  assertShape,
} from './assert.js';

/** Inputs of {@link klShapedRewards}. */
export interface KlShapedRewardsInputs {
  /** `[batch]` float32 sequence-level scores (the reward model's or rule-based rewards), one per completion. */
  scores: tf.Tensor1D;
  /**
   * `[batch, time]` float32 per-token KL estimate to the reference policy, KL_t. InstructGPT, TRL and verl
   * use the plain log-ratio `logProbs - refLogProbs` (k1) here; `klPenalty` gives the other estimators.
   * Ignored where `mask` is 0 (even NaN).
   */
  kl: tf.Tensor2D;
  /** `[batch, time]` 0/1 completion-token mask (float32, int32 or bool); right padding and holes allowed. */
  mask: tf.Tensor2D;
}

/** Options of {@link klShapedRewards}. */
export interface KlShapedRewardsOptions {
  /**
   * KL coefficient beta >= 0 (InstructGPT's beta, TRL's `kl_coef`, verl's `kl_ctrl.kl_coef`). Required: there
   * is no neutral default (TRL uses 0.05, verl 0.001).
   */
  klCoef: number;
}

const FN = 'klShapedRewards';
const KNOWN_OPTIONS = ['klCoef'] as const;

/**
 * Per-token rewards with a KL penalty to the reference policy (InstructGPT-style reward shaping).
 *
 * $$r_t = -\beta\, \mathrm{KL}_t + [t = t_{last}]\, \mathrm{score}$$
 * on every completion token ($\beta$ = `klCoef`; the score is added on the last completion token of each
 * row); 0 on masked tokens. "Last" is the last position whose mask is 1, so
 * right padding and holes are both handled. Feed the result to {@link gae} as `rewards`.
 * Ouyang et al. 2022, InstructGPT, arXiv:2203.02155 (eq. 2); Ziegler et al. 2019, arXiv:1909.08593.
 *
 * This is the KL-in-reward form; the alternative, KL as a loss term (GRPO style), is `ppoLoss`'s `klCoef`.
 * Use one or the other, not both. A row whose mask is all 0 gets all-zero rewards (its score is dropped).
 *
 * @param inputs.scores `[batch]` float32 sequence scores, finite.
 * @param inputs.kl `[batch, time]` float32 per-token KL estimate, finite where `mask` is 1.
 * @param inputs.mask `[batch, time]` 0/1 completion-token mask.
 * @param options.klCoef KL coefficient beta >= 0 (required).
 * @returns `[batch, time]` float32 per-token rewards; the caller owns it.
 * @throws Error naming `klShapedRewards` and the argument when a shape, dtype, mask value or option is
 *   wrong, `scores` are not finite, or `kl` is not finite where `mask` is 1; `kl` and `mask` of
 *   different shapes give `'kl' [2,3] and 'mask' [2,2] expected the same shape`.
 * @example
 * const logProbs = tf.tensor2d([[-1, -2, -3, 0]]);
 * const refLogProbs = tf.tensor2d([[-1.5, -2, -2, 0]]);
 * const rewards = klShapedRewards({
 *   scores: tf.tensor1d([1]),
 *   kl: tf.sub(logProbs, refLogProbs),          // k1 = [0.5, 0, -1, 0]
 *   mask: tf.tensor2d([[1, 1, 1, 0]]),          // last completion token at t = 2
 * }, {klCoef: 0.1});
 * rewards.print(); // [[-0.05, 0, 1.1, 0]]
 */
export function klShapedRewards(inputs: KlShapedRewardsInputs, options: KlShapedRewardsOptions): tf.Tensor2D {
  assertKnownInputs(inputs, ['scores', 'kl', 'mask'], FN);
  const {scores, kl, mask} = inputs;
  assertKnownOptions(options, KNOWN_OPTIONS, FN);
  const {klCoef} = options ?? ({} as Partial<KlShapedRewardsOptions>);
  assertRank(kl, 2, FN, 'kl', ['batch', 'time']);
  assertRank(mask, 2, FN, 'mask', ['batch', 'time']);
  assertSameShapes(FN, [['kl', kl], ['mask', mask]]);
  assertDtype(kl, 'float32', FN, 'kl');
  const [batch] = kl.shape;
  assertShape(scores, [batch], FN, 'scores', ['batch']);
  assertDtype(scores, 'float32', FN, 'scores');
  assertDtype(mask, ['float32', 'int32', 'bool'], FN, 'mask');
  assertNumber(klCoef, FN, 'klCoef', {min: 0});
  assertBinaryMask(mask, FN);
  assertFinite(scores, FN, 'scores');
  const klOnMask = tf.tidy(() => tf.where(tf.cast(mask, 'bool'), kl, tf.zerosLike(kl)));
  try {
    assertFinite(klOnMask, FN, 'kl');
  } finally {
    klOnMask.dispose();
  }

  return tf.tidy(() => {
    const m = tf.cast(tf.notEqual(tf.cast(mask, 'float32'), 0), 'float32');
    // The last completion token is the one where the reversed inclusive cumulative count of mask is 1.
    const remaining = tf.cumsum(m, 1, false, true);
    const isLast = tf.mul(m, tf.cast(tf.equal(remaining, 1), 'float32'));
    const penalty = tf.where(tf.cast(m, 'bool'), tf.mul(-klCoef, kl), tf.zerosLike(kl));
    return tf.add(penalty, tf.mul(isLast, tf.expandDims(scores, 1))) as tf.Tensor2D;
  });
}
