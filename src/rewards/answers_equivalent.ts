import {assertKnownOptionNames, assertNumberOption, assertOneOfOption} from './assert_option.js';
import {loadMathEngine, type MathEngine, type MathExpression} from './math_engine.js';
import {exactValue, rationalsEqual, scaleRational, type ExactValue, type Rational} from './exact_value.js';
import {normalizeAnswer} from './normalize_answer.js';

/** Options of {@link answersEquivalent}. */
export interface AnswersEquivalentOptions {
  /**
   * Longest answer (after normalization, in characters) handed to the symbolic engine. Longer ones
   * are compared as strings only. Default `256`.
   */
  maxExpressionLength?: number;
  /**
   * What may answer a plain-number reference (`42`, `0.5`, `1024`). `'closed-form'` (default): a
   * number, a fraction in lowest terms (`\frac12`, `-3/4`), or an expression that evaluates exactly
   * (rational arithmetic) to the reference and uses a power, root, factorial or binomial (`2^{10}`,
   * `1.5 \times 10^{3}`, `\sqrt{16}`, `5!`), but not bare arithmetic: `6 \times 7`, `40+2` or
   * `\frac{84}{2}` for `42` do not count (a policy must not earn reward by restating the question).
   * `'literal'`: numbers and reduced fractions only. `'expression'`: any equivalent expression.
   * References that are not plain numbers are always compared exactly or symbolically.
   */
  numericAnswers?: NumericAnswers;
}

/** What may answer a plain-number reference; see {@link AnswersEquivalentOptions.numericAnswers}. */
export type NumericAnswers = 'closed-form' | 'literal' | 'expression';

/** @internal Outcome of a comparison, for `accuracyReward`'s counters. */
export interface EquivalenceResult {
  /** Whether the answers are equivalent. */
  equal: boolean;
  /** The reference could not be parsed as mathematics (reported by `accuracyReward`). */
  unparsableReference: boolean;
  /** A symbolic comparison was needed but skipped because the time budget was spent. */
  skipped: boolean;
}

/** @internal A parsed answer: a list (tuple, interval, set), a number, words, or an expression. */
type AnswerNode =
  | {kind: 'list'; open: string; close: string; ordered: boolean; items: AnswerNode[]}
  | {kind: 'number'; value: number; latex: string; percent: boolean; unit: string}
  | {kind: 'text'; text: string}
  | {kind: 'expr'; latex: string; percent: boolean; unit: string};

const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const WORDS = /^[A-Za-z]{3,}(?: [A-Za-z]+)*$/;
/** Constructs whose evaluation can take seconds (`100000!`, `\sum_{n=1}^{10^9}`): never evaluated. */
const HEAVY = /\\(?:sum|prod|int|iint|oint|lim|binom|choose|operatorname|begin)|!/;
/** Answers (or references) longer than this are compared as exact strings only, unnormalized. */
const MAX_ANSWER_CHARS = 4096;
const MAX_NESTING = 12;
const MAX_DIGITS = 40;
const MAX_POWERS = 6;

/**
 * Walks `s` up to (not including) `end`, tracking bracket depth: `(`, `[`, `{` and LaTeX's `\{`
 * open, their partners close; an escaped pair (`\{`, `\}`, `\,`...) is consumed as one step.
 * Calls `visit(i, c, depth)` after each step with the step's last index, its first character and the
 * depth after it; stops early when `visit` returns true.
 */
function scanBrackets(s: string, end: number, visit: (i: number, c: string, depth: number) => boolean | void): void {
  let depth = 0;
  for (let i = 0; i < end; i++) {
    const c = s[i]!;
    if (c === '\\') {
      if (s[i + 1] === '{') depth++;
      else if (s[i + 1] === '}') depth--;
      i++;
    } else if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') depth--;
    if (visit(i, c, depth) === true) return;
  }
}

/** Splits `s` at top-level commas (outside any bracket, including `\{ \}`). */
function splitTopLevel(s: string): string[] {
  const parts: string[] = [];
  let last = 0;
  scanBrackets(s, s.length, (i, c, depth) => {
    if (c === ',' && depth === 0) {
      parts.push(s.slice(last, i));
      last = i + 1;
    }
  });
  parts.push(s.slice(last));
  return parts.map((p) => p.trim());
}

/** Whether the bracket opened at the start of `s` (length `openLen`) closes exactly at its end. */
function enclosesWhole(s: string, openLen: number, closeLen: number): boolean {
  let whole = true;
  scanBrackets(s, s.length - closeLen, (i, _c, depth) => {
    if (depth === 0 && i >= openLen - 1) whole = false;
    return !whole;
  });
  return whole;
}

