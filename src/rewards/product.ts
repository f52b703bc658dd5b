import {checkOption} from './assert_option.js';
import {composeReward} from './composed_reward.js';
import type {ComposedReward, RewardFn} from './types.js';

/**
 * Product of rewards: r = prod_k r_k, per sample. With 0/1 rewards this is a logical AND (a soft
 * `gate` whose condition scales the value).
 *
 * @param fns one or more rewards.
 * @returns a {@link ComposedReward}; async if any part is.
 * @example
 * const reward = product(formatReward(), accuracyReward()); // 1 only when both are 1
 */
export function product(...fns: RewardFn[]): ComposedReward {
  checkOption(fns.length > 0, 'product', () => `expected at least one reward, got 0`);
  return composeReward('product', fns, (parts) => parts[0]!.map((_, i) => parts.reduce((acc, p) => acc * p[i]!, 1)));
}
