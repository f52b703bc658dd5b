import {describe, expect, it} from 'vitest';
import {accuracyReward} from '../../src/rewards/accuracy_reward.js';
import {formatReward} from '../../src/rewards/format_reward.js';
import {gate} from '../../src/rewards/gate.js';
import {additionTokenizer} from '../../examples/tasks/addition_task.js';
import {sortingProblems} from '../../examples/tasks/sorting_task.js';

describe('sortingProblems', () => {
  it('sorts the digits, lists them in the scratchpad, and its demonstrations score 1', async () => {
    const ps = sortingProblems(30, {seed: 2, length: 5});
    expect(sortingProblems(30, {seed: 2, length: 5})).toEqual(ps);
    for (const p of ps) {
      expect(p.prompt).toMatch(/^\d{5}$/);
      expect(p.reference).toBe(p.prompt.split('').sort().join(''));
      expect(p.demonstration).toBe(`<think>${p.reference.split('').join(',')}</think><answer>${p.reference}</answer>`);
    }
    const samples = ps.map((p) => ({prompt: p.prompt, completion: p.demonstration, reference: p.reference}));
    expect(await gate(formatReward(), accuracyReward())(samples)).toEqual(new Array(30).fill(1));
    // A wrong order scores 0.
    const wrong = [{prompt: '21', completion: '<think>2,1</think><answer>21</answer>', reference: '12'}];
    expect(await gate(formatReward(), accuracyReward())(wrong)).toEqual([0]);
    const tok = additionTokenizer();
    expect(tok.encode(ps[0]!.demonstration)).toHaveLength(18);
  });
  it('honours exclude and throws named errors', () => {
    const exclude = new Set(sortingProblems(20, {seed: 1, length: 2}).map((p) => p.prompt));
    expect(sortingProblems(50, {seed: 1, length: 2, exclude}).some((p) => exclude.has(p.prompt))).toBe(false);
    expect(() => sortingProblems(1, {length: 1})).toThrow(/sortingProblems: 'length' expected >= 2, got 1/);
  });
});
