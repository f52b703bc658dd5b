import {gaeWebGPU} from './fused/gae_webgpu.js';
import * as tf from '@tensorflow/tfjs-core';
import {
  assertBinaryMask, assertDtype, assertFinite, assertKnownInputs, assertKnownOptions, assertNumber, assertRank, assertSameShapes,
} from './assert.js';

/** Per-token inputs of {@link gae}, all `[batch, time]`. */
export interface GaeInputs {
  /**
   * `[batch, time]` float32 per-token rewards r_t (for RLHF: the KL-shaped rewards of
   * {@link klShapedRewards}, the sequence score on the last completion token). Ignored where `mask` is 0
   * (anything, even NaN, may stand there).
   */
  rewards: tf.Tensor2D;
  /** `[batch, time]` float32 value estimates V(s_t) of the critic (old values). Ignored where `mask` is 0 (even NaN). */
  values: tf.Tensor2D;
  /**
   * `[batch, time]` 0/1 (float32, int32 or bool): 1 on completion tokens the agent produced. Right padding,
   * variable lengths and holes (e.g. tool-output tokens in a multi-turn rollout) are all allowed.
   */
  mask: tf.Tensor2D;
}

/** Options of {@link gae}. */
export interface GaeOptions {
  /** Discount gamma in [0, 1]. Default `1` (verl's and TRL's default for language models). */
  gamma?: number;
  /**
   * GAE lambda in [0, 1]: `1` gives Monte-Carlo returns minus values, `0` the one-step TD residual.
   * Default `1` (verl's default; TRL's PPO uses 0.95, cleanrl 0.95 with gamma 0.99).
   */
  lambda?: number;
}

/** Result of {@link gae}. */
export interface GaeResult {
  /** `[batch, time]` GAE advantages A_t; exactly 0 where `mask` is 0. Not whitened. */
  advantages: tf.Tensor2D;
  /** `[batch, time]` value targets R_t = A_t + V_t at every position (equals `values` where `mask` is 0). */
  returns: tf.Tensor2D;
}

const FN = 'gae';
const KNOWN_OPTIONS = ['gamma', 'lambda'] as const;

/**
 * Generalized advantage estimation over `[batch, time]` with a token mask (reverse scan over time).
 *
 * For each row, over the unmasked steps t_1 < t_2 < ... < t_n only:
 * $$\delta_t = r_t + \gamma V_{next(t)} - V_t, \qquad A_t = \delta_t + \gamma \lambda A_{next(t)},$$
 * where `next(t)` is the next *unmasked* step of the row, and V = A = 0 after the last one (bootstrap 0:
 * a completion ends the episode). Returns R_t = A_t + V_t. Schulman et al. 2015, "High-Dimensional
 * Continuous Control Using Generalized Advantage Estimation", arXiv:1506.02438.
 *
 * Masked steps are skipped, as verl's `compute_gae_advantage_return` does: their rewards and values
 * never reach an unmasked step, and a hole costs no discount (gamma applies per unmasked step). One
 * deliberate difference: verl writes the carried advantage of the next unmasked step into a hole, this
 * function writes 0 there (so `returns` equals `values` on masked steps); losses mask these positions,
 * so training is the same. Advantages are not whitened here (verl whitens inside its GAE); normalize
 * separately if wanted.
 *
 * Padded positions never reach an unmasked result, not even as NaN or Inf (`tf.where`, not a product with the
 * mask); the returned `returns` there is `values` as given.
 *
 * Cost: `time` steps of a few `[batch]` ops each (no `[time, time]` matrix); differentiable with respect to
 * `rewards` and `values`, though PPO treats the result as a constant.
 *
 * @param inputs.rewards `[batch, time]` float32 per-token rewards, finite where `mask` is 1.
 * @param inputs.values `[batch, time]` float32 values, finite where `mask` is 1.
 * @param inputs.mask `[batch, time]` 0/1 completion-token mask.
 * @param options.gamma discount in [0, 1]; default `1`.
 * @param options.lambda GAE lambda in [0, 1]; default `1`.
 * @returns `{advantages, returns}`, both `[batch, time]` float32; the caller owns (and disposes) them.
 * @throws Error naming `gae` and the argument when a shape, dtype, mask value or option is wrong, or
 *   `rewards` / `values` are not finite where `mask` is 1; tensors of different shapes are named
 *   (`'rewards' expected the shape of 'values' and 'mask' [2,2], got [2,3]`).
 * @example
 * // One row, three tokens, score 1 on the last token, gamma = lambda = 1:
 * const {advantages, returns} = gae({
 *   rewards: tf.tensor2d([[0, 0, 1]]),
 *   values: tf.tensor2d([[0.5, 0.5, 0.5]]),
 *   mask: tf.tensor2d([[1, 1, 1]]),
 * });
 * advantages.print(); // [[0.5, 0.5, 0.5]]  (MC return 1 minus value 0.5)
 * returns.print();    // [[1, 1, 1]]
 */
