import {assertFunctionOption, assertSamples, checkOption, describeValue} from './assert_option.js';
import {attachBreakdown, componentOwnersOf, evaluateBreakdown} from './composed_reward.js';
import {thenMaybe} from './maybe_promise.js';
import type {ComposedReward, MaybePromise, RewardBreakdown, RewardFn, Sample} from './types.js';

/**
 * Names a reward so that `scoreRewards` reports its values as a separate component (for logging),
 * wherever it sits inside a combination. Values are unchanged.
 *
 * Names are unique per combination: two different rewards with the same name are rejected when the
 * combination is built; the same named reward used twice (as a `gate` condition and as a weighted
 * term) is reported once.
 *
 * @param name the component's name, a non-empty string (e.g. `'accuracy'`).
 * @param fn the reward to name (sync or async, plain or composed).
 * @returns a {@link ComposedReward} returning `fn`'s values, with `name` in its breakdown.
 * @example
 * const accuracy = named('accuracy', accuracyReward());
 * const format = named('format', formatReward());
 * const scored = await scoreRewards(weighted([[accuracy, 1], [format, 0.2]]), [
 *   {prompt: '2+2?', completion: '<think>2+2=4</think><answer>4</answer>', reference: '4'},
 * ]);
 * scored.components.accuracy?.values; // Float32Array [1]
 */
export function named(name: string, fn: RewardFn): ComposedReward {
  checkOption(typeof name === 'string' && name.length > 0, 'named', () =>
    `'name' expected a non-empty string, got ${describeValue(name)}`);
  assertFunctionOption(fn, 'named', 'fn');
  checkOption(!componentOwnersOf(fn).has(name), 'named', () =>
    `'name' '${name}' is already used by a component inside 'fn'; choose another name`);
  const owners = new Map(componentOwnersOf(fn));
  const breakdown = (samples: readonly Sample[]): MaybePromise<RewardBreakdown> => {
    assertSamples(samples, 'named');
    return thenMaybe(evaluateBreakdown(fn, samples, 'named', `reward '${name}'`), (b) => ({
      values: b.values,
      components: {...b.components, [name]: b.values},
      counters: b.counters,
    }));
  };
  const composed = attachBreakdown(breakdown, owners);
  owners.set(name, composed);
  // componentNames was frozen before `name` was registered: rebuild it with the name last.
  Object.defineProperty(composed, 'componentNames', {value: Object.freeze([...owners.keys()]), enumerable: true});
  return composed;
}
