import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import fc from 'fast-check';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {peakNewBytes} from '../helpers/peak_new_bytes.js';
import {maxAbsDiff} from '../helpers/max_abs_diff.js';
import {configureValidation} from '../../src/math/assert.js';
import {setLogProbsCpu} from '../../src/math/fused/log_probs_cpu.js';
import {tokenLogProbs} from '../../src/math/token_log_probs.js';
import {tensorCentralDifferences} from '../helpers/central_differences.js';
import {expectGradientClose} from '../helpers/expect_gradient_close.js';

const vals = (t: tf.Tensor): number[] => Array.from(t.dataSync());

/** Reference: full log-softmax, then pick the token with a one-hot (differentiable everywhere). */
function naive(logits: tf.Tensor, tokens: tf.Tensor2D, temperature = 1): tf.Tensor {
  const vocab = logits.shape[2]!;
  return tf.sum(tf.mul(tf.logSoftmax(tf.div(logits, temperature)), tf.cast(tf.oneHot(tokens, vocab), 'float32')), -1);
}

const shapeArb = fc.record({
  batch: fc.integer({min: 1, max: 3}), time: fc.integer({min: 1, max: 5}), vocab: fc.integer({min: 2, max: 9}),
  chunk: fc.integer({min: 1, max: 17}), temperature: fc.constantFrom(1, 0.7, 1.3), seed: fc.integer({min: 0, max: 1e6}),
});

function makeCase({batch, time, vocab, seed}: {batch: number; time: number; vocab: number; seed: number}) {
  const logits = tf.randomNormal([batch, time, vocab], 0, 3, 'float32', seed) as tf.Tensor3D;
  const tokens = tf.randomUniformInt([batch, time], 0, vocab, seed + 1) as tf.Tensor2D;
  const dy = tf.randomNormal([batch, time], 0, 1, 'float32', seed + 2) as tf.Tensor2D;
  return {logits, tokens, dy};
}

