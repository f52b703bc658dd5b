/**
 * The DeepSeek-V3 configuration (`config.json` fields) and the checkpoint tensor names and shapes it implies.
 * @module
 */
import {assertNumber, check} from '../math/assert.js';
import type {DeepseekMoeConfig, ExpertCompute} from './deepseek_moe.js';
import type {MlaConfig} from './mla.js';
import {MissingConfigFieldError} from './pretrained/errors.js';
import {normalizeRopeConfig, ropeSoftmaxScaleFactor, type RopeConfig} from './rope.js';

/**
 * The fields of a DeepSeek-V3 `config.json` the model reads (transformers' `DeepseekV3Config` names),
 * in either RoPE layout (`rope_parameters`, or `rope_theta` + `rope_scaling`).
 */
export interface DeepseekV3Config {
  /** Number of token ids (rows of `embed_tokens`, columns of the logits). */
  vocab_size: number;
  /** Model width d (the residual stream). */
  hidden_size: number;
  /** Width of the dense SwiGLU of the first `first_k_dense_replace` layers. */
  intermediate_size: number;
  /** Width of one routed or shared expert. */
  moe_intermediate_size: number;
  /** Decoder layers of the main model (MTP modules come after them). */
  num_hidden_layers: number;
  /** Attention heads n_h of MLA. */
  num_attention_heads: number;
  /** Shared experts N_s, applied to every token (one SwiGLU of `n_shared_experts * moe_intermediate_size`). */
  n_shared_experts: number;
  /** Routed experts N_r per MoE layer. */
  n_routed_experts: number;
  /** Routed experts K_r selected per token. */
  num_experts_per_tok: number;
  /** Expert groups for group-limited routing; default `1` (no grouping). */
  n_group?: number;
  /** Groups a token may route to (top groups by the sum of their top-2 affinities); default `n_group`. */
  topk_group?: number;
  /** Normalise the selected gates to sum 1; default `true`. */
  norm_topk_prob?: boolean;
  /** Factor on the routed gates after normalisation; default `1`. */
  routed_scaling_factor?: number;
  /** Layers 0..k-1 use a dense SwiGLU instead of MoE; default `3` (transformers'). */
  first_k_dense_replace?: number;
  /** Width d_c of the compressed KV latent c_KV (what the cache keeps per token). */
  kv_lora_rank: number;
  /** `null` (or absent) for a plain `q_proj`. */
  q_lora_rank?: number | null;
  /** Per-head query/key width without RoPE (d_h). */
  qk_nope_head_dim: number;
  /** Width d_h^R of the decoupled RoPE query and the shared RoPE key. */
  qk_rope_head_dim: number;
  /** Per-head value width. */
  v_head_dim: number;
  /** Longest sequence the model accepts (`contextLength`). */
  max_position_embeddings: number;
  /** Epsilon of every RMSNorm; default `1e-6`. */
  rms_norm_eps?: number;
  /** Output head = transposed embedding (no `lm_head.weight`); default `false`. */
  tie_word_embeddings?: boolean;
  /** RoPE features as adjacent pairs (the release's layout); default `true` (transformers'). */
  rope_interleave?: boolean;
  /** MTP depth D (the release: 1); its modules are stored as layers `num_hidden_layers + k`. */
  num_nextn_predict_layers?: number;
  /** RoPE as transformers 5.x writes it (`rope_type`, `rope_theta`, YaRN fields). */
  rope_parameters?: Record<string, unknown> | null;
  /** RoPE scaling as the original release writes it (`type: 'yarn'`, `factor`, `mscale`, ...). */
  rope_scaling?: Record<string, unknown> | null;
  /** RoPE base of the original-release form; default `10000`. */
  rope_theta?: number;
  [key: string]: unknown;
}

/** A {@link DeepseekV3Config} with every default filled in and the derived block configs. */
export interface ResolvedDeepseekV3Config {
  /** The config as given. */
  raw: DeepseekV3Config;
  /** `vocab_size`. */
  vocabSize: number;
  /** `hidden_size`. */
  hiddenSize: number;
  /** `intermediate_size` (dense layers). */
  intermediateSize: number;
  /** `moe_intermediate_size` (one expert). */
  moeIntermediateSize: number;
  /** `num_hidden_layers`. */
  numLayers: number;
  /** `first_k_dense_replace`: layers before it are dense. */
  firstKDense: number;
  /** `num_nextn_predict_layers`: MTP modules D (0 = none). */
  mtpDepth: number;
  /** `rms_norm_eps`. */
  rmsNormEps: number;
  /** `tie_word_embeddings`. */
  tieWordEmbeddings: boolean;
  /** `max_position_embeddings`. */
  maxPositionEmbeddings: number;
  /** The normalised RoPE config (either config form). */
  rope: RopeConfig;
  /** The attention block config. */
  mla: MlaConfig;
  /** The MoE block config. */
  moe: DeepseekMoeConfig;
}

