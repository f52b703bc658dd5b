/**
 * The SwiGLU feed-forward block of Llama, Qwen and DeepSeek.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {linear} from './linear.js';
import type {WeightGetter} from './weight_getter.js';

/** Weights of {@link swigluMlp}, PyTorch layout `[out, in]`. */
export interface SwigluWeights {
  /** `[intermediate, hidden]` gate projection W_g. */
  gate: tf.Tensor2D;
  /** `[intermediate, hidden]` up projection W_u. */
  up: tf.Tensor2D;
  /** `[hidden, intermediate]` down projection W_d. */
  down: tf.Tensor2D;
  /** Optional `[intermediate]` bias of the gate projection (Llama `mlp_bias`). */
  gateBias?: tf.Tensor1D;
  /** Optional `[intermediate]` bias of the up projection (Llama `mlp_bias`). */
  upBias?: tf.Tensor1D;
  /** Optional `[hidden]` bias of the down projection (Llama `mlp_bias`). */
  downBias?: tf.Tensor1D;
}

/**
 * SwiGLU MLP (Shazeer 2020, arXiv:2002.05202):
 *
 * MLP(x) = W_d (silu(W_g x) * (W_u x)),  silu(z) = z * sigmoid(z)
 *
 * @param x `[..., hidden]` float32.
 * @param weights see {@link SwigluWeights}.
 * @returns `[..., hidden]`.
 * @example
 * const w = {gate: tf.ones([4, 2]) as tf.Tensor2D, up: tf.ones([4, 2]) as tf.Tensor2D, down: tf.ones([2, 4]) as tf.Tensor2D};
 * const y = swigluMlp(tf.tensor2d([[1, 0]]), w); // 4 * silu(1) * 1 = 2.924 per output
 * y.dispose();
 */
export function swigluMlp(x: tf.Tensor, weights: SwigluWeights): tf.Tensor {
  return tf.tidy(() => {
    const g = linear(x, weights.gate, weights.gateBias);
    const u = linear(x, weights.up, weights.upBias);
    return linear(tf.mul(tf.mul(g, tf.sigmoid(g)), u), weights.down, weights.downBias);
  });
}

/**
 * The {@link SwigluWeights} stored under a checkpoint prefix: `${prefix}gate_proj.weight`,
 * `${prefix}up_proj.weight`, `${prefix}down_proj.weight` (Hugging Face names, `[out, in]` layout).
 *
 * @param w weight getter.
 * @param prefix e.g. `model.layers.0.mlp.` or `model.layers.1.mlp.experts.3.`.
 * @returns the three projections (the getter's tensors, not copies).
 * @example
 * const w = (n: string) => n.includes('down') ? tf.ones([2, 3]) : tf.ones([3, 2]);
 * const y = swigluMlp(tf.ones([1, 2]), swigluWeightsAt(w, 'mlp.')); // [1, 2], each 3 * 2 * silu(2)
 */
export function swigluWeightsAt(w: WeightGetter, prefix: string): SwigluWeights {
  return {
    gate: w(prefix + 'gate_proj.weight') as tf.Tensor2D,
    up: w(prefix + 'up_proj.weight') as tf.Tensor2D,
    down: w(prefix + 'down_proj.weight') as tf.Tensor2D,
  };
}
