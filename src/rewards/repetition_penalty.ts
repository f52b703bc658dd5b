import {assertKnownOptionNames, assertNumberOption, assertOneOfOption, assertSamples} from './assert_option.js';
import {completionText} from './completion_text.js';
import type {RewardFn, Sample} from './types.js';

/** Options of {@link repetitionPenalty}. */
export interface RepetitionPenaltyOptions {
  /** n-gram size, an integer >= 1. Default `3`. */
  ngram?: number;
  /** Penalty of a completion made only of repeats, <= 0. Default `-1`. */
  maxPenalty?: number;
  /**
   * `'word'` (default): n-grams of lower-cased whitespace-separated words; `'char'`: n-grams of
   * characters (code points; for languages written without spaces).
   */
  unit?: 'word' | 'char';
}

/**
 * Number of distinct n-grams of `tokens`. Tokens are numbered first; an n-gram is keyed by the
 * number sum_j id_j * V^j when that stays below 2^53 (exact, no string building), else by a string.
 */
function countDistinctNgrams(tokens: readonly string[], n: number): number {
  const idOf = new Map<string, number>();
  const ids = tokens.map((t) => {
    let id = idOf.get(t);
    if (id === undefined) idOf.set(t, (id = idOf.size));
    return id;
  });
  const base = idOf.size;
  const seen = new Set<number | string>();
  if (n * Math.log2(Math.max(base, 2)) < 53) {
    for (let i = 0; i + n <= ids.length; i++) {
      let key = 0;
      for (let j = 0; j < n; j++) key = key * base + ids[i + j]!;
      seen.add(key);
    }
  } else {
    for (let i = 0; i + n <= ids.length; i++) seen.add(ids.slice(i, i + n).join(','));
  }
  return seen.size;
}

/**
 * n-gram repetition penalty: r = maxPenalty * (1 - distinct n-grams / total n-grams).
 *
 * 0 for a completion without repeated n-grams (or shorter than one n-gram), approaching `maxPenalty`
 * as the completion loops. The form used by open-r1, after Yeo et al. 2025, arXiv:2502.03373
 * (section 4.2, repetition penalty). Linear time: n-grams are keyed exactly (no hashing collisions) in a `Set`.
 *
 * @param options.ngram n-gram size; default `3`.
 * @param options.maxPenalty most negative value; default `-1`.
 * @param options.unit `'word'` (default) or `'char'`.
 * @returns a synchronous reward in [maxPenalty, 0]; `maxPenalty` for non-string completions.
 * @example
 * const repetition = repetitionPenalty({ngram: 2});
 * repetition([{prompt: 'p', completion: 'a b a b a b'}]); // [-0.6]: 5 bigrams, 2 distinct
 */
export function repetitionPenalty(options: RepetitionPenaltyOptions = {}): RewardFn {
  const fn = 'repetitionPenalty';
  assertKnownOptionNames(options, ['ngram', 'maxPenalty', 'unit'], fn);
  const {ngram = 3, maxPenalty = -1, unit = 'word'} = options;
  assertNumberOption(ngram, fn, 'ngram', {min: 1, integer: true});
  assertNumberOption(maxPenalty, fn, 'maxPenalty', {max: 0});
  assertOneOfOption(unit, ['word', 'char'], fn, 'unit');
  return (samples: readonly Sample[]): number[] => {
    assertSamples(samples, fn);
    return samples.map((s) => {
      const c = completionText(s);
      if (c === null) return maxPenalty;
      const tokens = unit === 'word' ? c.toLowerCase().split(/\s+/).filter((w) => w !== '') : Array.from(c);
      const total = tokens.length - ngram + 1;
      if (total <= 0) return 0;
      const distinct = countDistinctNgrams(tokens, ngram);
      const value = maxPenalty * (1 - distinct / total);
      return value === 0 ? 0 : value; // no -0
    });
  };
}
