import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import fc from 'fast-check';
import {readFileSync} from 'node:fs';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {configureValidation} from '../../src/math/assert.js';
import {setPairwiseCpu} from '../../src/math/fused/pairwise_cpu.js';
import {pairwiseRewardLoss} from '../../src/math/pairwise_reward_loss.js';
import {centralDifferences} from '../helpers/central_differences.js';
import {expectGradientClose} from '../helpers/expect_gradient_close.js';

const num = (t: tf.Tensor): number => t.dataSync()[0]!;
const softplus = (x: number) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));

// Every test runs on both paths of the cpu/wasm backends: the JavaScript loop (the default) and the
// composed tfjs ops (setPairwiseCpu(false)).
for (const [path, loop] of [['loop', true], ['composed ops', false]] as const) {
  describe(`pairwiseRewardLoss (${path})`, () => {
    beforeAll(() => setPairwiseCpu(loop));
    afterAll(() => setPairwiseCpu(true));
    it('hand-computed values', () => {
      tf.tidy(() => {
        // gaps [2, 0]: (softplus(-2) + softplus(0)) / 2 = (0.126928 + 0.693147) / 2 = 0.410038
        const c = tf.tensor1d([2, 0]);
        const r = tf.tensor1d([0, 0]);
        expect(num(pairwiseRewardLoss({chosenRewards: c, rejectedRewards: r}))).toBeCloseTo(0.410038, 5);
        // margin 1: gaps [1, -1]: (softplus(-1) + softplus(1)) / 2 = (0.313262 + 1.313262) / 2 = 0.813262
        expect(num(pairwiseRewardLoss({chosenRewards: c, rejectedRewards: r}, {margin: 1}))).toBeCloseTo(0.813262, 5);
        // per-pair margin [2, 0]: gaps [0, 0] -> log 2
        expect(num(pairwiseRewardLoss({chosenRewards: c, rejectedRewards: r}, {margin: tf.tensor1d([2, 0])}))).toBeCloseTo(Math.LN2, 6);
        // centering 0.5: + 0.5 * mean([4, 0]) = + 1
        expect(num(pairwiseRewardLoss({chosenRewards: c, rejectedRewards: r}, {centerCoefficient: 0.5}))).toBeCloseTo(1.410038, 5);
      });
    });
    it('property: equals mean softplus(-(gap - margin)), decreases with the gap, and is stable for any gap', () => {
      fc.assert(fc.property(fc.array(fc.tuple(fc.double({min: -1e4, max: 1e4, noNaN: true}), fc.double({min: -1e4, max: 1e4, noNaN: true})),
          {minLength: 1, maxLength: 8}), fc.double({min: -3, max: 3, noNaN: true}), (rows, margin) => {
        tf.tidy(() => {
          const c = tf.tensor1d(rows.map((p) => p[0]));
          const r = tf.tensor1d(rows.map((p) => p[1]));
          const cf = c.dataSync();
          const rf = r.dataSync();
          const expected = rows.reduce((acc, _, i) => acc + softplus(-(cf[i]! - rf[i]! - margin)), 0) / rows.length;
          const loss = num(pairwiseRewardLoss({chosenRewards: c, rejectedRewards: r}, {margin}));
          expect(Number.isFinite(loss)).toBe(true);
          expect(Math.abs(loss - expected)).toBeLessThan(1e-4 * (1 + expected));
          const better = num(pairwiseRewardLoss({chosenRewards: tf.add(c, 1), rejectedRewards: r}, {margin}));
          expect(better).toBeLessThanOrEqual(loss + 1e-6);
        });
      }), {numRuns: 50});
      tf.tidy(() => {
        const loss = pairwiseRewardLoss({chosenRewards: tf.tensor1d([-1000, 1000]), rejectedRewards: tf.tensor1d([1000, -1000])});
        expect(num(loss)).toBeCloseTo(1000, 3); // (2000 + 0) / 2, not Infinity
      });
    });
    it('gradients: -sigmoid(-gap) / pairs for chosen, the opposite for rejected; finite differences', () => {
      tf.tidy(() => {
        const c = tf.tensor1d([0.5, -1, 3]);
        const r = tf.tensor1d([0, 1, -2]);
        const [gc, gr] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
          pairwiseRewardLoss({chosenRewards: a as tf.Tensor1D, rejectedRewards: b as tf.Tensor1D}, {margin: 0.25}))([c, r]);
        const gaps = [0.25, -2.25, 4.75];
        const expected = gaps.map((g) => -1 / (1 + Math.exp(g)) / 3);
        Array.from(gc!.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 6));
        Array.from(gr!.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(-expected[i]!, 6));
        const f = (x: number[]) => num(pairwiseRewardLoss({chosenRewards: tf.tensor1d(x), rejectedRewards: r}, {centerCoefficient: 0.1}));
        const g = tf.grad((a: tf.Tensor) => pairwiseRewardLoss({chosenRewards: a as tf.Tensor1D, rejectedRewards: r}, {centerCoefficient: 0.1}))(c);
        const x = [0.5, -1, 3];
        expectGradientClose(g.dataSync(), centralDifferences(f, x, 1e-2), {digits: 3});
      });
    });
    it('agrees with a torch re-implementation of TRL RewardTrainer', () => {
      const ref = JSON.parse(readFileSync(new URL('../fixtures/distillation_reference.json', import.meta.url), 'utf8')).pairwise as {
        chosen: number[]; rejected: number[]; margin: number[];
        cases: {margin: null | number | 'tensor'; loss: number; gradChosen: number[]; gradRejected: number[]}[];
      };
      for (const c of ref.cases) {
        tf.tidy(() => {
          const margin = c.margin === null ? undefined : c.margin === 'tensor' ? tf.tensor1d(ref.margin) : c.margin;
          const f = (a: tf.Tensor, b: tf.Tensor) => pairwiseRewardLoss(
              {chosenRewards: a as tf.Tensor1D, rejectedRewards: b as tf.Tensor1D}, margin === undefined ? {} : {margin});
          const chosen = tf.tensor1d(ref.chosen);
          const rejected = tf.tensor1d(ref.rejected);
          expect(num(f(chosen, rejected))).toBeCloseTo(c.loss, 5);
          const [gc, gr] = tf.grads(f)([chosen, rejected]);
          Array.from(gc!.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(c.gradChosen[i]!, 6));
          Array.from(gr!.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(c.gradRejected[i]!, 6));
        });
      }
    });
    it('does not leak and rejects bad input with named errors', () => {
      const c = tf.tensor1d([1, 2]);
      const r = tf.tensor1d([0, 0]);
      const before = tf.memory().numTensors;
      const loss = pairwiseRewardLoss({chosenRewards: c, rejectedRewards: r}, {margin: 0.5, centerCoefficient: 0.1});
      expect(tf.memory().numTensors).toBe(before + 1);
      loss.dispose();
      expect(() => pairwiseRewardLoss({chosenRewards: c, rejectedRewards: tf.tensor1d([0])})).toThrow(
          "pairwiseRewardLoss: 'rejectedRewards' expected shape [pairs]=[2], got [1]");
      expect(() => pairwiseRewardLoss({chosenRewards: tf.tensor1d([]), rejectedRewards: tf.tensor1d([])})).toThrow(
          "pairwiseRewardLoss: 'chosenRewards' expected at least one pair, got [0]");
      expect(() => pairwiseRewardLoss({chosenRewards: c, rejected: r} as never)).toThrow("pairwiseRewardLoss: unknown input 'rejected'");
      expect(() => pairwiseRewardLoss({chosenRewards: c, rejectedRewards: r}, {margin: NaN})).toThrow(
          "pairwiseRewardLoss: 'margin' expected a finite number, got NaN");
      expect(() => pairwiseRewardLoss({chosenRewards: c, rejectedRewards: r}, {margin: tf.tensor1d([1])})).toThrow(
          "pairwiseRewardLoss: 'margin' expected shape [pairs]=[2], got [1]");
      expect(() => pairwiseRewardLoss({chosenRewards: c, rejectedRewards: r}, {centerCoefficient: -1})).toThrow(
          "pairwiseRewardLoss: 'centerCoefficient' expected >= 0, got -1");
      expect(() => pairwiseRewardLoss({chosenRewards: c, rejectedRewards: r}, {beta: 1} as never)).toThrow(
          "pairwiseRewardLoss: unknown option 'beta'");
      const nan = tf.tensor1d([0, NaN]);
      const inf = tf.tensor1d([-Infinity, 0]);
      expect(() => pairwiseRewardLoss({chosenRewards: nan, rejectedRewards: r})).toThrow(
          "pairwiseRewardLoss: 'chosenRewards' expected finite values, got NaN at flat index 1 (shape [2])");
      expect(() => pairwiseRewardLoss({chosenRewards: c, rejectedRewards: inf})).toThrow(
          "pairwiseRewardLoss: 'rejectedRewards' expected finite values, got -Infinity at flat index 0 (shape [2])");
      expect(() => pairwiseRewardLoss({chosenRewards: c, rejectedRewards: r}, {margin: nan})).toThrow(
          "pairwiseRewardLoss: 'margin' expected finite values, got NaN at flat index 1 (shape [2])");
      const int = tf.tensor1d([0, 0], 'int32');
      expect(() => pairwiseRewardLoss({chosenRewards: c, rejectedRewards: int})).toThrow(
          "pairwiseRewardLoss: 'rejectedRewards' expected dtype float32, got int32");
      expect(() => pairwiseRewardLoss({chosenRewards: c, rejectedRewards: r}, {margin: int})).toThrow(
          "pairwiseRewardLoss: 'margin' expected dtype float32, got int32");
      // With value checks off, a NaN reward reaches the loss (the caller's choice).
      const previous = configureValidation({valueChecks: false});
      try {
        const l = pairwiseRewardLoss({chosenRewards: nan, rejectedRewards: r});
        expect(Number.isNaN(l.dataSync()[0])).toBe(true);
        l.dispose();
      } finally {
        configureValidation(previous);
      }
      tf.dispose([nan, inf, int]);
      tf.dispose([c, r]);
    });
  });
}

