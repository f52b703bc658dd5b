/**
 * The linear layer in PyTorch's weight layout.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {assertFloat, assertRank, assertTensor, check, fmtShape} from '../math/assert.js';

/**
 * y = x W^T + b over the last axis, with `W` stored `[out, in]` as PyTorch's `nn.Linear` and every
 * Hugging Face checkpoint store it (no transpose at load time).
 *
 * @param x `[..., in]` float32.
 * @param weight `[out, in]` float32.
 * @param bias optional `[out]` float32.
 * @returns `[..., out]`.
 * @throws when an argument is not a tensor or not float32, `weight` is not rank 2, the inner sizes
 *   differ, or `bias` is not `[out]`.
 * @example
 * const y = linear(tf.tensor2d([[1, 2]]), tf.tensor2d([[1, 0], [1, 1], [0, 2]]), tf.tensor1d([0, 0, 1]));
 * // [[1, 3, 5]]
 * y.dispose();
 */
export function linear(x: tf.Tensor, weight: tf.Tensor2D, bias?: tf.Tensor1D): tf.Tensor {
  const fn = 'linear';
  assertTensor(x, fn, 'x');
  assertFloat(x, fn, 'x');
  assertRank(weight, 2, fn, 'weight', ['out', 'in'], 'float32');
  const inner = weight.shape[1];
  check(x.rank >= 1 && x.shape[x.rank - 1] === inner, fn, () =>
    `'x' expected shape [..., in=${inner}], got ${fmtShape(x.shape)}`);
  if (bias !== undefined) {
    assertTensor(bias, fn, 'bias', 1);
    check(bias.rank === 1 && bias.shape[0] === weight.shape[0], fn, () =>
      `'bias' expected shape [out]=[${weight.shape[0]}], got ${fmtShape(bias.shape)}`);
    assertFloat(bias, fn, 'bias');
  }
  return tf.tidy(() => {
    let y: tf.Tensor = tf.matMul(tf.reshape(x, [-1, inner]), weight, false, true);
    if (bias !== undefined) y = tf.add(y, bias);
    return tf.reshape(y, [...x.shape.slice(0, -1), weight.shape[0]]);
  });
}
