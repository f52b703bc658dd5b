import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import fc from 'fast-check';
import {describe, expect, it} from 'vitest';
import {peakNewBytes} from '../helpers/peak_new_bytes.js';
import {maxAbsDiff} from '../helpers/max_abs_diff.js';
import {configureValidation} from '../../src/math/assert.js';
import {linearTokenLogProbs} from '../../src/math/linear_token_log_probs.js';
import {centralDifferences} from '../helpers/central_differences.js';
import {expectGradientClose} from '../helpers/expect_gradient_close.js';

const vals = (t: tf.Tensor): number[] => Array.from(t.dataSync());

/** Reference: full logits = hidden @ W, full log-softmax, pick with a one-hot. */
function naive(hidden: tf.Tensor, weight: tf.Tensor, tokens: tf.Tensor2D, temperature = 1): tf.Tensor {
  const [batch, time, width] = hidden.shape as [number, number, number];
  const vocab = weight.shape[1]!;
  const logits = tf.reshape(tf.matMul(tf.reshape(hidden, [batch * time, width]), weight), [batch, time, vocab]);
  return tf.sum(tf.mul(tf.logSoftmax(tf.div(logits, temperature)), tf.cast(tf.oneHot(tokens, vocab), 'float32')), -1);
}



function makeCase(batch: number, time: number, width: number, vocab: number, seed: number) {
  return {
    hidden: tf.randomNormal([batch, time, width], 0, 1, 'float32', seed) as tf.Tensor3D,
    weight: tf.randomNormal([width, vocab], 0, 1, 'float32', seed + 1) as tf.Tensor2D,
    tokens: tf.randomUniformInt([batch, time], 0, vocab, seed + 2) as tf.Tensor2D,
    dy: tf.randomNormal([batch, time], 0, 1, 'float32', seed + 3) as tf.Tensor2D,
  };
}

