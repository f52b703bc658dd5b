/**
 * The DeepSeek-V3 architecture (MLA + DeepSeekMoE + MTP) as a trainable {@link Policy}.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {assertKnownOptions, assertNumber, check, fmtShape} from '../math/assert.js';
import {causalAttentionBiasInModel} from './causal_attention_bias.js';
import type {ExpertCompute} from './deepseek_moe.js';
import {deepseekV3Block} from './deepseek_v3_block.js';
import {
  deepseekV3WeightShapes, isMoeLayer, resolveDeepseekV3Config, type DeepseekV3Config, type ResolvedDeepseekV3Config,
} from './deepseek_v3_config.js';
import {
  assertDeepseekApplyInputs, assertDeepseekCachedInputs, assertMtpCachedInputs, type MtpCachedInputs,
} from './deepseek_v3_input_checks.js';
import {embeddingLookupOfCheckedIds} from './embedding_lookup.js';
import {expertLoadStats} from './expert_load_stats.js';
import type {MlaLayerCache} from './mla.js';
import type {MoeRouting} from './moe_route.js';
import {mtpLoss, mtpModule} from './mtp.js';
import type {Policy, PolicyApplyOptions, PolicyCachedInputs, PolicyCachedOutput, PolicyForward} from './policy.js';
import {rmsNorm} from './rms_norm.js';
import {tidyResult} from './tidy_result.js';
import {ropeCosSin, ropeInverseFrequencies, type RopeFrequencies} from './rope.js';
import {routerBiasUpdate} from './router_bias_update.js';
import {sequenceBalanceLossInModel} from './sequence_balance_loss.js';

/** Training-time options of a {@link DeepseekV3Policy} (not part of the checkpoint config). */
export interface DeepseekV3Options {
  /** Routed-expert evaluation (see `DeepseekMoeConfig.expertCompute`); default `'dense'`. */
  expertCompute?: ExpertCompute;
  /** Router bias update speed γ of `afterOptimizerStep` (auxiliary-loss-free balancing); `0` disables; default `0.001`. */
  routerBiasGamma?: number;
  /** Weight α of the sequence-wise balance loss in `auxLoss`, summed over MoE layers; `0` disables; default `0`. */
  sequenceBalanceAlpha?: number;
  /** Weight λ of the MTP loss in `auxLoss` (needs MTP modules); `0` disables; default `0`. */
  mtpLossWeight?: number;
  /** Whether the variables are trainable; default `true`. */
  trainable?: boolean;
}

/** Options of {@link DeepseekV3Policy.create}. */
export interface DeepseekV3CreateOptions extends DeepseekV3Options {
  /** Seed of the initialisation; default `0`. */
  seed?: number;
}

/** The MLA cache of a {@link DeepseekV3Policy}: per decoder layer, the latent c_KV and the RoPE key. */
export interface DeepseekV3Cache {
  /** Per decoder layer: the normed latent c_KV and the RoPE key of every cached token. */
  layers: MlaLayerCache[];
}

const OPTION_KEYS = ['expertCompute', 'routerBiasGamma', 'sequenceBalanceAlpha', 'mtpLossWeight', 'trainable'];

