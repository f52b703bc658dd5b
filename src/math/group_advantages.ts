/**
 * Group-relative advantages (GRPO and its scaling variants).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {assertFinite, assertKnownOptions, assertNumber, assertOneOf, assertRank} from './assert.js';
import {groupAdvantagesWebGPU} from './fused/group_advantages_webgpu.js';
import {degenerateRows, type GroupOptions, groupSizes, groupSums, resolveGroups, toRows} from './group_index.js';

/** Options of {@link groupAdvantages}. Exactly one of `groupSize` / `groupIds` is required. */
export interface GroupAdvantagesOptions extends GroupOptions {
  /**
   * What the centred reward is divided by. `'group'` (default): the group's std (GRPO; TRL
   * `scale_rewards='group'`, verl `norm_adv_by_std_in_grpo=True`). `'batch'`: the std of all rewards
   * in the batch (TRL `scale_rewards='batch'`, REINFORCE++-baseline style). `'none'`: no division
   * (Dr. GRPO; TRL `scale_rewards='none'`, verl `norm_adv_by_std_in_grpo=False`).
   */
  scale?: 'group' | 'batch' | 'none';
  /**
   * `'unbiased'` (default, Bessel: divide by n - 1, as `torch.std` in TRL and verl) or `'biased'`
   * (divide by n).
   */
  std?: 'unbiased' | 'biased';
  /** Added to the std before dividing; default `1e-4` (TRL's; verl uses `1e-6`). Must be >= 0. */
  epsilon?: number;
}

const FN = 'groupAdvantages';
const KNOWN = ['groupSize', 'groupIds', 'scale', 'std', 'epsilon'];

/**
 * Group-relative advantages: each completion's reward minus the mean reward of its prompt's group,
 * optionally divided by a std.
 *
 * $$A_i = \frac{r_i - \operatorname{mean}(r_{g(i)})}{\sigma + \varepsilon}$$
 * with g(i) the group of row i; sigma is the group's std (`scale: 'group'`), the batch's std
 * (`'batch'`), or the division is skipped (`'none'`).
 * Shao et al. 2024, DeepSeekMath, arXiv:2402.03300 (GRPO, outcome supervision);
 * Liu et al. 2025, Understanding R1-Zero-Like Training, arXiv:2503.20783 (Dr. GRPO: `scale: 'none'`).
 *
 * Exact zeros: a group whose rewards are all equal gets exactly 0 (not a rounding residue), for
 * every `scale`. A group with a single member (possible only with `groupIds`) also gets 0: it has no
 * baseline to compare against. This differs from verl, which uses mean 0 and std 1 for a singleton
 * group so that its advantage is r / (1 + epsilon), about the raw reward; TRL's contiguous groups
 * cannot have a single member in training (with `num_generations` 1 at evaluation it uses std 0,
 * which gives 0 too). A tiny but nonzero spread is not exact zero: rewards 1 and 1 + 1e-7 give
 * about ±0.0006 with the default epsilon (float32 1 + 1e-7 is 1 + 1.19e-7).
 *
 * Mapping to other libraries: TRL GRPOTrainer = the defaults (`scale: 'group'`, `std: 'unbiased'`,
 * `epsilon: 1e-4`); verl `compute_grpo_outcome_advantage` = `{epsilon: 1e-6}` (or `scale: 'none'` for
 * `norm_adv_by_std_in_grpo=False`). With `scale: 'batch'` the mean is still the group's and the std
 * is that of the raw batch rewards, as TRL's `scale_rewards='batch'`.
 *
 * On webgpu (the direct-dispatch backend) contiguous groups (`groupSize`, or `groupIds` that form
 * contiguous runs of equal size) run as one fused kernel when no gradient tape records, with the
 * finite-rewards check in the kernel (a failure gives NaN and the named error on the next fused
 * call); other `groupIds` and calls under a tape run the tfjs ops.
 *
 * @param rewards `[batch]` float32 sequence-level rewards, finite; batch = numGroups * groupSize when
 *   `groupSize` is given.
 * @param options.groupSize completions per prompt (contiguous groups), integer >= 2 dividing batch.
 * @param options.groupIds `[batch]` group id per row (int32 tensor or integer array), the alternative
 *   to `groupSize` for interleaved batches.
 * @param options.scale `'group'` (default), `'batch'` or `'none'`.
 * @param options.std `'unbiased'` (default) or `'biased'`.
 * @param options.epsilon added to the std; default `1e-4`.
 * @returns `[batch]` float32 advantages; 0 for groups of equal rewards and singleton groups.
 * @throws if `rewards` is not a finite float32 `[batch]` tensor, if neither or both of
 *   `groupSize`/`groupIds` are given, or if they do not fit the batch.
 * @example
 * const rewards = tf.tensor1d([1, 0, 0, 1]);
 * const adv = groupAdvantages(rewards, {groupSize: 2}); // ~[0.7070, -0.7070, -0.7070, 0.7070]
 */
