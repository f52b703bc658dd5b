import {
  assertFunctionOption, assertKnownOptionNames, assertNumberOption, checkOption, describeValue,
} from './assert_option.js';
import {accuracyReward} from './accuracy_reward.js';
import {completionLengths} from './completion_length.js';
import {composeReward} from './composed_reward.js';
import type {ComposedReward, RewardFn, Sample} from './types.js';

/** Options of {@link lengthReward}. */
export interface LengthRewardOptions {
  /** Correctness reward; a sample is correct when its value is `>= 1`. Default `accuracyReward()`. */
  isCorrect?: RewardFn;
  /**
   * Size of contiguous groups (`samples.length` must be a multiple). Default: group by each
   * sample's `groupId` (then every sample needs a numeric `groupId`).
   */
  groupSize?: number;
  /** Length of a sample (e.g. its token count). Default: completion characters. */
  lengthOf?: (sample: Sample) => number;
}

/** @internal Group index of each sample: contiguous blocks, or by `groupId`. */
function groupsOf(samples: readonly Sample[], groupSize: number | undefined, fn: string): number[] {
  if (groupSize !== undefined) {
    checkOption(samples.length % groupSize === 0, fn, () =>
      `'samples' expected a multiple of groupSize=${groupSize} samples, got ${samples.length}`);
    return samples.map((_, i) => Math.floor(i / groupSize));
  }
  return samples.map((s, i) => {
    const g = s !== null && typeof s === 'object' ? (s as Sample).groupId : undefined;
    checkOption(typeof g === 'number' && Number.isFinite(g), fn, () =>
      `sample ${i} expected a numeric 'groupId' (or pass the option groupSize), got ${describeValue(g)}`);
    return g;
  });
}

/**
 * Kimi-1.5 length reward, computed within each group of completions of the same prompt (not over the
 * whole batch, as open-r1 does, which compares lengths across different prompts).
 *
 * lambda_i = 0.5 - (len_i - min_len) / (max_len - min_len), min/max over the sample's group;
 * r_i = lambda_i if correct, min(0, lambda_i) if not; 0 for the whole group when all lengths are
 * equal. Shorter correct answers are rewarded, longer wrong ones penalized.
 * Kimi Team 2025, Kimi k1.5, arXiv:2501.12599 (section 2.3.3).
 *
 * @param options.isCorrect correctness reward (correct when `>= 1`); default `accuracyReward()`.
 * @param options.groupSize contiguous group size; default: group by `sample.groupId`.
 * @param options.lengthOf sample length; default completion characters.
 * @returns a {@link ComposedReward} in [-0.5, 0.5] (async if `isCorrect` is); -0.5 for non-string
 *   completions, which do not enter their group's min/max.
 * @example
 * const length = lengthReward({isCorrect: formatReward(), groupSize: 2});
 * length([
 *   {prompt: 'p', completion: '<think>a</think><answer>1</answer>'},
 *   {prompt: 'p', completion: '<think>aaaa</think><answer>1</answer>'},
 * ]); // [0.5, -0.5]
 */
export function lengthReward(options: LengthRewardOptions = {}): ComposedReward {
  const fn = 'lengthReward';
  assertKnownOptionNames(options, ['isCorrect', 'groupSize', 'lengthOf'], fn);
  const {groupSize, lengthOf} = options;
  if (groupSize !== undefined) assertNumberOption(groupSize, fn, 'groupSize', {min: 1, integer: true});
  if (lengthOf !== undefined) assertFunctionOption(lengthOf, fn, 'lengthOf');
  const isCorrect = options.isCorrect ?? accuracyReward();
  return composeReward(fn, [isCorrect], ([correct], samples) => {
    const lengths = completionLengths(samples, lengthOf, fn);
    const groups = groupsOf(samples, groupSize, fn);
    const range = new Map<number, [number, number]>();
    lengths.forEach((n, i) => {
      if (n === null) return;
      const r = range.get(groups[i]!);
      range.set(groups[i]!, r === undefined ? [n, n] : [Math.min(r[0], n), Math.max(r[1], n)]);
    });
    return lengths.map((n, i) => {
      if (n === null) return -0.5;
      const [lo, hi] = range.get(groups[i]!)!;
      if (hi === lo) return 0;
      const lambda = 0.5 - (n - lo) / (hi - lo);
      return correct![i]! >= 1 ? lambda : Math.min(0, lambda);
    });
  }, ['isCorrect']);
}