/**
 * DeepSeek-V3 (arXiv:2412.19437): decoder layers of multi-head latent attention and DeepSeekMoE with
 * auxiliary-loss-free balancing, optional multi-token-prediction modules, weights named as the Hugging
 * Face checkpoints (`model.layers.N.self_attn.kv_a_proj_with_mqa.weight`, `mlp.gate.e_score_correction_bias`,
 * `mlp.experts.E.gate_proj.weight`, ...). Semantics of transformers' `DeepseekV3ForCausalLM`.
 *
 * Training hooks: every `apply` records the tokens routed to each expert (real tokens only);
 * `afterOptimizerStep()` returns the load statistics per MoE layer (`moe/layer{N}/maxOverMean`,
 * `moe/layer{N}/cv`) and moves each router bias by {@link routerBiasUpdate}. `auxLoss` carries the
 * sequence-wise balance loss and the MTP loss when their weights are set. `applyWithCache` keeps only
 * the MLA latents and RoPE keys, with W^UK/W^UV absorbed into the query and output.
 *
 * @example
 * const policy = DeepseekV3Policy.create({vocab_size: 16, hidden_size: 16, intermediate_size: 32,
 *   moe_intermediate_size: 8, num_hidden_layers: 2, num_attention_heads: 2, n_shared_experts: 1,
 *   n_routed_experts: 4, num_experts_per_tok: 2, first_k_dense_replace: 1, kv_lora_rank: 8,
 *   qk_nope_head_dim: 4, qk_rope_head_dim: 4, v_head_dim: 4, max_position_embeddings: 32});
 * const {logits} = policy.apply(tf.tensor2d([[1, 2, 3]], [1, 3], 'int32')); // [1, 3, 16]
 * logits.dispose();
 * policy.dispose();
 */
export class DeepseekV3Policy implements Policy<DeepseekV3Cache> {
  /** The resolved configuration. */
  readonly config: ResolvedDeepseekV3Config;
  /** The weights by checkpoint name, in the order of `deepseekV3WeightShapes`. */
  readonly weights: ReadonlyMap<string, tf.Variable>;
  /** Whether the weights are trainable. */
  readonly trainable: boolean;
  private readonly options: Required<Omit<DeepseekV3Options, 'trainable'>>;
  private readonly freqs: RopeFrequencies;
  private readonly load = new Map<number, tf.Variable>();
  private disposed = false;

  private constructor(config: ResolvedDeepseekV3Config, weights: Map<string, tf.Variable>, options: DeepseekV3Options) {
    this.config = config;
    this.weights = weights;
    this.trainable = options.trainable ?? true;
    this.options = {
      expertCompute: options.expertCompute ?? 'dense', routerBiasGamma: options.routerBiasGamma ?? 0.001,
      sequenceBalanceAlpha: options.sequenceBalanceAlpha ?? 0, mtpLossWeight: options.mtpLossWeight ?? 0,
    };
    this.freqs = ropeInverseFrequencies(config.rope, {headDim: config.mla.qkRopeHeadDim});
    for (let l = 0; l < config.numLayers; l++) {
      if (isMoeLayer(config, l)) this.load.set(l, tf.variable(tf.zeros([config.moe.nRoutedExperts]), false));
    }
  }

  /**
   * A fresh model: matrices N(0, 0.02²) (`initializer_range`), norm gains 1, router biases 0.
   *
   * @param config the `config.json` fields (see {@link DeepseekV3Config}).
   * @param options `seed` (default `0`) and the {@link DeepseekV3Options}.
   * @returns a trainable policy.
   */
  static create(config: DeepseekV3Config, options: DeepseekV3CreateOptions = {}): DeepseekV3Policy {
    const fn = 'DeepseekV3Policy.create';
    assertKnownOptions(options, [...OPTION_KEYS, 'seed'], fn);
    const {seed = 0, ...rest} = options;
    assertNumber(seed, fn, 'seed', {integer: true, min: 0});
    const resolved = resolveDeepseekV3Config(config, rest.expertCompute);
    const weights = new Map<string, tf.Variable>();
    let k = 0;
    for (const [name, shape] of deepseekV3WeightShapes(resolved)) {
      k++;
      const init = tf.tidy(() => {
        if (name.endsWith('norm.weight')) return tf.ones(shape);
        if (name.endsWith('e_score_correction_bias')) return tf.zeros(shape);
        return tf.randomNormal(shape, 0, 0.02, 'float32', seed * 100003 + k);
      });
      weights.set(name, tf.variable(init, !name.endsWith('e_score_correction_bias') && (rest.trainable ?? true)));
      init.dispose();
    }
    return new DeepseekV3Policy(resolved, weights, rest);
  }

