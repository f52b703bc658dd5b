import {assertKnownOptionNames, assertNumberOption} from './assert_option.js';
import {composeReward} from './composed_reward.js';
import type {ComposedReward, RewardFn} from './types.js';

/** Options of {@link gate}. */
export interface GateOptions {
  /** The condition passes for a sample when its value is `>= threshold`. Default `1`. */
  threshold?: number;
  /** The value of a sample whose condition fails. Default `0`. */
  floor?: number;
}

/**
 * Gates a reward on a condition: r_i = fn_i if condition_i >= threshold, else floor.
 *
 * The DeepSeek-R1 use: accuracy counts only when the format is right,
 * `gate(formatReward(), accuracyReward())`. Both rewards are evaluated on the whole batch (so
 * group-aware rewards see every sample) and their named components are reported ungated.
 *
 * @param condition the gating reward (e.g. `formatReward()`, values 0/1).
 * @param fn the gated reward.
 * @param options.threshold pass when `condition >= threshold`; default `1`.
 * @param options.floor value where the condition fails; default `0`.
 * @returns a {@link ComposedReward}; async if either part is.
 * @example
 * const formattedAccuracy = gate(formatReward(), accuracyReward()); // 1 only if formatted and right
 */
export function gate(condition: RewardFn, fn: RewardFn, options: GateOptions = {}): ComposedReward {
  assertKnownOptionNames(options, ['threshold', 'floor'], 'gate');
  const {threshold = 1, floor = 0} = options;
  assertNumberOption(threshold, 'gate', 'threshold');
  assertNumberOption(floor, 'gate', 'floor');
  return composeReward('gate', [condition, fn], ([cond, values]) =>
    values!.map((v, i) => (cond![i]! >= threshold ? v : floor)));
}