describe('pairwiseRewardLoss: the cpu/wasm loop against the composed ops', () => {
  afterAll(() => setPairwiseCpu(true));
  const both = (c: tf.Tensor1D, r: tf.Tensor1D, m: tf.Tensor1D, coef: number) => [true, false].map((on) => {
    setPairwiseCpu(on);
    const f = (a: tf.Tensor, b: tf.Tensor, mm: tf.Tensor) => tf.mul(pairwiseRewardLoss(
        {chosenRewards: a as tf.Tensor1D, rejectedRewards: b as tf.Tensor1D}, {margin: mm as tf.Tensor1D, centerCoefficient: coef}), 1.5);
    const {value, grads} = tf.valueAndGrads(f)([c, r, m]);
    return {value: num(value), grads: grads.map((g) => Array.from(g.dataSync()))};
  });

  it('property: same loss and gradients (chosen, rejected, a tensor margin) to float32 rounding', () => {
    fc.assert(fc.property(fc.integer({min: 1, max: 40}), fc.double({min: 0.1, max: 30, noNaN: true}),
        fc.constantFrom(0, 0.01, 0.5), fc.integer({min: 0, max: 1000}), (n, scale, coef, seed) => {
      tf.tidy(() => {
        const c = tf.randomNormal([n], 0, scale, 'float32', seed) as tf.Tensor1D;
        const r = tf.randomNormal([n], 0, scale, 'float32', seed + 1) as tf.Tensor1D;
        const m = tf.randomUniform([n], -1, 1, 'float32', seed + 2) as tf.Tensor1D;
        const [a, b] = both(c, r, m, coef);
        expect(Math.abs(a!.value - b!.value)).toBeLessThan(1e-5 * Math.max(1, b!.value));
        a!.grads.forEach((g, k) => g.forEach((v, i) => expect(Math.abs(v - b!.grads[k]![i]!)).toBeLessThan(1e-6 * (1 + coef * scale))));
      });
    }), {numRuns: 40});
  });

  it('runs as one op (the composed path runs several), without leaks', async () => {
    const c = tf.tensor1d([1, -2, 0.5]);
    const r = tf.tensor1d([0, 1, 0.25]);
    const kernels = async (on: boolean) => {
      setPairwiseCpu(on);
      const before = tf.memory().numTensors;
      const p = await tf.profile(() => {
        tf.dispose(tf.grads((a: tf.Tensor, b: tf.Tensor) =>
          pairwiseRewardLoss({chosenRewards: a as tf.Tensor1D, rejectedRewards: b as tf.Tensor1D}))([c, r]));
      });
      expect(tf.memory().numTensors).toBe(before);
      return p.kernels.length;
    };
    try {
      expect(await kernels(true)).toBeLessThanOrEqual(3); // the op and tf.grads' own dy
      expect(await kernels(false)).toBeGreaterThan(5);
    } finally {
      setPairwiseCpu(true);
      tf.dispose([c, r]);
    }
  });
});
