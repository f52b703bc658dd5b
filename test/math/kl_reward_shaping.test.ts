import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import {describe, expect, it} from 'vitest';
import {klShapedRewards} from '../../src/math/kl_reward_shaping.js';
import {centralDifferences} from '../helpers/central_differences.js';

function run(scores: number[], kl: number[][], mask: number[][], klCoef: number): number[][] {
  const [s, k, m] = [tf.tensor1d(scores), tf.tensor2d(kl), tf.tensor2d(mask)];
  const out = klShapedRewards({scores: s, kl: k, mask: m}, {klCoef});
  const result = out.arraySync();
  tf.dispose([s, k, m, out]);
  return result;
}

const shapingArb = fc.integer({min: 1, max: 4}).chain((batch) => fc.integer({min: 1, max: 6}).chain((time) => {
  const grid = (arb: fc.Arbitrary<number>) => fc.array(fc.array(arb, {minLength: time, maxLength: time}),
      {minLength: batch, maxLength: batch});
  return fc.record({
    scores: fc.array(fc.double({min: -5, max: 5, noNaN: true}), {minLength: batch, maxLength: batch}),
    kl: grid(fc.double({min: -2, max: 2, noNaN: true})),
    mask: grid(fc.constantFrom(0, 1)),
    klCoef: fc.double({min: 0, max: 1, noNaN: true}),
  });
}));