function parseAnswer(raw: string, depth = 0): AnswerNode {
  const {text, percent, isText, unit} = normalizeAnswer(raw);
  if (isText) return {kind: 'text', text};
  if (NUMBER.test(text)) return {kind: 'number', value: Number(text), latex: text, percent, unit};
  if (depth < 3) {
    let open = '';
    let close = '';
    if (text.startsWith('\\{') && text.endsWith('\\}')) [open, close] = ['\\{', '\\}'];
    else if (/^[([]/.test(text) && /[)\]]$/.test(text)) [open, close] = [text[0]!, text[text.length - 1]!];
    if (open !== '' && text.length >= open.length + close.length && enclosesWhole(text, open.length, close.length)) {
      const items = splitTopLevel(text.slice(open.length, text.length - close.length));
      if (items.length >= 2 || open === '\\{') {
        return {kind: 'list', open, close, ordered: open !== '\\{', items: items.map((p) => parseAnswer(p, depth + 1))};
      }
    }
    const bare = splitTopLevel(text);
    if (bare.length >= 2) {
      return {kind: 'list', open: '', close: '', ordered: false, items: bare.map((p) => parseAnswer(p, depth + 1))};
    }
  }
  if (WORDS.test(text)) return {kind: 'text', text: text.toLowerCase()};
  return {kind: 'expr', latex: text, percent, unit};
}

/** Whether `latex` is small and tame enough for the symbolic engine. */
function engineSafe(latex: string, maxLength: number): boolean {
  if (latex.length === 0 || latex.length > maxLength || HEAVY.test(latex)) return false;
  let depth = 0;
  let maxDepth = 0;
  let digits = 0;
  let powers = 0;
  for (const c of latex) {
    if (c === '{' || c === '(' || c === '[') maxDepth = Math.max(maxDepth, ++depth);
    else if (c === '}' || c === ')' || c === ']') depth--;
    if (c >= '0' && c <= '9') {
      if (++digits > MAX_DIGITS) return false;
    } else digits = 0;
    if (c === '^') powers++;
  }
  return maxDepth <= MAX_NESTING && powers <= MAX_POWERS;
}

/** Plain-number equality: exact for integers (BigInt, any size), relative 1e-9 for decimals. */
const FRACTION_LATEX = /^(-?)\\frac(?:\{(-?\d+)\}|(\d))(?:\{(\d+)\}|(\d))$/;
const FRACTION_SLASH = /^(-?)(\d+)\/(\d+)$/;

function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b];
  return a < 0n ? -a : a;
}

/** Whether `latex` is a fraction of integers in lowest terms with denominator > 1 (`\frac12`, `-3/4`). */
function isReducedFraction(latex: string): boolean {
  const m = FRACTION_LATEX.exec(latex);
  const s = FRACTION_SLASH.exec(latex);
  const num = m ? (m[2] ?? m[3]) : s?.[2];
  const den = m ? (m[4] ?? m[5]) : s?.[3];
  if (num === undefined || den === undefined) return false;
  const b = BigInt(den);
  return b > 1n && gcd(BigInt(num), b) === 1n;
}

function plainNumbersEqual(a: {value: number; latex: string}, b: {value: number; latex: string}, scaleA = 1): boolean {
  const integer = /^[+-]?\d+$/;
  if (scaleA === 1 && integer.test(a.latex) && integer.test(b.latex)) return BigInt(a.latex) === BigInt(b.latex);
  const x = a.value * scaleA;
  const y = b.value;
  if (!Number.isFinite(x) || !Number.isFinite(y)) return false;
  return Math.abs(x - y) <= 1e-9 * Math.max(1, Math.abs(x), Math.abs(y));
}

/**
 * Whether an expression (not a plain number) may answer a plain-number reference under `mode`:
 * `'literal'` a reduced fraction only; `'closed-form'` also an exactly evaluable expression that uses
 * a power, root, factorial or binomial (`2^{10}`, `1.5 \times 10^{3}`), never bare arithmetic
 * (`6 \times 7`, `40+2`, `\frac{84}{2}`) nor an expression that is not exactly evaluable;
 * `'expression'` anything.
 */
function admissible(latex: string, value: ExactValue | null, mode: NumericAnswers): boolean {
  if (mode === 'expression' || isReducedFraction(latex)) return true;
  if (value !== null && value.literal) return true; // a number in parentheses or braces: `(18)`
  return mode === 'closed-form' && value !== null && value.closedForm;
}

