import {assertNumberOption} from './assert_option.js';
import {composeReward} from './composed_reward.js';
import type {ComposedReward, RewardFn} from './types.js';

/**
 * Multiplies a reward by a constant: r_i = factor * fn_i.
 *
 * @param fn the reward to scale.
 * @param factor finite multiplier (may be negative).
 * @returns a {@link ComposedReward}; async if `fn` is.
 * @example
 * const halfFormat = scale(formatReward(), 0.5);
 */
export function scale(fn: RewardFn, factor: number): ComposedReward {
  assertNumberOption(factor, 'scale', 'factor');
  return composeReward('scale', [fn], ([values]) => values!.map((v) => factor * v));
}
