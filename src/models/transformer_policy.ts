/**
 * A small decoder-only transformer language model written with tfjs-core variables and ops.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {assertNumber, assertRank, assertShape, check, fmtShape, valueChecksEnabled} from '../math/assert.js';
import {fp8Linear, resolveFp8LinearOptions, type Fp8LinearOptions} from './fp8_linear.js';
import type {Policy} from './policy.js';

/** Architecture of a {@link TransformerPolicy}. */
export interface TransformerConfig {
  /** Number of token ids (must equal the tokenizer's `vocabSize`). */
  vocabSize: number;
  /** Longest sequence (prompt + completion) the learned position table covers. */
  contextLength: number;
  /** Transformer blocks; default `2`. */
  layers?: number;
  /** Model width `d_model`; default `64`; a multiple of `heads`. */
  width?: number;
  /** Attention heads; default `4`. */
  heads?: number;
  /** MLP hidden width as a multiple of `width`; default `4`. */
  mlpRatio?: number;
  /** Output projection = transposed token embedding (Press & Wolf 2017, arXiv:1608.05859); default `true`. */
  tiedEmbeddings?: boolean;
}

/** Options of {@link TransformerPolicy.create}. */
export interface TransformerPolicyOptions extends TransformerConfig {
  /** Seed of the weight initialisation; default `0`. Same seed, same weights on every backend. */
  seed?: number;
  /**
   * Run the blocks' linear layers (attention q/k/v/out, MLP in/out) as simulated FP8 GEMMs
   * ({@link fp8Linear}, DeepSeek-V3 §3.3); embeddings, head, norms and attention stay float32 as in V3.
   * `true` for the defaults, or the options. Default `false`. Kept by `copy()`, not stored by `save()`.
   */
  fp8?: boolean | Fp8LinearOptions;
}

/** Options of {@link TransformerPolicy.apply}. */
export interface ApplyOptions {
  /**
   * `[batch, time]` 1 for real tokens, 0 for padding (left padding of prompts). Padded keys are never
   * attended to and positions count real tokens only. Default all ones.
   */
  attentionMask?: tf.Tensor2D;
}

/** Output of {@link TransformerPolicy.apply}. */
export interface PolicyOutput {
  /** `[batch, time, vocab]` next-token logits at every position. */
  logits: tf.Tensor3D;
  /** `[batch, time, width]` final (layer-normed) hidden states, the input of a value head. */
  hidden: tf.Tensor3D;
}

/**
 * Key/value cache of incremental decoding: per layer `[batch, heads, pastTime, width / heads]`.
 * The caller owns it and disposes it with {@link disposeKvCache}.
 */
export interface KvCache {
  /** Keys per layer, `[batch, heads, pastTime, headDim]`. */
  keys: tf.Tensor4D[];
  /** Values per layer, `[batch, heads, pastTime, headDim]`. */
  values: tf.Tensor4D[];
}

/** Inputs of {@link TransformerPolicy.applyWithCache}. */
export interface CachedStepInputs {
  /** `[batch, newTime]` int32 new token ids. */
  tokens: tf.Tensor2D;
  /** `[batch, newTime]` int32 position ids of the new tokens (real tokens before them). */
  positions: tf.Tensor2D;
  /** `[batch, pastTime + newTime]` 1 for real keys, 0 for padding. */
  keyMask: tf.Tensor2D;
  /** The cache of the previous call, or `null` for the first (prefill) call. Not disposed. */
  cache: KvCache | null;
}

/** Output of {@link TransformerPolicy.applyWithCache}. */
export interface CachedStepOutput extends PolicyOutput {
  /** The cache extended by the new tokens (new tensors; the input cache is left alone). */
  cache: KvCache;
}

/** Disposes every tensor of a {@link KvCache}. */
export function disposeKvCache(cache: KvCache | null): void {
  if (cache === null) return;
  tf.dispose([...cache.keys, ...cache.values]);
}

/** A policy loaded from a checkpoint, with the metadata stored beside it. */
export interface LoadedPolicy {
  /** The loaded policy (the caller disposes it). */
  policy: TransformerPolicy;
  /** The `metadata` passed to {@link TransformerPolicy.save} (`{}` if none). */
  metadata: Record<string, unknown>;
}

