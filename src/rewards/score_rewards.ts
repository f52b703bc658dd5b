import {assertFunctionOption, assertSamples} from './assert_option.js';
import {evaluateBreakdown} from './composed_reward.js';
import type {RewardFn, Sample} from './types.js';

/** Summary statistics of one reward component over a batch. */
export interface RewardStats {
  /** Mean over the batch. */
  mean: number;
  /** Population standard deviation over the batch (divides by the batch size). */
  std: number;
  /** Smallest value. */
  min: number;
  /** Largest value. */
  max: number;
}

/** One named component of a reward: its values and their statistics. */
export interface RewardComponent extends RewardStats {
  /** The component's value for each sample, `[batch]`. */
  values: Float32Array;
}

/** What {@link scoreRewards} returns. */
export interface ScoredRewards {
  /** The total reward of each sample, `[batch]`, ready for `tf.tensor1d` and `groupAdvantages`. */
  rewards: Float32Array;
  /** Statistics of `rewards`. */
  stats: RewardStats;
  /** Every `named(...)` component inside the reward, by name. */
  components: Record<string, RewardComponent>;
  /** Event counters reported by the rewards in this batch (e.g. unparsable references). */
  counters: Record<string, number>;
  /**
   * Flat scalars for a logger: `reward/mean`, `reward/std`, `rewards/<name>/mean`,
   * `rewards/<name>/std` for every component, and `counters/<name>` for every counter.
   */
  metrics: Record<string, number>;
}

/** @internal mean, population std, min and max of a non-empty or empty array (zeros when empty). */
function statsOf(values: ArrayLike<number>): RewardStats {
  const n = values.length;
  if (n === 0) return {mean: 0, std: 0, min: 0, max: 0};
  let mean = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    mean += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  mean /= n;
  let sq = 0;
  for (let i = 0; i < n; i++) sq += (values[i]! - mean) ** 2;
  return {mean, std: Math.sqrt(sq / n), min, max};
}

/**
 * Scores a batch with a reward and returns the totals as a `Float32Array` (ready for
 * `groupAdvantages(tf.tensor1d(rewards), ...)`) together with every named component and its
 * mean/std/min/max for logging.
 *
 * Checks that the reward returned one finite number per sample and throws an error naming the
 * component otherwise (a custom reward returning NaN is a bug to fix, not a value to train on).
 * Always returns a promise, whether the reward is synchronous or not.
 *
 * @param fn any reward: a built-in, a combination, or a plain `(samples) => number[]` function.
 * @param samples the batch; groups contiguous if the reward or the advantage needs groups.
 * @returns `{rewards, stats, components, counters, metrics}`.
 * @example
 * const reward = weighted([
 *   [named('accuracy', gate(formatReward(), accuracyReward())), 1],
 *   [named('format', formatReward()), 0.1],
 * ]);
 * const {rewards, metrics} = await scoreRewards(reward, [
 *   {prompt: '1+1?', completion: '<think>1+1=2</think><answer>2</answer>', reference: '2'},
 *   {prompt: '1+1?', completion: 'The answer is 2.', reference: '2'},
 * ]);
 * // rewards: Float32Array [1.1, 0]; metrics['rewards/accuracy/mean'] === 0.5
 */
export async function scoreRewards(fn: RewardFn, samples: readonly Sample[]): Promise<ScoredRewards> {
  assertFunctionOption(fn, 'scoreRewards', 'fn');
  assertSamples(samples, 'scoreRewards');
  return scoreRewardsAs(fn, samples, 'scoreRewards', `'fn'`);
}

/**
 * @internal {@link scoreRewards} for a caller that checked `fn` and `samples`; a reward returning the
 * wrong count or a non-finite value is reported as `fnName: <what> expected ...` (e.g.
 * `grpoStep: 'reward' expected to return 4 values (one per sample), got 1`).
 */
export async function scoreRewardsAs(
    fn: RewardFn, samples: readonly Sample[], fnName: string, what: string): Promise<ScoredRewards> {
  const b = await evaluateBreakdown(fn, samples, fnName, what);
  const rewards = Float32Array.from(b.values);
  const stats = statsOf(b.values);
  const metrics: Record<string, number> = {'reward/mean': stats.mean, 'reward/std': stats.std};
  const components: Record<string, RewardComponent> = {};
  for (const [name, values] of Object.entries(b.components)) {
    const s = statsOf(values);
    components[name] = {values: Float32Array.from(values), ...s};
    metrics[`rewards/${name}/mean`] = s.mean;
    metrics[`rewards/${name}/std`] = s.std;
  }
  for (const [name, count] of Object.entries(b.counters)) metrics[`counters/${name}`] = count;
  return {rewards, stats, components, counters: {...b.counters}, metrics};
}
