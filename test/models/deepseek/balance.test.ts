import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import {describe, expect, it} from 'vitest';
import {configureValidation} from '../../../src/math/assert.js';
import {routerBiasUpdate} from '../../../src/models/router_bias_update.js';
import {sequenceBalanceLoss, sequenceBalanceLossInModel} from '../../../src/models/sequence_balance_loss.js';
import {gridCentralDifferences} from '../../helpers/central_differences.js';
import {expectGradientClose} from '../../helpers/expect_gradient_close.js';

describe('routerBiasUpdate', () => {
  it('hand-computed: b + gamma * sign(mean - load), 0 at the mean', () => {
    // loads [6, 2, 3, 1], mean 3: signs [-1, +1, 0, +1]
    const b = tf.tensor1d([0.5, 0, -0.2, 0.1]), load = tf.tensor1d([6, 2, 3, 1]);
    const out = routerBiasUpdate(b, load, {gamma: 0.01}).arraySync();
    [0.49, 0.01, -0.2, 0.11].forEach((v, i) => expect(out[i]).toBeCloseTo(v, 6));
    expect(b.arraySync()).toEqual([0.5, 0, -0.2, 0.1].map(Math.fround)); // input untouched
    tf.dispose([b, load]);
  });

  it('default gamma is 0.001', () => {
    const out = routerBiasUpdate(tf.zeros([2]) as tf.Tensor1D, tf.tensor1d([3, 1])).arraySync();
    expect(out[0]).toBeCloseTo(-0.001, 7);
    expect(out[1]).toBeCloseTo(0.001, 7);
  });

  it('properties: every step is exactly gamma or 0, overloaded experts go down, bias order preserved among equal loads', () => {
    fc.assert(fc.property(fc.array(fc.nat({max: 50}), {minLength: 2, maxLength: 12}), fc.float({min: Math.fround(0.001), max: 1, noNaN: true}), (loads, gamma) => {
      const b = tf.zeros([loads.length]) as tf.Tensor1D, l = tf.tensor1d(loads);
      const out = routerBiasUpdate(b, l, {gamma});
      const d = out.arraySync();
      const mean = loads.reduce((a, x) => a + x, 0) / loads.length;
      tf.dispose([b, l, out]);
      loads.forEach((x, i) => {
        const want = Math.abs(x - mean) < 1e-6 * (1 + mean) ? 0 : x > mean ? -gamma : gamma;
        if (Math.abs(x - mean) > 1e-4) expect(d[i]).toBeCloseTo(want, 5);
      });
      // the update never increases the spread of loads' ordering: max-load expert gets the smallest bias
      const iMax = loads.indexOf(Math.max(...loads)), iMin = loads.indexOf(Math.min(...loads));
      expect(d[iMax]!).toBeLessThanOrEqual(d[iMin]!);
    }), {numRuns: 50});
  });

  it('leaks nothing and names bad arguments', () => {
    const b = tf.zeros([3]) as tf.Tensor1D, l = tf.ones([3]) as tf.Tensor1D;
    const before = tf.memory().numTensors;
    routerBiasUpdate(b, l).dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(() => routerBiasUpdate(b, tf.ones([4]) as tf.Tensor1D)).toThrow(/routerBiasUpdate: 'expertLoad' expected shape \[experts\]=\[3\], got \[4\]/);
    expect(() => routerBiasUpdate(b, l, {gamma: -1})).toThrow(/'gamma' expected >= 0/);
    tf.dispose([b, l]);
  });

  it('value checks: a NaN or infinite load and a NaN bias are named (skipped with valueChecks off)', () => {
    const b = tf.zeros([3]) as tf.Tensor1D, nanLoad = tf.tensor1d([1, NaN, 2]), infLoad = tf.tensor1d([1, 2, Infinity]);
    const nanBias = tf.tensor1d([0, 0, NaN]), l = tf.ones([3]) as tf.Tensor1D;
    const before = tf.memory().numTensors;
    expect(() => routerBiasUpdate(b, nanLoad)).toThrow(
        "routerBiasUpdate: 'expertLoad' expected finite values, got NaN at flat index 1 (shape [3])");
    expect(() => routerBiasUpdate(b, infLoad)).toThrow(
        "routerBiasUpdate: 'expertLoad' expected finite values, got Infinity at flat index 2 (shape [3])");
    expect(() => routerBiasUpdate(nanBias, l)).toThrow(
        "routerBiasUpdate: 'bias' expected finite values, got NaN at flat index 2 (shape [3])");
    expect(tf.memory().numTensors).toBe(before);
    const previous = configureValidation({valueChecks: false});
    try {
      routerBiasUpdate(b, nanLoad).dispose();
      routerBiasUpdate(nanBias, l).dispose();
    } finally {
      configureValidation(previous);
    }
    tf.dispose([b, nanLoad, infLoad, nanBias, l]);
  });
});

