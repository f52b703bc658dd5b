/**
 * Per-token entropy of softmax(logits / temperature), chunked and differentiable.
 * @module
 */
import {entropyFromLogitsWebGPU} from './fused/log_probs_webgpu.js';
import * as tf from '@tensorflow/tfjs-core';
import {entropyFromLogitsCpu} from './fused/log_probs_cpu.js';
import {assertKnownOptions, assertRank, check, fmtShape, syncValueChecksEnabled} from './assert.js';
import {chunkNotFinite, joinChunks, readChunkOptions, throwIfNotFinite} from './token_log_probs.js';

/** Options of {@link entropyFromLogits}. */
export interface EntropyFromLogitsOptions {
  /** Divide the logits by this first (the sampling temperature); default `1`. Must be > 0. */
  temperature?: number;
  /**
   * Rows of the flattened `[batch * time]` axis processed at once (forward and backward). Default
   * `max(1, floor(4194304 / vocab))`; any integer >= 1.
   */
  chunkSize?: number;
}

/**
 * Entropy of one chunk `z` `[n, vocab]`, `[n]`: H = logSum - E_p[s] with s = z - max(z) and
 * logSum = log sum exp(s). Working with the shifted s (not lse - E_p[z]) avoids cancelling two
 * numbers of size |z| (logits of ±1000 would lose all digits in float32).
 */
function chunkEntropy(z: tf.Tensor2D): tf.Tensor1D {
  const s = tf.sub(z, tf.max(z, 1, true));
  const logSum = tf.log(tf.sum(tf.exp(s), 1, true));
  const p = tf.exp(tf.sub(s, logSum));
  return tf.sub(tf.reshape(logSum, [-1]), tf.sum(tf.mul(p, s), 1)) as tf.Tensor1D;
}

/**
 * Entropy of the next-token distribution at every position.
 *
 * $$H_{b,t} = -\sum_v p_v \log p_v = \log \sum_v e^{z_v} - \sum_v p_v z_v, \qquad p = \operatorname{softmax}(z),\ z = \text{logits} / \tau$$
 * (computed on $z - \max z$; $\tau$ = `temperature`).
 * Computed over the flattened `[batch * time]` rows in chunks of `chunkSize` with `tf.customGrad`;
 * the backward recomputes each chunk's softmax: dH/dz_v = p_v (E_p[z] - z_v), times dy /
 * temperature. Never holds a full-size softmax. Stable for large logits (±1000); logits must be
 * finite. Used as an exploration diagnostic or an entropy bonus.
 *
 * @param logits `[batch, time, vocab]` float32.
 * @param options.temperature divide the logits by this first; default `1`.
 * @param options.chunkSize rows of `[batch * time]` per chunk; default `max(1, floor(4194304 / vocab))`.
 * @returns `[batch, time]` float32 entropies in nats, in [0, log(vocab)] up to float32 rounding.
 * @throws on a wrong rank or dtype, non-finite logits (a value check; on webgpu from the kernel's own
 *   pass), or bad options.
 * @example
 * const logits = tf.tensor3d([[[0, 0, 0, 0], [100, 0, 0, 0]]]); // [1, 2, 4]
 * entropyFromLogits(logits); // [[log(4), ~0]] = [[1.386, ~0]]
 */
export function entropyFromLogits(logits: tf.Tensor3D, options: EntropyFromLogitsOptions = {}): tf.Tensor2D {
  const fn = 'entropyFromLogits';
  assertKnownOptions(options, ['temperature', 'chunkSize'], fn);
  assertRank(logits, 3, fn, 'logits', ['batch', 'time', 'vocab'], 'float32');
  const [batch, time, vocab] = logits.shape;
  check(vocab > 0, fn, () => `'logits' expected a vocab axis of size >= 1, got ${fmtShape(logits.shape)}`);
  const {temperature, chunkSize} = readChunkOptions(options, vocab, fn);
  const rows = batch * time;
  // webgpu: two fused kernels (src/math/fused/log_probs_webgpu.ts).
  const fused = entropyFromLogitsWebGPU(logits, temperature);
  if (fused !== null) return fused;
  const scale = (x: tf.Tensor2D): tf.Tensor2D => (temperature === 1 ? x : tf.div(x, temperature));

  if (rows === 0) return tf.zeros([batch, time]);
  // cpu / wasm: one JavaScript loop over the rows (src/math/fused/log_probs_cpu.ts).
  const loop = entropyFromLogitsCpu(logits, temperature);
  if (loop !== null) return loop;
  const checks = syncValueChecksEnabled();
  return tf.tidy(() => {
    const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
      const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
      const x2 = tf.reshape(x, [rows, vocab]) as tf.Tensor2D;
      const hs: tf.Tensor1D[] = [];
      const flags: tf.Scalar[] = [];
      for (let start = 0; start < rows; start += chunkSize) {
        const n = Math.min(chunkSize, rows - start);
        const [h, flag] = tf.tidy(() => {
          const chunk = tf.slice(x2, [start, 0], [n, vocab]);
          return [chunkEntropy(scale(chunk)), ...(checks ? [chunkNotFinite(chunk)] : [])];
        });
        hs.push(h as tf.Tensor1D);
        if (flag !== undefined) flags.push(flag as tf.Scalar);
      }
      if (checks) throwIfNotFinite(flags, x, fn);
      save([x]);
      const value = tf.reshape(joinChunks(hs), [batch, time]);
      const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor => {
        const xs2 = tf.reshape(saved[0]!, [rows, vocab]) as tf.Tensor2D;
        const dyFlat = tf.reshape(dy, [rows]) as tf.Tensor1D;
        const parts: tf.Tensor2D[] = [];
        for (let start = 0; start < rows; start += chunkSize) {
          const n = Math.min(chunkSize, rows - start);
          parts.push(tf.tidy(() => {
            const z = scale(tf.slice(xs2, [start, 0], [n, vocab]));
            const shifted = tf.sub(z, tf.max(z, 1, true));
            const p = tf.exp(tf.sub(shifted, tf.log(tf.sum(tf.exp(shifted), 1, true))));
            const expected = tf.sum(tf.mul(p, shifted), 1, true);
            const g = tf.div(tf.slice(dyFlat, [start], [n]), temperature);
            return tf.mul(tf.mul(p, tf.sub(expected, shifted)), tf.expandDims(g, 1));
          }));
        }
        return tf.reshape(joinChunks(parts), [batch, time, vocab]);
      };
      return {value, gradFunc};
    });
    return op(logits) as tf.Tensor2D;
  });
}
