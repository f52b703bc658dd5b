/**
 * Causal grouped-query self-attention with RoPE (Llama, Qwen2, Qwen3).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  assertKnownInputs, assertKnownOptions, assertNumber, assertRank, assertShape, check,
} from '../math/assert.js';
import {attentionSoftmaxWebGPU} from '../math/fused/attention_softmax_webgpu.js';
import {projectedHeadsWebGPU, ropeWebGPU} from '../math/fused/rope_webgpu.js';
import {linear} from './linear.js';
import {rmsNorm} from './rms_norm.js';
import {applyRope} from './rope.js';

/** Weights of {@link groupedQueryAttention}, PyTorch layout `[out, in]`. */
export interface AttentionWeights {
  /** `[heads * headDim, hidden]`. */
  q: tf.Tensor2D;
  /** `[kvHeads * headDim, hidden]`. */
  k: tf.Tensor2D;
  /** `[kvHeads * headDim, hidden]`. */
  v: tf.Tensor2D;
  /** `[hidden, heads * headDim]`. */
  o: tf.Tensor2D;
  /** Optional `[heads * headDim]` query bias (Qwen2; Llama/Qwen3 `attention_bias`). */
  qBias?: tf.Tensor1D;
  /** Optional `[kvHeads * headDim]` key bias (Qwen2; Llama/Qwen3 `attention_bias`). */
  kBias?: tf.Tensor1D;
  /** Optional `[kvHeads * headDim]` value bias (Qwen2; Llama/Qwen3 `attention_bias`). */
  vBias?: tf.Tensor1D;
  /** Optional `[hidden]` output-projection bias (Llama/Qwen3 `attention_bias`; Qwen2 has none). */
  oBias?: tf.Tensor1D;
  /** `[headDim]` RMSNorm gain shared by every query head, applied before RoPE (Qwen3). */
  qNorm?: tf.Tensor1D;
  /** `[headDim]` RMSNorm gain shared by every key head, applied before RoPE (Qwen3). */
  kNorm?: tf.Tensor1D;
}

/** Inputs of {@link groupedQueryAttention}. */
export interface GroupedQueryAttentionInputs {
  /** `[batch, newTime, hidden]` (already normed) hidden states. */
  x: tf.Tensor3D;
  /** The layer's projections. */
  weights: AttentionWeights;
  /** `[batch, newTime, headDim]` RoPE cosine table of the new positions (`ropeCosSin`). */
  cos: tf.Tensor3D;
  /** `[batch, newTime, headDim]` RoPE sine table of the new positions (`ropeCosSin`). */
  sin: tf.Tensor3D;
  /** `[batch, 1, newTime, pastTime + newTime]` additive mask: 0 where allowed, a large negative elsewhere. */
  maskBias: tf.Tensor4D;
  /** Cached keys `[batch, kvHeads, pastTime, headDim]` (after RoPE), or null for no cache. */
  pastKeys: tf.Tensor4D | null;
  /** Cached values `[batch, kvHeads, pastTime, headDim]`, or null; the cache is used only when both are given. */
  pastValues: tf.Tensor4D | null;
}

/** Options of {@link groupedQueryAttention}. */
export interface GroupedQueryAttentionOptions {
  /** Query heads H. */
  numHeads: number;
  /** Key/value heads H_kv, a divisor of H (H_kv = H: multi-head; 1: multi-query). */
  numKvHeads: number;
  /** Per-head dimension d. */
  headDim: number;
  /** eps of the q/k RMSNorm; default `1e-6`. */
  rmsNormEps?: number;
}

/** Output of {@link groupedQueryAttention}. */
export interface GroupedQueryAttentionOutput {
  /** `[batch, newTime, hidden]` attention output (after `o`). */
  out: tf.Tensor3D;
  /** `[batch, kvHeads, pastTime + newTime, headDim]` keys (after RoPE), past and new, for the cache. */
  keys: tf.Tensor4D;
  /** `[batch, kvHeads, pastTime + newTime, headDim]` values, past and new, for the cache. */
  values: tf.Tensor4D;
}

