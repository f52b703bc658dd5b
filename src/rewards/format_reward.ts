import {assertKnownOptionNames, assertOneOfOption, assertSamples} from './assert_option.js';
import {completionText} from './completion_text.js';
import {assertTagName, countOccurrences} from './tag_name.js';
import type {RewardFn, Sample} from './types.js';

/** Options of {@link formatReward}. */
export interface FormatRewardOptions {
  /**
   * `'lenient'` (default): any whitespace between the blocks, none required;
   * `'strict'`: exact newlines as in open-r1's format reward,
   * `<think>\n...\n</think>\n<answer>\n...\n</answer>` (one optional final newline).
   */
  mode?: 'lenient' | 'strict';
  /** Name of the reasoning tag. Default `'think'`. */
  thinkTag?: string;
  /**
   * Name of the answer tag, or `null` when the answer is the free text after the reasoning block
   * (the DeepSeek-R1 template). Default `'answer'`.
   */
  answerTag?: string | null;
}

/** Whether `completion` is `<think>X</think>` + answer, X and the answer non-blank, tags once each. */
function followsTemplate(completion: string, mode: 'lenient' | 'strict', think: string, answer: string | null): boolean {
  const [to, tc] = [`<${think}>`, `</${think}>`];
  const tags = answer === null ? [to, tc] : [to, tc, `<${answer}>`, `</${answer}>`];
  if (tags.some((t) => countOccurrences(completion, t, 1) !== 1)) return false;
  const sep = mode === 'strict' ? '\n' : '';
  const text = mode === 'strict' ? completion.replace(/\n$/, '') : completion.trim();
  if (!text.startsWith(to + sep)) return false;
  const closeAt = text.indexOf(sep + tc + sep);
  if (closeAt < 0) return false;
  const reasoning = text.slice(to.length + sep.length, closeAt);
  let rest = text.slice(closeAt + sep.length + tc.length + sep.length);
  if (reasoning.trim() === '') return false;
  if (answer === null) return rest.trim() !== '';
  if (mode === 'lenient') rest = rest.trimStart();
  const [ao, ac] = [`<${answer}>`, `</${answer}>`];
  if (!rest.startsWith(ao + sep) || !rest.endsWith(sep + ac)) return false;
  const inner = rest.slice(ao.length + sep.length, rest.length - ac.length - sep.length);
  return rest.length >= ao.length + ac.length + 2 * sep.length && inner.trim() !== '';
}

/**
 * Format reward of the DeepSeek-R1 template: 1 if the completion is a reasoning block
 * `<think>...</think>` followed by the answer, optionally in `<answer>...</answer>`, else 0.
 *
 * Each tag must appear exactly once, nothing may precede the reasoning block or follow the answer
 * block, and both must be non-blank. `'strict'` mode requires open-r1's exact newlines; `'lenient'`
 * (default) allows any whitespace. Linear-time string scanning (no backtracking regex), so hostile
 * or megabyte-long completions are safe. DeepSeek-AI 2025, arXiv:2501.12948 (format reward).
 *
 * @param options.mode `'lenient'` (default) or `'strict'`.
 * @param options.thinkTag reasoning tag; default `'think'`.
 * @param options.answerTag answer tag or `null` for free text; default `'answer'`.
 * @returns a synchronous reward with values in {0, 1}; 0 for empty or non-string completions.
 * @example
 * const format = formatReward();
 * format([{prompt: 'p', completion: '<think>2+2=4</think> <answer>4</answer>'}]); // [1]
 * formatReward({mode: 'strict'})([{prompt: 'p', completion: '<think>2+2=4</think><answer>4</answer>'}]); // [0]
 */
export function formatReward(options: FormatRewardOptions = {}): RewardFn {
  const fn = 'formatReward';
  assertKnownOptionNames(options, ['mode', 'thinkTag', 'answerTag'], fn);
  const {mode = 'lenient', thinkTag = 'think', answerTag = 'answer'} = options;
  assertOneOfOption(mode, ['lenient', 'strict'], fn, 'mode');
  assertTagName(thinkTag, fn, 'thinkTag');
  if (answerTag !== null) assertTagName(answerTag, fn, 'answerTag');
  return (samples: readonly Sample[]): number[] => {
    assertSamples(samples, fn);
    return samples.map((s) => {
      const c = completionText(s);
      return c !== null && followsTemplate(c, mode, thinkTag, answerTag) ? 1 : 0;
    });
  };
}