/** Exact equality, with a percent sign on one side meaning either the number or the fraction. */
function exactlyEqual(p: Rational, r: Rational, pPercent: boolean, rPercent: boolean): boolean {
  if (rationalsEqual(p, r)) return true;
  if (pPercent === rPercent) return false;
  const scaled = pPercent ? scaleRational(p, 1n, 100n) : scaleRational(r, 1n, 100n);
  return scaled !== null && rationalsEqual(pPercent ? scaled : p, pPercent ? r : scaled);
}

/** What a comparison noticed besides its result. */
interface ComparisonFlags {
  unparsableReference: boolean;
  skipped: boolean;
}

/**
 * Compares parsed answers, recording in `flags` an unparsable reference and a symbolic comparison
 * skipped because `engine` is null (time budget spent).
 */
function comparator(
    engine: MathEngine | null, maxLength: number, numericAnswers: NumericAnswers, flags: ComparisonFlags) {
  const parseReference = (latex: string): MathExpression | null => {
    if (engine === null || !engineSafe(latex, Math.max(maxLength, 1024))) return null;
    const e = engine.parse(latex);
    if (e === null || !e.isValid) {
      flags.unparsableReference = true;
      return null;
    }
    return e;
  };

  const validateReference = (ref: AnswerNode): void => {
    if (ref.kind === 'list') ref.items.forEach(validateReference);
    else if (ref.kind === 'expr') parseReference(ref.latex);
  };

  const symbolic = (pred: string, ref: string): boolean => {
    if (pred === ref) return true;
    if (engine === null) {
      flags.skipped = true;
      return false;
    }
    if (!engineSafe(pred, maxLength)) return false;
    const r = parseReference(ref);
    if (r === null) return false;
    const p = engine.parse(pred);
    if (p === null || !p.isValid) return false;
    try {
      return p.isEqual(r) === true;
    } catch {
      return false; // the engine failing on hostile input: not equivalent
    }
  };

  const equal = (pred: AnswerNode, ref: AnswerNode): boolean => {
    if (ref.kind === 'list' || pred.kind === 'list') {
      if (ref.kind !== 'list' || pred.kind !== 'list' || ref.items.length !== pred.items.length) return false;
      if (ref.ordered !== pred.ordered) return false;
      if (ref.ordered) {
        return ref.open === pred.open && ref.close === pred.close && ref.items.every((r, i) => equal(pred.items[i]!, r));
      }
      const used = new Array<boolean>(ref.items.length).fill(false);
      return pred.items.every((p) => {
        const j = ref.items.findIndex((r, k) => !used[k] && equal(p, r));
        if (j < 0) return false;
        used[j] = true;
        return true;
      });
    }
    if (ref.kind === 'text' || pred.kind === 'text') {
      // Words compare case-insensitively, with choice labels unwrapped: `(A)` equals `A`.
      const unwrap = (t: string) => t.replace(/^\((.*)\)$/, '$1').trim();
      const a = unwrap(pred.kind === 'text' ? pred.text : pred.latex.toLowerCase());
      const b = unwrap(ref.kind === 'text' ? ref.text : ref.latex.toLowerCase());
      return a === b;
    }
    if (pred.unit !== '' && ref.unit !== '' && pred.unit !== ref.unit) return false; // 5 cm is not 5 m
    const pv = exactValue(pred.latex);
    const rv = exactValue(ref.latex);
    if (ref.kind === 'number' && pred.kind !== 'number' && !admissible(pred.latex, pv, numericAnswers)) return false;
    if (pv !== null && rv !== null) return exactlyEqual(pv.value, rv.value, pred.percent, ref.percent);
    if (pred.kind === 'number' && ref.kind === 'number') {
      if (plainNumbersEqual(pred, ref)) return true;
      if (pred.percent !== ref.percent) {
        return pred.percent ? plainNumbersEqual(pred, ref, 0.01) : plainNumbersEqual(ref, pred, 0.01);
      }
      return false;
    }
    if (symbolic(pred.latex, ref.latex)) return true;
    if (pred.percent !== ref.percent) {
      return pred.percent ? symbolic(`\\frac{${pred.latex}}{100}`, ref.latex) :
        symbolic(pred.latex, `\\frac{${ref.latex}}{100}`);
    }
    return false;
  };

  return {validateReference, equal};
}

/** Whether comparing these answers may need the symbolic engine (not plain numbers or words). */
function needsEngine(node: AnswerNode): boolean {
  if (node.kind === 'list') return node.items.some(needsEngine);
  return node.kind === 'expr' && exactValue(node.latex) === null;
}

