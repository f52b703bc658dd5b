/**
 * The dense decoder-only architecture shared by Llama, Qwen2 and Qwen3, as a trainable {@link Policy}.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {assertNumber, assertShape, check} from '../math/assert.js';
import {assertPolicyTokens} from './assert_policy_tokens.js';
import type {CheckpointWeights, WeightSpec} from './pretrained/checkpoint_weights.js';
import {embeddingLookupOfCheckedIds} from './embedding_lookup.js';
import {denseDecoderLayer, type DenseDecoderLayerWeights} from './dense_decoder_layer.js';
import type {Policy, PolicyApplyOptions, PolicyCachedInputs, PolicyCachedOutput, PolicyForward} from './policy.js';
import {causalAttentionBiasInModel} from './causal_attention_bias.js';
import {rmsNorm} from './rms_norm.js';
import {type RopeConfig, type RopeFrequencies, ropeCosSin, ropeInverseFrequencies} from './rope.js';
import {disposeKvCache, type KvCache} from './transformer_policy.js';

/** Architecture of a {@link DenseDecoderPolicy} (from `llamaConfig`, `qwen2Config`, `qwen3Config`). */
export interface DenseDecoderConfig {
  /** transformers class name, e.g. `'Qwen2ForCausalLM'`. */
  architecture: string;
  /** Vocabulary size V (`vocab_size`): rows of the embedding and of the output head. */
  vocabSize: number;
  /** Residual-stream width D (`hidden_size`). */
  hiddenSize: number;
  /** SwiGLU inner width I (`intermediate_size`). */
  intermediateSize: number;
  /** Number of decoder layers (`num_hidden_layers`). */
  numLayers: number;
  /** Query heads. */
  numHeads: number;
  /** Key/value heads (a divisor of `numHeads`). */
  numKvHeads: number;
  /** Per-head dimension d (`head_dim`; default `hiddenSize / numHeads`). */
  headDim: number;
  /** eps of every RMSNorm (`rms_norm_eps`); default `1e-6`. */
  rmsNormEps: number;
  /** RoPE settings; `maxPositionEmbeddings` is the context length. */
  rope: RopeConfig;
  /** Output head = token embedding matrix. */
  tieWordEmbeddings: boolean;
  /** Biases on q/k/v (Qwen2; Llama/Qwen3 `attention_bias`). */
  qkvBias: boolean;
  /** Bias on o (Llama/Qwen3 `attention_bias`). */
  outputBias: boolean;
  /** Biases in the MLP (Llama `mlp_bias`). */
  mlpBias: boolean;
  /** RMSNorm of each query/key head (Qwen3). */
  qkNorm: boolean;
}

/**
 * The checkpoint tensor names and shapes of a {@link DenseDecoderConfig} (transformers' names).
 *
 * @param c the config.
 * @returns `[name, shape]` pairs in a fixed order.
 * @example
 * denseDecoderWeightSpecs(qwen2Config({vocab_size: 32, hidden_size: 16, intermediate_size: 32,
 *   num_hidden_layers: 1, num_attention_heads: 2, max_position_embeddings: 64}))[0];
 * // ['model.embed_tokens.weight', [32, 16]]
 */
export function denseDecoderWeightSpecs(c: DenseDecoderConfig): WeightSpec[] {
  const {vocabSize: V, hiddenSize: D, intermediateSize: I, numHeads: H, numKvHeads: G, headDim: d} = c;
  const specs: WeightSpec[] = [['model.embed_tokens.weight', [V, D]]];
  for (let l = 0; l < c.numLayers; l++) {
    const p = `model.layers.${l}.`;
    specs.push([p + 'input_layernorm.weight', [D]],
        [p + 'self_attn.q_proj.weight', [H * d, D]], [p + 'self_attn.k_proj.weight', [G * d, D]],
        [p + 'self_attn.v_proj.weight', [G * d, D]], [p + 'self_attn.o_proj.weight', [D, H * d]]);
    if (c.qkvBias) {
      specs.push([p + 'self_attn.q_proj.bias', [H * d]], [p + 'self_attn.k_proj.bias', [G * d]],
          [p + 'self_attn.v_proj.bias', [G * d]]);
    }
    if (c.outputBias) specs.push([p + 'self_attn.o_proj.bias', [D]]);
    if (c.qkNorm) specs.push([p + 'self_attn.q_norm.weight', [d]], [p + 'self_attn.k_norm.weight', [d]]);
    specs.push([p + 'post_attention_layernorm.weight', [D]],
        [p + 'mlp.gate_proj.weight', [I, D]], [p + 'mlp.up_proj.weight', [I, D]], [p + 'mlp.down_proj.weight', [D, I]]);
    if (c.mlpBias) {
      specs.push([p + 'mlp.gate_proj.bias', [I]], [p + 'mlp.up_proj.bias', [I]], [p + 'mlp.down_proj.bias', [D]]);
    }
  }
  specs.push(['model.norm.weight', [D]]);
  if (!c.tieWordEmbeddings) specs.push(['lm_head.weight', [V, D]]);
  return specs;
}

