/**
 * One pre-norm decoder layer of the dense Llama family (Llama, Qwen2, Qwen3).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {assertKnownInputs, assertShape, assertRank} from '../math/assert.js';
import {
  assertAttentionInputs, ATTENTION_INPUT_KEYS, 
  type AttentionWeights, groupedQueryAttention, type GroupedQueryAttentionInputs, type GroupedQueryAttentionOptions,
  type GroupedQueryAttentionOutput,
} from './grouped_query_attention.js';
import {rmsNorm} from './rms_norm.js';
import {swigluMlp, type SwigluWeights} from './swiglu_mlp.js';

/** Weights of {@link denseDecoderLayer}. */
export interface DenseDecoderLayerWeights {
  /** `[hidden]` RMSNorm gain before attention (`input_layernorm`). */
  inputNorm: tf.Tensor1D;
  /** Attention projections (`self_attn.*`). */
  attention: AttentionWeights;
  /** `[hidden]` RMSNorm gain before the MLP (`post_attention_layernorm`). */
  postAttentionNorm: tf.Tensor1D;
  /** SwiGLU projections (`mlp.*`). */
  mlp: SwigluWeights;
}

/** Inputs of {@link denseDecoderLayer}: those of the attention, with the layer's weights. */
export interface DenseDecoderLayerInputs extends Omit<GroupedQueryAttentionInputs, 'weights'> {
  /** The layer's weights. */
  weights: DenseDecoderLayerWeights;
}

const WEIGHT_KEYS = ['inputNorm', 'attention', 'postAttentionNorm', 'mlp'] as const;

/**
 * Pre-norm residual decoder layer (Llama; Touvron et al. 2023, arXiv:2302.13971):
 *
 * h = x + Attention(RMSNorm(x)),  y = h + SwiGLU(RMSNorm(h))
 *
 * @param inputs `x` `[batch, newTime, hidden]` (the residual stream), weights, RoPE tables, mask bias, cache.
 * @param options attention sizes (`numHeads`, `numKvHeads`, `headDim`) and `rmsNormEps` (default `1e-6`).
 * @returns `out` `[batch, newTime, hidden]` and the extended keys / values.
 * @throws when a weight key is unknown, `weights.inputNorm` / `weights.postAttentionNorm` are not float32
 *   `[hidden]`, or on any input, attention weight or option of `groupedQueryAttention` (named
 *   `weights.attention.*`); the MLP weights are checked by `swigluMlp`.
 * @example
 * // see DenseDecoderPolicy, which stacks these layers
 * const layer: typeof denseDecoderLayer = denseDecoderLayer;
 */
export function denseDecoderLayer(
    inputs: DenseDecoderLayerInputs, options: GroupedQueryAttentionOptions): GroupedQueryAttentionOutput {
  const fn = 'denseDecoderLayer';
  assertKnownInputs(inputs, ATTENTION_INPUT_KEYS, fn);
  assertKnownInputs(inputs.weights, WEIGHT_KEYS, fn, 'weights');
  assertAttentionInputs(inputs, options, fn, 'weights.attention', inputs.weights.attention);
  const {x, weights, ...rest} = inputs;
  const D = x.shape[2];
  for (const key of ['inputNorm', 'postAttentionNorm'] as const) {
    assertShape(weights[key], [D], fn, `weights.${key}`, ['hidden']);
    assertRank(weights[key], 1, fn, `weights.${key}`, ['hidden'], 'float32');
  }
  const eps = options.rmsNormEps ?? 1e-6; // checked above
  return tf.tidy(() => {
    const a = groupedQueryAttention({...rest, x: rmsNorm(x, weights.inputNorm, eps) as tf.Tensor3D,
      weights: weights.attention}, options);
    const h = tf.add(x, a.out);
    const out = tf.add(h, swigluMlp(rmsNorm(h, weights.postAttentionNorm, eps), weights.mlp)) as tf.Tensor3D;
    return {out, keys: a.keys, values: a.values};
  });
}