export function groupAdvantages(rewards: tf.Tensor1D, options: GroupAdvantagesOptions): tf.Tensor1D {
  assertKnownOptions(options, KNOWN, FN);
  assertRank(rewards, 1, FN, 'rewards', ['batch'], 'float32');
  const {scale = 'group', std = 'unbiased', epsilon = 1e-4} = options ?? {};
  assertOneOf(scale, ['group', 'batch', 'none'] as const, FN, 'scale');
  assertOneOf(std, ['unbiased', 'biased'] as const, FN, 'std');
  assertNumber(epsilon, FN, 'epsilon', {min: 0});
  const batch = rewards.shape[0];
  const groups = resolveGroups(options ?? {}, batch, FN, 'rewards', rewards.shape);
  const contiguous = groups.contiguousSize ?? 0;
  if (contiguous > 0) {
    const fused = groupAdvantagesWebGPU(rewards, contiguous, {scale, std, epsilon});
    if (fused !== null) return fused;
  }
  assertFinite(rewards, FN, 'rewards');

  return tf.tidy(() => {
    const sizes = groupSizes(groups);
    const mean = tf.div(groupSums(rewards, groups), sizes);
    const centered = tf.sub(rewards, toRows(mean, groups));
    let adv: tf.Tensor = centered;
    if (scale !== 'none') {
      // sqrt(0) has an infinite derivative: take it of 1 where the sum of squares is 0 (then the
      // std is exactly 0 again), so gradients stay finite. tf.greaterEqual(0, ss) is ss == 0.
      const safeSqrt = (v: tf.Tensor): tf.Tensor => {
        const zero = tf.greaterEqual(0, v);
        return tf.where(zero, tf.zerosLike(v), tf.sqrt(tf.where(zero, tf.onesLike(v), v)));
      };
      let sd: tf.Tensor;
      if (scale === 'group') {
        const ss = groupSums(tf.square(centered), groups);
        const denom = std === 'unbiased' ? tf.maximum(tf.sub(sizes, 1), 1) : sizes;
        sd = toRows(safeSqrt(tf.div(ss, denom)), groups);
      } else {
        const batchMean = tf.mean(rewards);
        const ss = tf.sum(tf.square(tf.sub(rewards, batchMean)));
        const n = std === 'unbiased' ? Math.max(batch - 1, 1) : batch;
        sd = safeSqrt(tf.div(ss, n));
      }
      const denom = tf.add(sd, epsilon);
      // denom is 0 only when epsilon = 0 and the std is 0 (or underflows): those rows get 0, not NaN.
      const zero = tf.greaterEqual(0, denom);
      adv = tf.where(zero, tf.zerosLike(centered), tf.div(centered, tf.where(zero, tf.onesLike(denom), denom)));
    }
    return tf.where(degenerateRows(rewards, groups), tf.zerosLike(adv), adv) as tf.Tensor1D;
  });
}
