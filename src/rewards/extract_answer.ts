import {assertKnownOptionNames, assertOneOfOption, checkOption, describeValue} from './assert_option.js';

/** Where {@link extractAnswer} looks for the final answer. */
export type AnswerSource = 'auto' | 'boxed' | 'answer-tag';

/** Options of {@link extractAnswer}. */
export interface ExtractAnswerOptions {
  /**
   * `'boxed'`: the last `\boxed{...}` (or `\fbox{...}`); `'answer-tag'`: the content of the last
   * `<answer>...</answer>`; `'auto'` (default): the last answer tag, preferring a `\boxed{}` inside
   * it, else the last `\boxed{}` anywhere.
   */
  source?: AnswerSource;
  /** Name of the answer tag, without brackets. Default `'answer'`. */
  answerTag?: string;
}

const BOX_COMMANDS = ['\\boxed', '\\fbox'];

/**
 * The content of the last `\boxed{...}` / `\fbox{...}` in `text`, with nested braces (escaped
 * `\{`/`\}` do not count); `null` if there is none or the last one is unbalanced (truncated output:
 * an earlier box is an intermediate result, not the final answer). `\boxed 5` (no braces) gives `5`.
 */
function lastBoxed(text: string): string | null {
  let start = -1;
  let cmdLen = 0;
  for (const cmd of BOX_COMMANDS) {
    const at = text.lastIndexOf(cmd);
    if (at > start) { start = at; cmdLen = cmd.length; }
  }
  if (start < 0) return null;
  let i = start + cmdLen;
  while (i < text.length && (text[i] === ' ' || text[i] === '\t')) i++;
  if (text[i] !== '{') {
    // `\boxed 5`: one token up to whitespace or `$`; `\boxedx` (another command) is no box.
    if (i === start + cmdLen) return null;
    let j = i;
    while (j < text.length && !/[\s$]/.test(text[j]!)) j++;
    return j > i ? text.slice(i, j) : null;
  }
  let depth = 0;
  for (let j = i; j < text.length; j++) {
    const c = text[j];
    if (c === '\\') { j++; continue; }
    if (c === '{') depth++;
    else if (c === '}' && --depth === 0) return text.slice(i + 1, j);
  }
  return null;
}

/** The content of the last closed `<tag>...</tag>` in `text`, or `null`. */
function lastTagContent(text: string, tag: string): string | null {
  const close = text.lastIndexOf(`</${tag}>`);
  if (close < 0) return null;
  const open = text.lastIndexOf(`<${tag}>`, close);
  if (open < 0) return null;
  return text.slice(open + tag.length + 2, close);
}

/**
 * Extracts the final answer of a completion: the last `\boxed{...}` (nested braces allowed) and/or
 * the last `<answer>...</answer>`. Linear time, no regular expression on the completion, so
 * megabyte-long or hostile outputs are safe.
 *
 * There is deliberately no fallback to "the last number in the text": it would reward truncated and
 * unboxed answers, which RL then learns to exploit. Pass a custom extractor to `accuracyReward`
 * (`extractAnswer` option) for another convention.
 *
 * @param completion model output (a non-string gives `null`).
 * @param options.source `'auto'` (default), `'boxed'` or `'answer-tag'`.
 * @param options.answerTag answer tag name; default `'answer'`.
 * @returns the trimmed answer text, or `null` when there is none (or it is empty).
 * @example
 * extractAnswer('<think>...</think><answer>The answer is \\boxed{\\frac{1}{2}}</answer>'); // '\\frac{1}{2}'
 * extractAnswer('so \\boxed{x^{2}} and'); // 'x^{2}'
 * extractAnswer('the answer is 42'); // null
 */
export function extractAnswer(completion: string, options: ExtractAnswerOptions = {}): string | null {
  assertKnownOptionNames(options, ['source', 'answerTag'], 'extractAnswer');
  const {source = 'auto', answerTag = 'answer'} = options;
  assertOneOfOption(source, ['auto', 'boxed', 'answer-tag'], 'extractAnswer', 'source');
  checkOption(typeof answerTag === 'string' && /^[A-Za-z][\w-]*$/.test(answerTag), 'extractAnswer', () =>
    `'answerTag' expected a tag name such as 'answer', got ${describeValue(answerTag)}`);
  if (typeof completion !== 'string') return null;
  let answer: string | null;
  if (source === 'boxed') answer = lastBoxed(completion);
  else if (source === 'answer-tag') answer = lastTagContent(completion, answerTag);
  else {
    const tagged = lastTagContent(completion, answerTag);
    answer = tagged === null ? lastBoxed(completion) : (lastBoxed(tagged) ?? tagged);
  }
  if (answer === null) return null;
  answer = answer.trim();
  return answer.length > 0 ? answer : null;
}
