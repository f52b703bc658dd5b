/**
 * RMSNorm, the normalisation of Llama, Qwen2/3 and DeepSeek-V3.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {assertNumber, assertRank, assertTensor, check, fmtShape} from '../math/assert.js';

/**
 * Root-mean-square layer normalisation over the last axis (Zhang & Sennrich 2019, arXiv:1910.07467),
 * with the semantics of transformers' `LlamaRMSNorm` (float32 math):
 *
 * y = x / sqrt(mean(x^2 over the last axis) + eps) * weight
 *
 * No mean subtraction and no bias. Differentiable (used in training).
 *
 * @param x `[..., width]` float32.
 * @param weight `[width]` float32 gain.
 * @param eps added to the mean square; default `1e-6` (the `rms_norm_eps` of most checkpoints; Llama uses
 *   `1e-5`).
 * @returns `[..., width]`, the shape of `x`.
 * @throws when `weight` is not `[width]` or `eps` is not a finite number >= 0.
 * @example
 * const y = rmsNorm(tf.tensor2d([[3, 4]]), tf.tensor1d([1, 2]), 0);
 * // rms = sqrt((9 + 16) / 2) = 3.5355 -> [[0.8485, 2.2627]]
 * y.dispose();
 */
export function rmsNorm(x: tf.Tensor, weight: tf.Tensor1D, eps = 1e-6): tf.Tensor {
  const fn = 'rmsNorm';
  assertTensor(x, fn, 'x');
  check(x.rank >= 1 && x.dtype === 'float32', fn, () =>
    `'x' expected a float32 tensor [..., width], got ${x.dtype} ${fmtShape(x.shape)}`);
  const width = x.shape[x.rank - 1]!;
  assertRank(weight, 1, fn, 'weight', ['width'], 'float32');
  check(weight.shape[0] === width, fn, () =>
    `'weight' expected shape [width]=[${width}], got ${fmtShape(weight.shape)}`);
  assertNumber(eps, fn, 'eps', {min: 0});
  return tf.tidy(() => {
    // Computed on the transpose [width, rows] so that every broadcast is over a trailing axis (the cpu
    // backend's fast path; a [rows, 1] broadcast takes a per-element index computation).
    const xt = tf.transpose(tf.reshape(x, [-1, width]));
    const inv = tf.rsqrt(tf.add(tf.mean(tf.square(xt), 0), eps));
    const normed = tf.transpose(tf.mul(xt, inv));
    return tf.reshape(tf.mul(normed, weight), x.shape);
  });
}
