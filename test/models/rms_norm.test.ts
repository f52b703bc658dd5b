import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import {describe, expect, it} from 'vitest';
import {rmsNorm} from '../../src/models/rms_norm.js';

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
    const gxa = gx!.arraySync() as number[][];
    for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) {
      const val = (d: number): number => tf.tidy(() => {
        const xx = xs.map((r) => r.slice()); xx[i]![j]! += d;
        return f(tf.tensor2d(xx), w).dataSync()[0]!;
      });
      expect(gxa[i]![j]).toBeCloseTo((val(h) - val(-h)) / (2 * h), 2);
    }
    const gwa = gw!.arraySync() as number[];
    for (let j = 0; j < 3; j++) {
      const val = (d: number): number => tf.tidy(() => {
        const ww = ws.slice(); ww[j]! += d;
        return f(x, tf.tensor1d(ww)).dataSync()[0]!;
      });
      expect(gwa[j]).toBeCloseTo((val(h) - val(-h)) / (2 * h), 2);
    }
    tf.dispose([x, w, c, gx!, gw!]);
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