/**
 * Dense decoder-only language model with RMSNorm, RoPE, grouped-query attention and SwiGLU MLPs: the
 * layout of `LlamaForCausalLM`, `Qwen2ForCausalLM` and `Qwen3ForCausalLM` (the R1-Distill students).
 * Holds its weights as tfjs variables under the checkpoint's names, in PyTorch layout.
 *
 * logits = RMSNorm(layer_L(... layer_1(E[tokens]))) W_out^T, W_out = E when embeddings are tied.
 *
 * Positions count the real tokens of each row (left padding is skipped), so a padded row gives the
 * logits of the unpadded one. `applyWithCache` keeps post-RoPE keys and values per layer,
 * `[batch, kvHeads, time, headDim]`. Usually obtained from `loadPretrained`.
 *
 * @example
 * const config = qwen2Config({vocab_size: 32, hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1,
 *   num_attention_heads: 2, max_position_embeddings: 64});
 * const policy = DenseDecoderPolicy.create(config, {seed: 1});
 * const {logits, hidden} = policy.apply(tf.tensor2d([[1, 2, 3]], [1, 3], 'int32')); // [1, 3, 32], [1, 3, 16]
 * tf.dispose([logits, hidden!]);
 * policy.dispose();
 */
export class DenseDecoderPolicy implements Policy<KvCache> {
  /** The architecture. */
  readonly config: DenseDecoderConfig;
  /** Weights by checkpoint name (`model.layers.0.self_attn.q_proj.weight`, ...). */
  readonly weights: ReadonlyMap<string, tf.Variable>;
  /** Whether the variables are trainable (`false` for a frozen reference copy). */
  readonly trainable: boolean;
  private readonly frequencies: RopeFrequencies;
  private readonly layers: DenseDecoderLayerWeights[];
  private disposed = false;

  private constructor(config: DenseDecoderConfig, weights: Map<string, tf.Variable>, trainable: boolean) {
    this.config = config;
    this.weights = weights;
    this.trainable = trainable;
    this.frequencies = ropeInverseFrequencies(config.rope, {headDim: config.headDim});
    check(this.frequencies.rotaryDim === config.headDim, 'DenseDecoderPolicy', () =>
      `partial rotary embeddings are not supported (rotary dim ${this.frequencies.rotaryDim} != head_dim ${config.headDim})`);
    const w = (n: string): tf.Variable => weights.get(n)!;
    const opt = (n: string): tf.Variable | undefined => weights.get(n);
    this.layers = [];
    for (let l = 0; l < config.numLayers; l++) {
      const p = `model.layers.${l}.`;
      const a = p + 'self_attn.';
      this.layers.push({
        inputNorm: w(p + 'input_layernorm.weight') as tf.Variable<tf.Rank.R1>,
        postAttentionNorm: w(p + 'post_attention_layernorm.weight') as tf.Variable<tf.Rank.R1>,
        attention: {
          q: w(a + 'q_proj.weight') as tf.Tensor2D, k: w(a + 'k_proj.weight') as tf.Tensor2D,
          v: w(a + 'v_proj.weight') as tf.Tensor2D, o: w(a + 'o_proj.weight') as tf.Tensor2D,
          qBias: opt(a + 'q_proj.bias') as tf.Tensor1D | undefined, kBias: opt(a + 'k_proj.bias') as tf.Tensor1D | undefined,
          vBias: opt(a + 'v_proj.bias') as tf.Tensor1D | undefined, oBias: opt(a + 'o_proj.bias') as tf.Tensor1D | undefined,
          qNorm: opt(a + 'q_norm.weight') as tf.Tensor1D | undefined, kNorm: opt(a + 'k_norm.weight') as tf.Tensor1D | undefined,
        },
        mlp: {
          gate: w(p + 'mlp.gate_proj.weight') as tf.Tensor2D, up: w(p + 'mlp.up_proj.weight') as tf.Tensor2D,
          down: w(p + 'mlp.down_proj.weight') as tf.Tensor2D,
          gateBias: opt(p + 'mlp.gate_proj.bias') as tf.Tensor1D | undefined,
          upBias: opt(p + 'mlp.up_proj.bias') as tf.Tensor1D | undefined,
          downBias: opt(p + 'mlp.down_proj.bias') as tf.Tensor1D | undefined,
        },
      });
    }
  }

