/**
 * One DeepSeek-V3 decoder layer: RMSNorm, MLA, RMSNorm, dense SwiGLU or DeepSeekMoE, two residuals.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {assertNumber, assertRank, assertShape, check} from '../math/assert.js';
import {tidyResult} from './tidy_result.js';
import {deepseekMoeInModel} from './deepseek_moe.js';
import {decoderLayerShapes, isMoeLayer, type ResolvedDeepseekV3Config} from './deepseek_v3_config.js';
import {multiHeadLatentAttention, type MlaInputs, type MlaLayerCache} from './mla.js';
import {assertMlaInputs} from './mla_input_checks.js';
import type {MoeRouting} from './moe_route.js';
import {rmsNorm} from './rms_norm.js';
import {swigluMlp, swigluWeightsAt} from './swiglu_mlp.js';
import type {WeightGetter} from './weight_getter.js';

/** Output of {@link deepseekV3Block}. */
export interface DeepseekV3BlockOutput {
  /** `[batch, time, hidden]` the residual stream after the layer. */
  x: tf.Tensor3D;
  /** The layer's MLA cache extended by the new tokens. */
  cache: MlaLayerCache;
  /** The MoE routing of the `batch * time` tokens (MoE layers only). */
  routing?: MoeRouting;
}

/**
 * A DeepSeek-V3 decoder layer `layer` (arXiv:2412.19437 §2.1; transformers' `DeepseekV3DecoderLayer`):
 *
 *   x <- x + MLA(RMSNorm(x))            (`input_layernorm`, `self_attn`)
 *   x <- x + FFN(RMSNorm(x))            (`post_attention_layernorm`, `mlp`: SwiGLU for
 *                                         layer < first_k_dense_replace, else DeepSeekMoE)
 *
 * @param x `[batch, time, hidden]`.
 * @param w weight getter.
 * @param layer layer index (names `model.layers.{layer}.`; MTP modules continue the numbering).
 * @param config the resolved config.
 * @param attention RoPE tables, bias, cache and mode of the MLA (see {@link MlaInputs}).
 * @returns the new residual stream, the extended cache and the routing.
 * @throws when `config` is not a resolved config, `layer` is not an integer in
 *   `[0, numLayers + mtpDepth)`, `x` is not float32 `[batch, time, hidden]`, a weight of the layer
 *   (norms, MLA, MLP or experts) is not float32 of the shape the config implies, or on a bad `attention`
 *   input (unknown key or `mode`, wrong shape of `cos` / `sin` / `bias` / cache); the messages name
 *   `deepseekV3Block` and the weight's checkpoint name.
 * @example
 * const f: typeof deepseekV3Block = deepseekV3Block; // assembled by DeepseekV3Policy
 */
export function deepseekV3Block(
    x: tf.Tensor3D, w: WeightGetter, layer: number, config: ResolvedDeepseekV3Config, attention: MlaInputs): DeepseekV3BlockOutput {
  const fn = 'deepseekV3Block';
  check(typeof config === 'object' && config !== null && typeof config.mla === 'object', fn, () =>
    `'config' expected a resolved config (resolveDeepseekV3Config), got ${config === null ? 'null' : typeof config}`);
  assertNumber(layer, fn, 'layer', {min: 0, max: config.numLayers + config.mtpDepth - 1, integer: true});
  const prefix = `model.layers.${layer}.`;
  assertMlaInputs(x, w, prefix + 'self_attn.', config.mla, attention, fn);
  for (const [name, shape] of decoderLayerShapes(config, prefix, isMoeLayer(config, layer))) {
    if (name.startsWith(prefix + 'self_attn.')) continue; // checked above
    assertShape(w(name), shape, fn, name);
    assertRank(w(name), shape.length, fn, name, undefined, 'float32');
  }
  return tidyResult(() => {
    const p = prefix;
    const [B, T, D] = x.shape;
    const eps = config.rmsNormEps;
    const h = rmsNorm(x, w(p + 'input_layernorm.weight') as tf.Tensor1D, eps) as tf.Tensor3D;
    const {output: attn, cache} = multiHeadLatentAttention(h, w, p + 'self_attn.', config.mla, attention);
    const x1 = tf.add(x, attn);
    const h2 = tf.reshape(rmsNorm(x1, w(p + 'post_attention_layernorm.weight') as tf.Tensor1D, eps), [B * T, D]) as tf.Tensor2D;
    if (!isMoeLayer(config, layer)) {
      return {x: tf.add(x1, tf.reshape(swigluMlp(h2, swigluWeightsAt(w, p + 'mlp.')), [B, T, D])) as tf.Tensor3D, cache};
    }
    const {output, routing} = deepseekMoeInModel(h2, w, p + 'mlp.', config.moe);
    return {x: tf.add(x1, tf.reshape(output, [B, T, D])) as tf.Tensor3D, cache, routing};
  });
}