describe('sequenceBalanceLoss', () => {
  it('uniform routing and affinities give exactly alpha', () => {
    const s = tf.fill([2, 4, 4], 0.3) as tf.Tensor3D;
    // topK 2 of 4: each expert selected in half of the tokens
    const sel = tf.tensor3d([[[1, 1, 0, 0], [0, 0, 1, 1], [1, 1, 0, 0], [0, 0, 1, 1]], [[1, 0, 1, 0], [0, 1, 0, 1], [1, 0, 0, 1], [0, 1, 1, 0]]]);
    expect(sequenceBalanceLoss(s, sel, {topK: 2, alpha: 0.5}).dataSync()[0]).toBeCloseTo(0.5, 6);
    tf.dispose([s, sel]);
  });

  it('hand-computed, one sequence of 2 tokens, 2 experts, top-1', () => {
    // s = [[0.8, 0.2], [0.6, 0.4]] (already normalised); both tokens pick expert 0
    // f = 2/(1*2) * [2, 0] = [2, 0];  P = [(0.8+0.6)/2, (0.2+0.4)/2] = [0.7, 0.3]
    // L = alpha * (2*0.7 + 0) = 1.4 alpha
    const s = tf.tensor3d([[[0.8, 0.2], [0.6, 0.4]]]), sel = tf.tensor3d([[[1, 0], [1, 0]]]);
    expect(sequenceBalanceLoss(s, sel, {topK: 1, alpha: 0.1}).dataSync()[0]).toBeCloseTo(0.14, 6);
    // padding the second token: T = 1, f = [2, 0], P = [0.8, 0.2] -> 1.6 alpha
    const m = tf.tensor2d([[1, 0]]);
    expect(sequenceBalanceLoss(s, sel, {topK: 1, alpha: 0.1, mask: m}).dataSync()[0]).toBeCloseTo(0.16, 6);
    tf.dispose([s, sel, m]);
  });

  it('gradient with respect to the affinities matches finite differences', () => {
    const s0 = tf.tensor3d([[[0.7, 0.2, 0.5], [0.1, 0.9, 0.4]]]), sel = tf.tensor3d([[[1, 0, 1], [0, 1, 1]]]);
    const f = (s: tf.Tensor3D): tf.Scalar => sequenceBalanceLoss(s, sel, {topK: 2, alpha: 1});
    const g = (tf.grad(f as (x: tf.Tensor) => tf.Tensor)(s0).arraySync() as number[][][])[0]!;
    const base = s0.arraySync()[0]!;
    const fd = gridCentralDifferences((b) => tf.tidy(() => f(tf.tensor3d([b])).dataSync()[0]!), base, 1e-3);
    expectGradientClose(g, fd, {digits: 2});
    tf.dispose([s0, sel]);
  });

  it('leaks nothing and names bad arguments', () => {
    const s = tf.ones([1, 2, 3]) as tf.Tensor3D, sel = tf.ones([1, 2, 3]) as tf.Tensor3D;
    const before = tf.memory().numTensors;
    sequenceBalanceLoss(s, sel, {topK: 1}).dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(() => sequenceBalanceLoss(s, tf.ones([1, 2, 4]) as tf.Tensor3D, {topK: 1})).toThrow(/'selected' expected shape/);
    expect(() => sequenceBalanceLoss(s, sel, {topK: 1, mask: tf.tensor2d([[1, 2]])})).toThrow(/'mask' expected values in \{0, 1\}/);
    tf.dispose([s, sel]);
  });

  it('value checks: NaN / Infinity affinities and an all-zero row at a real position (skipped with valueChecks off)', () => {
    const sel = tf.tensor3d([[[1, 0], [0, 1]]]);
    const nan = tf.tensor3d([[[0.5, NaN], [0.5, 0.5]]]), inf = tf.tensor3d([[[0.5, 0.5], [Infinity, 0.5]]]);
    const zero = tf.tensor3d([[[0.5, 0.5], [0, 0]]]);
    const before = tf.memory().numTensors;
    expect(() => sequenceBalanceLoss(nan, sel, {topK: 1})).toThrow(
        "sequenceBalanceLoss: 'affinities' expected finite values, got NaN at flat index 1 (shape [1,2,2])");
    expect(() => sequenceBalanceLoss(inf, sel, {topK: 1})).toThrow(
        "sequenceBalanceLoss: 'affinities' expected finite values, got Infinity at flat index 2 (shape [1,2,2])");
    expect(() => sequenceBalanceLoss(zero, sel, {topK: 1})).toThrow(
        "sequenceBalanceLoss: 'affinities' expected each row over the experts to have a positive sum (sigmoid affinities), " +
        'got sum 0 at [batch, time]=[0,1] (shape [1,2,2])');
    expect(tf.memory().numTensors).toBe(before);
    const previous = configureValidation({valueChecks: false});
    try {
      const out = sequenceBalanceLoss(zero, sel, {topK: 1});
      expect(Number.isNaN(out.dataSync()[0])).toBe(true);
      out.dispose();
    } finally {
      configureValidation(previous);
    }
    const inModel = sequenceBalanceLossInModel(nan, sel, {topK: 1});
    expect(Number.isNaN(inModel.dataSync()[0])).toBe(true);
    inModel.dispose();
    tf.dispose([sel, nan, inf, zero]);
  });

  it('padding positions may hold anything (zeros, NaN): left out of the loss and the checks', () => {
    const sel = tf.tensor3d([[[1, 0], [0, 1]]]), mask = tf.tensor2d([[1, 0]]);
    const clean = tf.tensor3d([[[0.5, 0.5], [0.3, 0.7]]]);
    const padded = tf.tensor3d([[[0.5, 0.5], [NaN, 0]]]), zeros = tf.tensor3d([[[0.5, 0.5], [0, 0]]]);
    const want = sequenceBalanceLoss(clean, sel, {topK: 1, alpha: 1, mask}).dataSync()[0]!;
    expect(sequenceBalanceLoss(padded, sel, {topK: 1, alpha: 1, mask}).dataSync()[0]).toBeCloseTo(want, 6);
    expect(sequenceBalanceLoss(zeros, sel, {topK: 1, alpha: 1, mask}).dataSync()[0]).toBeCloseTo(want, 6);
    const g = tf.grad((a: tf.Tensor) => sequenceBalanceLoss(a as tf.Tensor3D, sel, {topK: 1, alpha: 1, mask}))(padded);
    expect(Array.from(g.dataSync()).every(Number.isFinite)).toBe(true);
    tf.dispose([sel, mask, clean, padded, zeros, g]);
  });
});
