import {describe, expect, it} from 'vitest';
import {formatReward} from '../../src/rewards/format_reward.js';
import type {Sample} from '../../src/rewards/types.js';

const score = (fn: ReturnType<typeof formatReward>, ...completions: unknown[]) =>
  fn(completions.map((completion) => ({prompt: 'p', completion} as Sample)));

describe('formatReward', () => {
  const R1_STRICT = '<think>\nLet me add 2 and 2.\n2 + 2 = 4\n</think>\n<answer>\n4\n</answer>';
  it('lenient (default) accepts the template with any whitespace', () => {
    expect(score(formatReward(),
        R1_STRICT,
        '<think>2+2=4</think><answer>4</answer>', // the demo's format
        '  <think>2+2=4</think>\n\n<answer> 4 </answer>\n',
        R1_STRICT + '\n',
    )).toEqual([1, 1, 1, 1]);
  });
  it('lenient rejects broken templates', () => {
    expect(score(formatReward(),
        '<answer>4</answer>', // no reasoning
        '<think>2+2=4</think>', // no answer
        'Sure! <think>2+2=4</think><answer>4</answer>', // text before
        '<think>2+2=4</think><answer>4</answer> Hope this helps', // text after
        '<think></think><answer>4</answer>', // empty reasoning
        '<think>x</think><answer>  </answer>', // empty answer
        '<think>a<think>b</think><answer>4</answer>', // tag twice
        '<answer>4</answer><think>2+2=4</think>', // wrong order
        '<think>2+2=4<answer>4</answer></think>', // nested
        '<think>2+2=4</think><answer>4', // truncated
        '', '   ',
    )).toEqual(new Array(12).fill(0));
  });
  it('strict mode requires open-r1\'s exact newlines', () => {
    const strict = formatReward({mode: 'strict'});
    expect(score(strict, R1_STRICT, R1_STRICT + '\n', '<think>\nmulti\nline\n</think>\n<answer>\n4\n</answer>')).toEqual([1, 1, 1]);
    expect(score(strict,
        '<think>2+2=4</think><answer>4</answer>',
        '<think>\n2+2=4\n</think><answer>\n4\n</answer>',
        ' ' + R1_STRICT,
        R1_STRICT + '\n\n',
        '<think>\n2+2=4\n</think>\n\n<answer>\n4\n</answer>',
    )).toEqual([0, 0, 0, 0, 0]);
  });
  it('supports a free-text answer (R1 template) and custom tags', () => {
    const free = formatReward({answerTag: null});
    expect(score(free, '<think>2+2=4</think>\nThe answer is 4.', '<think>2+2=4</think>', '<think>a</think> <think>b</think> 4'))
        .toEqual([1, 0, 0]);
    expect(score(formatReward({thinkTag: 'reasoning', answerTag: 'final'}), '<reasoning>r</reasoning><final>4</final>'))
        .toEqual([1]);
  });
  it('returns 0 on non-string and hostile completions, quickly', () => {
    const start = performance.now();
    expect(score(formatReward(), null, 7, undefined, {}, '<think>'.repeat(200_000), `<think>${'a'.repeat(2_000_000)}</think><answer>4</answer>`,
        '\ud800<think>x</think><answer>4</answer>')).toEqual([0, 0, 0, 0, 0, 1, 0]);
    expect(performance.now() - start).toBeLessThan(1000);
  });
  it('rejects bad configuration', () => {
    expect(() => formatReward({mode: 'loose' as never})).toThrow("formatReward: 'mode' expected one of 'lenient', 'strict', got \"loose\"");
    expect(() => formatReward({thinkTag: '<think>'})).toThrow("formatReward: 'thinkTag' expected a tag name");
    expect(() => formatReward({strict: true} as never)).toThrow("formatReward: unknown option 'strict'");
  });
});
