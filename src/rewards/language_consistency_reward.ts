import {assertKnownOptionNames, assertOneOfOption, assertSamples, checkOption, describeValue} from './assert_option.js';
import {completionText} from './completion_text.js';
import {reasoningText} from './reasoning_text.js';
import {assertTagName} from './tag_name.js';
import type {RewardFn, Sample} from './types.js';

/** Options of {@link languageConsistencyReward}. */
export interface LanguageConsistencyRewardOptions {
  /**
   * The target language, as an ISO 639-1 code (`'en'`, `'zh'`, `'ja'`, `'ru'`, `'ar'`, ...; see
   * {@link LANGUAGE_SCRIPTS}), a Unicode script name (`'Latin'`, `'Han'`, `'Cyrillic'`, ...) or a
   * list of script names. Required.
   */
  language: string | readonly string[];
  /** `'reasoning'` (default): judge the `<think>` block; `'completion'`: the whole completion. */
  scope?: 'reasoning' | 'completion';
  /** Name of the reasoning tag. Default `'think'`. */
  thinkTag?: string;
}

/**
 * Unicode scripts of the languages {@link languageConsistencyReward} knows by code. Any other
 * language is given by its script name(s) instead.
 */
export const LANGUAGE_SCRIPTS: Readonly<Record<string, readonly string[]>> = Object.freeze({
  en: ['Latin'], fr: ['Latin'], de: ['Latin'], es: ['Latin'], it: ['Latin'], pt: ['Latin'], nl: ['Latin'],
  pl: ['Latin'], tr: ['Latin'], vi: ['Latin'], id: ['Latin'], sv: ['Latin'], cs: ['Latin'],
  zh: ['Han'], ja: ['Han', 'Hiragana', 'Katakana'], ko: ['Hangul', 'Han'],
  ru: ['Cyrillic'], uk: ['Cyrillic'], bg: ['Cyrillic'], sr: ['Cyrillic'],
  ar: ['Arabic'], fa: ['Arabic'], ur: ['Arabic'], he: ['Hebrew'], el: ['Greek'],
  hi: ['Devanagari'], mr: ['Devanagari'], ne: ['Devanagari'], bn: ['Bengali'], ta: ['Tamil'],
  th: ['Thai'], ka: ['Georgian'], hy: ['Armenian'],
});

/** Template tags such as `<answer>` and LaTeX commands such as `\frac`: markup, not words. */
const MARKUP_TAG = /<\/?[A-Za-z][\w-]*>|\\[A-Za-z]+/g;
/** Scripts written without spaces between words: each character counts as one word. */
const UNSPACED = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}]/u;
const LETTER_OR_MARK = /[\p{L}\p{M}]/u;
const MARK = /\p{M}/u;

/** Character classes of the word scanner. */
const enum CharClass { Separator, Mark, Letter, TargetLetter, Unspaced, TargetUnspaced }

/** Most code points whose class is memoized per reward (a hostile text cannot grow it further). */
const CLASS_CACHE_SIZE = 65536;

function scriptsOf(language: unknown, fn: string): string[] {
  const scripts = typeof language === 'string' ? (LANGUAGE_SCRIPTS[language] ?? [language]) : language;
  checkOption(Array.isArray(scripts) && scripts.length > 0, fn, () =>
    `'language' expected a language code such as 'en', a script name such as 'Latin', or a list of scripts, got ${describeValue(language)}`);
  for (const s of scripts) {
    let ok = typeof s === 'string' && /^[A-Za-z_]+$/.test(s);
    if (ok) {
      try {
        new RegExp(`\\p{Script=${s}}`, 'u');
      } catch {
        ok = false;
      }
    }
    checkOption(ok, fn, () =>
      `'language' expected a known language code (${Object.keys(LANGUAGE_SCRIPTS).join(', ')}) or a Unicode script name, got ${describeValue(s)}`);
  }
  return scripts as string[];
}

