import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import fc from 'fast-check';
import {describe, expect, it} from 'vitest';
import {configureValidation} from '../../src/math/assert.js';
import {maskedMean, maskedSum, maskedVariance, whiten} from '../../src/math/masked_stats.js';
import {tensorCentralDifferences} from '../helpers/central_differences.js';
import {expectGradientClose} from '../helpers/expect_gradient_close.js';

const vals = (t: tf.Tensor): number[] => Array.from(t.dataSync());

/** [rows, cols] values and a 0/1 mask with holes. */
const caseArb = fc.record({rows: fc.integer({min: 1, max: 4}), cols: fc.integer({min: 1, max: 6})}).chain(({rows, cols}) =>
  fc.record({
    shape: fc.constant([rows, cols] as [number, number]),
    x: fc.array(fc.double({min: -5, max: 5, noNaN: true, noDefaultInfinity: true}).map(Math.fround), {minLength: rows * cols, maxLength: rows * cols}),
    mask: fc.array(fc.constantFrom(0, 1), {minLength: rows * cols, maxLength: rows * cols}),
  }));

function refStats(x: number[], mask: number[]): {n: number; sum: number; mean: number; varU: number; varB: number} {
  const kept = x.filter((_, i) => mask[i] === 1);
  const n = kept.length;
  const sum = kept.reduce((s, v) => s + v, 0);
  const mean = n > 0 ? sum / n : 0;
  const ss = kept.reduce((s, v) => s + (v - mean) ** 2, 0);
  return {n, sum, mean, varU: n > 1 ? ss / (n - 1) : 0, varB: n > 0 ? ss / n : 0};
}

/** Central finite differences of scalar f at x (float32, h = 1e-3) vs tf.grad. */
function checkGrad(f: (x: tf.Tensor) => tf.Scalar, x: number[], shape: number[]): void {
  const analytic = tf.tidy(() => vals(tf.grad(f)(tf.tensor(x, shape))));
  expectGradientClose(analytic, tensorCentralDifferences(f, x, shape, 1e-3), {rtol: 1e-2, atol: 2e-3});
}

describe('maskedSum / maskedMean', () => {
  it('hand-computed values, global and per axis', () => {
    const x = tf.tensor2d([[1, 2, 3], [4, 5, 6]]);
    const m = tf.tensor2d([[1, 1, 0], [1, 0, 0]]);
    // kept: 1, 2, 4 -> sum 7, mean 7/3; rows: [1+2, 4] = [3, 4], means [1.5, 4]; columns [5, 2, 0], means [2.5, 2, 0].
    expect(vals(maskedSum(x, m))).toEqual([7]);
    expect(vals(maskedSum(x, m, {axis: 1}))).toEqual([3, 4]);
    expect(vals(maskedSum(x, m, {axis: [0]}))).toEqual([5, 2, 0]);
    expect(vals(maskedMean(x, m))[0]).toBeCloseTo(7 / 3, 6);
    expect(vals(maskedMean(x, m, {axis: -1}))).toEqual([1.5, 4]);
    expect(vals(maskedMean(x, m, {axis: 0}))).toEqual([2.5, 2, 0]);
    expect(vals(maskedMean(x, m, {axis: [0, 1]}))[0]).toBeCloseTo(7 / 3, 6);
    tf.dispose([x, m]);
  });

  it('a fully masked input gives 0 (sum and mean), not NaN, with zero gradient', () => {
    const x = tf.tensor2d([[1, 2], [3, 4]]);
    const m = tf.zeros([2, 2]);
    expect(vals(maskedSum(x, m))).toEqual([0]);
    expect(vals(maskedMean(x, m))).toEqual([0]);
    expect(vals(maskedMean(x, m, {axis: 1}))).toEqual([0, 0]);
    expect(vals(tf.grad((t: tf.Tensor) => maskedMean(t, m) as tf.Scalar)(x))).toEqual([0, 0, 0, 0]);
    tf.dispose([x, m]);
  });

  it('accepts float32, int32 and bool masks', () => {
    const x = tf.tensor2d([[1, 2], [3, 4]]);
    for (const dtype of ['float32', 'int32', 'bool'] as const) {
      const m = tf.tensor2d([[1, 0], [0, 1]], [2, 2], dtype);
      expect(vals(maskedMean(x, m))).toEqual([2.5]);
      m.dispose();
    }
    x.dispose();
  });

  it('property: equals the mean of the kept values; padding values (even NaN) have no effect and zero gradient', () => {
    fc.assert(fc.property(caseArb, ({shape, x, mask}) => {
      const ref = refStats(x, mask);
      const xt = tf.tensor2d(x, shape);
      const poisoned = tf.tensor2d(x.map((v, i) => (mask[i] === 1 ? v : NaN)), shape);
      const mt = tf.tensor2d(mask, shape);
      for (const input of [xt, poisoned]) {
        expect(vals(maskedSum(input, mt))[0]).toBeCloseTo(ref.sum, 4);
        expect(vals(maskedMean(input, mt))[0]).toBeCloseTo(ref.mean, 5);
        const g = vals(tf.grad((t: tf.Tensor) => maskedMean(t, mt) as tf.Scalar)(input));
        g.forEach((v, i) => expect(v).toBeCloseTo(mask[i] === 1 ? 1 / ref.n : 0, 6));
      }
      tf.dispose([xt, poisoned, mt]);
    }), {numRuns: 30});
  });

  it('does not leak', () => {
    const x = tf.tensor2d([[1, 2], [3, 4]]);
    const m = tf.tensor2d([[1, 0], [1, 1]]);
    const before = tf.memory().numTensors;
    const outs = [maskedSum(x, m), maskedMean(x, m, {axis: 1}), maskedVariance(x, m), whiten(x, m, {shiftMean: false})];
    expect(tf.memory().numTensors).toBe(before + 4);
    tf.dispose([...outs, x, m]);
  });

  it('rejects bad input with messages naming the argument and shapes', () => {
    const x = tf.zeros([2, 3]);
    const m = tf.ones([2, 2]);
    const half = tf.fill([2, 3], 0.5);
    expect(() => maskedSum(x, m)).toThrow("maskedSum: 'mask' expected the shape of 'x' [2,3], got [2,2]");
    expect(() => maskedMean(x, half)).toThrow("maskedMean: 'mask' expected values in {0, 1}, got 0.5");
    expect(() => maskedMean(x, tf.ones([2, 3]), {axis: 2})).toThrow("maskedMean: 'axis' expected an axis in [-2, 2) for 'x' of rank 2, got 2");
    expect(() => maskedMean(x, x, {axis: [1, -1]})).toThrow("maskedMean: 'axis' expected distinct axes");
    expect(() => maskedSum(tf.zeros([2], 'int32'), tf.zeros([2]))).toThrow("maskedSum: 'x' expected dtype float32, got int32");
    expect(() => maskedSum(x, x, {axes: 1} as never)).toThrow("maskedSum: unknown option 'axes'");
    tf.dispose([x, m, half]);
  });
});