  /**
   * Builds a model from checkpoint tensors (the loader's registry entry for `DeepseekV3ForCausalLM`).
   * The tensors are copied into variables; the getter's tensors stay the caller's.
   *
   * @param config the parsed `config.json`.
   * @param get returns the float32 tensor stored under a name, or throws (the loader names what is missing).
   * @param options the {@link DeepseekV3Options}.
   * @returns the policy.
   * @throws when a tensor has the wrong shape.
   */
  static fromWeights(config: DeepseekV3Config, get: (name: string) => tf.Tensor, options: DeepseekV3Options = {}): DeepseekV3Policy {
    const fn = 'DeepseekV3Policy.fromWeights';
    assertKnownOptions(options, OPTION_KEYS, fn);
    const resolved = resolveDeepseekV3Config(config, options.expertCompute);
    const weights = new Map<string, tf.Variable>();
    try {
      for (const [name, shape] of deepseekV3WeightShapes(resolved)) {
        const t = get(name);
        check(t.shape.length === shape.length && t.shape.every((d, i) => d === shape[i]), fn, () =>
          `tensor '${name}' expected shape ${fmtShape(shape)}, got ${fmtShape(t.shape)}`);
        const f = t.dtype === 'float32' ? t : tf.cast(t, 'float32');
        weights.set(name, tf.variable(f, !name.endsWith('e_score_correction_bias') && (options.trainable ?? true)));
        if (f !== t) f.dispose();
      }
    } catch (e) {
      tf.dispose([...weights.values()]);
      throw e;
    }
    return new DeepseekV3Policy(resolved, weights, options);
  }

  get vocabSize(): number { return this.config.vocabSize; }
  get contextLength(): number { return this.config.maxPositionEmbeddings; }

  /** Trainable variables (the router biases are excluded: they move by `afterOptimizerStep`). */
  variables(): tf.Variable[] {
    return [...this.weights.values()].filter((v) => v.trainable);
  }

  numParams(): number { return [...this.weights.values()].reduce((n, w) => n + w.size, 0); }

  /**
   * Parameters used per token: everything except the routed experts not selected
   * (N_r − K_r experts per MoE layer) and the MTP modules.
   */
  activeParams(): number {
    const c = this.config;
    let n = 0;
    for (const [name, w] of this.weights) {
      const layer = /^model\.layers\.(\d+)\./.exec(name);
      if (layer !== null && Number(layer[1]) >= c.numLayers) continue;
      if (/\.mlp\.experts\.\d+\./.test(name)) n += (w.size * c.moe.numExpertsPerTok) / c.moe.nRoutedExperts;
      else n += w.size;
    }
    return n;
  }

  copy(options: {trainable?: boolean} = {}): DeepseekV3Policy {
    this.assertLive('copy');
    const trainable = options.trainable ?? false;
    const weights = new Map<string, tf.Variable>();
    for (const [name, w] of this.weights) weights.set(name, tf.variable(w, trainable && w.trainable));
    return new DeepseekV3Policy(this.config, weights, {...this.options, trainable});
  }

