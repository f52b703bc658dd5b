import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import {describe, expect, it} from 'vitest';
import type {LossAggregation} from '../../src/math/aggregate_loss.js';
import {valueLoss, type ValueLossOptions} from '../../src/math/value_loss.js';
import {gridCentralDifferences} from '../helpers/central_differences.js';
import {expectGradientClose} from '../helpers/expect_gradient_close.js';

type Grid = number[][];

function loss(values: Grid, oldValues: Grid, returns: Grid, mask: Grid, options: ValueLossOptions): number {
  const t = [values, oldValues, returns, mask].map((g) => tf.tensor2d(g)) as tf.Tensor2D[];
  const out = valueLoss({values: t[0]!, oldValues: t[1]!, returns: t[2]!, mask: t[3]!}, options);
  const x = out.dataSync()[0]!;
  tf.dispose([...t, out]);
  return x;
}

const AGGREGATIONS: LossAggregation[] = ['token-mean', 'seq-mean-token-mean', 'seq-mean-token-sum', 'seq-mean-token-sum-norm'];

const gridsArb = fc.integer({min: 1, max: 3}).chain((batch) => fc.integer({min: 1, max: 5}).chain((time) => {
  const grid = (a: fc.Arbitrary<number>) => fc.array(fc.array(a, {minLength: time, maxLength: time}), {minLength: batch, maxLength: batch});
  const num = fc.double({min: -3, max: 3, noNaN: true});
  return fc.record({
    values: grid(num), oldValues: grid(num), returns: grid(num), mask: grid(fc.constantFrom(0, 1)),
    clip: fc.double({min: 0.05, max: 2, noNaN: true}), aggregation: fc.constantFrom(...AGGREGATIONS),
  });
}));