/**
 * Grouped-query attention (Ainslie et al. 2023, arXiv:2305.13245) with rotary positions:
 *
 * q_h = RoPE(norm_q(W_q x)_h), k_g = RoPE(norm_k(W_k x)_g), v_g = (W_v x)_g, query head h reads key/value
 * head g = floor(h / (H / H_kv));
 * out = W_o concat_h softmax(q_h k_g^T / sqrt(d) + mask) v_g
 *
 * (norm_q / norm_k only when `qNorm` / `kNorm` are given). The query heads of a group are stacked along
 * time, so keys and values are never repeated in memory. On webgpu the bias, head transpose and RoPE
 * of each projection (q/k norms aside) are one fused dispatch, and so is the scaled masked softmax,
 * each way; elsewhere tfjs ops.
 *
 * @param inputs see {@link GroupedQueryAttentionInputs}.
 * @param options heads, kv heads, head dim, eps.
 * @returns the output and the extended keys / values.
 * @throws when an input or weight is not a float32 tensor of its documented shape (`hidden` from `x`,
 *   `pastTime` from `pastKeys`), only one of `pastKeys` / `pastValues` is given, an input, weight or
 *   option key is unknown, `numHeads` / `numKvHeads` / `headDim` are not positive integers, `numKvHeads`
 *   does not divide `numHeads`, or `rmsNormEps` is not a finite number >= 0.
 * @example
 * const D = 4, w = (r: number, c: number) => tf.randomNormal([r, c], 0, 0.5, 'float32', 1) as tf.Tensor2D;
 * const x = tf.randomNormal([1, 3, D]) as tf.Tensor3D;
 * const zeros = tf.zeros([1, 3, 2]) as tf.Tensor3D, ones = tf.ones([1, 3, 2]) as tf.Tensor3D;
 * const {out, keys, values} = groupedQueryAttention(
 *     {x, weights: {q: w(4, D), k: w(2, D), v: w(2, D), o: w(D, 4)}, cos: ones, sin: zeros,
 *      maskBias: tf.zeros([1, 1, 3, 3]) as tf.Tensor4D, pastKeys: null, pastValues: null},
 *     {numHeads: 2, numKvHeads: 1, headDim: 2});
 * tf.dispose([out, keys, values]);
 */