  /** Full forward pass. @throws on bad `tokens`, an unknown option, a mask of another shape, or (value check, once per mask) a mask value not 0/1. */
  apply(tokens: tf.Tensor2D, options: PolicyApplyOptions = {}): PolicyForward {
    this.assertLive('apply');
    assertDeepseekApplyInputs(tokens, options, this.contextLength, 'DeepseekV3Policy.apply', this.config.vocabSize);
    const {attentionMask} = options;
    return tf.tidy(() => {
      const mask = (attentionMask === undefined ? tf.ones(tokens.shape) : tf.cast(attentionMask, 'float32')) as tf.Tensor2D;
      const positions = tf.cast(tf.relu(tf.sub(tf.cumsum(mask, 1), 1)), 'int32') as tf.Tensor2D;
      const out = this.forward(tokens, positions, mask, null, 'expand');
      const [B, T] = tokens.shape;
      const flatMask = tf.reshape(mask, [B * T, 1]);
      const E = this.config.moe.nRoutedExperts, K = this.config.moe.numExpertsPerTok;
      let aux: tf.Tensor | null = null;
      for (const [l, r] of out.routings) {
        const v = this.load.get(l)!;
        v.assign(tf.add(v, tf.sum(tf.mul(r.selected, flatMask), 0)));
        if (this.options.sequenceBalanceAlpha > 0) {
          const b = sequenceBalanceLossInModel(tf.reshape(r.affinities, [B, T, E]), tf.reshape(r.selected, [B, T, E]),
              {topK: K, alpha: this.options.sequenceBalanceAlpha, mask});
          aux = aux === null ? b : tf.add(aux, b);
        }
      }
      if (this.options.mtpLossWeight > 0 && this.config.mtpDepth > 0) {
        const m = mtpLoss(this.mtpFromHidden(tokens, positions, mask, out.hidden), tokens, mask, this.options.mtpLossWeight);
        aux = aux === null ? m : tf.add(aux, m);
      }
      const result: PolicyForward = {logits: out.logits, hidden: out.hidden};
      if (aux !== null) result.auxLoss = aux as tf.Scalar;
      return result as unknown as tf.TensorContainer;
    }) as unknown as PolicyForward;
  }

  /** Cached forward pass. @throws when shapes disagree, the context overflows, or (value check, once per mask) `keyMask` is not 0/1. */
  applyWithCache({tokens, positions, keyMask, cache}: PolicyCachedInputs<DeepseekV3Cache>): PolicyCachedOutput<DeepseekV3Cache> {
    this.assertLive('applyWithCache');
    assertDeepseekCachedInputs({tokens, positions, keyMask, cache}, this.contextLength, 'DeepseekV3Policy.applyWithCache',
        this.config.vocabSize);
    return tf.tidy(() => {
      const out = this.forward(tokens, tf.cast(positions, 'int32') as tf.Tensor2D, tf.cast(keyMask, 'float32') as tf.Tensor2D, cache, 'absorb');
      return {logits: out.logits, hidden: out.hidden, cache: {layers: out.caches}} as unknown as tf.TensorContainer;
    }) as unknown as PolicyCachedOutput<DeepseekV3Cache>;
  }

  disposeCache(cache: DeepseekV3Cache): void {
    for (const c of cache.layers) tf.dispose([c.latent, c.ropeKey]);
  }

  /**
   * Logits of every MTP depth for `tokens` (teacher forcing): depth k `[batch, time − k, vocab]`,
   * position i predicting t_{i+k+1} (see `mtpModule`).
   *
   * @param tokens `[batch, time]` int32.
   * @param options.attentionMask `[batch, time]`; default all ones.
   * @returns one logits tensor per depth (empty without MTP modules).
   * @throws when `tokens` is not int32 `[batch, time]` with time <= contextLength, `options` has a key
   *   other than `attentionMask`, the mask is not a tensor of the shape of `tokens`, or (value check,
   *   once per mask) a mask value is not 0/1.
   */
  mtpLogits(tokens: tf.Tensor2D, options: PolicyApplyOptions = {}): tf.Tensor3D[] {
    this.assertLive('mtpLogits');
    assertDeepseekApplyInputs(tokens, options, this.contextLength, 'DeepseekV3Policy.mtpLogits', this.config.vocabSize);
    return tf.tidy(() => {
      const mask = (options.attentionMask === undefined ? tf.ones(tokens.shape) : tf.cast(options.attentionMask, 'float32')) as tf.Tensor2D;
      const positions = tf.cast(tf.relu(tf.sub(tf.cumsum(mask, 1), 1)), 'int32') as tf.Tensor2D;
      const out = this.forward(tokens, positions, mask, null, 'expand');
      return this.mtpFromHidden(tokens, positions, mask, out.hidden);
    });
  }

