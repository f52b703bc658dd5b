import {checkOption} from './assert_option.js';
import {composeReward} from './composed_reward.js';
import type {ComposedReward, RewardFn} from './types.js';

/**
 * Sum of rewards: r = sum_k r_k, per sample (`weighted` with all weights 1).
 *
 * @param fns one or more rewards.
 * @returns a {@link ComposedReward}; async if any part is.
 * @example
 * const reward = sum(named('format', formatReward()), named('tags', tagCountReward()));
 */
export function sum(...fns: RewardFn[]): ComposedReward {
  checkOption(fns.length > 0, 'sum', () => `expected at least one reward, got 0`);
  return composeReward('sum', fns, (parts) => parts[0]!.map((_, i) => parts.reduce((acc, p) => acc + p[i]!, 0)));
}
