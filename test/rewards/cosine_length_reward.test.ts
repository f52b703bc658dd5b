import fc from 'fast-check';
import {describe, expect, it} from 'vitest';
import {cosineLengthReward} from '../../src/rewards/cosine_length_reward.js';
import type {Sample} from '../../src/rewards/types.js';
import {fixed} from './reward_fixtures.js';

const ofLength = (...ns: number[]): Sample[] => ns.map((n) => ({prompt: 'p', completion: 'x'.repeat(n)}));

describe('cosineLengthReward', () => {
  it('interpolates with a cosine between the end values (hand-computed)', async () => {
    // T = 100. correct: t=0 -> 1; t=50 -> 0.5 + 0.5*(0.5)*(1+cos(pi/2)) = 0.75; t=100 -> 0.5; t=250 clamped -> 0.5
    // wrong: t=0 -> -1; t=50 -> -0.5 + 0.5*(-0.5)*(1+0) = -0.75; t=100 -> -0.5
    const r = cosineLengthReward({isCorrect: fixed([1, 1, 1, 1, 0, 0, 0]), maxLength: 100});
    const out = await r(ofLength(0, 50, 100, 250, 0, 50, 100));
    [1, 0.75, 0.5, 0.5, -1, -0.75, -0.5].forEach((v, i) => expect(out[i]).toBeCloseTo(v, 12));
  });
  it('shorter correct answers earn more; longer wrong answers are penalized less (property)', () => {
    fc.assert(fc.property(fc.integer({min: 0, max: 300}), fc.integer({min: 0, max: 300}), (a, b) => {
      const [short, long] = [Math.min(a, b), Math.max(a, b)];
      const correct = cosineLengthReward({isCorrect: fixed([1, 1]), maxLength: 200})(ofLength(short, long)) as number[];
      const wrong = cosineLengthReward({isCorrect: fixed([0, 0]), maxLength: 200})(ofLength(short, long)) as number[];
      expect(correct[0]!).toBeGreaterThanOrEqual(correct[1]!);
      expect(wrong[0]!).toBeLessThanOrEqual(wrong[1]!);
      expect(Math.min(...correct)).toBeGreaterThan(Math.max(...wrong)); // correct always beats wrong
    }), {numRuns: 40});
  });
  it('uses custom end values, gives the floor to non-strings, rejects bad configuration', () => {
    const r = cosineLengthReward({isCorrect: fixed([1, 0]), maxLength: 10, correctAtZero: 2, correctAtMax: 1, wrongAtZero: -10, wrongAtMax: 0});
    expect(r(ofLength(10, 0))).toEqual([1, -10]);
    expect(cosineLengthReward({isCorrect: fixed([0])})([{prompt: 'p', completion: undefined as never}])).toEqual([-1]);
    expect(() => cosineLengthReward({maxLength: -1})).toThrow("cosineLengthReward: 'maxLength' expected > 0, got -1");
    expect(() => cosineLengthReward({wrongAtMax: NaN})).toThrow("cosineLengthReward: 'wrongAtMax' expected a finite number, got NaN");
  });
});
