// Every built-in reward against untrusted model output: no throw, no NaN, within its documented
// range, and linear time on pathological input (a catastrophic-backtracking regex would blow the bound).
import fc from 'fast-check';
import {describe, expect, it} from 'vitest';
import {accuracyReward} from '../../src/rewards/accuracy_reward.js';
import {cosineLengthReward} from '../../src/rewards/cosine_length_reward.js';
import {formatReward} from '../../src/rewards/format_reward.js';
import {languageConsistencyReward} from '../../src/rewards/language_consistency_reward.js';
import {lengthReward} from '../../src/rewards/length_reward.js';
import {overlongPenalty} from '../../src/rewards/overlong_penalty.js';
import {reasoningStepsReward} from '../../src/rewards/reasoning_steps_reward.js';
import {repetitionPenalty} from '../../src/rewards/repetition_penalty.js';
import {tagCountReward} from '../../src/rewards/tag_count_reward.js';
import type {RewardFn, Sample} from '../../src/rewards/types.js';

const MB = 1_000_000;
const HOSTILE: unknown[] = [
  '', ' ', '\n', null, undefined, 0, NaN, {}, [], Symbol.iterator.toString(), true,
  'a'.repeat(MB), '\\boxed{'.repeat(MB / 8), '}'.repeat(MB), '{'.repeat(MB), '<think>'.repeat(MB / 8),
  '</think>'.repeat(MB / 8), '<answer>'.repeat(MB / 8) + '</answer>', '\ud800'.repeat(1000), '\udfff<think>\ud800</think>',
  'Step '.repeat(MB / 5), '1.'.repeat(MB / 2), `.${' '.repeat(MB)}x`, '<' + 'a'.repeat(MB), ' \t'.repeat(MB / 2) + '!',
  '\\frac{'.repeat(MB / 6), `\\boxed{${'('.repeat(MB / 2)}}`, '$'.repeat(MB), '\\text{'.repeat(MB / 6) + '}',
  `<think>${'词'.repeat(MB / 2)}</think><answer>1</answer>`, `<answer>${'. '.repeat(MB / 2)}x</answer>`,
  `<answer>${'\\text{'.repeat(MB / 6)}</answer>`, `<answer>1${' .'.repeat(2000)}x</answer>`, 'x,'.repeat(MB / 2), '1,000,'.repeat(MB / 6),
];

// [name, reward, min, max]
const REWARDS: [string, RewardFn, number, number][] = [
  ['accuracyReward', accuracyReward(), 0, 1],
  ['formatReward', formatReward(), 0, 1],
  ['formatReward strict', formatReward({mode: 'strict'}), 0, 1],
  ['tagCountReward', tagCountReward(), 0, 1],
  ['languageConsistencyReward', languageConsistencyReward({language: 'en'}), 0, 1],
  ['overlongPenalty', overlongPenalty({maxLength: 4096}), -1, 0],
  ['lengthReward', lengthReward({isCorrect: formatReward(), groupSize: 1}), -0.5, 0.5],
  ['cosineLengthReward', cosineLengthReward({isCorrect: accuracyReward()}), -1, 1],
  ['repetitionPenalty', repetitionPenalty(), -1, 0],
  ['reasoningStepsReward', reasoningStepsReward(), 0, 1],
];

const samplesOf = (completions: unknown[]): Sample[] =>
  completions.map((completion) => ({prompt: 'p', completion, reference: '1', groupId: 0} as Sample));

describe('untrusted completions', () => {
  it.each(REWARDS)('%s never throws, never returns NaN, stays in range, runs in linear time', async (_name, fn, lo, hi) => {
    const start = performance.now();
    const out = await fn(samplesOf(HOSTILE));
    const elapsed = performance.now() - start;
    expect(out).toHaveLength(HOSTILE.length);
    for (const v of out) {
      expect(Number.isFinite(v)).toBe(true);
      expect(v).toBeGreaterThanOrEqual(lo);
      expect(v).toBeLessThanOrEqual(hi);
    }
    // ~16 MB of hostile text: linear scanning takes well under a second; backtracking would not finish.
    expect(elapsed).toBeLessThan(4000);
  });
  it.each(REWARDS)('%s stays finite and in range on arbitrary strings (property)', async (_name, fn, lo, hi) => {
    await fc.assert(fc.asyncProperty(fc.array(fc.oneof(fc.string(), fc.string({unit: 'grapheme'}), fc.string({unit: 'binary'}),
        fc.constantFrom('<think>', '</think>', '<answer>', '</answer>', '\\boxed{', '}', '\n')), {maxLength: 12}), async (parts) => {
      const out = await fn(samplesOf([parts.join(''), parts.join('\n')]));
      for (const v of out) {
        expect(Number.isFinite(v)).toBe(true);
        expect(v).toBeGreaterThanOrEqual(lo);
        expect(v).toBeLessThanOrEqual(hi);
      }
    }), {numRuns: 25});
  });
});