  /**
   * Incremental MTP depth 1 with its own MLA cache (the draft model of `mtpSpeculativeGreedy`):
   * position i takes the main model's normed hidden state h_i and the next token t_{i+1}.
   *
   * @param inputs `prevHidden` `[batch, newTime, hidden]` h_i, `tokens` `[batch, newTime]` t_{i+1},
   *   `positions` of i, `keyMask` `[batch, pastTime + newTime]`, the module's `cache` or `null`.
   * @returns `[batch, newTime, vocab]` logits of t_{i+2} and the extended cache.
   * @throws when the model has no MTP module, `inputs` has other keys, `tokens` is not int32
   *   `[batch, newTime]`, `prevHidden` not float32 `[batch, newTime, hidden]`, `positions` not of the
   *   shape of `tokens`, `cache` not null or `{latent, ropeKey}` of the batch, `keyMask` not
   *   `[batch, pastTime + newTime]`, the sequence exceeds contextLength, or (value check, once per
   *   mask) a `keyMask` value is not 0/1.
   */
  mtpApplyWithCache(inputs: MtpCachedInputs): {
      /** `[batch, newTime, vocab]` MTP logits (token t + 2). */ logits: tf.Tensor3D;
      /** The MTP layer's cache extended by the new positions. */ cache: MlaLayerCache} {
    const fn = 'DeepseekV3Policy.mtpApplyWithCache';
    this.assertLive('mtpApplyWithCache');
    check(this.config.mtpDepth >= 1, fn, () => 'the model has no MTP module (num_nextn_predict_layers 0)');
    const past = assertMtpCachedInputs(inputs, this.config, this.contextLength, fn);
    const {prevHidden, tokens, positions, keyMask, cache} = inputs;
    const [B, T] = tokens.shape;
    return tidyResult(() => {
      const {cos, sin} = ropeCosSin(tf.cast(positions, 'int32') as tf.Tensor2D, this.freqs);
      const bias = causalAttentionBiasInModel(B, T, past, tf.cast(keyMask, 'float32') as tf.Tensor2D);
      const m = mtpModule(prevHidden, this.embed(tokens), this.w, this.config.numLayers, this.config, {cos, sin, bias, cache, mode: 'absorb'});
      return {logits: this.head(m.normed), cache: m.cache};
    });
  }

  /**
   * The auxiliary-loss-free balancing step: reads the expert load recorded since the last call,
   * moves each router bias by {@link routerBiasUpdate} (when `routerBiasGamma > 0` and the model is
   * trainable) and resets the counters.
   *
   * @returns per MoE layer `moe/layer{N}/maxOverMean` and `moe/layer{N}/cv` of the recorded load,
   *   and their means over layers `moe/maxOverMean`, `moe/cv`; `{}` when nothing was recorded.
   */
  afterOptimizerStep(): Record<string, number> {
    this.assertLive('afterOptimizerStep');
    const metrics: Record<string, number> = {};
    let sumMax = 0, sumCv = 0, n = 0;
    for (const [l, v] of this.load) {
      const load = v.dataSync();
      if (load.every((x) => x === 0)) continue;
      const {maxOverMean, cv} = expertLoadStats(load);
      metrics[`moe/layer${l}/maxOverMean`] = maxOverMean;
      metrics[`moe/layer${l}/cv`] = cv;
      sumMax += maxOverMean; sumCv += cv; n++;
      if (this.trainable && this.options.routerBiasGamma > 0) {
        const bias = this.weights.get(`model.layers.${l}.mlp.gate.e_score_correction_bias`)!;
        const next = routerBiasUpdate(bias as tf.Tensor as tf.Tensor1D, v as tf.Tensor as tf.Tensor1D, {gamma: this.options.routerBiasGamma});
        bias.assign(next);
        next.dispose();
      }
      tf.tidy(() => v.assign(tf.zerosLike(v)));
    }
    if (n > 0) {
      metrics['moe/maxOverMean'] = sumMax / n;
      metrics['moe/cv'] = sumCv / n;
    }
    return metrics;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    tf.dispose([...this.weights.values(), ...this.load.values()]);
  }

  private assertLive(method: string): void {
    check(!this.disposed, `DeepseekV3Policy.${method}`, () => 'the policy has been disposed');
  }

