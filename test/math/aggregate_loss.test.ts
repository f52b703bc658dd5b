import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import fc from 'fast-check';
import {describe, expect, it} from 'vitest';
import {expectSameNumbers} from '../helpers/expect_same_numbers.js';
import {configureValidation} from '../../src/math/assert.js';
import {type AggregateLossOptions, aggregateLoss, LOSS_AGGREGATIONS, type LossAggregation} from '../../src/math/aggregate_loss.js';


function agg(perToken: number[][], mask: number[][], mode: LossAggregation, options?: AggregateLossOptions) {
  const [p, m] = [tf.tensor2d(perToken), tf.tensor2d(mask)];
  const out = aggregateLoss(p, m, mode, options);
  const g = tf.grad((x: tf.Tensor) => aggregateLoss(x, m, mode, options))(p);
  const res = {loss: out.dataSync()[0]!, grad: (g.arraySync() as number[][]).map((r) => r.map((v) => v + 0))};
  tf.dispose([p, m, out, g]);
  return res;
}

// Row 0: [1, 2, 3] all valid (sum 6, n 3); row 1: [4, pad, pad] (sum 4, n 1); row 2: fully masked (NaN in it).
const P = [[1, 2, 3], [4, 99, -7], [NaN, Infinity, 5]];
const M = [[1, 1, 1], [1, 0, 0], [0, 0, 0]];

