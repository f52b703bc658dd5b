/**
 * REINFORCE leave-one-out (RLOO) advantages.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {assertFinite, assertKnownOptions, assertRank} from './assert.js';
import {degenerateRows, type GroupOptions, groupSizes, groupSums, resolveGroups, toRows} from './group_index.js';

/** Options of {@link rlooAdvantages}. Exactly one of `groupSize` / `groupIds` is required. */
export interface RlooAdvantagesOptions extends GroupOptions {}

const FN = 'rlooAdvantages';

/**
 * RLOO advantages: each completion's reward minus the mean reward of the other completions of the
 * same prompt.
 *
 * $$A_i = r_i - \frac{1}{n - 1} \sum_{j \in g,\, j \ne i} r_j = \frac{n}{n - 1}\big(r_i - \operatorname{mean}(r_g)\big),$$
 * n the size of row i's group. Ahmadian et al. 2024, Back to Basics: Revisiting REINFORCE Style
 * Optimization for Learning from Human Feedback in LLMs, arXiv:2402.14740 (Kool et al. 2019).
 * Advantages sum to zero within each group. A group whose rewards are all equal gets exactly 0, and
 * so does a singleton group (only possible with `groupIds`; verl leaves the raw reward there).
 *
 * @param rewards `[batch]` float32 sequence-level rewards, finite.
 * @param options.groupSize completions per prompt (contiguous groups), integer >= 2 dividing batch.
 * @param options.groupIds `[batch]` group id per row (int32 tensor or integer array), the alternative
 *   to `groupSize` for interleaved batches.
 * @returns `[batch]` float32 advantages.
 * @throws if `rewards` is not a finite float32 `[batch]` tensor, if neither or both of
 *   `groupSize`/`groupIds` are given, or if they do not fit the batch.
 * @example
 * const adv = rlooAdvantages(tf.tensor1d([1, 0, 0, 0]), {groupSize: 4}); // [1, -1/3, -1/3, -1/3]
 */
export function rlooAdvantages(rewards: tf.Tensor1D, options: RlooAdvantagesOptions): tf.Tensor1D {
  assertKnownOptions(options, ['groupSize', 'groupIds'], FN);
  assertRank(rewards, 1, FN, 'rewards', ['batch'], 'float32');
  const groups = resolveGroups(options ?? {}, rewards.shape[0], FN, 'rewards', rewards.shape);
  assertFinite(rewards, FN, 'rewards');

  return tf.tidy(() => {
    const sizes = groupSizes(groups);
    const mean = tf.div(groupSums(rewards, groups), sizes);
    // n / (n - 1); singleton groups (n = 1) are zeroed below, the max only avoids a division by 0.
    const factor = tf.div(sizes, tf.maximum(tf.sub(sizes, 1), 1));
    const adv = tf.mul(tf.sub(rewards, toRows(mean, groups)), toRows(factor, groups));
    return tf.where(degenerateRows(rewards, groups), tf.zerosLike(adv), adv) as tf.Tensor1D;
  });
}
