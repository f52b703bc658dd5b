import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import {describe, expect, it} from 'vitest';
import {rmsNorm} from '../../src/models/rms_norm.js';
import {maxAbsDiff} from '../helpers/max_abs_diff.js';
import {centralDifferences} from '../helpers/central_differences.js';
import {gridCentralDifferences} from '../helpers/central_differences.js';
import {expectGradientClose} from '../helpers/expect_gradient_close.js';

/** The previous rmsNorm (tfjs autodiff through transposes and tf.mean): the reference for values and gradients. */
function rmsNormAutodiff(x: tf.Tensor, weight: tf.Tensor1D, eps: number): tf.Tensor {
  const width = x.shape[x.rank - 1]!;
  return tf.tidy(() => {
    const xt = tf.transpose(tf.reshape(x, [-1, width]));
    const inv = tf.rsqrt(tf.add(tf.mean(tf.square(xt), 0), eps));
    return tf.reshape(tf.mul(tf.transpose(tf.mul(xt, inv)), weight), x.shape);
  });
}

/** Values and both gradients of sum(c * f(x, w)). */
function valueAndGrads(f: (x: tf.Tensor, w: tf.Tensor1D) => tf.Tensor, x: tf.Tensor, w: tf.Tensor1D, c: tf.Tensor):
    tf.Tensor[] {
  const y = f(x, w);
  const [gx, gw] = tf.grads((xx: tf.Tensor, ww: tf.Tensor) => tf.sum(tf.mul(f(xx, ww as tf.Tensor1D), c)))([x, w]);
  return [y, gx!, gw!];
}

