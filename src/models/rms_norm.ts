/**
 * RMSNorm, the normalisation of Llama, Qwen2/3 and DeepSeek-V3.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {assertNumber, assertRank, assertTensor, check, fmtShape} from '../math/assert.js';
import {rmsNormWebGPU} from '../math/fused/rms_norm_webgpu.js';
import {runWithLazyGradients} from '../math/fused/run_with_lazy_gradients.js';

/**
 * Root-mean-square layer normalisation over the last axis (Zhang & Sennrich 2019, arXiv:1910.07467),
 * with the semantics of transformers' `LlamaRMSNorm` (float32 math):
 *
 * y = xhat * weight,  xhat = x * r,  r = 1 / sqrt(mean(x^2 over the last axis) + eps)
 *
 * No mean subtraction and no bias. Differentiable, with an explicit backward pass (per row, g = dy):
 * d weight = sum over rows of g * xhat, d x = r * (g * weight - xhat * mean(g * weight * xhat)).
 * On webgpu it runs as fused kernels (one dispatch forward, one for d x, one or two for d weight);
 * elsewhere as 5 tfjs ops forward and 6 (d x) + 2 (d weight) backward, each gradient only when the
 * tape asks for it.
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
  return tf.tidy('rmsNorm', () => rmsNormWebGPU(x, weight, eps) ?? rmsNormComposed(x, weight, eps));
}

/** The composed rmsNorm: tfjs ops forward, the explicit backward of {@link rmsNorm}. */
function rmsNormComposed(x: tf.Tensor, weight: tf.Tensor1D, eps: number): tf.Tensor {
  const width = x.shape[x.rank - 1]!;
  const rowsOf = (t: tf.Tensor): tf.Tensor2D => tf.reshape(t, [-1, width]);
  return runWithLazyGradients({x, weight}, (save) => {
    const x2 = rowsOf(x);
    const meanSquare = tf.mean(tf.square(x2), -1, true);
    const r = tf.rsqrt(eps === 0 ? meanSquare : tf.add(meanSquare, eps)); // [rows, 1]
    const xhat = tf.mul(x2, r);
    save([xhat, r, weight]);
    return tf.reshape(tf.mul(xhat, weight), x.shape);
  }, (dy, saved) => {
    const [xhat, r, w] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D];
    return {
      x: () => {
        const g = tf.mul(rowsOf(dy), w);
        const m = tf.mean(tf.mul(g, xhat), -1, true);
        return tf.reshape(tf.mul(r, tf.sub(g, tf.mul(xhat, m))), x.shape);
      },
      weight: () => tf.sum(tf.mul(rowsOf(dy), xhat), 0),
    };
  });
}
