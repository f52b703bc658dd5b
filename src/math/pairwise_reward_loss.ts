/**
 * Bradley-Terry pairwise loss for training a reward model on preference pairs.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {pairwiseRewardLossCpu} from './fused/pairwise_cpu.js';
import {assertDtype, assertFinite, assertKnownOptions, assertNumber, assertRank, assertShape, check, fmtShape} from './assert.js';

/** Named inputs of {@link pairwiseRewardLoss}. */
export interface PairwiseRewardLossInputs {
  /** `[pairs]` float32 scalar rewards of the preferred completions. */
  chosenRewards: tf.Tensor1D;
  /** `[pairs]` float32 scalar rewards of the rejected completions (same prompts, same order). */
  rejectedRewards: tf.Tensor1D;
}

/** Options of {@link pairwiseRewardLoss}. */
export interface PairwiseRewardLossOptions {
  /**
   * Required reward gap: a number for every pair or a `[pairs]` tensor (TRL's `margin` column, e.g.
   * the rating difference, Llama 2). Default `0`.
   */
  margin?: number | tf.Tensor1D;
  /**
   * Weight of the centering term mean((r_chosen + r_rejected)^2), which keeps rewards near 0 (TRL's
   * `center_rewards_coefficient`, Eisenstein et al. 2023). Default `0` (off).
   */
  centerCoefficient?: number;
}

/**
 * Bradley-Terry pairwise reward-model loss, mean over pairs:
 * L = mean_i softplus(-(r_chosen_i - r_rejected_i - margin_i)) = mean_i -log sigmoid(r_c - r_r - m)
 *     + centerCoefficient * mean_i (r_c + r_r)^2.
 * Ouyang et al. 2022 (InstructGPT), arXiv:2203.02155, eq. 1; the margin as Touvron et al. 2023
 * (Llama 2), arXiv:2307.09288, and TRL's `RewardTrainer`. DeepSeek-R1 (arXiv:2501.12948, section
 * 2.3.4) uses a reward model of human preferences for its general-purpose RL stage.
 *
 * Stable for any gap: softplus(x) = max(x, 0) + log1p(exp(-|x|)), so a gap of -1000 gives 1000, not
 * Infinity, and +1000 gives 0. On `cpu` / `wasm` one JavaScript loop over the pairs computes the same
 * (float64 sums), value checks included. Gradients: d L / d r_chosen_i = -sigmoid(-(gap_i)) / pairs, and the
 * opposite for r_rejected (plus the centering term's 2 c (r_c + r_r) / pairs on both).
 *
 * @param inputs.chosenRewards `[pairs]` float32.
 * @param inputs.rejectedRewards `[pairs]` float32, same shape.
 * @param options.margin number or `[pairs]` tensor; default `0`.
 * @param options.centerCoefficient weight of the centering term; default `0`.
 * @returns scalar float32 loss (log 2 when the rewards are equal and there is no margin).
 * @throws on wrong ranks, shapes or dtypes, no pairs, non-finite rewards or margins (a value check,
 *   see `configureValidation`), or bad options.
 * @example
 * const loss = pairwiseRewardLoss({chosenRewards: tf.tensor1d([2, 0]), rejectedRewards: tf.tensor1d([0, 0])});
 * // (softplus(-2) + softplus(0)) / 2 = (0.127 + 0.693) / 2 = 0.410
 */
export function pairwiseRewardLoss(
    inputs: PairwiseRewardLossInputs, options: PairwiseRewardLossOptions = {}): tf.Scalar {
  const fn = 'pairwiseRewardLoss';
  check(typeof inputs === 'object' && inputs !== null, fn, () => `'inputs' expected {chosenRewards, rejectedRewards}`);
  for (const key of Object.keys(inputs)) {
    check(key === 'chosenRewards' || key === 'rejectedRewards', fn, () =>
      `unknown input '${key}'; expected 'chosenRewards', 'rejectedRewards'`);
  }
  const {chosenRewards, rejectedRewards} = inputs;
  assertKnownOptions(options, ['margin', 'centerCoefficient'], fn);
  assertRank(chosenRewards, 1, fn, 'chosenRewards', ['pairs'], 'float32');
  const pairs = chosenRewards.shape[0];
  check(pairs > 0, fn, () => `'chosenRewards' expected at least one pair, got ${fmtShape(chosenRewards.shape)}`);
  assertShape(rejectedRewards, [pairs], fn, 'rejectedRewards', ['pairs']);
  assertDtype(rejectedRewards, 'float32', fn, 'rejectedRewards');
  const {margin = 0, centerCoefficient = 0} = options;
  if (typeof margin === 'number') {
    assertNumber(margin, fn, 'margin');
  } else {
    assertShape(margin, [pairs], fn, 'margin', ['pairs']);
    assertDtype(margin, 'float32', fn, 'margin');
  }
  assertNumber(centerCoefficient, fn, 'centerCoefficient', {min: 0});
  // cpu / wasm: one JavaScript loop over the pairs, value checks included (fused/pairwise_cpu.ts).
  const loop = pairwiseRewardLossCpu(chosenRewards, rejectedRewards, margin, centerCoefficient, fn);
  if (loop !== null) return loop;
  assertFinite(chosenRewards, fn, 'chosenRewards');
  assertFinite(rejectedRewards, fn, 'rejectedRewards');
  if (typeof margin !== 'number') assertFinite(margin, fn, 'margin');
  return tf.tidy(() => {
    const gap = tf.sub(tf.sub(chosenRewards, rejectedRewards), margin);
    let loss = tf.mean(tf.softplus(tf.neg(gap)));
    if (centerCoefficient > 0) {
      loss = tf.add(loss, tf.mul(centerCoefficient, tf.mean(tf.square(tf.add(chosenRewards, rejectedRewards)))));
    }
    return loss as tf.Scalar;
  });
}