describe('maskedVariance', () => {
  it('hand-computed values', () => {
    // kept [1, 2, 3]: mean 2, squares 1 + 0 + 1 = 2; unbiased 2 / 2 = 1, biased 2 / 3.
    const x = tf.tensor2d([[1, 2, 3, 100]]);
    const m = tf.tensor2d([[1, 1, 1, 0]]);
    expect(vals(maskedVariance(x, m))[0]).toBeCloseTo(1, 6);
    expect(vals(maskedVariance(x, m, {unbiased: false}))[0]).toBeCloseTo(2 / 3, 6);
    tf.dispose([x, m]);
  });

  it('is 0 (not NaN) for a fully masked input and for a single kept value when unbiased', () => {
    const x = tf.tensor2d([[1, 2], [3, 4]]);
    expect(vals(maskedVariance(x, tf.zeros([2, 2])))).toEqual([0]);
    expect(vals(maskedVariance(x, tf.tensor2d([[0, 1], [0, 0]])))).toEqual([0]);
    expect(vals(maskedVariance(x, tf.tensor2d([[0, 1], [0, 0]]), {unbiased: false}))).toEqual([0]);
    x.dispose();
  });

  it('property: matches the Bessel-corrected variance of the kept values', () => {
    fc.assert(fc.property(caseArb, ({shape, x, mask}) => {
      const ref = refStats(x, mask);
      const xt = tf.tensor2d(x, shape);
      const mt = tf.tensor2d(mask, shape);
      expect(vals(maskedVariance(xt, mt))[0]).toBeCloseTo(ref.varU, 4);
      expect(vals(maskedVariance(xt, mt, {unbiased: false}))[0]).toBeCloseTo(ref.varB, 4);
      tf.dispose([xt, mt]);
    }), {numRuns: 30});
  });

  it('gradient matches central finite differences (zero on masked entries)', () => {
    const m = tf.tensor2d([[1, 1, 0], [1, 0, 1]]);
    checkGrad((t) => maskedVariance(t, m), [0.3, -1.2, 7, 2.5, 9, 0.9], [2, 3]);
    const g = vals(tf.grad((t: tf.Tensor) => maskedVariance(t, m))(tf.tensor2d([[0.3, -1.2, 7], [2.5, 9, 0.9]])));
    expect([g[2], g[4]]).toEqual([0, 0]);
    m.dispose();
  });

  it('rejects a non-boolean unbiased option', () => {
    const x = tf.zeros([2]);
    expect(() => maskedVariance(x, x, {unbiased: 'yes' as never})).toThrow("maskedVariance: 'unbiased' expected a boolean, got yes");
    x.dispose();
  });
});