  /**
   * Builds the policy from checkpoint weights (checks every tensor's presence and shape first).
   *
   * @param config the architecture.
   * @param source the checkpoint's {@link CheckpointWeights}.
   * @param options.trainable whether the variables are trainable; default `true`.
   * @returns the policy (owns its variables).
   * @throws `MissingTensorError` / `ShapeMismatchError` when the weights do not fit the config.
   */
  static fromCheckpoint(config: DenseDecoderConfig, source: CheckpointWeights,
      options: {trainable?: boolean} = {}): DenseDecoderPolicy {
    const {trainable = true} = options;
    const loaded = source.load(denseDecoderWeightSpecs(config));
    const weights = new Map<string, tf.Variable>();
    for (const [name, t] of loaded) {
      weights.set(name, tf.variable(t, trainable));
      t.dispose();
    }
    return new DenseDecoderPolicy(config, weights, trainable);
  }

  /**
   * A policy with random weights: N(0, std^2) matrices, unit norm gains, zero biases (for tests and
   * training from scratch).
   *
   * @param config the architecture.
   * @param options.seed seed of the initialisation; default `0`.
   * @param options.std standard deviation of the matrices; default `0.02`.
   * @returns a trainable policy.
   */
  static create(config: DenseDecoderConfig, options: {seed?: number; std?: number} = {}): DenseDecoderPolicy {
    const {seed = 0, std = 0.02} = options;
    assertNumber(seed, 'DenseDecoderPolicy.create', 'seed', {integer: true, min: 0});
    const weights = new Map<string, tf.Variable>();
    denseDecoderWeightSpecs(config).forEach(([name, shape], k) => {
      const init = tf.tidy(() => name.endsWith('norm.weight') ? tf.ones(shape as number[])
        : name.endsWith('.bias') ? tf.zeros(shape as number[])
        : tf.randomNormal(shape as number[], 0, std, 'float32', seed * 10007 + k + 1));
      weights.set(name, tf.variable(init, true));
      init.dispose();
    });
    return new DenseDecoderPolicy(config, weights, true);
  }

  /** Number of token ids. */
  get vocabSize(): number {
    return this.config.vocabSize;
  }

  /** `max_position_embeddings`. */
  get contextLength(): number {
    return this.config.rope.maxPositionEmbeddings;
  }

  /** Total number of parameters (a tied embedding counts once). */
  numParams(): number {
    let n = 0;
    for (const w of this.weights.values()) n += w.size;
    return n;
  }

  /** The variables, in checkpoint order. */
  variables(): tf.Variable[] {
    return [...this.weights.values()];
  }

  /**
   * A copy with its own variables holding the current values.
   * @param options.trainable default `false` (a frozen reference for the KL term).
   */
  copy(options: {trainable?: boolean} = {}): DenseDecoderPolicy {
    const {trainable = false} = options;
    this.assertLive('copy');
    const weights = new Map<string, tf.Variable>();
    for (const [name, w] of this.weights) weights.set(name, tf.variable(w, trainable));
    return new DenseDecoderPolicy(this.config, weights, trainable);
  }

  /** Disposes a cache returned by {@link applyWithCache}. */
  disposeCache(cache: KvCache): void {
    disposeKvCache(cache);
  }

  /**
   * Full forward pass.
   * @param tokens `[batch, time]` int32 ids.
   * @param options.attentionMask `[batch, time]` 1 real / 0 left padding; default all ones.
   * @returns `{logits: [batch, time, vocab], hidden: [batch, time, hidden]}`.
   */
  apply(tokens: tf.Tensor2D, options: PolicyApplyOptions = {}): PolicyForward {
    const fn = 'DenseDecoderPolicy.apply';
    const {attentionMask} = options;
    this.assertLive('apply');
    assertPolicyTokens(tokens, fn, 'tokens', this.contextLength, this.config.vocabSize);
    if (attentionMask !== undefined) assertShape(attentionMask, tokens.shape, fn, 'attentionMask', ['batch', 'time']);
    return tf.tidy(() => {
      // Without a mask, positions 0..T-1 and the causal bias come from the CPU (no tfjs op).
      const [B, T] = tokens.shape;
      const mask = attentionMask === undefined ? null : tf.cast(attentionMask, 'float32') as tf.Tensor2D;
      const positions = (mask === null ? tf.tensor2d(Int32Array.from({length: B * T}, (_, i) => i % T), [B, T], 'int32')
        : tf.cast(tf.relu(tf.sub(tf.cumsum(mask, 1), 1)), 'int32')) as tf.Tensor2D;
      const {logits, hidden, cache} = this.forward(tokens, positions, mask, null);
      disposeKvCache(cache);
      return {logits, hidden};
    });
  }