describe('klShapedRewards', () => {
  it('hand-computed values: right padding, a hole, an empty row', () => {
    // klCoef 0.1.
    // row 0: kl [0.5, 0, -1, 7], mask [1,1,1,0]: [-0.05, 0, 0.1 + 1 (score on t=2), 0]
    // row 1: kl [1, 2, 3, 4],   mask [1,0,1,0]: [-0.1, 0, -0.3 + 2 (last = t=2), 0]
    // row 2: mask all 0: score dropped, all 0.
    const out = run([1, 2, 5], [[0.5, 0, -1, 7], [1, 2, 3, 4], [1, 1, 1, 1]],
        [[1, 1, 1, 0], [1, 0, 1, 0], [0, 0, 0, 0]], 0.1);
    const expected = [[-0.05, 0, 1.1, 0], [-0.1, 0, 1.7, 0], [0, 0, 0, 0]];
    out.forEach((row, b) => row.forEach((x, t) => expect(x).toBeCloseTo(expected[b]![t]!, 5)));
  });

  it('property: row sum = score - klCoef * sum of masked KL; zero off the mask; score only on the last token', () => {
    fc.assert(fc.property(shapingArb, ({scores, kl, mask, klCoef}) => {
      const out = run(scores, kl, mask, klCoef);
      out.forEach((row, b) => {
        const on = mask[b]!.flatMap((x, t) => (x === 1 ? [t] : []));
        const klSum = on.reduce((a, t) => a + kl[b]![t]!, 0);
        const rowSum = row.reduce((a, x) => a + x, 0);
        expect(rowSum).toBeCloseTo(on.length > 0 ? scores[b]! - klCoef * klSum : 0, 3);
        row.forEach((x, t) => {
          if (mask[b]![t] === 0) expect(x).toBe(0);
          else if (t !== on[on.length - 1]) expect(x).toBeCloseTo(-klCoef * kl[b]![t]!, 4);
        });
      });
    }), {numRuns: 40});
  });

  it('property: KL on masked tokens has no effect, even NaN/Inf', () => {
    fc.assert(fc.property(shapingArb, fc.oneof(fc.double({min: -50, max: 50, noNaN: true}), fc.constantFrom(NaN, Infinity)), ({scores, kl, mask, klCoef}, z) => {
      const base = run(scores, kl, mask, klCoef);
      const other = run(scores, kl.map((row, b) => row.map((x, t) => (mask[b]![t] === 0 ? z : x))), mask, klCoef);
      expect(other).toEqual(base);
    }), {numRuns: 20});
  });

  it('gradient: d/dkl = -klCoef on the mask and 0 off it, d/dscore = 1 if the row has a token', () => {
    const kl = tf.tensor2d([[0.2, 0.3, 0.1], [0.4, 0.5, 0.6]]);
    const scores = tf.tensor1d([1, 2]);
    const mask = tf.tensor2d([[1, 1, 0], [0, 0, 0]]);
    const w = tf.tensor2d([[1, 2, 3], [4, 5, 6]]);
    const f = (s: tf.Tensor, k: tf.Tensor) =>
      tf.sum(tf.mul(w, klShapedRewards({scores: s as tf.Tensor1D, kl: k as tf.Tensor2D, mask}, {klCoef: 0.5})));
    const [gs, gk] = tf.grads(f)([scores, kl]);
    // d/dkl = -0.5 * w on the mask; d/dscores[0] = w at the last token (t=1) = 2; row 1 empty -> 0.
    expect(Array.from(gk!.dataSync())).toEqual([-0.5, -1, 0, 0, 0, 0]);
    expect(Array.from(gs!.dataSync())).toEqual([2, 0]);
    // Central finite difference on one entry (h 1e-3): f is linear, so this is a sanity check of the tape.
    const [fd] = centralDifferences((k) => tf.tidy(() => f(scores, tf.tensor2d(k, [2, 3])).dataSync()[0]!),
        [0.2, 0.3, 0.1, 0.4, 0.5, 0.6], 1e-3, [0]);
    expect(fd).toBeCloseTo(-0.5, 2);
    tf.dispose([kl, scores, mask, w, gs!, gk!]);
  });

  it('does not leak tensors and accepts int32 and bool masks', () => {
    const s = tf.tensor1d([1, 2]);
    const k = tf.randomNormal([2, 5]) as tf.Tensor2D;
    const mi = tf.tensor2d([[1, 1, 0, 0, 0], [1, 1, 1, 1, 1]], undefined, 'int32');
    const mb = tf.cast(mi, 'bool') as tf.Tensor2D;
    const before = tf.memory().numTensors;
    const a = klShapedRewards({scores: s, kl: k, mask: mi}, {klCoef: 0.05});
    const b = klShapedRewards({scores: s, kl: k, mask: mb}, {klCoef: 0.05});
    expect(tf.memory().numTensors).toBe(before + 2);
    expect(a.arraySync()).toEqual(b.arraySync());
    tf.dispose([a, b, s, k, mi, mb]);
  });

  it('throws named errors on bad input', () => {
    const s = tf.tensor1d([1, 2]);
    const s3 = tf.tensor1d([1, 2, 3]);
    const k = tf.zeros([2, 3]) as tf.Tensor2D;
    const bad = tf.zeros([2, 4]) as tf.Tensor2D;
    const half = tf.fill([2, 3], 0.5) as tf.Tensor2D;
    expect(() => klShapedRewards({scores: s3, kl: k, mask: k}, {klCoef: 0.1}))
        .toThrow("klShapedRewards: 'scores' expected shape [batch]=[2], got [3]");
    expect(() => klShapedRewards({scores: s, kl: k, mask: bad}, {klCoef: 0.1}))
        .toThrow("klShapedRewards: 'kl' [2,3] and 'mask' [2,4] expected the same shape");
    expect(() => klShapedRewards({scores: s, kl: bad, mask: k}, {klCoef: 0.1}))
        .toThrow("klShapedRewards: 'kl' [2,4] and 'mask' [2,3] expected the same shape");
    expect(() => klShapedRewards({scores: s, kl: k, mask: half}, {klCoef: 0.1}))
        .toThrow("klShapedRewards: 'mask' expected values in {0, 1}, got 0.5");
    const nan = tf.tensor2d([[0, 0, NaN], [0, 0, 0]]);
    const one = tf.ones([2, 3]) as tf.Tensor2D;
    expect(() => klShapedRewards({scores: s, kl: nan, mask: one}, {klCoef: 0.1}))
        .toThrow("klShapedRewards: 'kl' expected finite values, got NaN at flat index 2");
    const sNan = tf.tensor1d([1, NaN]);
    expect(() => klShapedRewards({scores: sNan, kl: k, mask: one}, {klCoef: 0.1}))
        .toThrow("klShapedRewards: 'scores' expected finite values, got NaN at flat index 1");
    tf.dispose([nan, one, sNan]);
    expect(() => klShapedRewards({scores: s, kl: k, mask: k}, {klCoef: -1}))
        .toThrow("klShapedRewards: 'klCoef' expected >= 0, got -1");
    expect(() => klShapedRewards({scores: s, kl: k, mask: k}, {} as never))
        .toThrow("klShapedRewards: 'klCoef' expected a finite number, got undefined");
    expect(() => klShapedRewards({scores: s, kl: k, mask: k}, {klCoef: 0.1, beta: 1} as never))
        .toThrow("klShapedRewards: unknown option 'beta'");
    tf.dispose([s, s3, k, bad, half]);
  });
});
