import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import fc from 'fast-check';
import {describe, expect, it} from 'vitest';
import {sftLoss} from '../../src/math/sft_loss.js';
import {tokenLogProbs} from '../../src/math/token_log_probs.js';
import type {LossAggregation} from '../../src/math/aggregate_loss.js';
import fixture from '../fixtures/sft_loss_reference.json';
import {tensorCentralDifferences} from '../helpers/central_differences.js';
import {expectGradientClose} from '../helpers/expect_gradient_close.js';

const value = (t: tf.Scalar): number => { const v = t.dataSync()[0]!; t.dispose(); return v; };

describe('sftLoss', () => {
  it('hand-computed: mean NLL, and with label smoothing (1 - eps) NLL + eps mean_v(-log p_v)', () => {
    const logits = tf.tensor3d([[[2, 0, 0], [0, 1, 0]]]);
    const labels = tf.tensor2d([[0, 1]], [1, 2], 'int32');
    const mask = tf.tensor2d([[1, 1]]);
    // -log p_y: log(e^2 + 2) - 2 = 0.23954, log(2 + e) - 1 = 0.55145; mean 0.39549.
    expect(value(sftLoss({logits, labels, mask}))).toBeCloseTo(0.39549, 4);
    // mean_v(-log p_v) per token: lse - mean(z) = 2.23954 - 2/3 = 1.57288, 1.55145 - 1/3 = 1.21812; mean 1.39550.
    expect(value(sftLoss({logits, labels, mask}, {labelSmoothing: 0.1}))).toBeCloseTo(0.9 * 0.39549 + 0.1 * 1.3955, 4);
    // Mask out the second token: only the first counts.
    const first = tf.tensor2d([[1, 0]]);
    expect(value(sftLoss({logits, labels, mask: first}))).toBeCloseTo(0.23954, 4);
    expect(value(sftLoss({logits, labels, mask: tf.zeros([1, 2]) as tf.Tensor2D}))).toBe(0);
    tf.dispose([logits, labels, mask, first]);
  });

  it('matches torch 1.13 cross_entropy(label_smoothing) values and logits gradients (fixture)', () => {
    const logits = tf.tensor3d(fixture.logits);
    const labels = tf.tensor2d(fixture.labels, undefined, 'int32');
    const mask = tf.tensor2d(fixture.mask);
    expect(fixture.cases.length).toBe(12);
    for (const c of fixture.cases) {
      const options = {labelSmoothing: c.labelSmoothing, aggregation: c.aggregation as LossAggregation};
      const f = (z: tf.Tensor): tf.Scalar => sftLoss({logits: z as tf.Tensor3D, labels, mask}, options);
      const {value: loss, grad} = tf.valueAndGrad(f)(logits);
      expect(loss.dataSync()[0], JSON.stringify(options)).toBeCloseTo(c.loss, 5);
      const g = grad.dataSync();
      c.grad.flat(2).forEach((want, i) => expect(Math.abs(g[i]! - want), `${JSON.stringify(options)} grad ${i}`).toBeLessThan(1e-6));
      tf.dispose([loss, grad]);
    }
    tf.dispose([logits, labels, mask]);
  });

  it('properties: eps = 0 is the masked NLL of tokenLogProbs; linear in eps; >= 0; finite at logits of ±1000', () => {
    const arb = fc.record({
      z: fc.array(fc.double({min: -6, max: 6, noNaN: true}), {minLength: 2 * 3 * 4, maxLength: 2 * 3 * 4}),
      y: fc.array(fc.integer({min: 0, max: 3}), {minLength: 6, maxLength: 6}),
      m: fc.array(fc.constantFrom(0, 1), {minLength: 6, maxLength: 6}),
      eps: fc.double({min: 0, max: 1, noNaN: true}),
    });
    fc.assert(fc.property(arb, ({z, y, m, eps}) => {
      tf.tidy(() => {
        const logits = tf.tensor3d(z, [2, 3, 4]);
        const labels = tf.tensor2d(y, [2, 3], 'int32');
        const mask = tf.tensor2d(m, [2, 3]);
        const l0 = sftLoss({logits, labels, mask}).dataSync()[0]!;
        const l1 = sftLoss({logits, labels, mask}, {labelSmoothing: 1}).dataSync()[0]!;
        const le = sftLoss({logits, labels, mask}, {labelSmoothing: eps}).dataSync()[0]!;
        const count = m.reduce<number>((a, b) => a + b, 0);
        const nll = count === 0 ? 0 : -tf.sum(tf.mul(tokenLogProbs(logits, labels), mask)).dataSync()[0]! / count;
        expect(l0).toBeCloseTo(nll, 4);
        expect(le).toBeCloseTo((1 - eps) * l0 + eps * l1, 4);
        expect(le).toBeGreaterThanOrEqual(-1e-6);
      });
    }), {numRuns: 30});
    tf.tidy(() => {
      const logits = tf.tensor3d([[[1000, -1000, 0]]]);
      const labels = tf.tensor2d([[1]], [1, 1], 'int32');
      const l = sftLoss({logits, labels, mask: tf.ones([1, 1]) as tf.Tensor2D}, {labelSmoothing: 0.2}).dataSync()[0]!;
      // 0.8 * 2000 + 0.2 * (1000 - 0) = 1800
      expect(l).toBeCloseTo(1800, 2);
    });
  });

  it('gradient matches central finite differences (seq-mean-token-mean, eps 0.3)', () => {
    const logits = tf.randomNormal([2, 2, 3], 0, 1, 'float32', 5) as tf.Tensor3D;
    const labels = tf.tensor2d([[0, 2], [1, 1]], [2, 2], 'int32');
    const mask = tf.tensor2d([[1, 1], [1, 0]]);
    const options = {labelSmoothing: 0.3, aggregation: 'seq-mean-token-mean' as const};
    const f = (z: tf.Tensor): tf.Scalar => sftLoss({logits: z as tf.Tensor3D, labels, mask}, options);
    const grad = tf.grad(f)(logits);
    const g = grad.dataSync();
    const base = logits.dataSync();
    expectGradientClose(g, tensorCentralDifferences(f, base, [2, 2, 3], 1e-2), {rtol: 1e-2, floor: 1});
    tf.dispose([logits, labels, mask, grad]);
  });

  it('leaks no tensors and names bad input', () => {
    const logits = tf.zeros([1, 2, 3]) as tf.Tensor3D;
    const labels = tf.tensor2d([[0, 1]], [1, 2], 'int32');
    const mask = tf.ones([1, 2]) as tf.Tensor2D;
    const before = tf.memory().numTensors;
    value(sftLoss({logits, labels, mask}, {labelSmoothing: 0.5, aggregation: 'seq-mean-token-sum-norm', maxLength: 4}));
    expect(tf.memory().numTensors).toBe(before);
    expect(() => sftLoss({logits, labels, mask}, {labelSmoothing: 1.5})).toThrow(/sftLoss: 'labelSmoothing' expected <= 1, got 1.5/);
    expect(() => sftLoss({logits, labels, mask}, {aggregation: 'mean' as never})).toThrow(/sftLoss: 'aggregation' expected one of/);
    expect(() => sftLoss({logits, labels, mask}, {maxLength: 3})).toThrow(/sftLoss: 'maxLength' applies only to aggregation 'seq-mean-token-sum-norm'/);
    expect(() => sftLoss({logits, labels, mask}, {smoothing: 0.1} as never)).toThrow(/sftLoss: unknown .*'smoothing'/);
    expect(() => sftLoss({logits, labels: tf.tensor2d([[0, 1, 2]], [1, 3], 'int32'), mask})).toThrow(/sftLoss: 'labels' expected shape/);
    expect(() => sftLoss({logits, labels, mask, target: mask} as never)).toThrow(/sftLoss: unknown .*'target'/);
    expect(() => sftLoss({logits, labels, mask: tf.tensor2d([[1, 2]])})).toThrow(/sftLoss/);
    // The errors of the log-prob part name sftLoss and its 'labels', not tokenLogProbs' 'tokens'.
    const out = tf.tensor2d([[0, 3]], [1, 2], 'int32');
    expect(() => sftLoss({logits, labels: out, mask})).toThrow(
        "sftLoss: 'labels' expected values in [0, 3) (vocab size from 'logits' [1,2,3]), got 3 at flat index 1 (shape [1,2])");
    expect(() => sftLoss({logits, labels: tf.tensor2d([[0, 1]]), mask})).toThrow("sftLoss: 'labels' expected dtype int32, got float32");
    const nan = tf.tensor3d([[[0, 0, 0], [0, NaN, 0]]]);
    expect(() => sftLoss({logits: nan, labels, mask})).toThrow(
        "sftLoss: 'logits' expected finite values, got NaN at flat index 4 (shape [1,2,3])");
    tf.dispose([logits, labels, mask, out, nan]);
  });
});
