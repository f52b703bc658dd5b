import {describe, expect, it} from 'vitest';
import {accuracyReward} from '../../src/rewards/accuracy_reward.js';
import {formatReward} from '../../src/rewards/format_reward.js';
import {gate} from '../../src/rewards/gate.js';
import {additionDemonstration, additionProblems, additionTokenizer} from '../../examples/tasks/addition_task.js';

describe('additionProblems', () => {
  it('writes the column-wise scratchpad with carries', () => {
    expect(additionDemonstration(37, 45)).toBe('<think>7+5=12,3+4+1=8</think><answer>82</answer>');
    expect(additionDemonstration(99, 99)).toBe('<think>9+9=18,9+9+1=19</think><answer>198</answer>');
  });
  it('is deterministic, honours exclude, and its demonstrations score 1 under format-gated accuracy', async () => {
    const a = additionProblems(20, {seed: 4});
    expect(additionProblems(20, {seed: 4})).toEqual(a);
    const exclude = new Set(a.slice(0, 10).map((p) => p.prompt));
    expect(additionProblems(50, {seed: 4, exclude}).some((p) => exclude.has(p.prompt))).toBe(false);
    const scores = await gate(formatReward(), accuracyReward())(a.map((p) => ({prompt: p.prompt, completion: p.demonstration, reference: p.reference})));
    expect(scores).toEqual(new Array(20).fill(1));
    const tok = additionTokenizer();
    expect(tok.vocabSize).toBe(19);
    expect(tok.decode(tok.encode(a[0]!.demonstration))).toBe(a[0]!.demonstration);
  });
  it('throws named errors', () => {
    expect(() => additionProblems(1, {digits: 5})).toThrow(/additionProblems: 'digits' expected <= 4, got 5/);
  });
});