describe('aggregateLoss', () => {
  it('hand-computed values of every mode (empty row excluded from the seq means)', () => {
    // token-mean: (6 + 4) / 4 = 2.5
    // seq-mean-token-mean: (6/3 + 4/1) / 2 = 3           (row 2 has no tokens: not counted)
    // seq-mean-token-sum: (6 + 4) / 2 = 5
    // seq-mean-token-sum-norm, maxLength = time = 3: (6/3 + 4/3) / 2 = 1.666667; maxLength 4: (1.5 + 1) / 2 = 1.25
    expect(agg(P, M, 'token-mean').loss).toBeCloseTo(2.5, 6);
    expect(agg(P, M, 'seq-mean-token-mean').loss).toBeCloseTo(3, 6);
    expect(agg(P, M, 'seq-mean-token-sum').loss).toBeCloseTo(5, 6);
    expect(agg(P, M, 'seq-mean-token-sum-norm').loss).toBeCloseTo(5 / 3, 6);
    expect(agg(P, M, 'seq-mean-token-sum-norm', {maxLength: 4}).loss).toBeCloseTo(1.25, 6);
  });

  it('hand-computed gradients w.r.t. perToken (weights per token), 0 at padding', () => {
    // token-mean: 1/N = 1/4 per token. seq-mean-token-mean: 1/(|S| n_i) = [1/6 x3, 1/2].
    // seq-mean-token-sum: 1/|S| = 1/2. sum-norm (maxLength 4): 1/(|S| * 4) = 1/8.
    const want: Record<LossAggregation, number[]> = {
      'token-mean': [0.25, 0.25], 'seq-mean-token-mean': [1 / 6, 0.5], 'seq-mean-token-sum': [0.5, 0.5],
      'seq-mean-token-sum-norm': [0.125, 0.125],
    };
    for (const mode of LOSS_AGGREGATIONS) {
      const {grad} = agg(P, M, mode, mode === 'seq-mean-token-sum-norm' ? {maxLength: 4} : {});
      const [w0, w1] = want[mode];
      [[w0, w0, w0], [w1, 0, 0], [0, 0, 0]].forEach((row, b) => row.forEach((v, t) =>
        expect(grad[b]![t], `${mode} [${b},${t}]`).toBeCloseTo(v!, 6)));
      expect(grad[1]![1]).toBe(0);
      expect(grad[2]).toEqual([0, 0, 0]);
    }
  });

  it('normalizer replaces the count: hand-computed', () => {
    // token-mean with normalizer 10: 10 / 10 = 1; seq-mean-token-mean with normalizer 4: (2 + 4) / 4 = 1.5
    expect(agg(P, M, 'token-mean', {normalizer: 10}).loss).toBeCloseTo(1, 6);
    expect(agg(P, M, 'seq-mean-token-mean', {normalizer: 4}).loss).toBeCloseTo(1.5, 6);
    expect(agg(P, M, 'seq-mean-token-sum', {normalizer: 5}).loss).toBeCloseTo(2, 6);
    expect(agg(P, M, 'seq-mean-token-sum-norm', {normalizer: 1, maxLength: 2}).loss).toBeCloseTo(5, 6);
  });

  it('a batch without any mask token gives exactly 0 (not NaN) in every mode, zero gradient', () => {
    for (const mode of LOSS_AGGREGATIONS) {
      const {loss, grad} = agg([[NaN, 1], [Infinity, -3]], [[0, 0], [0, 0]], mode);
      expect(loss).toBe(0);
      expect(grad).toEqual([[0, 0], [0, 0]]);
    }
  });

  it('property: padded values (even NaN/Inf) never change the loss and get exactly 0 gradient', () => {
    const arb = fc.record({
      p: fc.array(fc.array(fc.double({min: -5, max: 5, noNaN: true}), {minLength: 4, maxLength: 4}), {minLength: 3, maxLength: 3}),
      m: fc.array(fc.array(fc.constantFrom(0, 1), {minLength: 4, maxLength: 4}), {minLength: 3, maxLength: 3}),
      junk: fc.constantFrom(NaN, Infinity, -Infinity, 1e20),
      mode: fc.constantFrom(...LOSS_AGGREGATIONS),
    });
    fc.assert(fc.property(arb, ({p, m, junk, mode}) => {
      const clean = agg(p, m, mode);
      const dirty = agg(p.map((r, b) => r.map((v, t) => (m[b]![t] ? v : junk))), m, mode);
      expectSameNumbers(dirty.loss, clean.loss);
      expectSameNumbers(dirty.grad, clean.grad);
      m.forEach((r, b) => r.forEach((v, t) => { if (!v) expect(dirty.grad[b]![t]).toBe(0); }));
    }), {numRuns: 30});
  });

  it('property: micro-batches with `normalizer` sum to the full-batch loss and gradient (every mode)', () => {
    const arb = fc.integer({min: 2, max: 6}).chain((batch) => fc.integer({min: 1, max: 5}).chain((time) => fc.record({
      p: fc.array(fc.array(fc.double({min: -5, max: 5, noNaN: true}), {minLength: time, maxLength: time}),
          {minLength: batch, maxLength: batch}),
      m: fc.array(fc.array(fc.constantFrom(0, 1), {minLength: time, maxLength: time}), {minLength: batch, maxLength: batch}),
      cuts: fc.uniqueArray(fc.integer({min: 1, max: batch - 1}), {maxLength: batch - 1}),
      mode: fc.constantFrom(...LOSS_AGGREGATIONS),
      maxLength: fc.integer({min: time, max: time + 4}),
    })));
    fc.assert(fc.property(arb, ({p, m, cuts, mode, maxLength}) => {
      const extra = mode === 'seq-mean-token-sum-norm' ? {maxLength} : {};
      const full = agg(p, m, mode, extra);
      const tokens = m.flat().reduce((u: number, v) => u + v, 0);
      const sequences = m.filter((r) => r.some((v) => v === 1)).length;
      const normalizer = Math.max(mode === 'token-mean' ? tokens : sequences, 1);
      const bounds = [0, ...[...cuts].sort((a, b) => a - b), p.length];
      let loss = 0;
      const grad: number[][] = [];
      for (let k = 0; k + 1 < bounds.length; k++) {
        const part = agg(p.slice(bounds[k], bounds[k + 1]), m.slice(bounds[k], bounds[k + 1]), mode, {...extra, normalizer});
        loss += part.loss;
        grad.push(...part.grad);
      }
      expect(Math.abs(loss - full.loss)).toBeLessThan(1e-5 * (1 + Math.abs(full.loss)));
      grad.forEach((row, b) => row.forEach((v, t) => expect(v).toBeCloseTo(full.grad[b]![t]!, 6)));
    }), {numRuns: 40});
  });

  it('without `normalizer`, summing or averaging micro-batch token-means is not the full-batch loss', () => {
    // The bug the option exists for: rows [1,1,1] (3 tokens of 1) and [10] (1 token of 10).
    // Full token-mean: 13/4 = 3.25. Mean of micro token-means: (1 + 10)/2 = 5.5. With normalizer 4: 3/4 + 10/4 = 3.25.
    const p = [[1, 1, 1], [10, 0, 0]];
    const m = [[1, 1, 1], [1, 0, 0]];
    expect(agg(p, m, 'token-mean').loss).toBeCloseTo(3.25, 6);
    const naive = (agg([p[0]!], [m[0]!], 'token-mean').loss + agg([p[1]!], [m[1]!], 'token-mean').loss) / 2;
    expect(naive).toBeCloseTo(5.5, 6);
    const fixed = agg([p[0]!], [m[0]!], 'token-mean', {normalizer: 4}).loss + agg([p[1]!], [m[1]!], 'token-mean', {normalizer: 4}).loss;
    expect(fixed).toBeCloseTo(3.25, 6);
  });

  it('does not leak; accepts int32 and bool masks', () => {
    const [p, m] = [tf.tensor2d(P), tf.tensor2d(M)];
    const before = tf.memory().numTensors;
    for (const mode of LOSS_AGGREGATIONS) {
      const out = aggregateLoss(p, m, mode, {normalizer: 3});
      expect(tf.memory().numTensors).toBe(before + 1);
      out.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    for (const dtype of ['int32', 'bool'] as const) {
      const mm = tf.cast(m, dtype);
      const out = aggregateLoss(p, mm, 'seq-mean-token-mean');
      expect(out.dataSync()[0]).toBeCloseTo(3, 6);
      tf.dispose([mm, out]);
    }
    tf.dispose([p, m]);
  });

  it('rejects bad inputs and options with the argument name', () => {
    const [p, m] = [tf.tensor2d([[1, 2]]), tf.tensor2d([[1, 0]])];
    const [r1, wrong, half] = [tf.tensor1d([1, 2]), tf.tensor2d([[1], [0]]), tf.tensor2d([[1, 0.5]])];
    expect(() => aggregateLoss(r1, m, 'token-mean')).toThrow("aggregateLoss: 'perToken' expected shape [batch, time] (rank 2), got [2]");
    expect(() => aggregateLoss(p, wrong, 'token-mean')).toThrow("aggregateLoss: 'mask' expected the shape of 'perToken' [1,2], got [2,1]");
    expect(() => aggregateLoss(p, half, 'token-mean')).toThrow("aggregateLoss: 'mask' expected values in {0, 1}, got 0.5");
    expect(() => aggregateLoss(p, m, 'mean' as LossAggregation))
        .toThrow(`aggregateLoss: 'mode' expected one of 'token-mean', 'seq-mean-token-mean', 'seq-mean-token-sum', 'seq-mean-token-sum-norm', got "mean"`);
    expect(() => aggregateLoss(p, m, 'token-mean', {maxLength: 4}))
        .toThrow("aggregateLoss: 'maxLength' applies only to aggregation 'seq-mean-token-sum-norm', got it with 'token-mean'");
    expect(() => aggregateLoss(p, m, 'seq-mean-token-sum-norm', {maxLength: 0})).toThrow("aggregateLoss: 'maxLength' expected >= 1, got 0");
    expect(() => aggregateLoss(p, m, 'seq-mean-token-sum-norm', {maxLength: 2.5})).toThrow("aggregateLoss: 'maxLength' expected an integer, got 2.5");
    expect(() => aggregateLoss(p, m, 'token-mean', {normalizer: 0})).toThrow("aggregateLoss: 'normalizer' expected > 0, got 0");
    expect(() => aggregateLoss(p, m, 'token-mean', {normalizer: NaN})).toThrow("aggregateLoss: 'normalizer' expected a finite number, got NaN");
    expect(() => aggregateLoss(p, m, 'token-mean', {norm: 3} as AggregateLossOptions)).toThrow("aggregateLoss: unknown option 'norm'");
    tf.dispose([p, m, r1, wrong, half]);
  });

  it('rejects NaN / +-Infinity in perToken where mask is 1, skipped when value checks are off', () => {
    const p = tf.tensor2d([[1, NaN], [-Infinity, 2]]);
    const m = tf.tensor2d([[1, 0], [1, 1]]);
    const before = tf.memory().numTensors;
    for (const mode of LOSS_AGGREGATIONS) {
      expect(() => aggregateLoss(p, m, mode))
          .toThrow("aggregateLoss: 'perToken' expected finite values, got -Infinity at flat index 2 (shape [2,2])");
    }
    expect(() => tf.grad((x: tf.Tensor) => aggregateLoss(x, m, 'token-mean'))(p))
        .toThrow("aggregateLoss: 'perToken' expected finite values, got -Infinity at flat index 2 (shape [2,2])");
    expect(tf.memory().numTensors).toBe(before);
    const previous = configureValidation({valueChecks: false});
    try {
      const out = aggregateLoss(p, m, 'token-mean');
      expect(out.dataSync()[0]).toBe(-Infinity);
      out.dispose();
    } finally {
      configureValidation(previous);
    }
    tf.dispose([p, m]);
  });
});
