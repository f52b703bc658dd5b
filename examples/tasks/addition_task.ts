/**
 * A synthetic, verifiable reasoning task generated on the fly: multi-digit addition with a
 * column-by-column scratchpad.
 * @module
 */
import {assertKnownOptions, assertNumber, check} from '../../src/math/assert.js';
import {charTokenizer, type CharTokenizer} from '../../src/models/char_tokenizer.js';
import {mulberry32} from '../../src/models/mulberry32.js';

/** One problem of {@link additionProblems}. */
export interface AdditionProblem {
  /** The prompt, e.g. `'37+45'`. */
  prompt: string;
  /** The answer as text, e.g. `'82'` (a `Sample.reference`). */
  reference: string;
  /**
   * A correct completion in the R1 template with a column-wise scratchpad, units first:
   * `'<think>7+5=12,3+4+1=8</think><answer>82</answer>'` (`+1` is the carry).
   */
  demonstration: string;
}

/** Options of {@link additionProblems}. */
export interface AdditionProblemsOptions {
  /** Digits per operand (leading digit non-zero); default `2`. */
  digits?: number;
  /** Seed of the generator; default `0`. */
  seed?: number;
  /** Prompts never generated (e.g. a held-out set); default none. */
  exclude?: ReadonlySet<string>;
}

/**
 * Generates `count` addition problems `a+b` with `digits`-digit operands, each with its reference
 * answer and a demonstration whose `<think>` block adds column by column with carries, e.g.
 * `37+45` -> `<think>7+5=12,3+4+1=8</think><answer>82</answer>`.
 *
 * @param count number of problems, >= 0.
 * @param options.digits digits per operand, 1..4; default `2`.
 * @param options.seed generator seed; default `0`.
 * @param options.exclude prompts to skip; default none.
 * @returns the problems (duplicates possible, excluded prompts never).
 * @throws on a bad count or option, or when `exclude` leaves too few distinct problems.
 * @example
 * additionProblems(1, {seed: 3})[0]; // {prompt: 'ab+cd', reference: '...', demonstration: '<think>...'}
 */
export function additionProblems(count: number, options: AdditionProblemsOptions = {}): AdditionProblem[] {
  const fn = 'additionProblems';
  assertKnownOptions(options, ['digits', 'seed', 'exclude'], fn);
  const {digits = 2, seed = 0, exclude} = options;
  assertNumber(count, fn, 'count', {integer: true, min: 0});
  assertNumber(digits, fn, 'digits', {integer: true, min: 1, max: 4});
  assertNumber(seed, fn, 'seed', {integer: true});
  const lo = digits === 1 ? 0 : 10 ** (digits - 1);
  const span = 10 ** digits - lo;
  check((exclude?.size ?? 0) < span * span, fn, () => `'exclude' leaves no problems with ${digits} digits`);
  const random = mulberry32(seed);
  const out: AdditionProblem[] = [];
  while (out.length < count) {
    const a = lo + Math.floor(random() * span);
    const b = lo + Math.floor(random() * span);
    const prompt = `${a}+${b}`;
    if (exclude?.has(prompt)) continue;
    out.push({prompt, reference: String(a + b), demonstration: additionDemonstration(a, b)});
  }
  return out;
}

/** The scratchpad completion of `a + b` (non-negative integers). */
export function additionDemonstration(a: number, b: number): string {
  const da = String(a).split('').reverse();
  const db = String(b).split('').reverse();
  const steps: string[] = [];
  let carry = 0;
  for (let i = 0; i < Math.max(da.length, db.length); i++) {
    const x = Number(da[i] ?? 0);
    const y = Number(db[i] ?? 0);
    const s = x + y + carry;
    steps.push(`${x}+${y}${carry ? '+1' : ''}=${s}`);
    carry = s >= 10 ? 1 : 0;
  }
  return `<think>${steps.join(',')}</think><answer>${a + b}</answer>`;
}

/**
 * The tokenizer of the addition task: digits, `+`, `=`, `,` and the four R1 tags as single tokens
 * (20 ids with `<pad>` and `<eos>`). `</answer>` ends a completion (the sampler's stop token).
 *
 * @returns the tokenizer.
 * @example
 * const tok = additionTokenizer();
 * tok.encode('<think>1+2=3</think>').length; // 7
 */
export function additionTokenizer(): CharTokenizer {
  return charTokenizer({alphabet: '0123456789+=,', specialTokens: ['<think>', '</think>', '<answer>', '</answer>']});
}
