import {assertNumberOption, checkOption} from './assert_option.js';
import {composeReward} from './composed_reward.js';
import type {ComposedReward, RewardFn} from './types.js';

/**
 * Clips a reward to `[lo, hi]`: r_i = min(hi, max(lo, fn_i)).
 *
 * @param fn the reward to clip.
 * @param lo lower bound (finite).
 * @param hi upper bound (finite, `>= lo`).
 * @returns a {@link ComposedReward}; async if `fn` is.
 * @example
 * const bounded = clip(sum(formatReward(), repetitionPenalty()), 0, 1);
 */
export function clip(fn: RewardFn, lo: number, hi: number): ComposedReward {
  assertNumberOption(lo, 'clip', 'lo');
  assertNumberOption(hi, 'clip', 'hi');
  checkOption(lo <= hi, 'clip', () => `'hi' expected >= 'lo' (${lo}), got ${hi}`);
  return composeReward('clip', [fn], ([values]) => values!.map((v) => Math.min(hi, Math.max(lo, v))));
}
