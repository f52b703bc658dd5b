import {describe, expect, it} from 'vitest';
import {reasoningStepsReward} from '../../src/rewards/reasoning_steps_reward.js';
import type {Sample} from '../../src/rewards/types.js';

const score = (fn: ReturnType<typeof reasoningStepsReward>, ...completions: unknown[]) =>
  fn(completions.map((completion) => ({prompt: 'p', completion} as Sample)));

describe('reasoningStepsReward', () => {
  it('counts step markers up to targetSteps (hand-computed)', () => {
    const steps = reasoningStepsReward();
    const out = score(steps,
        '<think>Step 1: add.\nStep 2: check.</think><answer>4</answer>', // 2/3
        '<think>\n1. read\n2. add\n3. check\n4. answer\n</think>', // 4 -> capped 1
        '<think>First, add. Next, check. Finally, answer.</think>', // 3 transitions -> 1
        '<think>- a\n* b</think>', // 2 bullets -> 2/3
        '<think>2+2=4</think>', // 0
        'Step 1: a\nStep 2: b\nStep 3: c', // no think tags: the whole completion -> 1
        '<think>x</think>Step 1: a\nStep 2: b\nStep 3: c', // steps outside the reasoning do not count -> 0
    ) as number[];
    [2 / 3, 1, 1, 2 / 3, 0, 1, 0].forEach((v, i) => expect(out[i]).toBeCloseTo(v, 12));
    expect(score(reasoningStepsReward({scope: 'completion', targetSteps: 2}), '<think>x</think>\nStep 1: a\nStep 2: b')).toEqual([1]);
  });
  it('is 0 for non-strings and fast on hostile input', () => {
    expect(score(reasoningStepsReward(), null, 1)).toEqual([0, 0]);
    const start = performance.now();
    score(reasoningStepsReward({targetSteps: 1000}), ' '.repeat(1_000_000) + 'x', '.\t'.repeat(300_000), `.${' '.repeat(1_000_000)}`);
    expect(performance.now() - start).toBeLessThan(1500);
  });
  it('rejects bad configuration', () => {
    expect(() => reasoningStepsReward({targetSteps: 0})).toThrow("reasoningStepsReward: 'targetSteps' expected >= 1, got 0");
  });
});