/**
 * @internal Compares a predicted final answer with a reference; `engine` null means "symbolic
 * comparison not allowed now" (time budget spent), in which case only the string and numeric
 * comparisons run and `skipped` tells whether the engine would have been needed.
 */
export function compareAnswers(
    predicted: string, reference: string, engine: MathEngine | null, maxExpressionLength: number,
    numericAnswers: NumericAnswers = 'closed-form'): EquivalenceResult {
  if (predicted.length > MAX_ANSWER_CHARS || reference.length > MAX_ANSWER_CHARS) {
    // Not an answer but a wall of text: exact comparison only, no normalization.
    return {equal: predicted.trim() !== '' && predicted.trim() === reference.trim(),
      unparsableReference: reference.length > MAX_ANSWER_CHARS, skipped: false};
  }
  const flags: ComparisonFlags = {unparsableReference: false, skipped: false};
  const {validateReference, equal} = comparator(engine, maxExpressionLength, numericAnswers, flags);
  const ref = parseAnswer(reference);
  validateReference(ref);
  if (predicted.trim() === '') return {equal: false, ...flags};
  return {equal: equal(parseAnswer(predicted), ref), ...flags};
}

/** @internal Whether `compareAnswers` on these strings may use the engine (so it must be loaded). */
export function answerNeedsEngine(answer: string): boolean {
  return answer.length <= MAX_ANSWER_CHARS && needsEngine(parseAnswer(answer));
}

/**
 * Whether two final answers are mathematically equivalent.
 *
 * Normalizes LaTeX presentation (`$`, `\left`/`\right`, `\!`, `~`, `\dfrac`, units in `\text{}`
 * including squared units, thousands separators, a leading `x =`, percent signs: `50\%` equals `50`
 * and `0.5`, scientific notation in its spellings: `1.5e3`, `1.5 \times 10^{3}`, `1.5 x 10^3`,
 * `1.5×10³`), evaluates numeric answers **exactly** (rational arithmetic on BigInt: `2^{10}` equals
 * `1024`, `2^{100}+1` differs from `2^{100}`), compares tuples and intervals element by element with
 * their brackets, sets (`\{...\}`) and bare comma lists as multisets, words case-insensitively, and
 * everything else symbolically with the Compute Engine (`@cortex-js/compute-engine`, loaded on first
 * use): `2\sqrt{2}` equals `\sqrt{8}`, `x+1` equals `1+x`, while `1` and `10`, `2` and
 * `\frac{1}{2}`, `x` and `x^2` differ. An undecidable comparison counts as different. A
 * plain-number reference is answered by a number, a reduced fraction or an exactly equal closed form
 * (power, root, factorial, binomial), not by bare arithmetic (`6 \times 7` does not answer `42`: it
 * restates the question) unless `numericAnswers: 'expression'`.
 *
 * Bounded: answers longer than `maxExpressionLength`, nested deeper than 12, with more than 6
 * powers, numbers over 40 digits, or sums/products/integrals/limits/factorials (whose evaluation can
 * take seconds) are not given to the engine; answers over 4096 characters are compared as exact
 * strings only (and such a reference is reported as unparsable by `accuracyReward`).
 *
 * @param predicted the model's final answer (e.g. from {@link extractAnswer}).
 * @param reference the ground-truth answer.
 * @param options.maxExpressionLength longest answer given to the engine; default `256`.
 * @param options.numericAnswers `'closed-form'` (default), `'literal'` or `'expression'`, for plain-number references.
 * @returns whether the answers are equivalent.
 * @example
 * await answersEquivalent('2\\sqrt{2}', '\\sqrt{8}'); // true
 * await answersEquivalent('1', '10'); // false
 */
export async function answersEquivalent(
    predicted: string, reference: string, options: AnswersEquivalentOptions = {}): Promise<boolean> {
  assertKnownOptionNames(options, ['maxExpressionLength', 'numericAnswers'], 'answersEquivalent');
  const {maxExpressionLength = 256, numericAnswers = 'closed-form'} = options;
  assertNumberOption(maxExpressionLength, 'answersEquivalent', 'maxExpressionLength', {min: 1, integer: true});
  assertOneOfOption(numericAnswers, ['closed-form', 'literal', 'expression'], 'answersEquivalent', 'numericAnswers');
  if (typeof predicted !== 'string' || typeof reference !== 'string') return false;
  const engine = answerNeedsEngine(predicted) || answerNeedsEngine(reference) ? await loadMathEngine() : null;
  return compareAnswers(predicted, reference, engine, maxExpressionLength, numericAnswers).equal;
}