/**
 * Language-consistency reward (DeepSeek-R1's fix for language mixing in the chain of thought): the
 * share of the words of the reasoning that are written in the target language's script.
 *
 * r = (words whose letters are all in the target scripts) / (all words). A word is a run of letters
 * (numbers, punctuation, LaTeX commands such as `\frac` and template tags such as `<answer>` are not
 * words); in Han, Hiragana and Katakana, which do not
 * separate words by spaces, each character is a word. Script, not vocabulary, is judged: English
 * and French are not told apart. DeepSeek-AI 2025, arXiv:2501.12948, section 2.3.2.
 *
 * @param options.language target language code, script name or scripts (required).
 * @param options.scope `'reasoning'` (default: the `<think>` block, see below) or `'completion'`.
 * @param options.thinkTag reasoning tag; default `'think'`. Without a closed block the reasoning is
 *   the text after `<think>`, or before `</think>`, or the whole completion.
 * @returns a synchronous reward in [0, 1]; 0 when there are no words or the completion is not a string.
 * @example
 * const english = languageConsistencyReward({language: 'en'});
 * english([{prompt: 'p', completion: '<think>We add 2 and 2, 得到 4</think><answer>4</answer>'}]); // [0.6] (3 of 5 words)
 */
export function languageConsistencyReward(options: LanguageConsistencyRewardOptions): RewardFn {
  const fn = 'languageConsistencyReward';
  checkOption(options !== null && typeof options === 'object', fn, () =>
    `'options' expected an object with 'language', got ${describeValue(options)}`);
  assertKnownOptionNames(options, ['language', 'scope', 'thinkTag'], fn);
  const {language, scope = 'reasoning', thinkTag = 'think'} = options;
  assertOneOfOption(scope, ['reasoning', 'completion'], fn, 'scope');
  assertTagName(thinkTag, fn, 'thinkTag');
  const scripts = scriptsOf(language, fn);
  const target = new RegExp(`^[${scripts.map((s) => `\\p{Script=${s}}`).join('')}]$`, 'u');
  const cache = new Map<number, CharClass>();
  const classify = (cp: number): CharClass => {
    let c = cache.get(cp);
    if (c !== undefined) return c;
    const ch = String.fromCodePoint(cp);
    if (!LETTER_OR_MARK.test(ch)) c = CharClass.Separator;
    else if (MARK.test(ch)) c = CharClass.Mark;
    else if (UNSPACED.test(ch)) c = target.test(ch) ? CharClass.TargetUnspaced : CharClass.Unspaced;
    else c = target.test(ch) ? CharClass.TargetLetter : CharClass.Letter;
    if (cache.size < CLASS_CACHE_SIZE) cache.set(cp, c);
    return c;
  };
  const latinIsTarget = target.test('a');
  /** [words, words in the target scripts] of `text`. */
  const countWords = (text: string): [number, number] => {
    let words = 0;
    let inTarget = 0;
    let inWord = false;
    let wordIsTarget = true;
    for (let i = 0; i < text.length; i++) {
      let cp = text.charCodeAt(i);
      let cls: CharClass;
      if (cp < 128) {
        // ASCII fast path: letters are Latin, everything else separates words.
        const isLetter = (cp >= 65 && cp <= 90) || (cp >= 97 && cp <= 122);
        cls = !isLetter ? CharClass.Separator : latinIsTarget ? CharClass.TargetLetter : CharClass.Letter;
      } else {
        if (cp >= 0xd800 && cp <= 0xdbff && i + 1 < text.length) {
          const lo = text.charCodeAt(i + 1);
          if (lo >= 0xdc00 && lo <= 0xdfff) {
            cp = (cp - 0xd800) * 0x400 + (lo - 0xdc00) + 0x10000;
            i++;
          }
        }
        cls = classify(cp); // a lone surrogate is a separator
      }
      if (cls === CharClass.Mark) continue; // combining marks belong to the letter before them
      if (cls === CharClass.Letter || cls === CharClass.TargetLetter) {
        if (!inWord) {
          inWord = true;
          wordIsTarget = true;
        }
        if (cls === CharClass.Letter) wordIsTarget = false;
        continue;
      }
      if (inWord) {
        words++;
        if (wordIsTarget) inTarget++;
        inWord = false;
      }
      if (cls === CharClass.Unspaced || cls === CharClass.TargetUnspaced) {
        words++;
        if (cls === CharClass.TargetUnspaced) inTarget++;
      }
    }
    if (inWord) {
      words++;
      if (wordIsTarget) inTarget++;
    }
    return [words, inTarget];
  };
  return (samples: readonly Sample[]): number[] => {
    assertSamples(samples, fn);
    return samples.map((s) => {
      const c = completionText(s);
      if (c === null) return 0;
      const text = (scope === 'reasoning' ? reasoningText(c, thinkTag) : c).replace(MARKUP_TAG, ' ');
      const [words, inTarget] = countWords(text);
      return words === 0 ? 0 : inTarget / words;
    });
  };
}