export function groupedQueryAttention(
    inputs: GroupedQueryAttentionInputs, options: GroupedQueryAttentionOptions): GroupedQueryAttentionOutput {
  assertAttentionInputs(inputs, options, 'groupedQueryAttention', 'weights');
  const {x, weights: w, cos, sin, maskBias, pastKeys, pastValues} = inputs;
  const {numHeads: H, numKvHeads: G, headDim: d, rmsNormEps = 1e-6} = options;
  const [B, T] = x.shape;
  const rep = H / G;
  return tf.tidy('groupedQueryAttention', () => {
    // [B, T, n * d] projection -> [B, n, T, d] heads (+ bias, q/k norm, RoPE when `rotate`); on webgpu,
    // without a norm, bias + head transpose (+ RoPE) are one fused dispatch.
    const project = (weight: tf.Tensor2D, bias: tf.Tensor1D | undefined, n: number, norm: tf.Tensor1D | undefined,
        rotate: boolean): tf.Tensor4D => {
      const t = tf.reshape(linear(x, weight), [B, T, n, d]) as tf.Tensor4D;
      const fused = norm === undefined ? projectedHeadsWebGPU(t, bias, rotate ? {cos, sin} : null) : null;
      if (fused !== null) return fused;
      let h: tf.Tensor4D = bias === undefined ? t : tf.add(t, tf.reshape(bias, [n, d]));
      if (norm !== undefined) h = rmsNorm(h, norm, rmsNormEps) as tf.Tensor4D;
      if (!rotate) return tf.transpose(h, [0, 2, 1, 3]);
      return ropeWebGPU(h, cos, sin, 'bthd', false) ?? applyRope(tf.transpose(h, [0, 2, 1, 3]), cos, sin);
    };
    const q = project(w.q, w.qBias, H, w.qNorm, true);
    let k = project(w.k, w.kBias, G, w.kNorm, true);
    let v = project(w.v, w.vBias, G, undefined, false);
    if (pastKeys !== null && pastValues !== null) {
      k = tf.concat([pastKeys, k], 2);
      v = tf.concat([pastValues, v], 2);
    }
    const Tk = k.shape[2];
    // Query heads of group g are h = g * rep + r: [B, H, T, d] -> [B, G, rep * T, d] (row r * T + t of
    // a group holds query t of head g * rep + r), so the scores reshape to [B, H, T, Tk] for free.
    const qg = tf.reshape(q, [B, G, rep * T, d]);
    const scores = tf.reshape(tf.matMul(qg, k, false, true), [B, H, T, Tk]) as tf.Tensor4D;
    const probs = attentionSoftmax(scores, tf.reshape(maskBias, [B, 1, T, Tk]) as tf.Tensor4D, 1 / Math.sqrt(d));
    const attn = tf.matMul(tf.reshape(probs, [B, G, rep * T, Tk]), v); // [B, G, rep * T, d]
    const merged = tf.reshape(tf.transpose(tf.reshape(attn, [B, H, T, d]), [0, 2, 1, 3]), [B, T, H * d]);
    const out = linear(merged, w.o, w.oBias) as tf.Tensor3D;
    return {out, keys: k, values: v};
  });
}

/**
 * softmax(scale * scores + bias) over the last axis, bias `[B, 1, T, Tk]` the same for every head:
 * one fused dispatch each way on webgpu; elsewhere tfjs ops, the bias tiled to `[B, H, T, Tk]` (the
 * cpu backend's same-shape add is much faster than its broadcast; tfjs-webgpu runs rank-5 tiles on
 * the CPU, a synchronous read Node.js lacks, hence rank 4).
 */
function attentionSoftmax(scores: tf.Tensor4D, bias: tf.Tensor4D, scale: number): tf.Tensor4D {
  const fused = attentionSoftmaxWebGPU(scores, bias, scale);
  if (fused !== null) return fused;
  const heads = scores.shape[1];
  return tf.softmax(tf.add(tf.mul(scores, scale), heads === 1 ? bias : tf.tile(bias, [1, heads, 1, 1]))) as tf.Tensor4D;
}

/** @internal The input keys of {@link groupedQueryAttention}. */
export const ATTENTION_INPUT_KEYS = ['x', 'weights', 'cos', 'sin', 'maskBias', 'pastKeys', 'pastValues'] as const;
const WEIGHT_KEYS = ['q', 'k', 'v', 'o', 'qBias', 'kBias', 'vBias', 'oBias', 'qNorm', 'kNorm'] as const;
const OPTION_KEYS = ['numHeads', 'numKvHeads', 'headDim', 'rmsNormEps'] as const;

/**
 * @internal The shape, dtype and key checks of {@link groupedQueryAttention} (no value is read), with
 * `fn` in the messages and the attention weights named `${weightsName}.q` and so on (`denseDecoderLayer`
 * passes its own name and `'weights.attention'`). `extraInputKeys` are further keys the caller accepts.
 */
