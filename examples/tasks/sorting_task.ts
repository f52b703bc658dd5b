/**
 * A synthetic, verifiable task generated on the fly: sort a string of digits, with the sorted digits
 * listed one by one in the scratchpad.
 * @module
 */
import {assertKnownOptions, assertNumber} from '../../src/math/assert.js';
import {mulberry32} from '../../src/models/mulberry32.js';
import type {AdditionProblem} from './addition_task.js';

/** Options of {@link sortingProblems}. */
export interface SortingProblemsOptions {
  /** Digits per prompt, 2..12; default `5`. */
  length?: number;
  /** Seed of the generator; default `0`. */
  seed?: number;
  /** Prompts never generated (e.g. a held-out set); default none. */
  exclude?: ReadonlySet<string>;
}

/**
 * Generates `count` sorting problems: the prompt is a digit string (`'38271'`), the reference its
 * digits in ascending order (`'12378'`), and the demonstration lists them before answering:
 * `'<think>1,2,3,7,8</think><answer>12378</answer>'`. Same shape as {@link additionProblems}, so the
 * same tokenizer ({@link additionTokenizer}), rewards and steps apply.
 *
 * @param count number of problems, >= 0.
 * @param options.length digits per prompt; default `5`.
 * @param options.seed generator seed; default `0`.
 * @param options.exclude prompts to skip; default none.
 * @returns the problems.
 * @throws on a bad count or option.
 * @example
 * sortingProblems(1, {seed: 3})[0]; // {prompt: '...', reference: '...', demonstration: '<think>...'}
 */
export function sortingProblems(count: number, options: SortingProblemsOptions = {}): AdditionProblem[] {
  const fn = 'sortingProblems';
  assertKnownOptions(options, ['length', 'seed', 'exclude'], fn);
  const {length = 5, seed = 0, exclude} = options;
  assertNumber(count, fn, 'count', {integer: true, min: 0});
  assertNumber(length, fn, 'length', {integer: true, min: 2, max: 12});
  assertNumber(seed, fn, 'seed', {integer: true});
  const random = mulberry32(seed);
  const out: AdditionProblem[] = [];
  while (out.length < count) {
    const digits = Array.from({length}, () => Math.floor(random() * 10));
    const prompt = digits.join('');
    if (exclude?.has(prompt)) continue;
    const sorted = [...digits].sort((a, b) => a - b);
    out.push({prompt, reference: sorted.join(''), demonstration: `<think>${sorted.join(',')}</think><answer>${sorted.join('')}</answer>`});
  }
  return out;
}
