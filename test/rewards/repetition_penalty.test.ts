import fc from 'fast-check';
import {describe, expect, it} from 'vitest';
import {repetitionPenalty} from '../../src/rewards/repetition_penalty.js';
import type {Sample} from '../../src/rewards/types.js';

const score = (fn: ReturnType<typeof repetitionPenalty>, ...completions: unknown[]) =>
  fn(completions.map((completion) => ({prompt: 'p', completion} as Sample)));

describe('repetitionPenalty', () => {
  it('is maxPenalty * (1 - distinct/total n-grams) (hand-computed)', () => {
    // 'a b a b a b', bigrams: ab ba ab ba ab -> 5 total, 2 distinct -> -1 * (1 - 2/5) = -0.6
    expect(score(repetitionPenalty({ngram: 2}), 'a b a b a b')).toEqual([-0.6]);
    // trigrams of 'the cat sat on the mat': all 4 distinct -> 0
    expect(score(repetitionPenalty(), 'the cat sat on the mat', 'The the THE the')).toEqual([0, -0.5]);
    // too short for one n-gram, or empty -> 0
    expect(score(repetitionPenalty(), 'a b', '')).toEqual([0, 0]);
    // char unit: 'aaaa', bigrams aa aa aa -> 1 distinct of 3 -> -0.5 * 2/3
    expect((score(repetitionPenalty({ngram: 2, unit: 'char', maxPenalty: -0.5}), 'aaaa') as number[])[0]).toBeCloseTo(-1 / 3, 12);
  });
  it('stays within [maxPenalty, 0] (property)', () => {
    fc.assert(fc.property(fc.string({maxLength: 200}), fc.integer({min: 1, max: 5}), fc.double({min: -5, max: 0, noNaN: true}),
        (text, ngram, maxPenalty) => {
          const [v] = score(repetitionPenalty({ngram, maxPenalty}), text) as number[];
          expect(v!).toBeGreaterThanOrEqual(maxPenalty);
          expect(v!).toBeLessThanOrEqual(0);
        }), {numRuns: 40});
  });
  it('handles a looping megabyte completion quickly and non-strings at the minimum', () => {
    const start = performance.now();
    const [v] = score(repetitionPenalty(), 'and then '.repeat(100_000)) as number[];
    expect(v!).toBeLessThan(-0.99);
    expect(performance.now() - start).toBeLessThan(1500);
    expect(score(repetitionPenalty({maxPenalty: -2}), null)).toEqual([-2]);
  });
  it('rejects bad configuration', () => {
    expect(() => repetitionPenalty({maxPenalty: 1})).toThrow("repetitionPenalty: 'maxPenalty' expected <= 0, got 1");
    expect(() => repetitionPenalty({ngram: 0})).toThrow("repetitionPenalty: 'ngram' expected >= 1, got 0");
    expect(() => repetitionPenalty({ngram: 1.5})).toThrow("repetitionPenalty: 'ngram' expected an integer, got 1.5");
  });
});
