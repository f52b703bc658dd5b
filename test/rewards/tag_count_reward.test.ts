import {describe, expect, it} from 'vitest';
import {tagCountReward} from '../../src/rewards/tag_count_reward.js';
import type {Sample} from '../../src/rewards/types.js';

const score = (fn: ReturnType<typeof tagCountReward>, ...completions: unknown[]) =>
  fn(completions.map((completion) => ({prompt: 'p', completion} as Sample)));

describe('tagCountReward', () => {
  it('gives 1/4 per tag appearing exactly once (hand-computed)', () => {
    expect(score(tagCountReward(),
        '<think>a</think><answer>4</answer>', // 4 tags
        '<think>a</think> 4', // 2 tags -> 0.5
        '<think>a<think>b</think><answer>4</answer>', // <think> twice -> 0.75
        'no tags', '',
    )).toEqual([1, 0.5, 0.75, 0, 0]);
  });
  it('strict mode requires the newlines around each tag', () => {
    // second: '...\n</think><answer>\n...': '<think>\n' yes; '\n</think>\n' no; '\n<answer>\n' no; '\n</answer>' yes -> 0.5
    expect(score(tagCountReward({mode: 'strict'}), '<think>\na\n</think>\n<answer>\n4\n</answer>', '<think>\na\n</think>\n<answer>\n4\n</answer>'.replace('\n<answer>', '<answer>')))
        .toEqual([1, 0.5]);
  });
  it('counts only the reasoning tags without an answer tag; 0 on non-strings', () => {
    expect(score(tagCountReward({answerTag: null}), '<think>a</think> 4', '</think>', null, 3)).toEqual([1, 0.5, 0, 0]);
  });
  it('rejects bad configuration', () => {
    expect(() => tagCountReward({thinkTag: ''})).toThrow("tagCountReward: 'thinkTag' expected a tag name");
  });
});
