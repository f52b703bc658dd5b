import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import fc from 'fast-check';
import {describe, expect, it} from 'vitest';
import {rlooAdvantages} from '../../src/math/rloo_advantages.js';
import reference from '../fixtures/advantages_reference.json';
import {tensorCentralDifferences} from '../helpers/central_differences.js';
import {expectGradientClose} from '../helpers/expect_gradient_close.js';

function run(rewards: number[], options: Parameters<typeof rlooAdvantages>[1]): number[] {
  const r = tf.tensor1d(rewards);
  const a = rlooAdvantages(r, options);
  const out = Array.from(a.dataSync());
  tf.dispose([r, a]);
  return out;
}

function expectClose(got: number[], want: number[], atol = 1e-5, rtol = 1e-5): void {
  expect(got.length).toBe(want.length);
  got.forEach((g, i) => {
    const w = want[i]!;
    if (Math.abs(g - w) > atol + rtol * Math.abs(w)) throw new Error(`index ${i}: got ${g}, want ${w} (${JSON.stringify(got)})`);
  });
}

const reward = fc.oneof(
    fc.integer({min: -8, max: 8}).map((v) => v / 4),
    fc.double({min: -10, max: 10, noNaN: true, noDefaultInfinity: true}).map(Math.fround));
const batchArb = fc.record({groupSize: fc.integer({min: 2, max: 6}), numGroups: fc.integer({min: 1, max: 4})})
    .chain(({groupSize, numGroups}) => fc.record({
      groupSize: fc.constant(groupSize),
      rewards: fc.array(reward, {minLength: groupSize * numGroups, maxLength: groupSize * numGroups}),
    }));

