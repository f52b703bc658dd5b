import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import fc from 'fast-check';
import {describe, expect, it} from 'vitest';
import {groupAdvantages} from '../../src/math/group_advantages.js';
import reference from '../fixtures/advantages_reference.json';
import {tensorCentralDifferences} from '../helpers/central_differences.js';
import {expectGradientClose} from '../helpers/expect_gradient_close.js';

const FN = groupAdvantages;

function run(rewards: number[], options: Parameters<typeof FN>[1]): number[] {
  const r = tf.tensor1d(rewards);
  const a = FN(r, options);
  const out = Array.from(a.dataSync());
  r.dispose();
  a.dispose();
  return out;
}

function expectClose(got: number[], want: number[], atol = 1e-5, rtol = 1e-5): void {
  expect(got.length).toBe(want.length);
  got.forEach((g, i) => {
    const w = want[i]!;
    if (Math.abs(g - w) > atol + rtol * Math.abs(w)) {
      throw new Error(`index ${i}: got ${g}, want ${w} (all: ${JSON.stringify(got)})`);
    }
  });
}

/** Rewards with frequent ties (quarters) and general floats. */
const reward = fc.oneof(
    fc.integer({min: -8, max: 8}).map((v) => v / 4),
    // Magnitudes below 1e-6 are flushed to 0: their squared deviations underflow float32, so the
    // group std (and a scale-invariance check) is not defined at the precision the op computes in.
    fc.double({min: -10, max: 10, noNaN: true, noDefaultInfinity: true}).map((v) => (Math.abs(Math.fround(v)) < 1e-6 ? 0 : Math.fround(v))));

/** {groupSize, rewards} with 1..4 groups of 2..6. */
const batchArb = fc.record({groupSize: fc.integer({min: 2, max: 6}), numGroups: fc.integer({min: 1, max: 4})})
    .chain(({groupSize, numGroups}) => fc.record({
      groupSize: fc.constant(groupSize),
      rewards: fc.array(reward, {minLength: groupSize * numGroups, maxLength: groupSize * numGroups}),
    }));

const scales = ['group', 'batch', 'none'] as const;