const FORMAT = 'tfjs-grpo/transformer-policy';

/**
 * Decoder-only transformer policy (GPT-2 layout: pre-LayerNorm blocks, learned positions, GELU MLP,
 * causal multi-head attention; Radford et al. 2019; Vaswani et al. 2017, arXiv:1706.03762), built
 * from tfjs-core variables and ops so it runs on every tfjs backend.
 *
 * `apply(tokens)` returns next-token `logits` `[batch, time, vocab]` and the final `hidden` states
 * `[batch, time, width]` (for a value head). `applyWithCache` is the same computation run
 * incrementally with a key/value cache, for sampling. Owns its variables: call `dispose()`.
 *
 * @example
 * const policy = TransformerPolicy.create({vocabSize: 20, contextLength: 32, layers: 1, width: 16, heads: 2});
 * const {logits, hidden} = policy.apply(tf.tensor2d([[2, 3, 4]], [1, 3], 'int32'));
 * // logits [1, 3, 20], hidden [1, 3, 16]
 * tf.dispose([logits, hidden]);
 * policy.dispose();
 */
export class TransformerPolicy implements Policy<KvCache> {
  /** The architecture, defaults filled in. */
  readonly config: Required<TransformerConfig>;
  /** Named weights (`tok_emb`, `pos_emb`, `h0.attn.q.w`, ...), in a fixed order. */
  readonly weights: ReadonlyMap<string, tf.Variable>;
  /** Whether the weights are trainable (`false` for a frozen reference copy). */
  readonly trainable: boolean;
  /** FP8 options of the block linears, or `null` for float32 (see {@link TransformerPolicyOptions.fp8}). */
  readonly fp8: Fp8LinearOptions | null;
  private disposed = false;

  private constructor(config: Required<TransformerConfig>, weights: Map<string, tf.Variable>, trainable: boolean,
      fp8: Fp8LinearOptions | null = null) {
    this.config = config;
    this.weights = weights;
    this.trainable = trainable;
    this.fp8 = fp8;
  }

  /**
   * Creates a policy with freshly initialised weights: N(0, 0.02) matrices, residual output
   * projections scaled by 1/sqrt(2 layers) (GPT-2), LayerNorm gains 1, biases 0.
   *
   * @param options architecture (see {@link TransformerConfig}) and `seed` (default `0`).
   * @returns a trainable policy.
   * @throws when a size is not a positive integer or `width` is not a multiple of `heads`.
   * @example
   * const policy = TransformerPolicy.create({vocabSize: 20, contextLength: 48, seed: 1});
   * policy.numParams(); // ~104k with the defaults (2 layers, width 64)
   * policy.dispose();
   */
  static create(options: TransformerPolicyOptions): TransformerPolicy {
    const {seed = 0, fp8 = false, ...rest} = options;
    assertNumber(seed, 'TransformerPolicy.create', 'seed', {integer: true, min: 0});
    const fp8Options = fp8 === false ? null : fp8 === true ? {} : fp8;
    if (fp8Options !== null) resolveFp8LinearOptions(fp8Options, 'TransformerPolicy.create');
    const config = resolveConfig(rest);
    const L = config.layers;
    const shapes = weightShapes(config);
    const weights = new Map<string, tf.Variable>();
    let k = 0;
    for (const [name, shape] of shapes) {
      k++;
      const init = tf.tidy(() => {
        if (name.endsWith('.g')) return tf.ones(shape);
        if (name.endsWith('.b')) return tf.zeros(shape);
        const residual = name.endsWith('attn.out.w') || name.endsWith('mlp.out.w');
        const std = residual ? 0.02 / Math.sqrt(2 * L) : 0.02;
        return tf.randomNormal(shape, 0, std, 'float32', seed * 10007 + k);
      });
      weights.set(name, tf.variable(init, true));
      init.dispose();
    }
    return new TransformerPolicy(config, weights, true, fp8Options);
  }

  /** Number of token ids (`config.vocabSize`). */
  get vocabSize(): number {
    return this.config.vocabSize;
  }

  /** Longest sequence the learned position table covers (`config.contextLength`). */
  get contextLength(): number {
    return this.config.contextLength;
  }

  /** Disposes a cache returned by {@link applyWithCache} (same as {@link disposeKvCache}). */
  disposeCache(cache: KvCache): void {
    disposeKvCache(cache);
  }

