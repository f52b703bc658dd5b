import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import {describe, expect, it} from 'vitest';
import {configureValidation} from '../../src/math/assert.js';
import {explainedVariance} from '../../src/math/explained_variance.js';

function ev(values: number[][], returns: number[][], mask: number[][]): number {
  const [v, r, m] = [tf.tensor2d(values), tf.tensor2d(returns), tf.tensor2d(mask)];
  const out = explainedVariance(v, r, m);
  const x = out.dataSync()[0]!;
  tf.dispose([v, r, m, out]);
  return x;
}

const arb = fc.integer({min: 1, max: 3}).chain((batch) => fc.integer({min: 2, max: 6}).chain((time) => {
  const grid = (a: fc.Arbitrary<number>) => fc.array(fc.array(a, {minLength: time, maxLength: time}), {minLength: batch, maxLength: batch});
  const num = fc.double({min: -5, max: 5, noNaN: true});
  return fc.record({values: grid(num), returns: grid(num), mask: grid(fc.constantFrom(0, 1))});
}));

describe('explainedVariance', () => {
  it('hand-computed value', () => {
    // masked tokens: R = [1, 3] (var 1), R - V = [0, 1] (var 0.25)  ->  1 - 0.25 / 1 = 0.75; the 9/0 pair is padding.
    expect(ev([[1, 2, 9]], [[1, 3, 0]], [[1, 1, 0]])).toBeCloseTo(0.75, 6);
    // Predicting the mean exactly: V = mean(R) = 2  ->  Var[R - V] = Var[R]  ->  0.
    expect(ev([[2, 2]], [[1, 3]], [[1, 1]])).toBeCloseTo(0, 6);
  });

  it('NaN when the returns have zero variance (cleanrl convention)', () => {
    expect(ev([[0, 1]], [[2, 2]], [[1, 1]])).toBeNaN();
    expect(ev([[0, 1]], [[2, 3]], [[0, 0]])).toBeNaN();
  });

  it('property: 1 for a perfect critic, unaffected by masked tokens, <= 1 always', () => {
    fc.assert(fc.property(arb, fc.double({min: -50, max: 50, noNaN: true}), ({values, returns, mask}, z) => {
      const x = ev(values, returns, mask);
      if (!Number.isNaN(x)) expect(x).toBeLessThanOrEqual(1 + 1e-5);
      const perfect = ev(returns, returns, mask);
      if (!Number.isNaN(perfect)) expect(perfect).toBeCloseTo(1, 5);
      const y = ev(values.map((row, b) => row.map((v, t) => (mask[b]![t] ? v : z))),
          returns.map((row, b) => row.map((r, t) => (mask[b]![t] ? r : -z))), mask);
      if (Number.isNaN(x)) expect(y).toBeNaN();
      else expect(y).toBeCloseTo(x, 3);
    }), {numRuns: 30});
  });

  it('does not leak; throws named errors', () => {
    const v = tf.randomNormal([2, 3]) as tf.Tensor2D;
    const m = tf.ones([2, 3]) as tf.Tensor2D;
    const before = tf.memory().numTensors;
    const out = explainedVariance(v, v, m);
    expect(tf.memory().numTensors).toBe(before + 1);
    const bad = tf.zeros([3, 2]) as tf.Tensor2D;
    expect(() => explainedVariance(v, bad, m)).toThrow("explainedVariance: 'returns' expected the shape of 'values' [2,3], got [3,2]");
    expect(() => explainedVariance(v, v, tf.mul(m, 2) as tf.Tensor2D)).toThrow("explainedVariance: 'mask' expected values in {0, 1}, got 2");
    tf.dispose([v, m, out, bad]);
  });

  it('rejects NaN / +-Infinity in values or returns where mask is 1, skipped when value checks are off', () => {
    const ok = tf.tensor2d([[1, 2, 3]]);
    const bad = tf.tensor2d([[1, NaN, 3]]);
    const m = tf.tensor2d([[1, 1, 0]]);
    const pad = tf.tensor2d([[1, 0, 1]]);
    const before = tf.memory().numTensors;
    expect(() => explainedVariance(bad, ok, m))
        .toThrow("explainedVariance: 'values' expected finite values, got NaN at flat index 1 (shape [1,3])");
    expect(() => explainedVariance(ok, bad, m))
        .toThrow("explainedVariance: 'returns' expected finite values, got NaN at flat index 1 (shape [1,3])");
    expect(tf.memory().numTensors).toBe(before);
    const out = explainedVariance(bad, bad, pad); // NaN only on padding
    expect(out.dataSync()[0]).toBeCloseTo(1, 6);
    out.dispose();
    const previous = configureValidation({valueChecks: false});
    try {
      const silent = explainedVariance(bad, ok, m);
      silent.dispose();
    } finally {
      configureValidation(previous);
    }
    tf.dispose([ok, bad, m, pad]);
  });
});