export function assertAttentionInputs(
    inputs: Omit<GroupedQueryAttentionInputs, 'weights'> & {weights?: unknown}, options: GroupedQueryAttentionOptions,
    fn: string, weightsName: string, attentionWeights: unknown = inputs.weights,
    extraInputKeys: readonly string[] = []): void {
  assertKnownInputs(inputs, [...ATTENTION_INPUT_KEYS, ...extraInputKeys], fn);
  check(typeof options === 'object' && options !== null, fn, () =>
    `'options' expected {numHeads, numKvHeads, headDim, rmsNormEps?}, got ${String(options)}`);
  assertKnownOptions(options, OPTION_KEYS, fn);
  const {numHeads: H, numKvHeads: G, headDim: d, rmsNormEps = 1e-6} = options;
  assertNumber(H, fn, 'numHeads', {min: 1, integer: true});
  assertNumber(G, fn, 'numKvHeads', {min: 1, integer: true});
  assertNumber(d, fn, 'headDim', {min: 1, integer: true});
  check(H % G === 0, fn, () => `'numKvHeads' expected a divisor of numHeads=${H}, got ${G}`);
  assertNumber(rmsNormEps, fn, 'rmsNormEps', {min: 0});
  const {x, cos, sin, maskBias, pastKeys, pastValues} = inputs;
  assertRank(x, 3, fn, 'x', ['batch', 'newTime', 'hidden'], 'float32');
  const [B, T, D] = x.shape;
  assertKnownInputs(attentionWeights, WEIGHT_KEYS, fn, weightsName);
  const w = attentionWeights as AttentionWeights;
  const weight = (key: keyof AttentionWeights, shape: number[], axes: string[]): void => {
    const t = w[key];
    if (t === undefined && !['q', 'k', 'v', 'o'].includes(key)) return;
    assertShape(t, shape, fn, `${weightsName}.${key}`, axes);
    assertRank(t, shape.length, fn, `${weightsName}.${key}`, axes, 'float32');
  };
  weight('q', [H * d, D], ['heads * headDim', 'hidden']);
  weight('k', [G * d, D], ['kvHeads * headDim', 'hidden']);
  weight('v', [G * d, D], ['kvHeads * headDim', 'hidden']);
  weight('o', [D, H * d], ['hidden', 'heads * headDim']);
  weight('qBias', [H * d], ['heads * headDim']);
  weight('kBias', [G * d], ['kvHeads * headDim']);
  weight('vBias', [G * d], ['kvHeads * headDim']);
  weight('oBias', [D], ['hidden']);
  weight('qNorm', [d], ['headDim']);
  weight('kNorm', [d], ['headDim']);
  assertShape(cos, [B, T, d], fn, 'cos', ['batch', 'newTime', 'headDim']);
  assertRank(cos, 3, fn, 'cos', undefined, 'float32');
  assertShape(sin, [B, T, d], fn, 'sin', ['batch', 'newTime', 'headDim']);
  assertRank(sin, 3, fn, 'sin', undefined, 'float32');
  check((pastKeys === null || pastKeys === undefined) === (pastValues === null || pastValues === undefined), fn, () =>
    `'pastKeys' and 'pastValues' expected both tensors or both null, got ${pastKeys == null ? 'null' : 'a tensor'} and ` +
    `${pastValues == null ? 'null' : 'a tensor'}`);
  let past = 0;
  if (pastKeys !== null && pastKeys !== undefined) {
    assertRank(pastKeys, 4, fn, 'pastKeys', ['batch', 'kvHeads', 'pastTime', 'headDim'], 'float32');
    past = pastKeys.shape[2];
    assertShape(pastKeys, [B, G, past, d], fn, 'pastKeys', ['batch', 'kvHeads', 'pastTime', 'headDim']);
    assertShape(pastValues, [B, G, past, d], fn, 'pastValues', ['batch', 'kvHeads', 'pastTime', 'headDim']);
    assertRank(pastValues, 4, fn, 'pastValues', undefined, 'float32');
  }
  assertShape(maskBias, [B, 1, T, past + T], fn, 'maskBias', ['batch', '1', 'newTime', 'pastTime + newTime']);
  assertRank(maskBias, 4, fn, 'maskBias', undefined, 'float32');
}
