import {assertFunctionOption, assertSamples, checkOption, describeValue} from './assert_option.js';
import {attachBreakdown, collectOwners, evaluateBreakdown} from './composed_reward.js';
import {allMaybe, thenMaybe} from './maybe_promise.js';
import type {ComposedReward, MaybePromise, RewardBreakdown, RewardFn, Sample} from './types.js';

/**
 * Routes each sample to the reward of its kind: `r_i = routes[kindOf(sample_i)](sample_i)`.
 *
 * DeepSeek-R1's RL stage for all scenarios (arXiv:2501.12948, section 2.3.4) trains on one batch that
 * mixes reasoning prompts, scored by rule-based rewards, with general prompts, scored by a learned
 * reward model; `routeReward({reasoning: ruleBased, general: rewardModel}, s => s.kind as string)`
 * is that reward. Each route is called once per batch on the samples of its kind only, in batch order
 * (so a group-aware route sees whole groups as long as a group has one kind); a route with no sample
 * in the batch is not called.
 *
 * Breakdown: the counters `routeReward.<kind>.count` (samples routed) and `routeReward.<kind>.sum`
 * (sum of their rewards; mean = sum / count) for every kind present in the batch, plus the counters
 * and `named` components of the routes; a component inside a route reads 0 on samples of other kinds.
 *
 * @param routes reward per kind, at least one (e.g. `{reasoning, general}`).
 * @param kindOf the kind of a sample (called with the sample and its batch index); a kind that is
 *   not a key of `routes` throws a named error.
 * @returns a {@link ComposedReward}; async if any route is.
 * @example
 * const reward = routeReward({
 *   reasoning: accuracyReward(),
 *   general: (samples) => samples.map((s) => Math.min(1, s.completion.length / 100)),
 * }, (s) => (s.reference === undefined ? 'general' : 'reasoning'));
 * await reward([
 *   {prompt: '2+2?', completion: '<answer>4</answer>', reference: '4'},
 *   {prompt: 'Write a haiku.', completion: 'a'.repeat(50)},
 * ]); // [1, 0.5]
 */
export function routeReward(
    routes: Readonly<Record<string, RewardFn>>, kindOf: (sample: Sample, index: number) => string): ComposedReward {
  const fn = 'routeReward';
  checkOption(typeof routes === 'object' && routes !== null && !Array.isArray(routes), fn, () =>
    `'routes' expected an object of rewards by kind, got ${describeValue(routes)}`);
  const kinds = Object.keys(routes);
  checkOption(kinds.length > 0, fn, () => `'routes' expected at least one kind, got none`);
  assertFunctionOption(kindOf, fn, 'kindOf');
  const parts = kinds.map((k) => routes[k]!);
  const owners = collectOwners(fn, parts, kinds.map((k) => `routes.${k}`));
  const expected = kinds.map((k) => `'${k}'`).join(', ');

  const breakdown = (samples: readonly Sample[]): MaybePromise<RewardBreakdown> => {
    assertSamples(samples, fn);
    const byKind = new Map<string, number[]>();
    samples.forEach((sample, i) => {
      const kind = kindOf(sample, i);
      checkOption(typeof kind === 'string' && Object.prototype.hasOwnProperty.call(routes, kind), fn, () =>
        `sample ${i} has kind ${describeValue(kind)}, expected one of ${expected}`);
      let indices = byKind.get(kind);
      if (indices === undefined) byKind.set(kind, (indices = []));
      indices.push(i);
    });
    const present = kinds.filter((k) => byKind.has(k));
    const evaluated = allMaybe(present.map((k) => {
      const subset = byKind.get(k)!.map((i) => samples[i]!);
      return evaluateBreakdown(routes[k]!, subset, fn, `'routes.${k}'`);
    }));
    return thenMaybe(evaluated, (bs) => {
      const values = new Array<number>(samples.length).fill(0);
      const components: Record<string, number[]> = {};
      const counters: Record<string, number> = {};
      bs.forEach((b, r) => {
        const kind = present[r]!;
        const indices = byKind.get(kind)!;
        let sum = 0;
        indices.forEach((at, j) => {
          values[at] = b.values[j]! + 0; // -0 -> +0
          sum += b.values[j]!;
        });
        counters[`${fn}.${kind}.count`] = indices.length;
        counters[`${fn}.${kind}.sum`] = sum;
        for (const [name, v] of Object.entries(b.components)) {
          const full = components[name] ?? new Array<number>(samples.length).fill(0);
          indices.forEach((at, j) => { full[at] = v[j]!; });
          components[name] = full;
        }
        for (const [name, c] of Object.entries(b.counters)) counters[name] = (counters[name] ?? 0) + c;
      });
      return {values, components, counters};
    });
  };
  return attachBreakdown(breakdown, owners);
}
