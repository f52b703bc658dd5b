/**
 * `config.json` -> {@link DenseDecoderConfig} for the dense Llama-family architectures.
 * @module
 */
import type {DenseDecoderConfig} from '../dense_decoder.js';
import {normalizeRopeConfig} from '../rope.js';
import {MissingConfigFieldError, PretrainedLoadError} from './errors.js';
import type {JsonObject} from './json.js';

/** @internal A required positive integer field. */
export function intField(config: JsonObject, key: string): number {
  const v = config[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new MissingConfigFieldError(key, 'a positive integer', v);
  return v;
}

/** @internal An optional field of a given JS type, with its default. */
export function optField<T extends number | boolean>(config: JsonObject, key: string, fallback: T): T {
  const v = config[key];
  if (v === undefined || v === null) return fallback;
  const ok = typeof fallback === 'number' ? typeof v === 'number' && Number.isFinite(v) : typeof v === 'boolean';
  if (!ok) throw new MissingConfigFieldError(key, typeof fallback === 'number' ? 'a number' : 'a boolean', v);
  return v as T;
}

function common(config: JsonObject, arch: string): DenseDecoderConfig {
  const hiddenSize = intField(config, 'hidden_size');
  const numHeads = intField(config, 'num_attention_heads');
  const numKvHeads = config['num_key_value_heads'] === undefined || config['num_key_value_heads'] === null
    ? numHeads : intField(config, 'num_key_value_heads');
  if (numHeads % numKvHeads !== 0) {
    throw new MissingConfigFieldError('num_key_value_heads', `a divisor of num_attention_heads=${numHeads}`, numKvHeads);
  }
  const headDim = config['head_dim'] === undefined || config['head_dim'] === null
    ? hiddenSize / numHeads : intField(config, 'head_dim');
  if (!Number.isInteger(headDim)) {
    throw new MissingConfigFieldError('head_dim', `an integer (hidden_size / num_attention_heads = ${headDim} is not)`, config['head_dim']);
  }
  const act = config['hidden_act'] ?? 'silu';
  if (act !== 'silu') throw new MissingConfigFieldError('hidden_act', `'silu' (${arch} SwiGLU)`, act);
  if (config['use_sliding_window'] === true) {
    throw new PretrainedLoadError(`loadPretrained: ${arch} with use_sliding_window: true is not supported ` +
        '(set it to false: the sliding window only matters beyond its length)');
  }
  return {
    architecture: arch,
    vocabSize: intField(config, 'vocab_size'),
    hiddenSize,
    intermediateSize: intField(config, 'intermediate_size'),
    numLayers: intField(config, 'num_hidden_layers'),
    numHeads,
    numKvHeads,
    headDim,
    rmsNormEps: optField(config, 'rms_norm_eps', 1e-6),
    rope: normalizeRopeConfig(config),
    tieWordEmbeddings: optField(config, 'tie_word_embeddings', false),
    qkvBias: false,
    outputBias: false,
    mlpBias: false,
    qkNorm: false,
  };
}

/**
 * `LlamaForCausalLM` (Llama 2/3, R1-Distill-Llama): `attention_bias` on q/k/v/o, `mlp_bias`, optional
 * `head_dim`, GQA through `num_key_value_heads`.
 *
 * @param config parsed `config.json`.
 * @returns the {@link DenseDecoderConfig}.
 * @throws `MissingConfigFieldError` naming the first missing or ill-typed field.
 * @example
 * const c = llamaConfig({vocab_size: 32, hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1,
 *   num_attention_heads: 2, max_position_embeddings: 64});
 * c.headDim; // 8
 */
export function llamaConfig(config: JsonObject): DenseDecoderConfig {
  const c = common(config, 'LlamaForCausalLM');
  const bias = optField(config, 'attention_bias', false);
  return {...c, qkvBias: bias, outputBias: bias, mlpBias: optField(config, 'mlp_bias', false)};
}

/**
 * `Qwen2ForCausalLM` (Qwen2/2.5, R1-Distill-Qwen): biases on q/k/v (always), none on o and the MLP.
 *
 * @param config parsed `config.json`.
 * @returns the {@link DenseDecoderConfig}.
 * @throws `MissingConfigFieldError` naming the first missing or ill-typed field.
 * @example
 * qwen2Config({vocab_size: 32, hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1,
 *   num_attention_heads: 2, num_key_value_heads: 1, max_position_embeddings: 64}).qkvBias; // true
 */
export function qwen2Config(config: JsonObject): DenseDecoderConfig {
  return {...common(config, 'Qwen2ForCausalLM'), qkvBias: true};
}

/**
 * `Qwen3ForCausalLM`: RMSNorm of each query and key head (`q_norm`, `k_norm` over `head_dim`) before
 * RoPE, explicit `head_dim`, `attention_bias` on q/k/v/o.
 *
 * @param config parsed `config.json`.
 * @returns the {@link DenseDecoderConfig}.
 * @throws `MissingConfigFieldError` naming the first missing or ill-typed field.
 * @example
 * qwen3Config({vocab_size: 32, hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1,
 *   num_attention_heads: 2, head_dim: 16, max_position_embeddings: 64}).qkNorm; // true
 */
export function qwen3Config(config: JsonObject): DenseDecoderConfig {
  const c = common(config, 'Qwen3ForCausalLM');
  const bias = optField(config, 'attention_bias', false);
  return {...c, qkvBias: bias, outputBias: bias, qkNorm: true};
}