describe('linearTokenLogProbs', () => {
  it('hand-computed values', () => {
    // hidden [[1, 0], [0, 2]], W = [[ln 3, 0, 0], [0, 0, 1]] (hidden 2 -> vocab 3):
    // row 0 logits [ln 3, 0, 0] -> p = [3, 1, 1] / 5; token 0 -> log 0.6 = -0.510826.
    // row 1 logits [0, 0, 2]  -> token 2: 2 - log(2 + e^2) = 2 - log(9.389056) = -0.239545.
    const hidden = tf.tensor3d([[[1, 0], [0, 2]]]);
    const weight = tf.tensor2d([[Math.log(3), 0, 0], [0, 0, 1]]);
    const tokens = tf.tensor2d([[0, 2]], [1, 2], 'int32');
    vals(linearTokenLogProbs(hidden, weight, tokens, {chunkSize: 1})).forEach((v, i) => expect(v).toBeCloseTo([-0.510826, -0.239545][i]!, 5));
    // Tied-embedding layout [vocab, hidden] gives the same.
    const tied = tf.transpose(weight) as tf.Tensor2D;
    vals(linearTokenLogProbs(hidden, tied, tokens, {transposeWeight: true})).forEach((v, i) => expect(v).toBeCloseTo([-0.510826, -0.239545][i]!, 5));
    tf.dispose([hidden, weight, tokens, tied]);
  });

  it('property: equals naive matMul + logSoftmax + gather, values and gradients for hidden and weight', () => {
    fc.assert(fc.property(fc.record({
      batch: fc.integer({min: 1, max: 3}), time: fc.integer({min: 1, max: 4}), width: fc.integer({min: 1, max: 5}),
      vocab: fc.integer({min: 2, max: 9}), chunk: fc.integer({min: 1, max: 13}), temperature: fc.constantFrom(1, 0.8),
      transposeWeight: fc.boolean(), seed: fc.integer({min: 0, max: 1e6}),
    }), ({batch, time, width, vocab, chunk, temperature, transposeWeight, seed}) => {
      tf.tidy(() => {
        const {hidden, weight, tokens, dy} = makeCase(batch, time, width, vocab, seed);
        const w = transposeWeight ? tf.transpose(weight) as tf.Tensor2D : weight;
        const opts = {chunkSize: chunk, temperature, transposeWeight};
        expect(maxAbsDiff(linearTokenLogProbs(hidden, w, tokens, opts), naive(hidden, weight, tokens, temperature)), 'values').toBeLessThan(1e-4);
        const ours = tf.grads((h: tf.Tensor, ww: tf.Tensor) => linearTokenLogProbs(h as tf.Tensor3D, ww as tf.Tensor2D, tokens, opts))([hidden, w], dy);
        const ref = tf.grads((h: tf.Tensor, ww: tf.Tensor) => naive(h, transposeWeight ? tf.transpose(ww) : ww, tokens, temperature))([hidden, w], dy);
        expect(maxAbsDiff(ours[0]!, ref[0]!), 'd hidden').toBeLessThan(1e-4);
        expect(maxAbsDiff(ours[1]!, ref[1]!), 'd weight').toBeLessThan(1e-4);
      });
    }), {numRuns: 25});
  });

  it('gradient matches central finite differences (hidden and weight)', () => {
    const h0 = [0.3, -1.2, 0.5, 0.9, 1.7, -0.4, 0.1, 0.8];
    const w0 = [0.2, -0.7, 1.1, 0.5, -0.3, 0.9];
    const tokens = tf.tensor2d([[2, 0], [1, 2]], [2, 2], 'int32');
    const mix = tf.tensor2d([[0.7, -1.3], [2, 0.4]]);
    const f = (h: tf.Tensor, w: tf.Tensor): tf.Scalar =>
      tf.sum(tf.mul(linearTokenLogProbs(h as tf.Tensor3D, w as tf.Tensor2D, tokens, {chunkSize: 3, temperature: 0.9}), mix));
    const [gh, gw] = tf.tidy(() => tf.grads(f)([tf.tensor3d(h0, [2, 2, 2]), tf.tensor2d(w0, [2, 3])]).map(vals));
    const fAt = (hv: number[], wv: number[]) => tf.tidy(() => f(tf.tensor3d(hv, [2, 2, 2]), tf.tensor2d(wv, [2, 3])).dataSync()[0]!);
    expectGradientClose(gh!, centralDifferences((p) => fAt(p, w0), h0, 1e-3), {rtol: 1e-2, atol: 2e-3}, 'hidden');
    expectGradientClose(gw!, centralDifferences((p) => fAt(h0, p), w0, 1e-3), {rtol: 1e-2, atol: 2e-3}, 'weight');
    tf.dispose([tokens, mix]);
  });

  it('is finite for logits of +-1000', () => {
    // hidden 1000 * e_0, W = [[1, -1], [0, 0]]: logits [1000, -1000] -> log p = [0, -2000].
    const hidden = tf.tensor3d([[[1000, 0], [1000, 0]]]);
    const weight = tf.tensor2d([[1, -1], [0, 0]]);
    const tokens = tf.tensor2d([[0, 1]], [1, 2], 'int32');
    const out = vals(linearTokenLogProbs(hidden, weight, tokens));
    expect(out[0]).toBeCloseTo(0, 5);
    expect(out[1]).toBeCloseTo(-2000, 2);
    const g = tf.grads((h: tf.Tensor, w: tf.Tensor) => tf.sum(linearTokenLogProbs(h as tf.Tensor3D, w as tf.Tensor2D, tokens)))([hidden, weight]);
    expect(g.every((t) => vals(t).every(Number.isFinite))).toBe(true);
    tf.dispose([hidden, weight, tokens, ...g]);
  });

  it('never materialises [batch, time, vocab]: peak memory far below the naive path', () => {
    // [batch * time, vocab] = [256, 2048] logits would be 2 MiB; hidden 8, chunks of 16 rows.
    const {hidden, weight, tokens, dy} = makeCase(2, 128, 8, 2048, 11);
    const full = 2 * 128 * 2048 * 4;
    const step = (fn: (h: tf.Tensor, w: tf.Tensor) => tf.Tensor) => () => tf.dispose(tf.grads(fn)([hidden, weight], dy));
    const fwd = peakNewBytes(() => tf.dispose(linearTokenLogProbs(hidden, weight, tokens, {chunkSize: 16})));
    const ours = peakNewBytes(step((h, w) => linearTokenLogProbs(h as tf.Tensor3D, w as tf.Tensor2D, tokens, {chunkSize: 16})));
    const ref = peakNewBytes(step((h, w) => naive(h, w, tokens)));
    // Forward: a few [16, 2048] chunk temporaries (128 KiB each). Backward: those plus the weight
    // gradient [8, 2048] (64 KiB) and its running sum, plus (wasm only) the saved copies of the inputs.
    expect(fwd).toBeLessThan(0.25 * full);
    expect(ours).toBeLessThan(0.4 * full);
    expect(ref).toBeGreaterThan(2 * full);
    tf.dispose([hidden, weight, tokens, dy]);
  });

  it('does not leak (forward and backward) and does not dispose its inputs', () => {
    const {hidden, weight, tokens, dy} = makeCase(2, 3, 4, 5, 1);
    const before = tf.memory().numTensors;
    const out = linearTokenLogProbs(hidden, weight, tokens, {chunkSize: 4});
    expect(tf.memory().numTensors).toBe(before + 1);
    const g = tf.grads((h: tf.Tensor, w: tf.Tensor) => linearTokenLogProbs(h as tf.Tensor3D, w as tf.Tensor2D, tokens, {chunkSize: 4}))([hidden, weight], dy);
    expect(tf.memory().numTensors).toBe(before + 3);
    expect(hidden.isDisposed || weight.isDisposed || tokens.isDisposed).toBe(false);
    tf.dispose([out, ...g, hidden, weight, tokens, dy]);
  });

  it('rejects bad input with messages naming the argument and shapes', () => {
    const hidden = tf.zeros([2, 3, 4]) as tf.Tensor3D;
    const weight = tf.zeros([4, 5]) as tf.Tensor2D;
    const tied = tf.zeros([5, 4]) as tf.Tensor2D;
    const tokens = tf.zeros([2, 3], 'int32') as tf.Tensor2D;
    const bad = tf.tensor2d([[0, 1, 2], [3, 4, 5]], [2, 3], 'int32');
    expect(() => linearTokenLogProbs(hidden, tied, tokens)).toThrow(
        "linearTokenLogProbs: 'weight' expected shape [hidden, vocab] with hidden=4 (from 'hidden' [2,3,4]), got [5,4]; pass transposeWeight to flip the layout");
    expect(() => linearTokenLogProbs(hidden, weight, tokens, {transposeWeight: true})).toThrow(
        "linearTokenLogProbs: 'weight' expected shape [vocab, hidden] with hidden=4 (from 'hidden' [2,3,4]), got [4,5]");
    expect(() => linearTokenLogProbs(hidden, weight, bad)).toThrow(
        "linearTokenLogProbs: 'tokens' expected values in [0, 5) (vocab size from 'weight' [4,5]), got 5 at flat index 5");
    expect(() => linearTokenLogProbs(hidden, weight, tf.zeros([2, 2], 'int32') as tf.Tensor2D)).toThrow(
        "linearTokenLogProbs: 'tokens' expected shape [batch, time]=[2,3], got [2,2]");
    expect(() => linearTokenLogProbs(tf.zeros([6, 4]) as unknown as tf.Tensor3D, weight, tokens)).toThrow(
        "linearTokenLogProbs: 'hidden' expected shape [batch, time, hidden] (rank 3), got [6,4]");
    expect(() => linearTokenLogProbs(hidden, tf.zeros([4, 5, 1]) as unknown as tf.Tensor2D, tokens)).toThrow(
        "linearTokenLogProbs: 'weight' expected shape [hidden, vocab] (rank 2), got [4,5,1]");
    expect(() => linearTokenLogProbs(hidden, weight, tokens, {chunkSize: -2})).toThrow("linearTokenLogProbs: 'chunkSize' expected >= 1, got -2");
    expect(() => linearTokenLogProbs(hidden, weight, tokens, {transposeWeight: 'yes' as never})).toThrow(
        "linearTokenLogProbs: 'transposeWeight' expected a boolean, got yes");
    tf.dispose([hidden, weight, tied, tokens, bad]);
  });

  it('rejects NaN / Infinity in hidden or weight and logits that overflow, naming the tensor; a value check', () => {
    const tokens = tf.zeros([2, 3], 'int32') as tf.Tensor2D;
    const h = (at: number, v: number) => tf.tensor3d(Float32Array.from({length: 24}, (_, i) => (i === at ? v : 0.5)), [2, 3, 4]);
    const w = (at: number, v: number) => tf.tensor2d(Float32Array.from({length: 20}, (_, i) => (i === at ? v : 0.5)), [4, 5]);
    const cases: Array<[tf.Tensor3D, tf.Tensor2D, string]> = [
      [h(13, NaN), w(-1, 0), "linearTokenLogProbs: 'hidden' expected finite values, got NaN at flat index 13 (shape [2,3,4])"],
      [h(-1, 0), w(7, -Infinity), "linearTokenLogProbs: 'weight' expected finite values, got -Infinity at flat index 7 (shape [4,5])"],
      [h(0, 3e38), w(0, 3e38), "linearTokenLogProbs: the logits 'hidden' @ 'weight' expected finite values, got NaN or Infinity (float32 overflow"],
    ];
    const before = tf.memory().numTensors;
    for (const [hidden, weight, message] of cases) {
      for (const chunkSize of [1, 100]) {
        expect(() => linearTokenLogProbs(hidden, weight, tokens, {chunkSize})).toThrow(message);
      }
    }
    expect(tf.memory().numTensors).toBe(before); // the error path leaks nothing
    const previous = configureValidation({valueChecks: false});
    try {
      const out = linearTokenLogProbs(cases[0]![0], cases[0]![1], tokens);
      expect(vals(out).map(Number.isNaN)).toEqual([false, false, false, true, false, false]);
      out.dispose();
    } finally {
      configureValidation(previous);
    }
    tf.dispose([tokens, ...cases.flatMap(([a, b]) => [a, b])]);
  });
});