  /** Total number of parameters. */
  numParams(): number {
    let n = 0;
    for (const w of this.weights.values()) n += w.size;
    return n;
  }

  /** The variables, in the fixed order of {@link TransformerPolicy.weights}. */
  variables(): tf.Variable[] {
    return [...this.weights.values()];
  }

  /**
   * A copy with its own variables holding the current values.
   *
   * @param options.trainable whether the copy's variables are trainable; default `false` (a frozen
   *   reference policy for the KL term).
   * @returns the copy (dispose it separately).
   */
  copy(options: {trainable?: boolean} = {}): TransformerPolicy {
    const {trainable = false} = options;
    this.assertLive('copy');
    const weights = new Map<string, tf.Variable>();
    for (const [name, w] of this.weights) weights.set(name, tf.variable(w, trainable));
    return new TransformerPolicy({...this.config}, weights, trainable, this.fp8);
  }

  /** Copies the weight values of `source` (same architecture) into this policy. */
  assign(source: TransformerPolicy): void {
    this.assertLive('assign');
    check(sameConfig(this.config, source.config), 'TransformerPolicy.assign', () =>
      `'source' expected config ${JSON.stringify(this.config)}, got ${JSON.stringify(source.config)}`);
    for (const [name, w] of this.weights) w.assign(source.weights.get(name)!);
  }

  /**
   * Full forward pass.
   *
   * @param tokens `[batch, time]` int32 ids, `time <= contextLength`.
   * @param options.attentionMask `[batch, time]` 1 real / 0 pad; default all ones.
   * @returns `{logits: [batch, time, vocab], hidden: [batch, time, width]}`.
   * @throws when `tokens` is not int32 rank 2, is longer than the context, holds an id outside the
   *   vocabulary, or the mask's shape differs.
   */
  apply(tokens: tf.Tensor2D, options: ApplyOptions = {}): PolicyOutput {
    const {attentionMask} = options;
    const fn = 'TransformerPolicy.apply';
    this.assertLive('apply');
    this.checkTokens(tokens, fn, 'tokens');
    if (attentionMask !== undefined) assertShape(attentionMask, tokens.shape, fn, 'attentionMask', ['batch', 'time']);
    return tf.tidy(() => {
      const mask = attentionMask === undefined ? tf.ones(tokens.shape) : tf.cast(attentionMask, 'float32');
      const positions = positionsFromMask(mask);
      const {logits, hidden, cache} = this.forward(tokens, positions, mask as tf.Tensor2D, null);
      disposeKvCache(cache);
      return {logits, hidden};
    });
  }

  /**
   * Incremental forward pass with a key/value cache (for sampling): the new tokens attend to the
   * cached keys and, causally, to each other. Equal to the matching slice of {@link apply}.
   *
   * @param inputs see {@link CachedStepInputs}.
   * @returns logits and hidden states of the new tokens and the extended cache.
   * @throws when shapes disagree or the total length exceeds the context.
   */
  applyWithCache({tokens, positions, keyMask, cache}: CachedStepInputs): CachedStepOutput {
    const fn = 'TransformerPolicy.applyWithCache';
    this.assertLive('applyWithCache');
    this.checkTokens(tokens, fn, 'tokens');
    assertShape(positions, tokens.shape, fn, 'positions', ['batch', 'newTime']);
    const past = cache === null ? 0 : cache.keys[0]!.shape[2];
    const [B, Tq] = tokens.shape;
    assertShape(keyMask, [B, past + Tq], fn, 'keyMask', ['batch', 'pastTime + newTime']);
    check(past + Tq <= this.config.contextLength, fn, () =>
      `sequence length ${past + Tq} exceeds contextLength ${this.config.contextLength}`);
    return tf.tidy((() => this.forward(tokens, tf.cast(positions, 'int32') as tf.Tensor2D,
        tf.cast(keyMask, 'float32') as tf.Tensor2D, cache)) as unknown as () => tf.TensorContainer) as unknown as CachedStepOutput;
  }

