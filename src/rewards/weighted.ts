import {assertNumberOption, checkOption, describeValue} from './assert_option.js';
import {composeReward} from './composed_reward.js';
import type {ComposedReward, RewardFn} from './types.js';

/**
 * Weighted sum of rewards: r = sum_k w_k * r_k, per sample (linear in each reward and each weight).
 *
 * This is how DeepSeek-R1 and TRL combine several rule-based rewards (TRL's `reward_weights`).
 *
 * @param terms `[reward, weight]` pairs, at least one; weights finite (may be negative or 0).
 * @returns a {@link ComposedReward}; async if any term is. Named components inside the terms are kept.
 * @example
 * const reward = weighted([[named('accuracy', accuracyReward()), 1], [named('format', formatReward()), 0.5]]);
 */
export function weighted(terms: ReadonlyArray<readonly [RewardFn, number]>): ComposedReward {
  checkOption(Array.isArray(terms) && terms.length > 0, 'weighted', () =>
    `'terms' expected a non-empty array of [reward, weight] pairs, got ${describeValue(terms)}`);
  terms.forEach((t, i) => {
    checkOption(Array.isArray(t) && t.length === 2, 'weighted', () =>
      `'terms[${i}]' expected a [reward, weight] pair, got ${describeValue(t)}`);
    assertNumberOption(t[1], 'weighted', `terms[${i}][1] (weight)`);
  });
  const weights = terms.map((t) => t[1]);
  return composeReward('weighted', terms.map((t) => t[0]), (parts) =>
    parts[0]!.map((_, i) => parts.reduce((acc, p, k) => acc + weights[k]! * p[i]!, 0)),
  terms.map((_, i) => `terms[${i}][0]`));
}