  /**
   * Incremental forward pass with the key/value cache; equal to the matching slice of {@link apply}.
   * @param inputs new tokens, their positions, the key mask over past + new, and the previous cache.
   * @returns logits and hidden states of the new tokens and the extended cache.
   */
  applyWithCache({tokens, positions, keyMask, cache}: PolicyCachedInputs<KvCache>): PolicyCachedOutput<KvCache> {
    const fn = 'DenseDecoderPolicy.applyWithCache';
    this.assertLive('applyWithCache');
    assertPolicyTokens(tokens, fn, 'tokens', this.contextLength, this.config.vocabSize);
    assertShape(positions, tokens.shape, fn, 'positions', ['batch', 'newTime']);
    const past = cache === null ? 0 : cache.keys[0]!.shape[2];
    const [B, T] = tokens.shape;
    assertShape(keyMask, [B, past + T], fn, 'keyMask', ['batch', 'pastTime + newTime']);
    check(past + T <= this.contextLength, fn, () => `sequence length ${past + T} exceeds contextLength ${this.contextLength}`);
    return tf.tidy((() => this.forward(tokens, tf.cast(positions, 'int32') as tf.Tensor2D,
        tf.cast(keyMask, 'float32') as tf.Tensor2D, cache)) as unknown as () => tf.TensorContainer) as unknown as
        PolicyCachedOutput<KvCache>;
  }

  /** Disposes the variables; further calls throw. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    tf.dispose([...this.weights.values()]);
  }

  private assertLive(method: string): void {
    check(!this.disposed, `DenseDecoderPolicy.${method}`, () => 'the policy has been disposed');
  }


  /** The shared forward body (inside a tidy). */
  private forward(tokens: tf.Tensor2D, positions: tf.Tensor2D, keyMask: tf.Tensor2D | null, past: KvCache | null):
      PolicyCachedOutput<KvCache> & {hidden: tf.Tensor3D} {
    const c = this.config;
    const [B, Tq] = tokens.shape;
    const Tp = past === null ? 0 : past.keys[0]!.shape[2];
    const Tk = Tp + Tq;
    const embed = this.weights.get('model.embed_tokens.weight')!;
    let x = tf.reshape(embeddingLookupOfCheckedIds(embed as tf.Variable<tf.Rank.R2>, tf.reshape(tokens, [-1]) as tf.Tensor1D),
        [B, Tq, c.hiddenSize]) as tf.Tensor3D;
    const freqs = c.rope.type === 'dynamic'
      ? ropeInverseFrequencies(c.rope, {headDim: c.headDim, seqLen: Tk}) : this.frequencies;
    const {cos, sin} = ropeCosSin(positions, freqs);
    // Additive mask [B, 1, Tq, Tk]: query i (absolute Tp + i) sees key j <= Tp + i when it is real.
    const maskBias = causalAttentionBiasInModel(B, Tq, Tp, keyMask);
    const keys: tf.Tensor4D[] = [], values: tf.Tensor4D[] = [];
    const sizes = {numHeads: c.numHeads, numKvHeads: c.numKvHeads, headDim: c.headDim, rmsNormEps: c.rmsNormEps};
    this.layers.forEach((weights, l) => {
      const r = denseDecoderLayer({x, weights, cos, sin, maskBias,
        pastKeys: past?.keys[l] ?? null, pastValues: past?.values[l] ?? null}, sizes);
      x = r.out;
      keys.push(r.keys);
      values.push(r.values);
    });
    const hidden = rmsNorm(x, this.weights.get('model.norm.weight') as tf.Variable<tf.Rank.R1>, c.rmsNormEps) as tf.Tensor3D;
    const head = c.tieWordEmbeddings ? embed : this.weights.get('lm_head.weight')!;
    const logits = tf.reshape(tf.matMul(tf.reshape(hidden, [B * Tq, c.hiddenSize]), head, false, true),
        [B, Tq, c.vocabSize]) as tf.Tensor3D;
    return {logits, hidden, cache: {keys, values}};
  }
}
