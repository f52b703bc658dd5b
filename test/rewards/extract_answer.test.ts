import {describe, expect, it} from 'vitest';
import {extractAnswer} from '../../src/rewards/extract_answer.js';

describe('extractAnswer', () => {
  it('takes the last \\boxed{} with nested braces', () => {
    expect(extractAnswer('first \\boxed{1} then \\boxed{\\frac{a}{b^{2}}} done')).toBe('\\frac{a}{b^{2}}');
    expect(extractAnswer('\\boxed{\\{1,2\\}}')).toBe('\\{1,2\\}'); // escaped braces do not count
    expect(extractAnswer('\\fbox{7}')).toBe('7');
    expect(extractAnswer('so $\\boxed 5$.')).toBe('5');
    expect(extractAnswer('\\boxed {  12 }')).toBe('12');
  });
  it('returns null for an unbalanced (truncated) last box rather than an earlier box', () => {
    expect(extractAnswer('\\boxed{3} ... finally \\boxed{\\frac{1}{2}')).toBeNull();
    expect(extractAnswer('\\boxed{')).toBeNull();
    expect(extractAnswer('\\boxedx')).toBeNull();
  });
  it('prefers the last answer tag and a box inside it', () => {
    const c = '<think>maybe \\boxed{3}</think><answer>The answer is \\boxed{4}.</answer>';
    expect(extractAnswer(c)).toBe('4');
    expect(extractAnswer('<answer>1</answer> <answer> 2 </answer>')).toBe('2');
    expect(extractAnswer('<think>\\boxed{3}</think><answer>5</answer>')).toBe('5');
    expect(extractAnswer(c, {source: 'answer-tag'})).toBe('The answer is \\boxed{4}.');
    expect(extractAnswer('<think>\\boxed{3}</think><answer>5</answer>', {source: 'boxed'})).toBe('3');
    expect(extractAnswer('<final>9</final>', {answerTag: 'final'})).toBe('9');
  });
  it('does not fall back to the last number in the text', () => {
    expect(extractAnswer('The answer is 42.')).toBeNull();
    expect(extractAnswer('<answer>   </answer>')).toBeNull();
    expect(extractAnswer('<answer>42')).toBeNull(); // unclosed tag: truncated
    expect(extractAnswer('')).toBeNull();
    expect(extractAnswer(42 as unknown as string)).toBeNull();
  });
  it('is linear on megabyte-long hostile input', () => {
    const start = performance.now();
    expect(extractAnswer('\\boxed{'.repeat(200_000))).toBeNull();
    expect(extractAnswer('{'.repeat(1_000_000) + '\\boxed{1}')).toBe('1');
    expect(extractAnswer('<answer>'.repeat(100_000) + '</answer>')).toBeNull();
    expect(performance.now() - start).toBeLessThan(1000);
  });
  it('rejects bad options', () => {
    expect(() => extractAnswer('x', {source: 'last-number' as never})).toThrow(
        "extractAnswer: 'source' expected one of 'auto', 'boxed', 'answer-tag', got \"last-number\"");
    expect(() => extractAnswer('x', {answerTag: '<answer>'})).toThrow("extractAnswer: 'answerTag' expected a tag name");
    expect(() => extractAnswer('x', {tag: 'a'} as never)).toThrow("extractAnswer: unknown option 'tag'");
  });
});
