/**
 * @internal The machinery shared by the combinators: evaluate the parts of a reward, check what they
 * return, combine their values and merge their breakdowns.
 *
 * How a breakdown travels: every combinator returns a {@link ComposedReward}, a function with two
 * documented, enumerable properties, `breakdown(samples)` (values + named components + counters) and
 * `componentNames`. A combinator's `breakdown` calls its parts' `breakdown` (or, for a plain
 * function, the function itself) once each, combines the values and merges the components, so the
 * tree is walked once per batch and each part is evaluated exactly once per occurrence.
 * @module
 */
import {assertFunctionOption, assertRewardValues, assertSamples, checkOption} from './assert_option.js';
import {allMaybe, thenMaybe} from './maybe_promise.js';
import type {ComposedReward, MaybePromise, RewardBreakdown, RewardFn, Sample} from './types.js';

/** @internal Where each named component comes from, so one reward used twice is not a duplicate. */
const componentOwners = new WeakMap<ComposedReward, Map<string, RewardFn>>();

/** @internal The named components (name -> the `named` reward that produces it) inside `fn`. */
export function componentOwnersOf(fn: RewardFn): ReadonlyMap<string, RewardFn> {
  return componentOwners.get(fn as ComposedReward) ?? new Map();
}

/** @internal Whether `fn` carries a breakdown (a combinator, `named` or `accuracyReward`). */
export function hasBreakdown(fn: RewardFn): fn is RewardFn & ComposedReward {
  return typeof (fn as Partial<ComposedReward>).breakdown === 'function';
}

/**
 * @internal Evaluates one part and checks it returned one finite number per sample. `what` names
 * the part in error messages (`component 2 of weighted`).
 */
export function evaluateBreakdown(
    fn: RewardFn, samples: readonly Sample[], fnName: string, what: string): MaybePromise<RewardBreakdown> {
  if (hasBreakdown(fn)) {
    return thenMaybe(fn.breakdown(samples), (b) => {
      assertRewardValues(b.values, samples.length, fnName, what);
      return b;
    });
  }
  return thenMaybe(fn(samples), (values) => {
    assertRewardValues(values, samples.length, fnName, what);
    return {values: Array.from(values as ArrayLike<number>), components: {}, counters: {}};
  });
}

/** @internal Merges the breakdowns of parts: components by name (first wins), counters summed. */
export function mergeBreakdowns(values: number[], parts: readonly RewardBreakdown[]): RewardBreakdown {
  const components: Record<string, number[]> = {};
  const counters: Record<string, number> = {};
  for (const part of parts) {
    for (const [name, v] of Object.entries(part.components)) if (!(name in components)) components[name] = v;
    for (const [name, c] of Object.entries(part.counters)) counters[name] = (counters[name] ?? 0) + c;
  }
  return {values, components, counters};
}

/** @internal Attaches `breakdown` and `componentNames` to a batch function and registers owners. */
export function attachBreakdown(
    breakdown: (samples: readonly Sample[]) => MaybePromise<RewardBreakdown>,
    owners: Map<string, RewardFn>): ComposedReward {
  const call = (samples: readonly Sample[]): number[] | Promise<number[]> =>
    thenMaybe(breakdown(samples), (b) => b.values);
  const composed = Object.assign(call, {breakdown, componentNames: Object.freeze([...owners.keys()])});
  componentOwners.set(composed, owners);
  return composed;
}

/**
 * @internal Checks the parts are functions and that no component name is produced by two different
 * rewards; returns the merged name -> owner map.
 */
export function collectOwners(
    fnName: string, parts: readonly RewardFn[], partNames: readonly string[]): Map<string, RewardFn> {
  const owners = new Map<string, RewardFn>();
  parts.forEach((part, i) => {
    assertFunctionOption(part, fnName, partNames[i]!);
    for (const [name, owner] of componentOwnersOf(part)) {
      const seen = owners.get(name);
      checkOption(seen === undefined || seen === owner, fnName, () =>
        `component name '${name}' is used by two different rewards; give each named(...) a unique name`);
      owners.set(name, owner);
    }
  });
  return owners;
}

/**
 * @internal Builds a combinator over `parts`: `combine(partValues, samples)` gets one value array per
 * part and returns the combined values; `partNames` name the parts in messages. Checks the parts are functions and that a component name is
 * not produced by two different rewards.
 */
export function composeReward(
    fnName: string, parts: readonly RewardFn[],
    combine: (partValues: readonly number[][], samples: readonly Sample[]) => number[],
    partNames: readonly string[] = parts.length === 1 ? ['fn'] : parts.map((_, i) => `reward ${i}`)): ComposedReward {
  const owners = collectOwners(fnName, parts, partNames);
  const breakdown = (samples: readonly Sample[]): MaybePromise<RewardBreakdown> => {
    assertSamples(samples, fnName);
    const evaluated = allMaybe(parts.map((part, i) =>
      evaluateBreakdown(part, samples, fnName, `'${partNames[i]!}'`)));
    return thenMaybe(evaluated, (bs) => {
      const combined = combine(bs.map((b) => b.values), samples);
      assertRewardValues(combined, samples.length, fnName, 'the combined reward');
      const values = combined.map((v) => v + 0); // -0 -> +0
      return mergeBreakdowns(values, bs);
    });
  };
  return attachBreakdown(breakdown, owners);
}