describe('whiten', () => {
  it('hand-computed values', () => {
    // kept [1, 2, 3]: mean 2, unbiased var 1 -> (x - 2) / sqrt(1 + 1e-8) = [-1, 0, 1]; padding -> 0.
    const x = tf.tensor2d([[1, 2, 3, 100]]);
    const m = tf.tensor2d([[1, 1, 1, 0]]);
    vals(whiten(x, m)).forEach((v, i) => expect(v).toBeCloseTo([-1, 0, 1, 0][i]!, 5));
    // shiftMean false adds the mean back: [1, 2, 3, 0].
    vals(whiten(x, m, {shiftMean: false})).forEach((v, i) => expect(v).toBeCloseTo([1, 2, 3, 0][i]!, 5));
    // biased var 2/3: (x - 2) / sqrt(2/3) = [-1.224745, 0, 1.224745].
    vals(whiten(x, m, {unbiased: false})).forEach((v, i) => expect(v).toBeCloseTo([-1.224745, 0, 1.224745, 0][i]!, 5));
    tf.dispose([x, m]);
  });

  it('a fully masked input gives all zeros; a constant input gives zeros', () => {
    const x = tf.tensor2d([[1, 2], [3, 4]]);
    expect(vals(whiten(x, tf.zeros([2, 2])))).toEqual([0, 0, 0, 0]);
    expect(vals(whiten(tf.fill([2, 2], 3), tf.ones([2, 2])))).toEqual([0, 0, 0, 0]);
    x.dispose();
  });

  it('property: masked mean 0 and masked unbiased variance ~1 when the kept values vary', () => {
    fc.assert(fc.property(caseArb, ({shape, x, mask}) => {
      const ref = refStats(x, mask);
      fc.pre(ref.n >= 2 && ref.varU > 1e-3);
      const xt = tf.tensor2d(x, shape);
      const mt = tf.tensor2d(mask, shape);
      const w = whiten(xt, mt);
      const out = vals(w);
      const wr = refStats(out, mask);
      expect(wr.mean).toBeCloseTo(0, 4);
      expect(wr.varU).toBeCloseTo(1, 3);
      out.forEach((v, i) => { if (mask[i] === 0) expect(v).toBe(0); });
      const shifted = vals(whiten(xt, mt, {shiftMean: false}));
      expect(refStats(shifted, mask).mean).toBeCloseTo(ref.mean, 4);
      tf.dispose([xt, mt, w]);
    }), {numRuns: 30});
  });

  it('gradient matches central finite differences', () => {
    const m = tf.tensor2d([[1, 1, 0], [1, 0, 1]]);
    const wts = tf.tensor2d([[0.5, -1, 3], [2, 4, -0.7]]);
    checkGrad((t) => tf.sum(tf.mul(whiten(t, m), wts)), [0.3, -1.2, 7, 2.5, 9, 0.9], [2, 3]);
    checkGrad((t) => tf.sum(tf.mul(whiten(t, m, {shiftMean: false}), wts)), [0.3, -1.2, 7, 2.5, 9, 0.9], [2, 3]);
    tf.dispose([m, wts]);
  });

  it('rejects bad options', () => {
    const x = tf.zeros([2]);
    expect(() => whiten(x, x, {epsilon: 0})).toThrow("whiten: 'epsilon' expected > 0, got 0");
    expect(() => whiten(x, x, {shiftMean: 1 as never})).toThrow("whiten: 'shiftMean' expected a boolean, got 1");
    x.dispose();
  });
});

describe('masked stats value checks', () => {
  it('reject NaN / +-Infinity in x where mask is 1 (padding may hold anything), skipped when value checks are off', () => {
    const x = tf.tensor2d([[1, NaN, 3], [Infinity, 5, -Infinity]]);
    const m = tf.tensor2d([[1, 0, 1], [1, 1, 0]]);
    const pad = tf.tensor2d([[1, 0, 1], [0, 1, 0]]); // every non-finite value masked out
    const mb = tf.cast(pad, 'bool');
    const before = tf.memory().numTensors;
    const msg = (fn: string) => `${fn}: 'x' expected finite values, got Infinity at flat index 3 (shape [2,3])`;
    expect(() => maskedSum(x, m)).toThrow(msg('maskedSum'));
    expect(() => maskedSum(x, m, {axis: 0})).toThrow(msg('maskedSum'));
    expect(() => maskedMean(x, m)).toThrow(msg('maskedMean'));
    expect(() => maskedVariance(x, m)).toThrow(msg('maskedVariance'));
    expect(() => whiten(x, m)).toThrow(msg('whiten'));
    expect(() => tf.grad((t: tf.Tensor) => maskedMean(t, m))(x)).toThrow(msg('maskedMean'));
    expect(tf.memory().numTensors).toBe(before);
    const outs = [maskedSum(x, pad), maskedMean(x, mb, {axis: 1}), maskedVariance(x, pad), whiten(x, mb)];
    expect(vals(outs[0]!)).toEqual([9]);
    for (const o of outs) expect(vals(o).every(Number.isFinite)).toBe(true);
    tf.dispose(outs);
    const previous = configureValidation({valueChecks: false});
    try {
      const out = maskedSum(x, m);
      expect(vals(out)[0]).toBe(Infinity);
      out.dispose();
    } finally {
      configureValidation(previous);
    }
    tf.dispose([x, m, pad, mb]);
  });
});
