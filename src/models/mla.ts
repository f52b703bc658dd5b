/**
 * Multi-head latent attention (MLA) of DeepSeek-V2/V3, with its compressed key/value cache.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {assertMlaInputs} from './mla_input_checks.js';
import {rmsNorm} from './rms_norm.js';
import {applyRope} from './rope.js';
import type {WeightGetter} from './weight_getter.js';

export {causalAttentionBias} from './causal_attention_bias.js';

/** Sizes of an {@link multiHeadLatentAttention} layer (config.json fields in camel case). */
export interface MlaConfig {
  /** Model width d (`hidden_size`). */
  hiddenSize: number;
  /** Attention heads n_h (`num_attention_heads`). */
  numHeads: number;
  /** Query compression rank d'_c (`q_lora_rank`); `null` for a plain `q_proj`. */
  qLoraRank: number | null;
  /** KV compression rank d_c (`kv_lora_rank`). */
  kvLoraRank: number;
  /** Per-head non-rotated query/key width d_h (`qk_nope_head_dim`). */
  qkNopeHeadDim: number;
  /** Decoupled RoPE width d_h^R (`qk_rope_head_dim`), one key shared by all heads. */
  qkRopeHeadDim: number;
  /** Per-head value width (`v_head_dim`). */
  vHeadDim: number;
  /** RMSNorm epsilon of the latent norms (`rms_norm_eps`). */
  rmsNormEps: number;
  /** RoPE features stored as adjacent pairs (`rope_interleave`, as the release stores them). */
  ropeInterleave: boolean;
  /**
   * Softmax scale: (d_h + d_h^R)^-1/2 times the YaRN factor `ropeSoftmaxScaleFactor` (mscale_all_dim).
   */
  softmaxScale: number;
}

/**
 * The MLA cache of one layer: only the normed latent c_KV and the rotated shared RoPE key per token,
 * (d_c + d_h^R) floats per token instead of 2 n_h d_h for multi-head attention.
 */
export interface MlaLayerCache {
  /** `[batch, pastTime, kvLoraRank]` RMS-normed c_KV. */
  latent: tf.Tensor3D;
  /** `[batch, pastTime, qkRopeHeadDim]` k^R after RoPE (rotate-half layout). */
  ropeKey: tf.Tensor3D;
}

/** Inputs of {@link multiHeadLatentAttention} besides the hidden states. */
export interface MlaInputs {
  /** `[batch, time, qkRopeHeadDim]` RoPE cos of the new tokens' positions (`ropeCosSin`). */
  cos: tf.Tensor3D;
  /** `[batch, time, qkRopeHeadDim]` RoPE sin. */
  sin: tf.Tensor3D;
  /** `[batch, 1, time, pastTime + time]` additive attention bias (0 allowed, -1e9 masked). */
  bias: tf.Tensor4D;
  /** The layer's cache of the earlier tokens, or `null`. Not disposed. */
  cache: MlaLayerCache | null;
  /**
   * `'expand'`: up-project the latents of every key to per-head keys and values (cheapest when all
   * tokens are new: training, prefill). `'absorb'`: fold W^UK into the query and W^UV after the
   * attention, so scores are taken against the cached latents directly (cheapest per decoded token;
   * the cached latents are never re-expanded). Same result up to rounding. Default `'expand'`.
   */
  mode?: 'expand' | 'absorb';
}

/** Output of {@link multiHeadLatentAttention}. */
export interface MlaOutput {
  /** `[batch, time, hidden]` attention output after `o_proj`. */
  output: tf.Tensor3D;
  /** The cache extended by the new tokens. */
  cache: MlaLayerCache;
}

/**
 * Multi-head latent attention (DeepSeek-V3, arXiv:2412.19437 §2.1.1, eqs. 1-11; DeepSeek-V2,
 * arXiv:2405.04434), weights named as the Hugging Face checkpoints under `prefix`:
 *
 *   c_KV = RMSNorm(W^DKV h)          [kv_lora_rank]      (`kv_a_proj_with_mqa` rows < d_c, `kv_a_layernorm`)
 *   k^R  = RoPE(W^KR h)              [d_h^R], shared by all heads (`kv_a_proj_with_mqa` rows >= d_c)
 *   [k^C_i; v_i] = W^UKV c_KV        per head [d_h; d_v]          (`kv_b_proj`)
 *   c_Q  = RMSNorm(W^DQ h), [q^C_i; q^R_i] = W^UQ c_Q  (`q_a_proj`, `q_a_layernorm`, `q_b_proj`),
 *          or W^Q h when q_lora_rank is null (`q_proj`); q^R_i <- RoPE(q^R_i)
 *   o_i  = Σ_j softmax_j(scale · ([q^C_i; q^R_i] · [k^C_{j,i}; k^R_j])) v_{j,i};  u = W^O [o_1..o_nh]  (`o_proj`)
 *
 * with scale = (d_h + d_h^R)^-1/2 · mscale² under YaRN. With `rope_interleave` the RoPE features are
 * adjacent pairs and are de-interleaved before the rotation (transformers' convention). The cache holds
 * only c_KV and k^R.
 *
 * @param x `[batch, time, hidden]` normed hidden states of the new tokens.
 * @param w weight getter.
 * @param prefix e.g. `model.layers.0.self_attn.`.
 * @param config see {@link MlaConfig}.
 * @param inputs RoPE tables, attention bias, cache, mode (see {@link MlaInputs}).
 * @returns the output and the extended cache.
 * @throws when `config` has an unknown key, a size that is not a positive integer, a non-finite
 *   `rmsNormEps` or `softmaxScale`; when `x` is not float32 `[batch, time, hiddenSize]`; when an input
 *   key or `mode` is unknown; when `cos` / `sin` / `bias` / the cache / a weight of the getter is not
 *   float32 of its documented shape.
 * @example
 * // see DeepseekV3Policy, which assembles MLA with the RoPE tables and the mask
 * const f: typeof multiHeadLatentAttention = multiHeadLatentAttention;
 */
