/**
 * The SwiGLU feed-forward block of Llama, Qwen and DeepSeek.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {runWithLazyGradients} from '../math/fused/run_with_lazy_gradients.js';
import {swigluWebGPU} from '../math/fused/swiglu_webgpu.js';
import {assertFloat, assertKnownInputs, assertRank, assertShape, assertTensor, check, fmtShape} from '../math/assert.js';
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
 * The gate silu(g) * u has an explicit backward, d g = dy u (s + silu(g) (1 - s)), d u = dy silu(g),
 * s = sigmoid(g): one fused dispatch each way on webgpu, else 3 tfjs ops forward and 6 backward.
 *
 * @param x `[..., hidden]` float32.
 * @param weights see {@link SwigluWeights}.
 * @returns `[..., hidden]`.
 * @throws on an unknown key of `weights` (a misspelled `gateBais` would be ignored), when `gate` is
 *   not rank 2, `up` not of the shape of `gate`, `down` not `[hidden, intermediate]`, a bias not of
 *   its projection's output size, `x` not `[..., hidden]`, or a tensor not float32.
 * @example
 * const w = {gate: tf.ones([4, 2]) as tf.Tensor2D, up: tf.ones([4, 2]) as tf.Tensor2D, down: tf.ones([2, 4]) as tf.Tensor2D};
 * const y = swigluMlp(tf.tensor2d([[1, 0]]), w); // 4 * silu(1) * 1 = 2.924 per output
 * y.dispose();
 */
export function swigluMlp(x: tf.Tensor, weights: SwigluWeights): tf.Tensor {
  assertSwigluInputs(x, weights);
  return tf.tidy('swigluMlp', () => {
    const g = linear(x, weights.gate, weights.gateBias);
    const u = linear(x, weights.up, weights.upBias);
    return linear(swigluGate(g, u), weights.down, weights.downBias);
  });
}

const WEIGHT_KEYS = ['gate', 'up', 'down', 'gateBias', 'upBias', 'downBias'];

/** The shape and dtype checks of {@link swigluMlp}. */
function assertSwigluInputs(x: tf.Tensor, weights: SwigluWeights): void {
  const fn = 'swigluMlp';
  assertKnownInputs(weights, WEIGHT_KEYS, fn, 'weights');
  const {gate, up, down, gateBias, upBias, downBias} = weights;
  assertRank(gate, 2, fn, 'weights.gate', ['intermediate', 'hidden'], 'float32');
  const [I, H] = gate.shape;
  assertShape(up, [I, H], fn, 'weights.up', ['intermediate', 'hidden']);
  assertShape(down, [H, I], fn, 'weights.down', ['hidden', 'intermediate']);
  if (gateBias !== undefined) assertShape(gateBias, [I], fn, 'weights.gateBias', ['intermediate']);
  if (upBias !== undefined) assertShape(upBias, [I], fn, 'weights.upBias', ['intermediate']);
  if (downBias !== undefined) assertShape(downBias, [H], fn, 'weights.downBias', ['hidden']);
  assertTensor(x, fn, 'x');
  check(x.rank >= 1 && x.shape[x.rank - 1] === H, fn, () => `'x' expected shape [..., hidden=${H}], got ${fmtShape(x.shape)}`);
  assertFloat(x, fn, 'x');
  for (const key of ['up', 'down', 'gateBias', 'upBias', 'downBias'] as const) {
    const t = weights[key];
    if (t !== undefined) assertFloat(t, fn, `weights.${key}`);
  }
}

/** silu(gate) * up with its explicit backward (fused on webgpu). */
function swigluGate(gate: tf.Tensor, up: tf.Tensor): tf.Tensor {
  return swigluWebGPU(gate, up) ?? runWithLazyGradients({gate, up}, (save) => {
    const s = tf.sigmoid(gate);
    const silu = tf.mul(gate, s);
    save([s, silu, up]);
    return tf.mul(silu, up);
  }, (dy, saved) => {
    const [s, silu, u] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
    return {
      // d silu / d g = s + g s (1 - s) = s + silu - silu s (no constant 1 to upload).
      gate: () => tf.mul(tf.mul(dy, u), tf.add(s, tf.sub(silu, tf.mul(silu, s)))),
      up: () => tf.mul(dy, silu),
    };
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