  /**
   * Saves config and weights through a tfjs IO handler (`tf.io.withSaveHandler`, a file handler,
   * browser storage...). `modelTopology` holds the config; `userDefinedMetadata` is passed through.
   *
   * @param handler a tfjs `IOHandler` with `save`.
   * @param metadata extra JSON stored beside the weights (e.g. the tokenizer options).
   * @returns the handler's save result.
   */
  async save(handler: tf.io.IOHandler, metadata: Record<string, unknown> = {}): Promise<tf.io.SaveResult> {
    this.assertLive('save');
    check(typeof handler?.save === 'function', 'TransformerPolicy.save', () => `'handler' expected an IOHandler with save()`);
    const named: tf.NamedTensorMap = {};
    for (const [name, w] of this.weights) named[name] = w;
    const {data, specs} = await tf.io.encodeWeights(named);
    return handler.save({
      modelTopology: {format: FORMAT, config: this.config},
      weightSpecs: specs,
      weightData: data,
      format: FORMAT,
      generatedBy: 'tfjs-grpo',
      userDefinedMetadata: metadata as {[key: string]: {}},
    });
  }

  /**
   * Loads a policy saved by {@link save}.
   *
   * @param handler a tfjs `IOHandler` with `load` (e.g. `tf.io.fromMemory(artifacts)`).
   * @param options.trainable whether the loaded variables are trainable; default `true`.
   * @returns the policy and the stored metadata.
   * @throws when the artifacts are not a saved transformer policy or a weight is missing or misshaped.
   */
  static async load(handler: tf.io.IOHandler, options: {trainable?: boolean} = {}): Promise<LoadedPolicy> {
    const {trainable = true} = options;
    const fn = 'TransformerPolicy.load';
    check(typeof handler?.load === 'function', fn, () => `'handler' expected an IOHandler with load()`);
    const artifacts = await handler.load();
    const topology = artifacts.modelTopology as {format?: string; config?: TransformerConfig} | undefined;
    check(topology?.format === FORMAT && topology.config !== undefined, fn, () =>
      `expected artifacts saved by TransformerPolicy.save (format '${FORMAT}'), got format ${JSON.stringify(topology?.format)}`);
    check(artifacts.weightSpecs !== undefined && artifacts.weightData !== undefined, fn, () => 'artifacts have no weights');
    const config = resolveConfig(topology.config);
    const decoded = tf.io.decodeWeights(artifacts.weightData, artifacts.weightSpecs);
    const weights = new Map<string, tf.Variable>();
    try {
      for (const [name, shape] of weightShapes(config)) {
        const t = decoded[name];
        check(t !== undefined, fn, () => `weight '${name}' missing from the checkpoint`);
        check(t.shape.length === shape.length && t.shape.every((d, i) => d === shape[i]), fn, () =>
          `weight '${name}' expected shape ${fmtShape(shape)}, got ${fmtShape(t.shape)}`);
        weights.set(name, tf.variable(t, trainable));
      }
    } catch (e) {
      tf.dispose([...weights.values()]);
      throw e;
    } finally {
      tf.dispose(Object.values(decoded));
    }
    const metadata = (artifacts.userDefinedMetadata ?? {}) as Record<string, unknown>;
    return {policy: new TransformerPolicy(config, weights, trainable), metadata};
  }

