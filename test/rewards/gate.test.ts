import fc from 'fast-check';
import {describe, expect, it} from 'vitest';
import {gate} from '../../src/rewards/gate.js';
import {named} from '../../src/rewards/named.js';
import {batch, fixed, fixedAsync, rewardValue, valueArrays} from './reward_fixtures.js';

describe('gate', () => {
  it('passes the value where the condition holds, else the floor (hand-computed)', () => {
    // conditions [1, 0, 0.5]; threshold 1 -> only sample 0 passes
    expect(gate(fixed([1, 0, 0.5]), fixed([7, 7, 7]))(batch(3))).toEqual([7, 0, 0]);
    expect(gate(fixed([1, 0, 0.5]), fixed([7, 7, 7]), {threshold: 0.5, floor: -1})(batch(3))).toEqual([7, -1, 7]);
  });
  it('gives exactly the floor wherever the condition fails (property)', async () => {
    await fc.assert(fc.asyncProperty(valueArrays, rewardValue, rewardValue, async ([cond, vals], threshold, floor) => {
      const out = await gate(fixedAsync(cond), fixed(vals), {threshold, floor})(batch(cond.length));
      out.forEach((v, i) => expect(v).toBe((cond[i]! >= threshold ? vals[i]! : floor) + 0)); // -0 is reported as +0
    }), {numRuns: 40});
  });
  it('reports the named components ungated', async () => {
    const r = gate(named('format', fixed([0, 1])), named('accuracy', fixed([1, 1])));
    expect(await r.breakdown(batch(2))).toEqual({values: [0, 1], components: {format: [0, 1], accuracy: [1, 1]}, counters: {}});
  });
  it('rejects bad configuration', () => {
    expect(() => gate(fixed([1]), fixed([1]), {threshold: Infinity})).toThrow("gate: 'threshold' expected a finite number");
    expect(() => gate(fixed([1]), fixed([1]), {flor: 0} as never)).toThrow("gate: unknown option 'flor'");
    expect(() => gate(undefined as never, fixed([1]))).toThrow("gate: 'reward 0' expected a function, got undefined");
  });
});
