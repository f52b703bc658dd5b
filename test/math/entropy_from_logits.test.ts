import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import fc from 'fast-check';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {maxAbsDiff} from '../helpers/max_abs_diff.js';
import {configureValidation} from '../../src/math/assert.js';
import {entropyFromLogits} from '../../src/math/entropy_from_logits.js';
import {setLogProbsCpu} from '../../src/math/fused/log_probs_cpu.js';
import {tensorCentralDifferences} from '../helpers/central_differences.js';
import {expectGradientClose} from '../helpers/expect_gradient_close.js';

const vals = (t: tf.Tensor): number[] => Array.from(t.dataSync());

/** Reference: -sum softmax * logSoftmax over the full tensor. */
function naive(logits: tf.Tensor, temperature = 1): tf.Tensor {
  const z = tf.div(logits, temperature);
  return tf.neg(tf.sum(tf.mul(tf.softmax(z), tf.logSoftmax(z)), -1));
}


// Every test runs on both paths of the cpu/wasm backends: the JavaScript loop (the default) and the
// chunked tfjs ops (setLogProbsCpu(false)).
for (const [path, loop] of [['loop', true], ['chunked ops', false]] as const) {
  describe(`entropyFromLogits (${path})`, () => {
    beforeAll(() => setLogProbsCpu(loop));
    afterAll(() => setLogProbsCpu(true));
    it('hand-computed values', () => {
      // Uniform over 4: log 4 = 1.386294. [ln 3, 0, -inf-ish]: p = [3/4, 1/4] ->
      // -(0.75 ln 0.75 + 0.25 ln 0.25) = 0.75 * 0.287682 + 0.25 * 1.386294 = 0.562335.
      // [100, 0, 0, 0]: p_0 ~ 1, H ~ 3 * e^-100 * 101 ~ 0.
      const logits = tf.tensor3d([[[0, 0, 0, 0], [Math.log(3), 0, -1000, -1000], [100, 0, 0, 0]]]);
      vals(entropyFromLogits(logits, {chunkSize: 2})).forEach((v, i) => expect(v).toBeCloseTo([1.386294, 0.562335, 0][i]!, 5));
      // temperature 2 on [ln 3, 0]: z = [ln sqrt 3, 0], p = [sqrt3, 1] / (1 + sqrt3) = [0.633975, 0.366025];
      // H = -(0.633975 ln 0.633975 + 0.366025 ln 0.366025) = 0.288932 + 0.367875 = 0.656806.
      const two = tf.tensor3d([[[Math.log(3), 0]]]);
      expect(vals(entropyFromLogits(two, {temperature: 2}))[0]).toBeCloseTo(0.656806, 5);
      tf.dispose([logits, two]);
    });

    it('is finite for logits of +-1000, with finite gradients', () => {
      const logits = tf.tensor3d([[[1000, -1000, 0], [-1000, -1000, -1000], [1000, 1000, -1000]]]);
      const h = vals(entropyFromLogits(logits));
      h.forEach((v, i) => expect(v).toBeCloseTo([0, Math.log(3), Math.LN2][i]!, 4));
      const g = vals(tf.grad((x: tf.Tensor) => tf.sum(entropyFromLogits(x as tf.Tensor3D)))(logits));
      expect(g.every(Number.isFinite)).toBe(true);
      logits.dispose();
    });

    it('property: equals the naive full softmax entropy for any chunk size, values and gradients', () => {
      fc.assert(fc.property(fc.record({
        batch: fc.integer({min: 1, max: 3}), time: fc.integer({min: 1, max: 5}), vocab: fc.integer({min: 1, max: 9}),
        chunk: fc.integer({min: 1, max: 17}), temperature: fc.constantFrom(1, 0.6, 1.5), seed: fc.integer({min: 0, max: 1e6}),
      }), ({batch, time, vocab, chunk, temperature, seed}) => {
        tf.tidy(() => {
          const logits = tf.randomNormal([batch, time, vocab], 0, 3, 'float32', seed) as tf.Tensor3D;
          const dy = tf.randomNormal([batch, time], 0, 1, 'float32', seed + 1);
          const opts = {chunkSize: chunk, temperature};
          const h = entropyFromLogits(logits, opts);
          expect(maxAbsDiff(h, naive(logits, temperature)), 'values').toBeLessThan(2e-5);
          expect(tf.min(h).dataSync()[0]).toBeGreaterThan(-1e-5);
          expect(tf.max(h).dataSync()[0]).toBeLessThan(Math.log(vocab) + 1e-5);
          const ours = tf.grad((x: tf.Tensor) => entropyFromLogits(x as tf.Tensor3D, opts))(logits, dy);
          const ref = tf.grad((x: tf.Tensor) => naive(x, temperature))(logits, dy);
          expect(maxAbsDiff(ours, ref), 'gradients').toBeLessThan(2e-5);
        });
      }), {numRuns: 30});
    });

    it('gradient matches central finite differences', () => {
      const x = [0.3, -1.2, 2.5, 0.9, 1.7, -0.4, 0.0, 2.2, -3.1, 0.6, 1.1, -0.8];
      const w = tf.tensor2d([[0.7, -1.3], [2, 0.4]]);
      const f = (t: tf.Tensor): tf.Scalar => tf.sum(tf.mul(entropyFromLogits(t as tf.Tensor3D, {chunkSize: 3, temperature: 0.9}), w));
      const analytic = tf.tidy(() => vals(tf.grad(f)(tf.tensor3d(x, [2, 2, 3]))));
      expectGradientClose(analytic, tensorCentralDifferences(f, x, [2, 2, 3], 1e-3), {rtol: 1e-2, atol: 2e-3});
      w.dispose();
    });

    it('does not leak (forward and backward) and does not dispose its input', () => {
      const logits = tf.randomNormal([2, 3, 5]) as tf.Tensor3D;
      const before = tf.memory().numTensors;
      const h = entropyFromLogits(logits, {chunkSize: 4});
      expect(tf.memory().numTensors).toBe(before + 1);
      const g = tf.grad((x: tf.Tensor) => entropyFromLogits(x as tf.Tensor3D, {chunkSize: 4}))(logits);
      expect(tf.memory().numTensors).toBe(before + 2);
      expect(logits.isDisposed).toBe(false);
      tf.dispose([h, g, logits]);
    });

    it('rejects bad input with messages naming the argument and shapes', () => {
      const x = tf.zeros([2, 3]);
      expect(() => entropyFromLogits(x as unknown as tf.Tensor3D))
          .toThrow("entropyFromLogits: 'logits' expected shape [batch, time, vocab] (rank 3), got [2,3]");
      const i = tf.zeros([1, 2, 3], 'int32') as tf.Tensor3D;
      expect(() => entropyFromLogits(i)).toThrow("entropyFromLogits: 'logits' expected dtype float32, got int32");
      const l = tf.zeros([1, 2, 3]) as tf.Tensor3D;
      expect(() => entropyFromLogits(l, {temperature: -1})).toThrow("entropyFromLogits: 'temperature' expected > 0, got -1");
      expect(() => entropyFromLogits(l, {chunkSize: 0})).toThrow("entropyFromLogits: 'chunkSize' expected >= 1, got 0");
      expect(() => entropyFromLogits(l, {chunk: 1} as never)).toThrow("entropyFromLogits: unknown option 'chunk'");
      for (const [v, at] of [[NaN, 4], [Infinity, 0], [-Infinity, 5]] as const) {
        const data = new Float32Array(6);
        data[at] = v;
        const bad = tf.tensor3d(data, [1, 2, 3]);
        expect(() => entropyFromLogits(bad))
            .toThrow(`entropyFromLogits: 'logits' expected finite values, got ${v} at flat index ${at} (shape [1,2,3])`);
        // A value check: off, NaN reaches that row only.
        const prev = configureValidation({valueChecks: false});
        try {
          const h = entropyFromLogits(bad);
          expect(Number.isNaN(h.dataSync()[0]!)).toBe(at < 3);
          expect(Number.isNaN(h.dataSync()[1]!)).toBe(at >= 3);
          h.dispose();
        } finally {
          configureValidation(prev);
        }
        bad.dispose();
      }
      tf.dispose([x, i, l]);
    });
  });
}
