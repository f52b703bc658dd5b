import {
  assertFunctionOption, assertKnownOptionNames, assertNumberOption, assertOneOfOption, assertSamples, checkOption,
  describeValue,
} from './assert_option.js';
import {answerNeedsEngine, compareAnswers, type EquivalenceResult, type NumericAnswers} from './answers_equivalent.js';
import {attachBreakdown} from './composed_reward.js';
import {completionText} from './completion_text.js';
import {extractAnswer, type AnswerSource} from './extract_answer.js';
import {loadMathEngine, type MathEngine} from './math_engine.js';
import type {ComposedReward, RewardBreakdown, RewardFn, Sample} from './types.js';

/** A problem `accuracyReward` reports instead of silently scoring 0. */
export interface AccuracyWarning {
  /**
   * `'unparsable-reference'`: the math engine could not parse the reference (the sample scores 1
   * only on an exact string match); `'time-budget-exceeded'`: the batch's symbolic-comparison budget
   * was spent, so from this sample on answers were compared as strings and numbers only;
   * `'extractor-error'`: the custom `extractAnswer` threw (or returned neither a string nor
   * `null`/`undefined`) on this sample, which scored 0.
   */
  code: 'unparsable-reference' | 'time-budget-exceeded' | 'extractor-error';
  /** Index of the sample in the batch. */
  index: number;
  /** The sample's reference. */
  reference: string;
  /** For `'extractor-error'`: what the extractor threw. */
  error?: unknown;
  /** A human-readable description. */
  message: string;
}

/** Options of {@link accuracyReward}. */
export interface AccuracyRewardOptions {
  /**
   * Where the final answer is read: `'auto'` (default: last `<answer>` tag, preferring a `\boxed{}`
   * inside it, else the last `\boxed{}`), `'boxed'` or `'answer-tag'`. Ignored with `extractAnswer`.
   */
  source?: AnswerSource;
  /** Answer tag name for `'auto'` / `'answer-tag'`. Default `'answer'`. */
  answerTag?: string;
  /**
   * Custom extractor: returns the final answer of a completion, or `null` when there is none
   * (scores 0). Replaces `source`/`answerTag`. If it throws, the sample scores 0 and the failure is
   * counted (`accuracyReward.extractorError`) and passed to `onWarning`; with `strict` the batch
   * rejects instead.
   */
  extractAnswer?: (completion: string, sample: Sample) => string | null;
  /** Longest answer (characters, after normalization) handed to the symbolic engine. Default `256`. */
  maxExpressionLength?: number;
  /**
   * What may answer a plain-number reference: `'closed-form'` (default: a number, a reduced fraction,
   * or an exactly equal expression using a power, root, factorial or binomial, such as `2^{10}` for
   * `1024`; restating `6 \times 7` does not answer `42`), `'literal'` (numbers and reduced fractions
   * only) or `'expression'` (any equivalent expression). See {@link answersEquivalent}.
   */
  numericAnswers?: NumericAnswers;
  /**
   * Wall-clock budget in milliseconds for symbolic comparisons per batch. Once spent, the rest of
   * the batch is compared as strings and numbers only (and counted, and reported). Default `2000`.
   */
  timeBudgetMs?: number;
  /**
   * Called once per distinct unparsable reference and once when the time budget runs out, per batch
   * (the counters count every sample). Default: none.
   */
  onWarning?: (warning: AccuracyWarning) => void;
  /**
   * Reject the batch (the returned promise) with an error naming the sample when the custom
   * `extractAnswer` throws, instead of scoring the sample 0. Default `false`.
   */
  strict?: boolean;
}

const CACHE_SIZE = 4096;

/**
 * Verifiable-answer reward (DeepSeek-R1's accuracy reward): 1 if the final answer of the completion
 * is mathematically equivalent to `sample.reference`, else 0.
 *
 * The answer is the last `\boxed{...}` (nested braces) and/or `<answer>...</answer>` (see
 * {@link extractAnswer}) or what a custom extractor returns; there is no fallback to "the last number
 * in the text" (it rewards truncated and unboxed answers, which RL learns to exploit). Comparison:
 * {@link answersEquivalent} (normalization, numbers, tuples/intervals/sets, then symbolic
 * equivalence with the Compute Engine, loaded on first need). DeepSeek-AI 2025, arXiv:2501.12948.
 *
 * A reference may be a number, an answer, or a worked solution whose last `\boxed{}` is the answer.
 * Untrusted completions (empty, huge, unbalanced, not a string) score 0 and never throw. A missing
 * or empty `reference` throws (it is a data bug). A reference the engine cannot parse is counted
 * (`accuracyReward.unparsableReference` in the breakdown's counters) and passed to `onWarning`; so is
 * a custom `extractAnswer` that throws (`accuracyReward.extractorError`; with `strict: true` the
 * batch rejects instead).
 * Equivalence of huge or hostile answers is bounded by `maxExpressionLength`, structural limits and
 * the per-batch `timeBudgetMs`. Results are cached per (answer, reference) pair.
 *
 * @param options.source answer location; default `'auto'`.
 * @param options.answerTag answer tag; default `'answer'`.
 * @param options.extractAnswer custom extractor; default none.
 * @param options.maxExpressionLength engine input cap; default `256`.
 * @param options.numericAnswers `'closed-form'` (default), `'literal'` or `'expression'`, for plain-number references.
 * @param options.timeBudgetMs symbolic-comparison budget per batch; default `2000`.
 * @param options.onWarning warning callback; default none.
 * @param options.strict reject when a custom `extractAnswer` throws; default `false` (count and warn).
 * @returns an async {@link ComposedReward} with values in {0, 1}.
 * @example
 * const accuracy = accuracyReward();
 * await accuracy([{prompt: 'Simplify sqrt(8).', completion: '... \\boxed{2\\sqrt{2}}', reference: '\\sqrt{8}'}]); // [1]
 */