export function multiHeadLatentAttention(
    x: tf.Tensor3D, w: WeightGetter, prefix: string, config: MlaConfig, inputs: MlaInputs): MlaOutput {
  assertMlaInputs(x, w, prefix, config, inputs, 'multiHeadLatentAttention');
  const [B, T] = x.shape;
  const {numHeads: H, kvLoraRank: r, qkNopeHeadDim: dn, qkRopeHeadDim: dr, vHeadDim: dv, rmsNormEps: eps} = config;
  const {cos, sin, bias, cache, mode = 'expand'} = inputs;
  const past = cache === null ? 0 : cache.latent.shape[1];
  return tf.tidy(() => {
    const h = tf.reshape(x, [B * T, config.hiddenSize]) as tf.Tensor2D;
    const lin = (t: tf.Tensor, name: string): tf.Tensor2D => tf.matMul(t as tf.Tensor2D, w(prefix + name + '.weight'), false, true);
    // The projections are split on the (small) weights, not on the activations: tfjs's cpu slice of
    // an inner axis takes a per-element path. Interleaved RoPE rows are de-interleaved in the weight
    // too (evens then odds per head, transformers' convention), so RoPE runs in rotate-half layout.
    const qIn = config.qLoraRank === null ? h : rmsNorm(lin(h, 'q_a_proj'), w(prefix + 'q_a_layernorm.weight') as tf.Tensor1D, eps);
    const [wqn, wqrRaw] = headSplit(w(prefix + (config.qLoraRank === null ? 'q_proj' : 'q_b_proj') + '.weight'), H, dn, dr);
    const wkva = w(prefix + 'kv_a_proj_with_mqa.weight');
    const D = config.hiddenSize;
    const wkl = tf.slice(wkva, [0, 0], [r, D]);
    const wkrRaw = tf.slice(wkva, [r, 0], [dr, D]) as tf.Tensor2D;
    const [wqr, wkr] = config.ropeInterleave ? [deinterleave(wqrRaw, H, dr), deinterleave(wkrRaw, 1, dr)] : [wqrRaw, wkrRaw];
    const toHeads = (t: tf.Tensor, d: number, len: number): tf.Tensor4D =>
      tf.transpose(tf.reshape(t, [B, len, H, d]), [0, 2, 1, 3]) as tf.Tensor4D; // [B, H, len, d]
    const qNope = toHeads(tf.matMul(qIn, wqn, false, true), dn, T);
    const qRope = applyRope(toHeads(tf.matMul(qIn, wqr, false, true), dr, T), cos, sin); // [B, H, T, dr]
    const latentNew = tf.reshape(rmsNorm(tf.matMul(h, wkl, false, true), w(prefix + 'kv_a_layernorm.weight') as tf.Tensor1D, eps), [B, T, r]);
    const kRopeNew = tf.reshape(applyRope(tf.reshape(tf.matMul(h, wkr, false, true), [B, 1, T, dr]) as tf.Tensor4D, cos, sin), [B, T, dr]);
    const latent = (cache === null ? latentNew : tf.concat([cache.latent, latentNew], 1)) as tf.Tensor3D;
    const ropeKey = (cache === null ? kRopeNew : tf.concat([cache.ropeKey, kRopeNew], 1)) as tf.Tensor3D;
    const Tk = past + T;
    const fullBias = tf.reshape(H === 1 ? bias : tf.tile(bias, [1, H, 1, 1]), [B, H * T, Tk]);
    const [wuk, wuv] = headSplit(w(prefix + 'kv_b_proj.weight'), H, dn, dv); // [H*dn, r], [H*dv, r]
    // q^R_i · k^R_j for all heads at once: [B, H*T, dr] x [B, Tk, dr]^T (the shared key is never tiled)
    const ropeScores = tf.matMul(tf.reshape(qRope, [B, H * T, dr]), ropeKey, false, true); // [B, H*T, Tk]
    let ctx: tf.Tensor; // [B*T, H * dv]
    if (mode === 'expand') {
      const flatLatent = tf.reshape(latent, [B * Tk, r]);
      const kNope = toHeads(tf.matMul(flatLatent, wuk, false, true), dn, Tk);
      const v = toHeads(tf.matMul(flatLatent, wuv, false, true), dv, Tk);
      const nopeScores = tf.reshape(tf.matMul(qNope, kNope, false, true), [B, H * T, Tk]);
      const scores = tf.add(tf.mul(tf.add(nopeScores, ropeScores), config.softmaxScale), fullBias);
      const attn = tf.matMul(tf.reshape(tf.softmax(scores), [B, H, T, Tk]), v); // [B, H, T, dv]
      ctx = tf.reshape(tf.transpose(attn, [0, 2, 1, 3]), [B * T, H * dv]);
    } else {
      // q^C_i W^UK_i: [H, B*T, dn] x [H, dn, r] -> [H, B*T, r] -> [B, H*T, r]
      const qh = tf.reshape(tf.transpose(qNope, [1, 0, 2, 3]), [H, B * T, dn]);
      const qLat = tf.reshape(tf.transpose(tf.reshape(tf.matMul(qh, tf.reshape(wuk, [H, dn, r])), [H, B, T, r]), [1, 0, 2, 3]), [B, H * T, r]);
      const scores = tf.add(tf.matMul(qLat, latent, false, true), ropeScores);
      const probs = tf.softmax(tf.add(tf.mul(scores, config.softmaxScale), fullBias));
      const ctxLat = tf.matMul(probs, latent); // [B, H*T, r]
      const ch = tf.reshape(tf.transpose(tf.reshape(ctxLat, [B, H, T, r]), [1, 0, 2, 3]), [H, B * T, r]);
      const out = tf.matMul(ch, tf.reshape(wuv, [H, dv, r]), false, true); // [H, B*T, dv]
      ctx = tf.reshape(tf.transpose(tf.reshape(out, [H, B, T, dv]), [1, 2, 0, 3]), [B * T, H * dv]);
    }
    const output = tf.reshape(lin(ctx, 'o_proj'), [B, T, config.hiddenSize]) as tf.Tensor3D;
    return {output, cache: {latent, ropeKey}};
  });
}