// Every test runs on both paths of the cpu/wasm backends: the JavaScript loop (the default) and the
// chunked tfjs ops (setLogProbsCpu(false)).
for (const [path, loop] of [['loop', true], ['chunked ops', false]] as const) {
  describe(`tokenLogProbs (${path})`, () => {
    beforeAll(() => setLogProbsCpu(loop));
    afterAll(() => setLogProbsCpu(true));
    it('hand-computed values', () => {
      // Row 0: logits [0, 0] -> log(1/2) = -0.693147. Row 1: [ln 3, 0], token 1 -> log(1/(3+1)) = -1.386294.
      const logits = tf.tensor3d([[[0, 0], [Math.log(3), 0]]]);
      const tokens = tf.tensor2d([[0, 1]], [1, 2], 'int32');
      vals(tokenLogProbs(logits, tokens)).forEach((v, i) => expect(v).toBeCloseTo([-0.693147, -1.386294][i]!, 6));
      // temperature 2: row 1 becomes [ln 3 / 2, 0] = [ln sqrt 3, 0], p(1) = 1 / (1 + sqrt 3) -> -1.005052.
      vals(tokenLogProbs(logits, tokens, {temperature: 2})).forEach((v, i) => expect(v).toBeCloseTo([-0.693147, -1.005052][i]!, 5));
      tf.dispose([logits, tokens]);
    });

    it('is finite and exact for logits of +-1000', () => {
      // [1000, -1000]: log p(0) = -log(1 + e^-2000) = 0; log p(1) = -2000.
      const logits = tf.tensor3d([[[1000, -1000], [1000, -1000], [-1000, -1000]]]);
      const tokens = tf.tensor2d([[0, 1, 1]], [1, 3], 'int32');
      const out = vals(tokenLogProbs(logits, tokens, {chunkSize: 2}));
      expect(out[0]).toBeCloseTo(0, 6);
      expect(out[1]).toBeCloseTo(-2000, 3);
      expect(out[2]).toBeCloseTo(-Math.LN2, 6);
      const g = vals(tf.grad((x: tf.Tensor) => tf.sum(tokenLogProbs(x as tf.Tensor3D, tokens, {chunkSize: 2})))(logits));
      expect(g.every(Number.isFinite)).toBe(true);
      // d/dlogits of log p(token): onehot - softmax: row 1 -> [-1, 1], row 2 -> [-0.5, 0.5].
      g.forEach((v, i) => expect(v).toBeCloseTo([0, 0, -1, 1, -0.5, 0.5][i]!, 6));
      tf.dispose([logits, tokens]);
    });

    it('property: equals naive logSoftmax + gather for any chunk size (also non-dividing), values and gradients', () => {
      fc.assert(fc.property(shapeArb, (c) => {
        tf.tidy(() => {
          const {logits, tokens, dy} = makeCase(c);
          const opts = {chunkSize: c.chunk, temperature: c.temperature};
          expect(maxAbsDiff(tokenLogProbs(logits, tokens, opts), naive(logits, tokens, c.temperature)), 'values').toBeLessThan(1e-5);
          const ours = tf.grad((x: tf.Tensor) => tokenLogProbs(x as tf.Tensor3D, tokens, opts))(logits, dy);
          const ref = tf.grad((x: tf.Tensor) => naive(x, tokens, c.temperature))(logits, dy);
          expect(maxAbsDiff(ours, ref), 'gradients').toBeLessThan(1e-5);
        });
      }), {numRuns: 30});
    });

    it('gradient matches central finite differences', () => {
      const x = [0.3, -1.2, 2.5, 0.9, 1.7, -0.4, 0.0, 2.2, -3.1, 0.6, 1.1, -0.8];
      const tokens = tf.tensor2d([[2, 0], [1, 2]], [2, 2], 'int32');
      const w = tf.tensor2d([[0.7, -1.3], [2, 0.4]]);
      const f = (t: tf.Tensor): tf.Scalar => tf.sum(tf.mul(tokenLogProbs(t as tf.Tensor3D, tokens, {chunkSize: 3, temperature: 0.8}), w));
      const analytic = tf.tidy(() => vals(tf.grad(f)(tf.tensor3d(x, [2, 2, 3]))));
      expectGradientClose(analytic, tensorCentralDifferences(f, x, [2, 2, 3], 1e-3), {rtol: 1e-2, atol: 2e-3});
      tf.dispose([tokens, w]);
    });

    it('does not leak (forward and backward) and does not dispose its inputs', () => {
      const {logits, tokens, dy} = makeCase({batch: 2, time: 3, vocab: 5, seed: 3});
      const before = tf.memory().numTensors;
      const out = tokenLogProbs(logits, tokens, {chunkSize: 4});
      expect(tf.memory().numTensors).toBe(before + 1);
      const g = tf.grad((x: tf.Tensor) => tokenLogProbs(x as tf.Tensor3D, tokens, {chunkSize: 4}))(logits, dy);
      expect(tf.memory().numTensors).toBe(before + 2);
      expect(logits.isDisposed || tokens.isDisposed).toBe(false);
      tf.dispose([out, g, logits, tokens, dy]);
    });

    it('backward holds no full-size softmax: peak memory well below the naive path', () => {
      // [batch * time, vocab] = [256, 512]: each full-size float32 tensor is 512 KiB.
      const {logits, tokens, dy} = makeCase({batch: 4, time: 64, vocab: 512, seed: 5});
      const full = logits.size * 4;
      const ours = peakNewBytes(() => {
        tf.dispose(tf.grad((x: tf.Tensor) => tokenLogProbs(x as tf.Tensor3D, tokens, {chunkSize: 16}))(logits, dy));
      });
      const ref = peakNewBytes(() => {
        tf.dispose(tf.grad((x: tf.Tensor) => naive(x, tokens))(logits, dy));
      });
      // Ours: the gradient (1x) plus, while the chunk gradients are concatenated, their copy (1x),
      // plus O(chunk) temporaries. On wasm, tf.customGrad's save() copies the input once more (its
      // Identity kernel copies; cpu shares the buffer). The naive path holds several full-size tensors.
      expect(ours).toBeLessThan((tf.getBackend() === 'wasm' ? 3.3 : 2.3) * full);
      expect(ref).toBeGreaterThan(3 * full);
      // Forward alone: nothing full-size at all.
      const fwd = peakNewBytes(() => tf.dispose(tokenLogProbs(logits, tokens, {chunkSize: 16})));
      expect(fwd).toBeLessThan(0.25 * full);
      tf.dispose([logits, tokens, dy]);
    });

    it('rejects bad input with messages naming the argument and shapes', () => {
      const logits = tf.zeros([2, 3, 5]) as tf.Tensor3D;
      const tokens = tf.zeros([2, 3], 'int32') as tf.Tensor2D;
      const bad = tf.tensor2d([[0, 1, 2], [3, 5, 0]], [2, 3], 'int32');
      const neg = tf.tensor2d([[0, -1, 2], [3, 4, 0]], [2, 3], 'int32');
      expect(() => tokenLogProbs(logits, bad))
          .toThrow("tokenLogProbs: 'tokens' expected values in [0, 5) (vocab size from 'logits' [2,3,5]), got 5 at flat index 4 (shape [2,3])");
      expect(() => tokenLogProbs(logits, neg)).toThrow("'tokens' expected values in [0, 5) (vocab size from 'logits' [2,3,5]), got -1 at flat index 1");
      expect(() => tokenLogProbs(logits, tf.zeros([2, 3]) as tf.Tensor2D)).toThrow("tokenLogProbs: 'tokens' expected dtype int32, got float32");
      expect(() => tokenLogProbs(logits, tf.zeros([3, 2], 'int32') as tf.Tensor2D))
          .toThrow("tokenLogProbs: 'tokens' expected shape [batch, time]=[2,3], got [3,2]");
      expect(() => tokenLogProbs(tf.zeros([6, 5]) as unknown as tf.Tensor3D, tokens))
          .toThrow("tokenLogProbs: 'logits' expected shape [batch, time, vocab] (rank 3), got [6,5]");
      expect(() => tokenLogProbs(logits, tokens, {temperature: 0})).toThrow("tokenLogProbs: 'temperature' expected > 0, got 0");
      expect(() => tokenLogProbs(logits, tokens, {chunkSize: 0})).toThrow("tokenLogProbs: 'chunkSize' expected >= 1, got 0");
      expect(() => tokenLogProbs(logits, tokens, {chunkSize: 1.5})).toThrow("'chunkSize' expected an integer, got 1.5");
      expect(() => tokenLogProbs(logits, tokens, {chunk: 4} as never)).toThrow("tokenLogProbs: unknown option 'chunk'");
      // Non-finite logits, anywhere (also in a row whose chosen token is finite).
      for (const [v, at] of [[NaN, 7], [Infinity, 0], [-Infinity, 29]] as const) {
        const data = new Float32Array(30);
        data[at] = v;
        const l = tf.tensor3d(data, [2, 3, 5]);
        expect(() => tokenLogProbs(l, tokens))
            .toThrow(`tokenLogProbs: 'logits' expected finite values, got ${v} at flat index ${at} (shape [2,3,5])`);
        l.dispose();
      }
      // The range and finiteness checks are value checks: they can be turned off (NaN reaches the row).
      const prev = configureValidation({valueChecks: false});
      expect(() => tf.dispose(tokenLogProbs(logits, bad))).not.toThrow();
      const nan = tf.tensor3d(Float32Array.from({length: 30}, (_, i) => (i === 7 ? NaN : 0)), [2, 3, 5]);
      const out = tokenLogProbs(nan, tokens);
      expect(vals(out).map(Number.isNaN)).toEqual([false, true, false, false, false, false]);
      configureValidation(prev);
      tf.dispose([logits, tokens, bad, neg, nan, out]);
    });
  });
}

describe('tokenLogProbs: the cpu/wasm loop', () => {
  it('runs as one op forward and one backward (the chunked ops run tens), without leaks', async () => {
    const {logits, tokens, dy} = makeCase({batch: 2, time: 3, vocab: 7, seed: 9});
    const kernels = async (on: boolean) => {
      setLogProbsCpu(on);
      const before = tf.memory().numTensors;
      const p = await tf.profile(() => {
        tf.dispose(tf.grad((x: tf.Tensor) => tokenLogProbs(x as tf.Tensor3D, tokens, {chunkSize: 2}))(logits, dy));
      });
      expect(tf.memory().numTensors).toBe(before);
      return p.kernels.length;
    };
    const prev = configureValidation({valueChecks: false}); // the token-range check is tfjs ops on both paths
    try {
      expect(await kernels(true)).toBeLessThanOrEqual(3);
      expect(await kernels(false)).toBeGreaterThan(15);
    } finally {
      configureValidation(prev);
      setLogProbsCpu(true);
      tf.dispose([logits, tokens, dy]);
    }
  });
});