describe('rlooAdvantages', () => {
  it('hand-computed values', () => {
    // [1,0,0,0], n=4: A_0 = 1 - (0+0+0)/3 = 1; A_1 = 0 - (1+0+0)/3 = -1/3 (same for A_2, A_3).
    expectClose(run([1, 0, 0, 0], {groupSize: 4}), [1, -1 / 3, -1 / 3, -1 / 3]);
    // [2,5 | 1,1]: A = 2-5 = -3, 5-2 = 3; the equal group gives exactly 0.
    expect(run([2, 5, 1, 1], {groupSize: 2})).toEqual([-3, 3, 0, 0]);
    // groupIds [4,4,8,4,8,6]: group 4 = rows 0,1,3 = {3, 0, 6}: A = 3 - (0+6)/2 = 0,
    // 0 - (3+6)/2 = -4.5, 6 - (3+0)/2 = 4.5; group 8 = rows 2,4 = {1, 2}: -1, 1;
    // group 6 = row 5 = {10} is a singleton -> 0 (verl would keep 10).
    expectClose(run([3, 0, 1, 6, 2, 10], {groupIds: [4, 4, 8, 4, 8, 6]}), [0, -4.5, -1, 4.5, 1, 0]);
  });

  it('matches the RLOO reference (test/fixtures), except singletons which we set to 0', () => {
    for (const c of reference.cases) {
      const ids = 'groupIds' in c && c.groupIds ? c.groupIds : c.rewards.map((_, i) => Math.floor(i / c.groupSize!));
      const ours = run(c.rewards, 'groupIds' in c && c.groupIds ? {groupIds: c.groupIds} : {groupSize: c.groupSize!});
      const counts = new Map<number, number>();
      for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
      ids.forEach((id, i) => {
        if (counts.get(id) === 1) expect(ours[i]).toBe(0);
        else expect(Math.abs(ours[i]! - c.rloo[i]!)).toBeLessThan(2e-6 + 2e-5 * Math.abs(c.rloo[i]!));
      });
    }
  });

  it('property: sums to zero per group and equals n/(n-1) times the group-centred reward', () => {
    fc.assert(fc.property(batchArb, ({groupSize, rewards}) => {
      const a = run(rewards, {groupSize});
      for (let g = 0; g < rewards.length / groupSize; g++) {
        const rs = rewards.slice(g * groupSize, (g + 1) * groupSize);
        const as = a.slice(g * groupSize, (g + 1) * groupSize);
        const mag = Math.max(1, ...rs.map(Math.abs));
        expect(Math.abs(as.reduce((s, v) => s + v, 0))).toBeLessThan(1e-5 * groupSize * mag);
        // Leave-one-out in float64 directly from the definition.
        const sum = rs.reduce((s, v) => s + v, 0);
        expectClose(as, rs.map((r) => r - (sum - r) / (groupSize - 1)), 1e-5 * mag, 1e-5);
      }
    }), {numRuns: 40});
  });

  it('property: groupIds on shuffled rows agree with contiguous groupSize', () => {
    fc.assert(fc.property(batchArb, fc.infiniteStream(fc.double({min: 0, max: 1, noNaN: true})), ({groupSize, rewards}, randoms) => {
      const perm = rewards.map((_, i) => i);
      for (let i = perm.length - 1; i > 0; i--) {
        const j = Math.floor(randoms.next().value * (i + 1)) % (i + 1);
        [perm[i], perm[j]] = [perm[j]!, perm[i]!];
      }
      const contiguous = run(rewards, {groupSize});
      const viaIds = run(perm.map((p) => rewards[p]!), {groupIds: perm.map((p) => 100 + Math.floor(p / groupSize))});
      expectClose(viaIds, perm.map((p) => contiguous[p]!));
    }), {numRuns: 30});
  });

  it('gradient w.r.t. rewards matches central finite differences', () => {
    const values = [0.3, -1.2, 2.5, 0.9, 1.7, -0.4];
    const w = tf.tensor1d([0.7, -1.1, 0.4, 2.0, -0.5, 1.3]);
    const f = (r: tf.Tensor): tf.Scalar => tf.sum(tf.mul(rlooAdvantages(r as tf.Tensor1D, {groupSize: 3}), w));
    const analytic = Array.from(tf.grad(f)(tf.tensor1d(values)).dataSync());
    expectGradientClose(analytic, tensorCentralDifferences(f, values, [6], 1e-3), {rtol: 1e-2, atol: 2e-3});
    w.dispose();
  });

  it('does not leak and does not dispose its inputs', () => {
    const r = tf.tensor1d([1, 0, 0.5, 0.5]);
    const before = tf.memory().numTensors;
    const a = rlooAdvantages(r, {groupSize: 2});
    const b = rlooAdvantages(r, {groupIds: [1, 2, 1, 2]});
    expect(tf.memory().numTensors).toBe(before + 2);
    expect(Array.from(r.dataSync())).toEqual([1, 0, 0.5, 0.5]);
    tf.dispose([a, b, r]);
  });

  it('rejects bad input with messages naming the argument and shapes', () => {
    const r = tf.tensor1d([1, 0, 0]);
    expect(() => rlooAdvantages(r, {groupSize: 2}))
        .toThrow("rlooAdvantages: 'groupSize' expected a divisor of the batch size 3 ('rewards' has shape [3]), got 2");
    expect(() => rlooAdvantages(r, {groupIds: [0, 0]}))
        .toThrow("rlooAdvantages: 'groupIds' expected length [batch]=[3] (the shape of 'rewards' [3]), got length 2");
    expect(() => rlooAdvantages(r, {})).toThrow("rlooAdvantages: expected exactly one of 'groupSize' or 'groupIds', got neither");
    const m = tf.zeros([3, 1]);
    expect(() => rlooAdvantages(m as tf.Tensor1D, {groupSize: 3}))
        .toThrow("rlooAdvantages: 'rewards' expected shape [batch] (rank 1), got [3,1]");
    const inf = tf.tensor1d([1, Infinity]);
    expect(() => rlooAdvantages(inf, {groupSize: 2})).toThrow("rlooAdvantages: 'rewards' expected finite values, got Infinity at flat index 1");
    expect(() => rlooAdvantages(r, {groupSize: 3, scale: 'group'} as never)).toThrow("rlooAdvantages: unknown option 'scale'");
    tf.dispose([r, m, inf]);
  });
});