/**
 * KV-cache bytes per token of MLA vs standard multi-head attention with the same heads, float32 by
 * default: MLA keeps (d_c + d_h^R) numbers per layer, MHA keeps keys and values of every head,
 * n_h (d_h + d_h^R + d_v) per layer (the key of MHA spans the full query/key width d_h + d_h^R).
 *
 * @param config the MLA sizes (see {@link MlaConfig}; only the widths are read).
 * @param layers layers that hold a cache.
 * @param bytesPerElement 4 for float32 (default), 2 for bf16.
 * @returns `{mla, mha, ratio}` bytes per token and mha / mla.
 * @example
 * mlaCacheBytesPerToken({numHeads: 128, kvLoraRank: 512, qkNopeHeadDim: 128, qkRopeHeadDim: 64, vHeadDim: 128}, 61, 2);
 * // {mla: 70272, mha: 4997120, ratio: 71.1}
 */
export function mlaCacheBytesPerToken(
    config: Pick<MlaConfig, 'numHeads' | 'kvLoraRank' | 'qkNopeHeadDim' | 'qkRopeHeadDim' | 'vHeadDim'>, layers: number,
    bytesPerElement = 4): {
  /** MLA cache bytes per token: layers * (kv_lora_rank + qk_rope_head_dim) * bytesPerElement. */
  mla: number;
  /** Standard MHA cache bytes per token with the same heads: layers * heads * (qk_nope + qk_rope + v head dims) * bytesPerElement (full keys and values). */
  mha: number;
  /** `mha / mla`. */
  ratio: number;
} {
  const mla = layers * (config.kvLoraRank + config.qkRopeHeadDim) * bytesPerElement;
  const mha = layers * config.numHeads * (config.qkNopeHeadDim + config.qkRopeHeadDim + config.vHeadDim) * bytesPerElement;
  return {mla, mha, ratio: mha / mla};
}

/** Splits a per-head weight `[H * (a + b), in]` into `[H * a, in]` and `[H * b, in]`. */
function headSplit(weight: tf.Tensor, H: number, a: number, b: number): [tf.Tensor2D, tf.Tensor2D] {
  const inDim = weight.shape[1]!;
  const w3 = tf.reshape(weight, [H, a + b, inDim]);
  return [
    tf.reshape(tf.slice(w3, [0, 0, 0], [H, a, inDim]), [H * a, inDim]) as tf.Tensor2D,
    tf.reshape(tf.slice(w3, [0, a, 0], [H, b, inDim]), [H * b, inDim]) as tf.Tensor2D,
  ];
}

/** Reorders the rows of each head's RoPE block from pairs (0,1),(2,3),... to evens then odds. */
function deinterleave(weight: tf.Tensor2D, H: number, d: number): tf.Tensor2D {
  const inDim = weight.shape[1];
  return tf.reshape(tf.transpose(tf.reshape(weight, [H, d / 2, 2, inDim]), [0, 2, 1, 3]), [H * d, inDim]) as tf.Tensor2D;
}
