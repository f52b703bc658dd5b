import {assertFunctionOption} from './assert_option.js';
import {composeReward} from './composed_reward.js';
import type {ComposedReward, RewardFn, Sample} from './types.js';

/**
 * Applies a function to each value of a reward: r_i = f(fn_i, sample_i, i).
 *
 * `f` must return finite numbers; a NaN or infinite result throws an error naming the index (NaN
 * never leaves a reward).
 *
 * @param fn the reward to transform.
 * @param f `(value, sample, index) => number`, synchronous.
 * @returns a {@link ComposedReward}; async if `fn` is.
 * @example
 * const binary = mapReward(tagCountReward(), (v) => (v === 1 ? 1 : 0));
 */
export function mapReward(
    fn: RewardFn, f: (value: number, sample: Sample, index: number) => number): ComposedReward {
  assertFunctionOption(f, 'mapReward', 'f');
  return composeReward('mapReward', [fn], ([values], samples) => values!.map((v, i) => f(v, samples[i]!, i)));
}
