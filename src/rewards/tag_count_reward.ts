import {assertKnownOptionNames, assertOneOfOption, assertSamples} from './assert_option.js';
import {completionText} from './completion_text.js';
import {assertTagName, countOccurrences} from './tag_name.js';
import type {RewardFn, Sample} from './types.js';

/** Options of {@link tagCountReward}. */
export interface TagCountRewardOptions {
  /**
   * `'lenient'` (default): a tag counts when it appears exactly once; `'strict'`: when it appears
   * exactly once with open-r1's newlines (`<think>\n`, `\n</think>\n`, `\n<answer>\n`, `\n</answer>`).
   */
  mode?: 'lenient' | 'strict';
  /** Name of the reasoning tag. Default `'think'`. */
  thinkTag?: string;
  /** Name of the answer tag, or `null` to count only the reasoning tags. Default `'answer'`. */
  answerTag?: string | null;
}

/**
 * Partial format credit: each of the template's tags (`<think>`, `</think>`, `<answer>`,
 * `</answer>`) that appears exactly once earns 1/k, k the number of tags (4, or 2 without an answer
 * tag). A dense signal that helps a model learn the template before `formatReward` fires; like
 * open-r1's tag-count reward, it does not check the order of the tags.
 *
 * @param options.mode `'lenient'` (default) or `'strict'` (newlines around each tag).
 * @param options.thinkTag reasoning tag; default `'think'`.
 * @param options.answerTag answer tag or `null`; default `'answer'`.
 * @returns a synchronous reward in [0, 1] (steps of 1/k); 0 for non-string completions.
 * @example
 * tagCountReward()([{prompt: 'p', completion: '<think>ok</think> 4'}]); // [0.5]
 */
export function tagCountReward(options: TagCountRewardOptions = {}): RewardFn {
  const fn = 'tagCountReward';
  assertKnownOptionNames(options, ['mode', 'thinkTag', 'answerTag'], fn);
  const {mode = 'lenient', thinkTag = 'think', answerTag = 'answer'} = options;
  assertOneOfOption(mode, ['lenient', 'strict'], fn, 'mode');
  assertTagName(thinkTag, fn, 'thinkTag');
  if (answerTag !== null) assertTagName(answerTag, fn, 'answerTag');
  const strict = mode === 'strict';
  const tags = [
    strict ? `<${thinkTag}>\n` : `<${thinkTag}>`,
    strict ? `\n</${thinkTag}>\n` : `</${thinkTag}>`,
  ];
  if (answerTag !== null) tags.push(strict ? `\n<${answerTag}>\n` : `<${answerTag}>`, strict ? `\n</${answerTag}>` : `</${answerTag}>`);
  return (samples: readonly Sample[]): number[] => {
    assertSamples(samples, fn);
    return samples.map((s) => {
      const c = completionText(s);
      if (c === null) return 0;
      return tags.reduce((acc, tag) => acc + (countOccurrences(c, tag, 1) === 1 ? 1 : 0), 0) / tags.length;
    });
  };
}