describe('rmsNorm', () => {
  it('hand-computed values: x / sqrt(mean(x^2) + eps) * w', () => {
    // row [3, 4]: mean square 12.5, rsqrt = 0.28284; * [1, 2] -> [0.84853, 2.26274]
    // row [1, -1]: mean square 1 + eps 1 = 2 -> [0.70711, -1.41421]
    const x = tf.tensor3d([[[3, 4], [1, -1]]]);
    const w = tf.tensor1d([1, 2]);
    const y0 = rmsNorm(x, w, 0);
    expect(y0.shape).toEqual([1, 2, 2]);
    const a = y0.dataSync();
    expect(a[0]).toBeCloseTo(0.848528, 5);
    expect(a[1]).toBeCloseTo(2.262742, 5);
    const y1 = rmsNorm(tf.tensor2d([[1, -1]]), w, 1);
    expect(Array.from(y1.dataSync()).map((v) => +v.toFixed(5))).toEqual([0.70711, -1.41421]);
    tf.dispose([x, w, y0, y1]);
  });

  it('property: scale invariance rmsNorm(c x) = rmsNorm(x) (eps 0) and unit RMS with unit weight', () => {
    fc.assert(fc.property(
        fc.array(fc.double({min: 0.1, max: 5, noNaN: true}), {minLength: 6, maxLength: 6}),
        fc.double({min: 0.5, max: 20, noNaN: true}), (data, c) => {
          const x = tf.tensor2d(data, [2, 3]);
          const w = tf.ones([3]) as tf.Tensor1D;
          const [y, yc] = [rmsNorm(x, w, 0), tf.tidy(() => rmsNorm(tf.mul(x, c), w, 0))];
          const [a, b] = [y.dataSync(), yc.dataSync()];
          for (let i = 0; i < 6; i++) expect(b[i]).toBeCloseTo(a[i]!, 4);
          for (let r = 0; r < 2; r++) {
            const ms = (a[3 * r]! ** 2 + a[3 * r + 1]! ** 2 + a[3 * r + 2]! ** 2) / 3;
            expect(ms).toBeCloseTo(1, 4);
          }
          tf.dispose([x, w, y, yc]);
        }), {numRuns: 20});
  });

  it('gradient with respect to x and weight matches central finite differences', () => {
    const x = tf.tensor2d([[0.5, -1.2, 2.0], [0.3, 0.1, -0.7]]);
    const w = tf.tensor1d([1.5, -0.5, 0.8]);
    const c = tf.tensor2d([[1, 2, -1], [0.5, -2, 1]]);
    const f = (xx: tf.Tensor, ww: tf.Tensor): tf.Scalar => tf.sum(tf.mul(rmsNorm(xx, ww as tf.Tensor1D, 1e-5), c));
    const [gx, gw] = tf.grads(f)([x, w]);
    const h = 1e-3;
    const xs = x.arraySync(), ws = w.arraySync();
    const fdx = gridCentralDifferences((xx) => tf.tidy(() => f(tf.tensor2d(xx), w).dataSync()[0]!), xs, h);
    expectGradientClose(gx!.arraySync() as number[][], fdx, {digits: 2}, 'x');
    const fdw = centralDifferences((ww) => tf.tidy(() => f(x, tf.tensor1d(ww)).dataSync()[0]!), ws, h);
    expectGradientClose(gw!.dataSync(), fdw, {digits: 2}, 'weight');
    tf.dispose([x, w, c, gx!, gw!]);
  });

  it('values and gradients equal the autodiff reference (rank 1 to 4, odd widths, eps 0 / 1e-6 / 0.5)', () => {
    const cases: Array<[number[], number]> = [[[5], 1e-6], [[3, 7], 0], [[2, 3, 33], 1e-6], [[2, 2, 3, 300], 0.5]];
    for (const [shape, eps] of cases) {
      const width = shape[shape.length - 1]!;
      const x = tf.randomNormal(shape, 0, 2, 'float32', 1);
      const w = tf.randomNormal([width], 1, 0.5, 'float32', 2) as tf.Tensor1D;
      const c = tf.randomNormal(shape, 0, 1, 'float32', 3);
      const got = valueAndGrads((a, b) => rmsNorm(a, b, eps), x, w, c);
      const want = valueAndGrads((a, b) => rmsNormAutodiff(a, b, eps), x, w, c);
      for (let k = 0; k < 3; k++) {
        expect(got[k]!.shape).toEqual(want[k]!.shape);
        const scale = tf.tidy(() => tf.max(tf.abs(want[k]!)).dataSync()[0]!);
        expect(maxAbsDiff(got[k]!, want[k]!)).toBeLessThan(2e-6 * Math.max(1, scale));
      }
      tf.dispose([x, w, c, ...got, ...want]);
    }
  });

  it('property: d x is orthogonal to xhat when weight = 1 and eps = 0 (the scale direction has no gradient)', () => {
    // y(c x) = y(x) for c > 0, so d/dc sum(g * y(c x)) = 0 = <dx, x>.
    fc.assert(fc.property(fc.integer({min: 1, max: 40}), fc.integer({min: 1, max: 9}), fc.integer({min: 0, max: 1000}),
        (width, rows, seed) => {
          const x = tf.randomNormal([rows, width], 0, 1, 'float32', seed);
          const g = tf.randomNormal([rows, width], 0, 1, 'float32', seed + 1);
          const w = tf.ones([width]) as tf.Tensor1D;
          const dx = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(rmsNorm(a, w, 0), g)))(x);
          const dots = tf.tidy(() => tf.sum(tf.mul(dx, x), -1).dataSync());
          const norms = tf.tidy(() => tf.mul(tf.norm(dx, 'euclidean', -1), tf.norm(x, 'euclidean', -1)).dataSync());
          dots.forEach((d, i) => expect(Math.abs(d)).toBeLessThan(1e-4 * (1 + norms[i]!)));
          tf.dispose([x, g, w, dx]);
        }), {numRuns: 25});
  });

  it('runs few kernels: no transposes, no tf.ones, at most 5 forward and 13 forward + backward', async () => {
    const x = tf.randomNormal([2, 8, 64]);
    const w = tf.randomNormal([64]) as tf.Tensor1D;
    const names = async (f: () => tf.TensorContainer): Promise<string[]> =>
      (await tf.profile(() => { tf.dispose(f()); })).kernels.map((k) => k.name)
          .filter((n) => !['Reshape', 'Identity', 'rmsNorm'].includes(n));
    const forward = await names(() => rmsNorm(x, w));
    expect(forward).toEqual(['Square', 'Mean', 'Add', 'Rsqrt', 'Multiply', 'Multiply']);
    const both = await names(() => tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(rmsNorm(a, b as tf.Tensor1D)))([x, w]));
    expect(both).not.toContain('Transpose');
    expect(both.length - forward.length).toBeLessThanOrEqual(8 + 2); // d x, d weight, and tf.sum's own backward
    tf.dispose([x, w]);
  });

  it('under a tape: leaks nothing, and d weight is not computed when only d x is asked for', async () => {
    const x = tf.randomNormal([3, 5]);
    const w = tf.randomNormal([5]) as tf.Tensor1D;
    const before = tf.memory().numTensors;
    const count = async (f: () => tf.TensorContainer): Promise<number> =>
      (await tf.profile(() => { tf.dispose(f()); })).kernels.filter((k) => !['Reshape', 'Identity'].includes(k.name)).length;
    const onlyX = await count(() => tf.grad((a: tf.Tensor) => tf.sum(rmsNorm(a, w)))(x));
    const both = await count(() => tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(rmsNorm(a, b as tf.Tensor1D)))([x, w]));
    expect(both - onlyX).toBe(2); // Multiply and Sum of d weight
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, w]);
  });

  it('leaks no tensor and rejects bad arguments naming them', () => {
    const x = tf.ones([2, 4]);
    const w = tf.ones([4]) as tf.Tensor1D;
    const before = tf.memory().numTensors;
    rmsNorm(x, w).dispose();
    expect(tf.memory().numTensors).toBe(before);
    const w3 = tf.ones([3]) as tf.Tensor1D;
    expect(() => rmsNorm(x, w3)).toThrow(/rmsNorm: 'weight' expected shape \[width\]=\[4\], got \[3\]/);
    expect(() => rmsNorm(x, w, -1)).toThrow(/'eps' expected >= 0/);
    const xi = tf.ones([2, 4], 'int32');
    expect(() => rmsNorm(xi, w)).toThrow(/'x' expected a float32/);
    tf.dispose([x, w, w3, xi]);
  });
});