  private w = (name: string): tf.Tensor => {
    const v = this.weights.get(name);
    if (v === undefined) throw new Error(`DeepseekV3Policy: no weight '${name}'`);
    return v;
  };

  private embed(ids: tf.Tensor2D): tf.Tensor3D {
    const [B, T] = ids.shape;
    const V = this.config.vocabSize, D = this.config.hiddenSize;
    const table = this.w('model.embed_tokens.weight');
    // One-hot matmul for small vocabularies (as cheap, one op); else a gather with a scatter-add gradient.
    // The ids were checked against the vocabulary on entry (assertPolicyTokens): no second read here.
    const flat = V <= 4096
      ? tf.matMul(tf.cast(tf.oneHot(tf.reshape(ids, [-1]) as tf.Tensor1D, V), 'float32'), table)
      : embeddingLookupOfCheckedIds(table as tf.Tensor2D, tf.reshape(ids, [-1]) as tf.Tensor1D);
    return tf.reshape(flat, [B, T, D]);
  }

  private head(normed: tf.Tensor3D): tf.Tensor3D {
    const [B, T, D] = normed.shape;
    const weight = this.config.tieWordEmbeddings ? this.w('model.embed_tokens.weight') : this.w('lm_head.weight');
    return tf.reshape(tf.matMul(tf.reshape(normed, [B * T, D]), weight, false, true), [B, T, this.config.vocabSize]);
  }

  private forward(tokens: tf.Tensor2D, positions: tf.Tensor2D, keyMask: tf.Tensor2D, past: DeepseekV3Cache | null,
      mode: 'expand' | 'absorb'): {logits: tf.Tensor3D; hidden: tf.Tensor3D; caches: MlaLayerCache[]; routings: Map<number, MoeRouting>} {
    const [B, Tq] = tokens.shape;
    const pastLen = past === null ? 0 : past.layers[0]!.latent.shape[1];
    const {cos, sin} = ropeCosSin(positions, this.freqs);
    const bias = causalAttentionBiasInModel(B, Tq, pastLen, keyMask);
    let x = this.embed(tokens);
    const caches: MlaLayerCache[] = [];
    const routings = new Map<number, MoeRouting>();
    for (let l = 0; l < this.config.numLayers; l++) {
      const out = deepseekV3Block(x, this.w, l, this.config, {cos, sin, bias, cache: past?.layers[l] ?? null, mode});
      x = out.x;
      caches.push(out.cache);
      if (out.routing !== undefined) routings.set(l, out.routing);
    }
    const hidden = rmsNorm(x, this.w('model.norm.weight') as tf.Tensor1D, this.config.rmsNormEps) as tf.Tensor3D;
    return {logits: this.head(hidden), hidden, caches, routings};
  }

  /** MTP logits of every depth from the main model's normed hidden states (teacher forcing). */
  private mtpFromHidden(tokens: tf.Tensor2D, positions: tf.Tensor2D, mask: tf.Tensor2D, hidden: tf.Tensor3D): tf.Tensor3D[] {
    const [B, T] = tokens.shape;
    const D = this.config.hiddenSize;
    const out: tf.Tensor3D[] = [];
    let prev = hidden;
    for (let k = 1; k <= this.config.mtpDepth && T - k >= 1; k++) {
      const n = T - k;
      const pos = tf.slice(positions, [0, 0], [B, n]) as tf.Tensor2D;
      const {cos, sin} = ropeCosSin(pos, this.freqs);
      const bias = causalAttentionBiasInModel(B, n, 0, tf.slice(mask, [0, 0], [B, n]) as tf.Tensor2D);
      const m = mtpModule(tf.slice(prev, [0, 0, 0], [B, n, D]), this.embed(tf.slice(tokens, [0, k], [B, n]) as tf.Tensor2D),
          this.w, this.config.numLayers + k - 1, this.config, {cos, sin, bias, cache: null, mode: 'expand'});
      out.push(this.head(m.normed));
      prev = m.hidden;
    }
    return out;
  }
}
