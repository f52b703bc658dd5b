/**
 * The gated SiLU feed-forward network of Llama-family and DeepSeek models.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';

/** Returns the weight stored under a checkpoint name (e.g. `model.layers.0.mlp.gate_proj.weight`). */
export type WeightGetter = (name: string) => tf.Tensor;

/**
 * SwiGLU feed-forward network (Shazeer 2020, arXiv:2002.05202), weights in the Hugging Face `[out, in]`
 * layout: FFN(x) = W_down (SiLU(W_gate x) ⊙ W_up x).
 *
 * @param x `[tokens, hidden]`.
 * @param w weight getter; reads `${prefix}gate_proj.weight` `[inter, hidden]`, `${prefix}up_proj.weight`
 *   `[inter, hidden]`, `${prefix}down_proj.weight` `[hidden, inter]`.
 * @param prefix name prefix, e.g. `model.layers.0.mlp.`.
 * @returns `[tokens, hidden]`.
 * @example
 * const w = (n: string) => n.includes('down') ? tf.ones([2, 3]) : tf.ones([3, 2]);
 * swigluMlp(tf.ones([1, 2]), w, 'mlp.'); // [1, 2], each 3 * 2 * silu(2)
 */
export function swigluMlp(x: tf.Tensor2D, w: WeightGetter, prefix: string): tf.Tensor2D {
  return tf.tidy(() => {
    const g = tf.matMul(x, w(prefix + 'gate_proj.weight'), false, true);
    const u = tf.matMul(x, w(prefix + 'up_proj.weight'), false, true);
    return tf.matMul(tf.mul(tf.mul(g, tf.sigmoid(g)), u), w(prefix + 'down_proj.weight'), false, true) as tf.Tensor2D;
  });
}