export function accuracyReward(options: AccuracyRewardOptions = {}): ComposedReward {
  const fn = 'accuracyReward';
  assertKnownOptionNames(options,
      ['source', 'answerTag', 'extractAnswer', 'maxExpressionLength', 'numericAnswers', 'timeBudgetMs', 'onWarning',
        'strict'], fn);
  const {
    source = 'auto', answerTag = 'answer', maxExpressionLength = 256, numericAnswers = 'closed-form', timeBudgetMs = 2000,
    onWarning, strict = false,
  } = options;
  checkOption(typeof strict === 'boolean', fn, () => `'strict' expected a boolean, got ${describeValue(strict)}`);
  assertOneOfOption(numericAnswers, ['closed-form', 'literal', 'expression'], fn, 'numericAnswers');
  assertNumberOption(maxExpressionLength, fn, 'maxExpressionLength', {min: 1, integer: true});
  assertNumberOption(timeBudgetMs, fn, 'timeBudgetMs', {min: 0});
  if (onWarning !== undefined) assertFunctionOption(onWarning, fn, 'onWarning');
  let extract: (completion: string, sample: Sample) => string | null;
  if (options.extractAnswer !== undefined) {
    assertFunctionOption(options.extractAnswer, fn, 'extractAnswer');
    extract = options.extractAnswer;
  } else {
    extractAnswer('', {source, answerTag}); // validates the options now, not on the first batch
    extract = (completion) => extractAnswer(completion, {source, answerTag});
  }
  const cache = new Map<string, EquivalenceResult>();

  const breakdown = async (samples: readonly Sample[]): Promise<RewardBreakdown> => {
    assertSamples(samples, fn);
    const references = samples.map((s, i) => {
      if (s === null || typeof s !== 'object') return null; // not even a sample: a bad completion, scored 0
      const ref = (s as Sample).reference;
      checkOption((typeof ref === 'string' && ref.trim() !== '') || (typeof ref === 'number' && Number.isFinite(ref)),
          fn, () => `sample ${i} expected a non-empty 'reference' (string), got ${describeValue(ref)}`);
      // A reference that is a worked solution: its last box is the answer.
      const text = String(ref);
      return text.includes('\\boxed') || text.includes('\\fbox') ? (extractAnswer(text, {source: 'boxed'}) ?? text) : text;
    });
    let extractorErrors = 0;
    const answers = samples.map((s, i) => {
      const c = completionText(s);
      if (c === null) return null;
      let a: unknown;
      try {
        a = extract(c, s);
        if (a !== null && a !== undefined && typeof a !== 'string') {
          throw new Error(`expected a string or null, got ${describeValue(a)}`);
        }
      } catch (error) {
        // A custom extractor failing is reported (never silently scored 0), or rejects under `strict`.
        const detail = error instanceof Error ? error.message : String(error);
        const message = `${fn}: 'extractAnswer' failed on sample ${i}: ${detail}`;
        if (strict) throw new Error(message, {cause: error});
        if (extractorErrors++ === 0) {
          onWarning?.({code: 'extractor-error', index: i, reference: String((s as Sample).reference ?? ''), message, error});
        }
        a = null;
      }
      return typeof a === 'string' && a.trim() !== '' ? a : null;
    });
    let engine: MathEngine | null = null;
    const needsEngine = (r: string | null, i: number): boolean =>
      r !== null && (answerNeedsEngine(r) || (answers[i] !== null && answerNeedsEngine(answers[i]!)));
    if (references.some(needsEngine)) {
      engine = await loadMathEngine();
    }
    const start = performance.now();
    let unparsable = 0;
    let overBudget = 0;
    const warned = new Set<string>();
    const values = samples.map((_, i) => {
      const ref = references[i];
      if (ref === null || ref === undefined) return 0;
      // With no answer, still check the reference so that unparsable ones are always reported.
      const predicted = answers[i] ?? '';
      const key = `${ref}\u0000${predicted}`;
      let result = cache.get(key);
      if (result === undefined) {
        const inBudget = performance.now() - start <= timeBudgetMs;
        result = compareAnswers(predicted, ref, inBudget ? engine : null, maxExpressionLength, numericAnswers);
        if (!result.skipped && key.length <= 1024) {
          if (cache.size >= CACHE_SIZE) cache.clear();
          cache.set(key, result);
        }
      }
      if (result.unparsableReference) {
        unparsable++;
        if (onWarning && !warned.has(ref)) {
          warned.add(ref);
          onWarning({code: 'unparsable-reference', index: i, reference: ref,
            message: `${fn}: the reference of sample ${i} could not be parsed: ${JSON.stringify(ref.slice(0, 100))}`});
        }
      }
      if (result.skipped && overBudget++ === 0) {
        onWarning?.({code: 'time-budget-exceeded', index: i, reference: ref,
          message: `${fn}: time budget of ${timeBudgetMs} ms spent; from sample ${i} on, answers are compared without the math engine`});
      }
      return answers[i] !== null && result.equal ? 1 : 0;
    });
    const counters: Record<string, number> = {};
    if (unparsable > 0) counters[`${fn}.unparsableReference`] = unparsable;
    if (overBudget > 0) counters[`${fn}.overTimeBudget`] = overBudget;
    if (extractorErrors > 0) counters[`${fn}.extractorError`] = extractorErrors;
    return {values, components: {}, counters};
  };
  return attachBreakdown(breakdown, new Map<string, RewardFn>());
}