describe('valueLoss', () => {
  it('hand-computed values, clipped and unclipped, every aggregation', () => {
    // Row 0 (3 tokens), row 1 (1 token + padding), clip 0.5:
    //  t  V    Vold  R   plain 0.5(V-R)^2   clip(V)  clipped 0.5(clip(V)-R)^2   max
    //  r0 2    1     3   0.5                1.5      1.125                      1.125 (clipped, active)
    //  r0 0    0.2   1   0.5                0        0.5                        0.5   (inside range)
    //  r0 1    2     0   0.5                1.5      1.125                      1.125 (clipped, active)
    //  r1 4    4.1   2   2                  4        2                          2
    //  r1 pad: V = 100 ignored.
    const values = [[2, 0, 1], [4, 100, 100]];
    const oldValues = [[1, 0.2, 2], [4.1, 0, 0]];
    const returns = [[3, 1, 0], [2, 0, 0]];
    const mask = [[1, 1, 1], [1, 0, 0]];
    // token-mean: (1.125 + 0.5 + 1.125 + 2) / 4 = 1.1875
    expect(loss(values, oldValues, returns, mask, {clip: 0.5})).toBeCloseTo(1.1875, 5);
    // seq-mean-token-mean: (2.75 / 3 + 2 / 1) / 2 = 1.458333
    expect(loss(values, oldValues, returns, mask, {clip: 0.5, aggregation: 'seq-mean-token-mean'})).toBeCloseTo(1.4583333, 5);
    // seq-mean-token-sum: (2.75 + 2) / 2 = 2.375
    expect(loss(values, oldValues, returns, mask, {clip: 0.5, aggregation: 'seq-mean-token-sum'})).toBeCloseTo(2.375, 5);
    // seq-mean-token-sum-norm, maxLength 5: (2.75 / 5 + 2 / 5) / 2 = 0.475
    expect(loss(values, oldValues, returns, mask, {clip: 0.5, aggregation: 'seq-mean-token-sum-norm', maxLength: 5}))
        .toBeCloseTo(0.475, 5);
    // No clip: (0.5 + 0.5 + 0.5 + 2) / 4 = 0.875
    expect(loss(values, oldValues, returns, mask, {})).toBeCloseTo(0.875, 5);
  });

  it('property: the clipped loss equals the plain one inside the clip range, and is never smaller', () => {
    fc.assert(fc.property(gridsArb, ({values, oldValues, returns, mask, clip, aggregation}) => {
      const plain = loss(values, oldValues, returns, mask, {aggregation});
      const clipped = loss(values, oldValues, returns, mask, {clip, aggregation});
      expect(clipped).toBeGreaterThanOrEqual(plain - 1e-5);
      // Move the old values to within the clip range of V: then the two losses agree.
      const inside = values.map((row, b) => row.map((v, t) => v + 0.9 * clip * Math.sin(oldValues[b]![t]!)));
      const near = loss(values, inside, returns, mask, {clip, aggregation});
      expect(near).toBeCloseTo(plain, 4);
    }), {numRuns: 40});
  });

  it('property: masked tokens have no effect on the loss and get exactly zero gradient', () => {
    fc.assert(fc.property(gridsArb, fc.double({min: -1e3, max: 1e3, noNaN: true}), (g, z) => {
      const base = loss(g.values, g.oldValues, g.returns, g.mask, {clip: g.clip, aggregation: g.aggregation});
      const noisy = (grid: Grid) => grid.map((row, b) => row.map((x, t) => (g.mask[b]![t] ? x : z)));
      const other = loss(noisy(g.values), noisy(g.oldValues), noisy(g.returns), g.mask, {clip: g.clip, aggregation: g.aggregation});
      expect(other).toBeCloseTo(base, 4);
      const [old, ret, m] = [tf.tensor2d(g.oldValues), tf.tensor2d(g.returns), tf.tensor2d(g.mask)] as tf.Tensor2D[];
      const v = tf.tensor2d(g.values);
      const grad = tf.grad((x: tf.Tensor) => valueLoss({values: x as tf.Tensor2D, oldValues: old!, returns: ret!, mask: m!},
          {clip: g.clip, aggregation: g.aggregation}))(v);
      const gd = grad.arraySync() as Grid;
      g.mask.forEach((row, b) => row.forEach((on, t) => { if (!on) expect(gd[b]![t]).toBe(0); }));
      tf.dispose([old!, ret!, m!, v, grad]);
    }), {numRuns: 25});
  });

  it('NaN and Inf on padded positions do not reach the loss or the gradient', () => {
    const v = tf.tensor2d([[1, NaN]]);
    const old = tf.tensor2d([[0.5, Infinity]]);
    const r = tf.tensor2d([[2, -Infinity]]);
    const m = tf.tensor2d([[1, 0]]);
    const f = (x: tf.Tensor) => valueLoss({values: x as tf.Tensor2D, oldValues: old, returns: r, mask: m}, {clip: 0.2});
    const out = f(v);
    // clip(1, 0.3, 0.7) = 0.7: 0.5 * max(1, 1.69) = 0.845
    expect(out.dataSync()[0]!).toBeCloseTo(0.845, 5);
    const g = tf.grad(f)(v);
    expect(Array.from(g.dataSync())).toEqual([0, 0]); // clipped token and padding: zero gradient
    tf.dispose([v, old, r, m, out, g]);
  });

  it('gradients match central finite differences (h 1e-3, rtol 1e-2); clipped tokens get zero gradient', () => {
    // Away from the kinks: token 0 clipped (|V - Vold| = 1 > 0.5, clipped error larger), others inside or
    // clipped on the harmless side.
    const values = [[2, 0.1, -1.3], [0.7, 2.2, 0.4]];
    const old = tf.tensor2d([[1, 0.3, -1], [0.1, 1.5, 0.9]]);
    const ret = tf.tensor2d([[3, 1.2, 0.5], [-1, 0.3, 2]]);
    const mask = tf.tensor2d([[1, 1, 1], [1, 1, 0]]);
    for (const aggregation of AGGREGATIONS) {
      const f = (x: tf.Tensor) => valueLoss({values: x as tf.Tensor2D, oldValues: old as tf.Tensor2D, returns: ret as tf.Tensor2D,
        mask: mask as tf.Tensor2D}, {clip: 0.5, aggregation});
      const v = tf.tensor2d(values);
      const g = tf.grad(f)(v).arraySync() as Grid;
      const fd = gridCentralDifferences((grid) => tf.tidy(() => f(tf.tensor2d(grid)).dataSync()[0]!), values, 1e-3);
      expectGradientClose(g, fd, {rtol: 1e-2, floor: 1e-1, inclusive: true}, aggregation);
      expect(g[0]![0]).toBe(0); // V = 2, Vold = 1, R = 3: clip holds V at 1.5, the clipped error wins
      expect(g[1]![2]).toBe(0); // padding
      expect(g[0]![1]).not.toBe(0);
      v.dispose();
    }
    tf.dispose([old, ret, mask]);
  });

  it('does not leak tensors and does not dispose its inputs', () => {
    const [v, o, r] = [tf.randomNormal([4, 9]), tf.randomNormal([4, 9]), tf.randomNormal([4, 9])] as tf.Tensor2D[];
    const m = tf.ones([4, 9], 'int32') as tf.Tensor2D;
    const before = tf.memory().numTensors;
    for (const aggregation of AGGREGATIONS) {
      const out = valueLoss({values: v!, oldValues: o!, returns: r!, mask: m}, {clip: 0.2, aggregation});
      expect(tf.memory().numTensors).toBe(before + 1);
      out.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    expect([v!, o!, r!, m].some((x) => x.isDisposed)).toBe(false);
    tf.dispose([v!, o!, r!, m]);
  });

  it('an all-zero mask gives exactly 0', () => {
    expect(loss([[1, 2]], [[0, 0]], [[5, 5]], [[0, 0]], {clip: 0.2})).toBe(0);
  });

  it('throws named errors on bad input', () => {
    const x = tf.zeros([2, 3]) as tf.Tensor2D;
    const bad = tf.zeros([2, 4]) as tf.Tensor2D;
    const half = tf.fill([2, 3], 0.5) as tf.Tensor2D;
    const nan = tf.tensor2d([[0, NaN, 0], [0, 0, 0]]);
    const one = tf.ones([2, 3]) as tf.Tensor2D;
    expect(() => valueLoss({values: x, returns: bad, mask: x})).toThrow("valueLoss: 'returns' expected the shape of 'values' [2,3], got [2,4]");
    expect(() => valueLoss({values: x, oldValues: bad, returns: x, mask: x})).toThrow("valueLoss: 'oldValues' expected the shape of 'values' [2,3], got [2,4]");
    expect(() => valueLoss({values: x, returns: x, mask: half})).toThrow("valueLoss: 'mask' expected values in {0, 1}, got 0.5");
    expect(() => valueLoss({values: x, returns: x, mask: x}, {clip: 0.2})).toThrow("valueLoss: 'oldValues' expected a [batch, time] tensor when 'clip' is set, got undefined");
    expect(() => valueLoss({values: x, oldValues: x, returns: x, mask: x}, {clip: 0})).toThrow("valueLoss: 'clip' expected > 0, got 0");
    expect(() => valueLoss({values: x, returns: x, mask: x}, {aggregation: 'mean' as never})).toThrow("valueLoss: 'aggregation' expected one of 'token-mean'");
    expect(() => valueLoss({values: x, returns: x, mask: x}, {maxLength: 4})).toThrow("valueLoss: 'maxLength' applies only to aggregation 'seq-mean-token-sum-norm'");
    expect(() => valueLoss({values: x, returns: x, mask: x}, {cliprange: 0.2} as never)).toThrow("valueLoss: unknown option 'cliprange'");
    expect(() => valueLoss({values: x, returns: nan, mask: one})).toThrow("valueLoss: 'returns' expected finite values, got NaN at flat index 1");
    expect(() => valueLoss({values: x, returns: nan, mask: x})).not.toThrow(); // NaN only on padding
    expect(() => valueLoss({values: nan, returns: x, mask: one})).toThrow("valueLoss: 'values' expected finite values, got NaN at flat index 1");
    expect(() => valueLoss({values: nan, returns: x, mask: x})).not.toThrow(); // NaN only on padding
    expect(() => valueLoss({values: x, oldValues: nan, returns: x, mask: one}, {clip: 0.1})).toThrow("valueLoss: 'oldValues' expected finite values");
    expect(() => valueLoss({values: tf.zeros([3]) as never, returns: x, mask: x})).toThrow("valueLoss: 'values' expected shape [batch, time] (rank 2), got [3]");
    tf.dispose([x, bad, half, nan, one]);
  });
});
