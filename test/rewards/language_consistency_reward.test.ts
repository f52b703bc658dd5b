import {describe, expect, it} from 'vitest';
import {languageConsistencyReward} from '../../src/rewards/language_consistency_reward.js';
import type {Sample} from '../../src/rewards/types.js';

const score = (fn: ReturnType<typeof languageConsistencyReward>, ...completions: unknown[]) =>
  fn(completions.map((completion) => ({prompt: 'p', completion} as Sample)));

describe('languageConsistencyReward', () => {
  it('is the share of reasoning words in the target script (hand-computed)', () => {
    const en = languageConsistencyReward({language: 'en'});
    expect(score(en,
        '<think>First add the numbers: 2 + 2 = 4.</think><answer>4</answer>', // 4/4 (numbers are not words)
        '<think>We add 2 and 2, 得到 4</think><answer>4</answer>', // We, add, and, 得, 到 -> 3/5
        '<think>Сложим два и два, then check</think><answer>4</answer>', // 4 Cyrillic + 2 Latin -> 2/6
        '<think>Café naïve résumé</think> 4', // combining-free accented Latin -> 3/3
        '<think>x² = 4</think> only the answer is judged: 中文 中文', // x -> 1/1
    )).toEqual([1, 0.6, 2 / 6, 1, 1]);
  });
  it('handles CJK, Cyrillic and Arabic targets', () => {
    expect(score(languageConsistencyReward({language: 'zh'}), '<think>二加二等于四 so</think>4')).toEqual([6 / 7]);
    expect(score(languageConsistencyReward({language: 'ja'}), '<think>にたすにはよん</think>')).toEqual([1]);
    expect(score(languageConsistencyReward({language: 'ru'}), '<think>два плюс два</think>')).toEqual([1]);
    expect(score(languageConsistencyReward({language: 'ar'}), '<think>اثنان زائد two</think>')).toEqual([2 / 3]);
    expect(score(languageConsistencyReward({language: ['Latin', 'Greek']}), '<think>angle θ</think>')).toEqual([1]);
    expect(score(languageConsistencyReward({language: 'Cyrillic'}), '<think>да</think>')).toEqual([1]);
    // LaTeX commands are markup, not English words: 因为 \\frac{1}{2} 等于 \\dfrac{2}{4} -> 4/4
    expect(score(languageConsistencyReward({language: 'zh'}), '<think>因为 \\frac{1}{2} 等于 \\dfrac{2}{4}</think>')).toEqual([1]);
  });
  it('judges the reasoning block (or the whole completion with scope completion)', () => {
    const text = '<think>English reasoning</think><answer>中文</answer>';
    expect(score(languageConsistencyReward({language: 'en'}), text)).toEqual([1]);
    expect(score(languageConsistencyReward({language: 'en', scope: 'completion'}), text)).toEqual([0.5]);
    // Block opened in the prompt (only a closing tag), or truncated (only an opening tag).
    expect(score(languageConsistencyReward({language: 'en'}), 'reasoning here</think>答案', '<think>still thinking 嗯')).toEqual([1, 2 / 3]);
  });
  it('returns 0 with no words, for non-strings and lone surrogates, and is fast on long input', () => {
    const en = languageConsistencyReward({language: 'en'});
    expect(score(en, '', '<think>1 + 1 = 2</think>', null, 5, '\ud800\udfff\ud800')).toEqual([0, 0, 0, 0, 0]);
    const start = performance.now();
    expect(score(en, 'word '.repeat(200_000))).toEqual([1]);
    expect(performance.now() - start).toBeLessThan(1500);
  });
  it('rejects bad configuration', () => {
    expect(() => languageConsistencyReward({language: 'klingon'})).toThrow(
        "languageConsistencyReward: 'language' expected a known language code");
    expect(() => languageConsistencyReward({language: []})).toThrow("languageConsistencyReward: 'language' expected a language code");
    expect(() => languageConsistencyReward(undefined as never)).toThrow(
        "languageConsistencyReward: 'options' expected an object with 'language', got undefined");
    expect(() => languageConsistencyReward({language: 'en', scope: 'all' as never})).toThrow("'scope' expected one of");
  });
});