export function gae(inputs: GaeInputs, options: GaeOptions = {}): GaeResult {
  assertKnownInputs(inputs, ['rewards', 'values', 'mask'], FN);
  const {rewards, values, mask} = inputs;
  assertKnownOptions(options, KNOWN_OPTIONS, FN);
  const {gamma = 1, lambda = 1} = options;
  assertRank(rewards, 2, FN, 'rewards', ['batch', 'time']);
  assertRank(values, 2, FN, 'values', ['batch', 'time']);
  assertRank(mask, 2, FN, 'mask', ['batch', 'time']);
  assertSameShapes(FN, [['rewards', rewards], ['values', values], ['mask', mask]]);
  assertDtype(rewards, 'float32', FN, 'rewards');
  assertDtype(values, 'float32', FN, 'values');
  assertDtype(mask, ['float32', 'int32', 'bool'], FN, 'mask');
  assertNumber(gamma, FN, 'gamma', {min: 0, max: 1});
  assertNumber(lambda, FN, 'lambda', {min: 0, max: 1});
  // webgpu: one fused kernel (src/math/fused/gae_webgpu.ts) with the value checks inside, when no
  // gradient tape records.
  const fused = gaeWebGPU(rewards, values, mask as tf.Tensor2D, gamma, lambda);
  if (fused !== null) return fused;
  if (rewards.size > 0) { // (tf.any of an empty tensor is true on the wasm backend)
    assertBinaryMask(mask, FN);
    for (const [name, x] of [['rewards', rewards], ['values', values]] as const) {
      const onMask = tf.tidy(() => tf.where(tf.cast(mask, 'bool'), x, tf.zerosLike(x)));
      try {
        assertFinite(onMask, FN, name);
      } finally {
        onMask.dispose();
      }
    }
  }

  return tf.tidy(() => {
    const [batch, time] = rewards.shape;
    const valid = tf.unstack(tf.notEqual(tf.cast(mask, 'float32'), 0), 1);
    const rewardCols = tf.unstack(rewards, 1);
    const valueCols = tf.unstack(values, 1);
    const zeros = tf.zeros([batch]);
    const gammaT = tf.scalar(gamma);
    const gammaLambdaT = tf.scalar(gamma * lambda);
    let nextValue: tf.Tensor = zeros;
    let nextAdvantage: tf.Tensor = zeros;
    const advantageCols: tf.Tensor[] = new Array<tf.Tensor>(time);
    for (let t = time - 1; t >= 0; t--) {
      const on = valid[t]!;
      const value = valueCols[t]!;
      const delta = tf.sub(tf.add(rewardCols[t]!, tf.mul(gammaT, nextValue)), value);
      const advantage = tf.add(delta, tf.mul(gammaLambdaT, nextAdvantage));
      advantageCols[t] = tf.where(on, advantage, zeros);
      // Skip masked steps: carry the next unmasked step's value and advantage through them.
      nextValue = tf.where(on, value, nextValue);
      nextAdvantage = tf.where(on, advantage, nextAdvantage);
    }
    const advantages = time === 0 ? tf.zeros([batch, 0]) : tf.stack(advantageCols, 1);
    const returns = tf.add(advantages, values);
    return {advantages: advantages as tf.Tensor2D, returns: returns as tf.Tensor2D};
  });
}