describe('groupAdvantages', () => {
  it('hand-computed values', () => {
    // [1,0 | 0,1], G=2: each group mean 0.5, unbiased std sqrt(((0.5)^2 + (0.5)^2) / 1) = 0.707107;
    // A = +-0.5 / (0.707107 + 1e-4) = +-0.707007.
    expectClose(run([1, 0, 0, 1], {groupSize: 2}), [0.707007, -0.707007, -0.707007, 0.707007]);
    // G=4 over the same rewards: mean 0.5, sum of squares 4 * 0.25 = 1, var 1/3, std 0.577350;
    // A = +-0.5 / 0.577450 = +-0.865876.
    expectClose(run([1, 0, 0, 1], {groupSize: 4}), [0.865876, -0.865876, -0.865876, 0.865876]);
    // biased std: var 1/4, std 0.5 -> 0.5 / 0.5001 = 0.99980.
    expectClose(run([1, 0, 0, 1], {groupSize: 4, std: 'biased'}), [0.9998, -0.9998, -0.9998, 0.9998]);
    // verl epsilon 1e-6: 0.5 / (0.577350 + 1e-6) = 0.866024.
    expectClose(run([1, 0, 0, 1], {groupSize: 4, epsilon: 1e-6}), [0.866024, -0.866024, -0.866024, 0.866024]);
    // scale 'batch', [1,0 | 3,3]: centred [0.5,-0.5,0,0]; batch mean 1.75, deviations
    // [-0.75,-1.75,1.25,1.25], squares 0.5625+3.0625+1.5625+1.5625 = 6.75, unbiased var 6.75/3 = 2.25,
    // std 1.5; A = [0.5, -0.5, 0, 0] / 1.5001 = [0.333311, -0.333311, 0, 0].
    expectClose(run([1, 0, 3, 3], {groupSize: 2, scale: 'batch'}), [0.333311, -0.333311, 0, 0]);
    // scale 'none' (Dr. GRPO): just r - group mean.
    expectClose(run([1, 0, 3, 5], {groupSize: 2, scale: 'none'}), [0.5, -0.5, -1, 1]);
    // groupIds [7,9,7,9,9]: group 7 = {2, 4} mean 3, std sqrt(2) = 1.414214 -> -+1/1.414314 = -+0.707057;
    // group 9 = {0, 1, 8} mean 3, dev [-3,-2,5], ss 38, var 19, std 4.358899 -> dev / 4.358999.
    expectClose(run([2, 0, 4, 1, 8], {groupIds: [7, 9, 7, 9, 9]}),
        [-0.707057, -3 / 4.358999, 0.707057, -2 / 4.358999, 5 / 4.358999]);
  });

  it('gives exact zeros for groups of equal rewards, for every scale', () => {
    // 0.1 is not representable: a computed mean could differ from it by one ulp.
    for (const scale of scales) {
      const out = run([0.1, 0.1, 0.1, 1 / 3, 1 / 3, 1 / 3, 0, 1, 0], {groupSize: 3, scale});
      expect(out.slice(0, 6).every((v) => v === 0)).toBe(true);
      expect(out[7]).not.toBe(0);
    }
  });

  it('gives 0 to a singleton group (verl would give the raw reward)', () => {
    const out = run([1, 0, 5, 0.5], {groupIds: [0, 0, 1, 2]});
    expect(out[2]).toBe(0);
    expect(out[3]).toBe(0);
    expectClose(out.slice(0, 2), [0.707007, -0.707007]);
  });

  it('matches the TRL and verl reference implementations (test/fixtures)', () => {
    for (const c of reference.cases) {
      const opts = 'groupSize' in c && c.groupSize !== undefined ? {groupSize: c.groupSize} : {groupIds: c.groupIds!};
      if ('trl' in c && c.trl) {
        for (const scale of scales) expectClose(run(c.rewards, {...opts, scale}), c.trl[scale], 2e-6, 2e-5);
      }
      const ours = run(c.rewards, {...opts, epsilon: 1e-6});
      const oursNone = run(c.rewards, {...opts, scale: 'none'});
      const sizes = new Map<number, number>();
      const ids = 'groupIds' in c && c.groupIds ? c.groupIds : c.rewards.map((_, i) => Math.floor(i / c.groupSize!));
      for (const id of ids) sizes.set(id, (sizes.get(id) ?? 0) + 1);
      const single = ids.map((id) => sizes.get(id) === 1);
      // verl gives a singleton the raw reward; we deliberately give 0 (documented difference).
      expectClose(ours.filter((_, i) => !single[i]), c.verl.normByStd.filter((_, i) => !single[i]), 2e-6, 2e-5);
      expectClose(oursNone.filter((_, i) => !single[i]), c.verl.noNorm.filter((_, i) => !single[i]), 2e-6, 2e-5);
      ours.forEach((v, i) => { if (single[i]) expect(v).toBe(0); });
    }
    expect(reference.cases.some((c) => 'groupIds' in c)).toBe(true);
  });

  it('property: zero mean per group, for every scale', () => {
    fc.assert(fc.property(batchArb, fc.constantFrom(...scales), ({groupSize, rewards}, scale) => {
      const a = run(rewards, {groupSize, scale});
      for (let g = 0; g < rewards.length / groupSize; g++) {
        const slice = a.slice(g * groupSize, (g + 1) * groupSize);
        const scaleOf = Math.max(1, ...slice.map(Math.abs));
        expect(Math.abs(slice.reduce((s, v) => s + v, 0))).toBeLessThan(1e-5 * groupSize * scaleOf);
      }
    }), {numRuns: 40});
  });

  it('property: invariant to adding a constant to a group (group/none) or to the batch (batch)', () => {
    fc.assert(fc.property(batchArb, fc.constantFrom(...scales), fc.integer({min: -40, max: 40}),
        ({groupSize, rewards}, scale, c) => {
          // Shifts by multiples of 1/4 keep quarter-valued rewards exact; a tolerance covers the rest.
          const shift = c / 4;
          const shifted = rewards.map((r, i) =>
            Math.fround(r + (scale === 'batch' || Math.floor(i / groupSize) === 0 ? shift : 0)));
          const base = run(rewards, {groupSize, scale});
          const moved = run(shifted, {groupSize, scale});
          // Rounding of r + shift perturbs each reward by up to half an ulp of |r + shift| <= 20
          // (2^-20): A = d / (std + eps) moves by about 2^-19 (1 + |A|) / (std + eps), large where a
          // group's spread is near that ulp (rewards [-1e-6, 0, 0, 0] shifted by -4 failed 2e-3).
          const std = (xs: number[]) => {
            const m = xs.reduce((a, b) => a + b, 0) / xs.length;
            return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / Math.max(1, xs.length - 1));
          };
          const denom = (i: number) => (scale === 'none' ? 1 : 1e-4 + std(scale === 'batch' ? rewards
            : rewards.slice(Math.floor(i / groupSize) * groupSize, (Math.floor(i / groupSize) + 1) * groupSize)));
          moved.forEach((g, i) => {
            const w = base[i]!;
            const bound = 2e-3 + 1e-3 * Math.abs(w) + 8 * 2 ** -19 * (1 + Math.abs(w)) / denom(i);
            if (Math.abs(g - w) > bound) throw new Error(`index ${i}: got ${g}, want ${w} (bound ${bound})`);
          });
        }), {numRuns: 40, examples: [[{groupSize: 4, rewards: [-9.999999974752427e-7, 0, 0, 0]}, 'group', -16]]});
  });

  it('property: scale group is invariant to multiplying the rewards by a positive constant', () => {
    fc.assert(fc.property(batchArb, fc.constantFrom(0.5, 2, 4, 1024), ({groupSize, rewards}, k) => {
      // Powers of two scale floats exactly; epsilon 0 makes the invariance exact.
      const base = run(rewards, {groupSize, epsilon: 0});
      const scaled = run(rewards.map((r) => r * k), {groupSize, epsilon: 0});
      expectClose(scaled, base, 1e-6, 1e-5);
    }), {numRuns: 30});
  });

  it('property: permuting completions within a group permutes the advantages', () => {
    fc.assert(fc.property(batchArb, fc.constantFrom(...scales), fc.infiniteStream(fc.double({min: 0, max: 1, noNaN: true})),
        ({groupSize, rewards}, scale, randoms) => {
          const perm = rewards.map((_, i) => i);
          for (let g = 0; g < rewards.length / groupSize; g++) {
            // Fisher-Yates shuffle within the group.
            for (let i = groupSize - 1; i > 0; i--) {
              const j = Math.floor(randoms.next().value * (i + 1)) % (i + 1);
              const a = g * groupSize + i;
              const b = g * groupSize + j;
              [perm[a], perm[b]] = [perm[b]!, perm[a]!];
            }
          }
          const base = run(rewards, {groupSize, scale});
          const permuted = run(perm.map((p) => rewards[p]!), {groupSize, scale});
          expectClose(permuted, perm.map((p) => base[p]!), 1e-5, 1e-5);
        }), {numRuns: 30});
  });

  it('property: groupIds on shuffled rows agree with contiguous groupSize', () => {
    fc.assert(fc.property(batchArb, fc.constantFrom(...scales), fc.infiniteStream(fc.double({min: 0, max: 1, noNaN: true})),
        fc.integer({min: -5, max: 100}),
        ({groupSize, rewards}, scale, randoms, idOffset) => {
          const perm = rewards.map((_, i) => i);
          for (let i = perm.length - 1; i > 0; i--) {
            const j = Math.floor(randoms.next().value * (i + 1)) % (i + 1);
            [perm[i], perm[j]] = [perm[j]!, perm[i]!];
          }
          const contiguous = run(rewards, {groupSize, scale});
          // Arbitrary (non-dense, possibly negative) ids: idOffset - 3 * group.
          const groupIds = perm.map((p) => idOffset - 3 * Math.floor(p / groupSize));
          const viaIds = run(perm.map((p) => rewards[p]!), {groupIds, scale});
          expectClose(viaIds, perm.map((p) => contiguous[p]!), 1e-5, 1e-5);
          const idTensor = tf.tensor1d(groupIds, 'int32');
          expectClose(run(perm.map((p) => rewards[p]!), {groupIds: idTensor, scale}), viaIds, 0, 0);
          idTensor.dispose();
        }), {numRuns: 30});
  });

  it('gradient w.r.t. rewards matches central finite differences', () => {
    const values = [0.3, -1.2, 2.5, 0.9, 1.7, -0.4];
    const w = tf.tensor1d([0.7, -1.1, 0.4, 2.0, -0.5, 1.3]);
    for (const scale of scales) {
      const f = (r: tf.Tensor): tf.Scalar => tf.sum(tf.mul(groupAdvantages(r as tf.Tensor1D, {groupSize: 3, scale}), w));
      const g = tf.grad(f)(tf.tensor1d(values));
      const analytic = Array.from(g.dataSync());
      expectGradientClose(analytic, tensorCentralDifferences(f, values, [6], 1e-3), {rtol: 1e-2, atol: 2e-3}, `scale ${scale}`);
    }
    w.dispose();
  });

  it('does not leak and does not dispose its inputs', () => {
    const r = tf.tensor1d([1, 0, 0.5, 0.5, 2, 3]);
    const ids = tf.tensor1d([0, 0, 1, 1, 2, 2], 'int32');
    for (const scale of scales) {
      const before = tf.memory().numTensors;
      const a = groupAdvantages(r, {groupSize: 2, scale});
      const b = groupAdvantages(r, {groupIds: ids, scale});
      expect(tf.memory().numTensors).toBe(before + 2);
      a.dispose();
      b.dispose();
    }
    expect(r.isDisposed || ids.isDisposed).toBe(false);
    expect(Array.from(r.dataSync())).toEqual([1, 0, 0.5, 0.5, 2, 3]);
    r.dispose();
    ids.dispose();
  });

  it('rejects bad input with messages naming the argument and shapes', () => {
    const r = tf.tensor1d([1, 0, 0, 1, 1, 0, 1]);
    const r8 = tf.tensor2d([[1], [0], [0], [1], [1], [0], [1], [0]]);
    const bad = tf.tensor1d([1, NaN, 0, 1]);
    expect(() => groupAdvantages(r8 as unknown as tf.Tensor1D, {groupSize: 2}))
        .toThrow("groupAdvantages: 'rewards' expected shape [batch] (rank 1), got [8,1]");
    expect(() => groupAdvantages(r, {groupSize: 2}))
        .toThrow("groupAdvantages: 'groupSize' expected a divisor of the batch size 7 ('rewards' has shape [7]), got 2");
    expect(() => groupAdvantages(r, {groupSize: 1})).toThrow("groupAdvantages: 'groupSize' expected >= 2, got 1");
    expect(() => groupAdvantages(r, {groupSize: 2.5})).toThrow("'groupSize' expected an integer, got 2.5");
    expect(() => groupAdvantages(r, {groupIds: [0, 0, 1]}))
        .toThrow("groupAdvantages: 'groupIds' expected length [batch]=[7] (the shape of 'rewards' [7]), got length 3");
    const ids = tf.tensor1d([0, 0, 1], 'int32');
    expect(() => groupAdvantages(r, {groupIds: ids}))
        .toThrow("groupAdvantages: 'groupIds' expected shape [batch]=[7] (the shape of 'rewards' [7]), got [3]");
    const fids = tf.tensor1d([0, 0, 1, 1, 2, 2, 3]);
    expect(() => groupAdvantages(r, {groupIds: fids as tf.Tensor1D})).toThrow("'groupIds' expected dtype int32, got float32");
    expect(() => groupAdvantages(r, {groupIds: [0, 0, 1, 1, 2, 2, 0.5]})).toThrow("'groupIds' expected integers, got 0.5 at index 6");
    expect(() => groupAdvantages(r, {groupSize: 7, groupIds: [0, 0, 0, 0, 0, 0, 0]}))
        .toThrow("groupAdvantages: expected exactly one of 'groupSize' or 'groupIds', got both");
    expect(() => groupAdvantages(r, {})).toThrow("expected exactly one of 'groupSize' or 'groupIds', got neither");
    expect(() => groupAdvantages(bad, {groupSize: 2}))
        .toThrow("groupAdvantages: 'rewards' expected finite values, got NaN at flat index 1");
    expect(() => groupAdvantages(r, {groupSize: 7, scale: 'std' as 'group'}))
        .toThrow("groupAdvantages: 'scale' expected one of 'group', 'batch', 'none', got \"std\"");
    expect(() => groupAdvantages(r, {groupSize: 7, epsilon: -1})).toThrow("'epsilon' expected >= 0, got -1");
    expect(() => groupAdvantages(r, {groupSize: 7, eps: 1} as never)).toThrow("groupAdvantages: unknown option 'eps'");
    const ints = tf.tensor1d([1, 0], 'int32');
    expect(() => groupAdvantages(ints, {groupSize: 2})).toThrow("'rewards' expected dtype float32, got int32");
    tf.dispose([r, r8, bad, ids, fids, ints]);
  });
});