/**
 * Resolves defaults (transformers' `DeepseekV3Config`) and validates a config.
 *
 * @example
 * const config = resolveDeepseekV3Config({
 *   vocab_size: 64, hidden_size: 32, intermediate_size: 64, moe_intermediate_size: 16, num_hidden_layers: 2,
 *   num_attention_heads: 2, n_shared_experts: 1, n_routed_experts: 4, num_experts_per_tok: 2, kv_lora_rank: 8,
 *   qk_nope_head_dim: 8, qk_rope_head_dim: 4, v_head_dim: 8, max_position_embeddings: 64,
 * });
 * config.numLayers; // 2
 */
export function resolveDeepseekV3Config(raw: DeepseekV3Config, expertCompute: ExpertCompute = 'dense'): ResolvedDeepseekV3Config {
  const fn = 'DeepseekV3Policy';
  check(typeof raw === 'object' && raw !== null, fn, () => `'config' expected an object, got ${String(raw)}`);
  const int = (key: keyof DeepseekV3Config, min = 1, fallback?: number): number => {
    const v = raw[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new MissingConfigFieldError(String(key), `an integer >= ${min}`, v);
    return v;
  };
  const hiddenSize = int('hidden_size');
  const numHeads = int('num_attention_heads');
  const nRouted = int('n_routed_experts');
  const nGroup = int('n_group', 1, 1);
  const qLora = raw.q_lora_rank ?? null;
  if (qLora !== null) assertNumber(qLora, fn, 'config.q_lora_rank', {integer: true, min: 1});
  const rope = normalizeRopeConfig(raw as Record<string, unknown>);
  const qkNope = int('qk_nope_head_dim'), qkRope = int('qk_rope_head_dim');
  const rmsNormEps = (raw.rms_norm_eps as number | undefined) ?? 1e-6;
  assertNumber(rmsNormEps, fn, 'config.rms_norm_eps', {min: 0});
  const routedScalingFactor = (raw.routed_scaling_factor as number | undefined) ?? 1;
  assertNumber(routedScalingFactor, fn, 'config.routed_scaling_factor', {min: 0, minExclusive: true});
  const resolved: ResolvedDeepseekV3Config = {
    raw,
    vocabSize: int('vocab_size', 2),
    hiddenSize,
    intermediateSize: int('intermediate_size'),
    moeIntermediateSize: int('moe_intermediate_size'),
    numLayers: int('num_hidden_layers'),
    firstKDense: int('first_k_dense_replace', 0, 3),
    mtpDepth: int('num_nextn_predict_layers', 0, 0),
    rmsNormEps,
    tieWordEmbeddings: raw.tie_word_embeddings ?? false,
    maxPositionEmbeddings: int('max_position_embeddings'),
    rope,
    mla: {
      hiddenSize, numHeads, qLoraRank: qLora, kvLoraRank: int('kv_lora_rank'), qkNopeHeadDim: qkNope,
      qkRopeHeadDim: qkRope, vHeadDim: int('v_head_dim'), rmsNormEps, ropeInterleave: raw.rope_interleave ?? true,
      softmaxScale: Math.pow(qkNope + qkRope, -0.5) * ropeSoftmaxScaleFactor(rope),
    },
    moe: {
      nRoutedExperts: nRouted, numExpertsPerTok: int('num_experts_per_tok'), nSharedExperts: int('n_shared_experts', 0, 0),
      nGroup, topkGroup: int('topk_group', 1, nGroup), normTopkProb: raw.norm_topk_prob ?? true, routedScalingFactor,
      expertCompute,
    },
  };
  check(nRouted % nGroup === 0, fn, () => `'config.n_routed_experts' expected a multiple of n_group=${nGroup}, got ${nRouted}`);
  check(resolved.moe.numExpertsPerTok <= nRouted, fn, () =>
    `'config.num_experts_per_tok' expected <= n_routed_experts=${nRouted}, got ${resolved.moe.numExpertsPerTok}`);
  return resolved;
}

/** Whether decoder layer `layer` (0-based; MTP modules count from `num_hidden_layers`) is an MoE layer. */
export function isMoeLayer(c: ResolvedDeepseekV3Config, layer: number): boolean {
  return layer >= c.firstKDense;
}

/** Checkpoint names and shapes of one decoder layer under `p` (`model.layers.N.`). */
export function decoderLayerShapes(c: ResolvedDeepseekV3Config, p: string, moe: boolean): Array<[string, number[]]> {
  const {hiddenSize: D, mla: m} = c;
  const H = m.numHeads, dq = m.qkNopeHeadDim + m.qkRopeHeadDim;
  const s: Array<[string, number[]]> = [[p + 'input_layernorm.weight', [D]]];
  const a = p + 'self_attn.';
  if (m.qLoraRank === null) {
    s.push([a + 'q_proj.weight', [H * dq, D]]);
  } else {
    s.push([a + 'q_a_proj.weight', [m.qLoraRank, D]], [a + 'q_a_layernorm.weight', [m.qLoraRank]], [a + 'q_b_proj.weight', [H * dq, m.qLoraRank]]);
  }
  s.push(
      [a + 'kv_a_proj_with_mqa.weight', [m.kvLoraRank + m.qkRopeHeadDim, D]], [a + 'kv_a_layernorm.weight', [m.kvLoraRank]],
      [a + 'kv_b_proj.weight', [H * (m.qkNopeHeadDim + m.vHeadDim), m.kvLoraRank]], [a + 'o_proj.weight', [D, H * m.vHeadDim]],
      [p + 'post_attention_layernorm.weight', [D]]);
  const mlp = (q: string, inter: number): void => {
    s.push([q + 'gate_proj.weight', [inter, D]], [q + 'up_proj.weight', [inter, D]], [q + 'down_proj.weight', [D, inter]]);
  };
  if (!moe) {
    mlp(p + 'mlp.', c.intermediateSize);
  } else {
    const E = c.moe.nRoutedExperts;
    s.push([p + 'mlp.gate.weight', [E, D]], [p + 'mlp.gate.e_score_correction_bias', [E]]);
    for (let e = 0; e < E; e++) mlp(`${p}mlp.experts.${e}.`, c.moeIntermediateSize);
    if (c.moe.nSharedExperts > 0) mlp(p + 'mlp.shared_experts.', c.moeIntermediateSize * c.moe.nSharedExperts);
  }
  return s;
}

/**
 * Every tensor the model reads, in a fixed order: embeddings, decoder layers, final norm, head, then
 * the MTP modules (`model.layers.{L+k}.`: `enorm`, `hnorm`, `eh_proj`, a decoder layer,
 * `shared_head.norm`; the embedding and the output head are shared with the main model).
 *
 * @example
 * const config = resolveDeepseekV3Config({
 *   vocab_size: 64, hidden_size: 32, intermediate_size: 64, moe_intermediate_size: 16, num_hidden_layers: 2,
 *   num_attention_heads: 2, n_shared_experts: 1, n_routed_experts: 4, num_experts_per_tok: 2, kv_lora_rank: 8,
 *   qk_nope_head_dim: 8, qk_rope_head_dim: 4, v_head_dim: 8, max_position_embeddings: 64,
 * });
 * const shapes = deepseekV3WeightShapes(config); // [['model.embed_tokens.weight', [64, 32]], ...]
 */
export function deepseekV3WeightShapes(c: ResolvedDeepseekV3Config): Array<[string, number[]]> {
  const D = c.hiddenSize, V = c.vocabSize;
  const s: Array<[string, number[]]> = [['model.embed_tokens.weight', [V, D]]];
  for (let l = 0; l < c.numLayers; l++) s.push(...decoderLayerShapes(c, `model.layers.${l}.`, isMoeLayer(c, l)));
  s.push(['model.norm.weight', [D]]);
  if (!c.tieWordEmbeddings) s.push(['lm_head.weight', [V, D]]);
  for (let k = 0; k < c.mtpDepth; k++) {
    const l = c.numLayers + k, p = `model.layers.${l}.`;
    s.push([p + 'enorm.weight', [D]], [p + 'hnorm.weight', [D]], [p + 'eh_proj.weight', [D, 2 * D]]);
    s.push(...decoderLayerShapes(c, p, isMoeLayer(c, l)));
    s.push([p + 'shared_head.norm.weight', [D]]);
  }
  return s;
}