  /** Disposes the variables. Further calls throw. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    tf.dispose([...this.weights.values()]);
  }

  private assertLive(method: string): void {
    check(!this.disposed, `TransformerPolicy.${method}`, () => 'the policy has been disposed');
  }

  private checkTokens(tokens: tf.Tensor, fn: string, name: string): void {
    assertRank(tokens, 2, fn, name, ['batch', 'time'], 'int32');
    const [, T] = tokens.shape;
    check(T! >= 1 && T! <= this.config.contextLength, fn, () =>
      `'${name}' expected 1 <= time <= contextLength=${this.config.contextLength}, got shape ${fmtShape(tokens.shape)}`);
    if (valueChecksEnabled()) {
      const [lo, hi] = tf.tidy(() => [tf.min(tokens), tf.max(tokens)]);
      const l = lo!.dataSync()[0]!, h = hi!.dataSync()[0]!;
      tf.dispose([lo!, hi!]);
      check(l >= 0 && h < this.config.vocabSize, fn, () =>
        `'${name}' expected ids in [0, vocabSize=${this.config.vocabSize}), got values in [${l}, ${h}]`);
    }
  }

  /** The shared forward body (inside a tidy). */
  private forward(tokens: tf.Tensor2D, positions: tf.Tensor2D, keyMask: tf.Tensor2D, past: KvCache | null):
      CachedStepOutput {
    const {layers: L, width: D, heads: H, vocabSize: V} = this.config;
    const dh = D / H;
    const [B, Tq] = tokens.shape;
    const Tp = past === null ? 0 : past.keys[0]!.shape[2];
    const Tk = Tp + Tq;
    const w = (name: string): tf.Variable => this.weights.get(name)!;
    const linear = (x: tf.Tensor, weight: tf.Tensor2D): tf.Tensor =>
      this.fp8 === null ? tf.matMul(x, weight) : fp8Linear(x, weight, this.fp8);

    // Embedding lookups as one-hot matmuls: the gradient of gather (UnsortedSegmentSum) is missing on
    // the wasm backend, and with a vocabulary of ~20 the matmul is as cheap. The one-hot is built as
    // int32 and cast: wasm's OneHot returns zeros when asked for float32 directly (tfjs 4.22).
    const oneHot = (ids: tf.Tensor, depth: number): tf.Tensor2D =>
      tf.cast(tf.oneHot(tf.reshape(ids, [-1]) as tf.Tensor1D, depth), 'float32') as tf.Tensor2D;
    let x = tf.add(tf.matMul(oneHot(tokens, V), w('tok_emb')),
        tf.matMul(oneHot(positions, this.config.contextLength), w('pos_emb'))) as tf.Tensor2D; // [B*Tq, D]

    // Additive attention bias [B, 1, Tq, Tk]: query i (absolute Tp + i) sees key j <= Tp + i when real.
    const causal = new Float32Array(Tq * Tk);
    for (let i = 0; i < Tq; i++) for (let j = 0; j <= Tp + i; j++) causal[i * Tk + j] = 1;
    // Materialised at full [B, H, Tq, Tk] once: the cpu backend's same-shape add is much faster than
    // its general broadcasting path, and the bias is reused by every layer.
    const allowed = tf.mul(tf.tensor4d(causal, [1, 1, Tq, Tk]), tf.reshape(keyMask, [B, 1, 1, Tk]));
    const bias = tf.tile(tf.mul(tf.sub(1, allowed), -1e9), [1, H, 1, 1]);

    const keys: tf.Tensor4D[] = [];
    const values: tf.Tensor4D[] = [];
    const heads = (t: tf.Tensor): tf.Tensor4D =>
      tf.transpose(tf.reshape(t, [B, Tq, H, dh]), [0, 2, 1, 3]) as tf.Tensor4D;
    for (let l = 0; l < L; l++) {
      const p = `h${l}.`;
      const h = layerNorm(x, w(p + 'ln1.g'), w(p + 'ln1.b'));
      const proj = (name: string): tf.Tensor => tf.add(linear(h, w(p + name + '.w') as tf.Tensor2D), w(p + name + '.b'));
      let kh = heads(proj('attn.k'));
      let vh = heads(proj('attn.v'));
      if (past !== null) {
        kh = tf.concat([past.keys[l]!, kh], 2);
        vh = tf.concat([past.values[l]!, vh], 2);
      }
      keys.push(kh);
      values.push(vh);
      const scores = tf.add(tf.mul(tf.matMul(heads(proj('attn.q')), kh, false, true), 1 / Math.sqrt(dh)), bias);
      const attn = tf.matMul(tf.softmax(scores), vh); // [B, H, Tq, dh]
      const merged = tf.reshape(tf.transpose(attn, [0, 2, 1, 3]), [B * Tq, D]);
      x = tf.add(x, tf.add(linear(merged, w(p + 'attn.out.w') as tf.Tensor2D), w(p + 'attn.out.b')));
      const h2 = layerNorm(x, w(p + 'ln2.g'), w(p + 'ln2.b'));
      const m = gelu(tf.add(linear(h2, w(p + 'mlp.in.w') as tf.Tensor2D), w(p + 'mlp.in.b')));
      x = tf.add(x, tf.add(linear(m, w(p + 'mlp.out.w') as tf.Tensor2D), w(p + 'mlp.out.b')));
    }
    const hidden = layerNorm(x, w('ln_f.g'), w('ln_f.b'));
    const logits = this.config.tiedEmbeddings
      ? tf.matMul(hidden, w('tok_emb'), false, true)
      : tf.matMul(hidden, w('lm_head.w'));
    return {
      logits: tf.reshape(logits, [B, Tq, V]),
      hidden: tf.reshape(hidden, [B, Tq, D]),
      cache: {keys, values},
    };
  }
}

