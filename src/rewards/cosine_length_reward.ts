import {assertFunctionOption, assertKnownOptionNames, assertNumberOption} from './assert_option.js';
import {accuracyReward} from './accuracy_reward.js';
import {completionLengths} from './completion_length.js';
import {composeReward} from './composed_reward.js';
import type {ComposedReward, RewardFn, Sample} from './types.js';

/** Options of {@link cosineLengthReward}. */
export interface CosineLengthRewardOptions {
  /** Correctness reward; a sample is correct when its value is `>= 1`. Default `accuracyReward()`. */
  isCorrect?: RewardFn;
  /** T: length at which the cosine reaches its end value; longer lengths are clamped to it. Default `1000`. */
  maxLength?: number;
  /** Reward of a correct answer of length 0. Default `1`. */
  correctAtZero?: number;
  /** Reward of a correct answer of length >= `maxLength`. Default `0.5`. */
  correctAtMax?: number;
  /** Reward of a wrong answer of length 0. Default `-1`. */
  wrongAtZero?: number;
  /** Reward of a wrong answer of length >= `maxLength`. Default `-0.5`. */
  wrongAtMax?: number;
  /** Length of a sample (e.g. its token count). Default: completion characters. */
  lengthOf?: (sample: Sample) => number;
}

/**
 * Cosine length-scaled reward: correct answers earn more when shorter, wrong answers are penalized
 * less when longer (so the model is not pushed to give up early on hard problems).
 *
 * t = min(len, T); r = end + 0.5 * (start - end) * (1 + cos(pi * t / T)), with (start, end) =
 * (correctAtZero, correctAtMax) for a correct sample and (wrongAtZero, wrongAtMax) for a wrong one.
 * Lengths beyond T are clamped (the paper's separate exceed-length penalty is left to
 * {@link overlongPenalty}). Defaults are open-r1's values. Yeo et al. 2025, Demystifying Long
 * Chain-of-Thought Reasoning in LLMs, arXiv:2502.03373 (section 4.1).
 *
 * @param options.isCorrect correctness reward (correct when `>= 1`); default `accuracyReward()`.
 * @param options.maxLength T; default `1000`.
 * @param options.correctAtZero default `1`.
 * @param options.correctAtMax default `0.5`.
 * @param options.wrongAtZero default `-1`.
 * @param options.wrongAtMax default `-0.5`.
 * @param options.lengthOf sample length; default completion characters.
 * @returns a {@link ComposedReward} between the four end values (async if `isCorrect` is);
 *   `min(wrongAtZero, wrongAtMax)` for non-string completions.
 * @example
 * const cosine = cosineLengthReward({isCorrect: formatReward(), maxLength: 100});
 * cosine([{prompt: 'p', completion: 'no template'}]); // [~-0.985]: wrong, t = 11
 */
export function cosineLengthReward(options: CosineLengthRewardOptions = {}): ComposedReward {
  const fn = 'cosineLengthReward';
  assertKnownOptionNames(options,
      ['isCorrect', 'maxLength', 'correctAtZero', 'correctAtMax', 'wrongAtZero', 'wrongAtMax', 'lengthOf'], fn);
  const {maxLength = 1000, correctAtZero = 1, correctAtMax = 0.5, wrongAtZero = -1, wrongAtMax = -0.5, lengthOf} = options;
  assertNumberOption(maxLength, fn, 'maxLength', {min: 0, minExclusive: true});
  assertNumberOption(correctAtZero, fn, 'correctAtZero');
  assertNumberOption(correctAtMax, fn, 'correctAtMax');
  assertNumberOption(wrongAtZero, fn, 'wrongAtZero');
  assertNumberOption(wrongAtMax, fn, 'wrongAtMax');
  if (lengthOf !== undefined) assertFunctionOption(lengthOf, fn, 'lengthOf');
  const isCorrect = options.isCorrect ?? accuracyReward();
  const floor = Math.min(wrongAtZero, wrongAtMax);
  return composeReward(fn, [isCorrect], ([correct], samples) =>
    completionLengths(samples, lengthOf, fn).map((n, i) => {
      if (n === null) return floor;
      const [start, end] = correct![i]! >= 1 ? [correctAtZero, correctAtMax] : [wrongAtZero, wrongAtMax];
      const t = Math.min(n, maxLength);
      return end + 0.5 * (start - end) * (1 + Math.cos((Math.PI * t) / maxLength));
    }), ['isCorrect']);
}