/**
 * LayerNorm over the last axis of `[rows, width]` (Ba et al. 2016, arXiv:1607.06450). Computed on the
 * transpose `[width, rows]` so that every broadcast is over a trailing axis: the cpu backend runs
 * those on its fast path, while a `[rows, 1]` broadcast takes a per-element index computation.
 */
function layerNorm(x: tf.Tensor2D, g: tf.Tensor, b: tf.Tensor): tf.Tensor2D {
  const xt = tf.transpose(x);
  const centred = tf.sub(xt, tf.mean(xt, 0));
  const inv = tf.rsqrt(tf.add(tf.mean(tf.square(centred), 0), 1e-5));
  return tf.add(tf.mul(tf.transpose(tf.mul(centred, inv)), g), b) as tf.Tensor2D;
}

/** GELU, sigmoid approximation x * sigmoid(1.702 x) (Hendrycks & Gimpel 2016, arXiv:1606.08415). */
function gelu(x: tf.Tensor): tf.Tensor {
  return tf.mul(x, tf.sigmoid(tf.mul(x, 1.702)));
}

/** Position ids from a left-padding mask: number of real tokens before each position, >= 0. */
function positionsFromMask(mask: tf.Tensor): tf.Tensor2D {
  return tf.cast(tf.relu(tf.sub(tf.cumsum(mask, 1), 1)), 'int32') as tf.Tensor2D;
}

function resolveConfig(c: TransformerConfig): Required<TransformerConfig> {
  const fn = 'TransformerPolicy';
  check(typeof c === 'object' && c !== null, fn, () => `'config' expected an object, got ${String(c)}`);
  const config: Required<TransformerConfig> = {
    vocabSize: c.vocabSize, contextLength: c.contextLength, layers: c.layers ?? 2, width: c.width ?? 64,
    heads: c.heads ?? 4, mlpRatio: c.mlpRatio ?? 4, tiedEmbeddings: c.tiedEmbeddings ?? true,
  };
  for (const key of ['vocabSize', 'contextLength', 'layers', 'width', 'heads', 'mlpRatio'] as const) {
    assertNumber(config[key], fn, key, {integer: true, min: 1});
  }
  check(config.vocabSize >= 2, fn, () => `'vocabSize' expected >= 2, got ${config.vocabSize}`);
  check(config.width % config.heads === 0, fn, () =>
    `'width' expected a multiple of 'heads'=${config.heads}, got ${config.width}`);
  return config;
}

function sameConfig(a: Required<TransformerConfig>, b: Required<TransformerConfig>): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function weightShapes(c: Required<TransformerConfig>): Array<[string, number[]]> {
  const {vocabSize: V, contextLength: T, layers: L, width: D, mlpRatio} = c;
  const M = D * mlpRatio;
  const shapes: Array<[string, number[]]> = [['tok_emb', [V, D]], ['pos_emb', [T, D]]];
  for (let l = 0; l < L; l++) {
    const p = `h${l}.`;
    shapes.push(
        [p + 'ln1.g', [D]], [p + 'ln1.b', [D]],
        [p + 'attn.q.w', [D, D]], [p + 'attn.q.b', [D]],
        [p + 'attn.k.w', [D, D]], [p + 'attn.k.b', [D]],
        [p + 'attn.v.w', [D, D]], [p + 'attn.v.b', [D]],
        [p + 'attn.out.w', [D, D]], [p + 'attn.out.b', [D]],
        [p + 'ln2.g', [D]], [p + 'ln2.b', [D]],
        [p + 'mlp.in.w', [D, M]], [p + 'mlp.in.b', [M]],
        [p + 'mlp.out.w', [M, D]], [p + 'mlp.out.b', [D]]);
  }
  shapes.push(['ln_f.g', [D]], ['ln_f.b', [D]]);
  if (!c.tiedEmbeddings) shapes.push(['lm_head.w', [D, V]]);
  return shapes;
}
