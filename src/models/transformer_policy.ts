/**
 * A small decoder-only transformer language model written with tfjs-core variables and ops.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {assertKnownInputs, assertKnownOptions, assertNumber, assertShape, check, fmtShape} from '../math/assert.js';
import {assertPolicyTokens} from './assert_policy_tokens.js';
import {assertBinaryMaskOnce} from './checked_masks.js';
import {disposeKvCache, type KvCache} from './kv_cache.js';
import type {Policy, PolicyApplyOptions, PolicyCachedInputs, PolicyCachedOutput} from './policy.js';
import {
  resolveConfig, sameConfig, weightShapes, type TransformerConfig, type TransformerPolicyOptions,
} from './transformer_config.js';
import {positionsFromMask, transformerForward, type TransformerForwardOutput} from './transformer_forward.js';
import {resolveFp8LinearOptions, type Fp8LinearOptions} from './fp8_linear.js';

// Moved to their own files; re-exported so that existing imports of this module keep working.
export {disposeKvCache, type KvCache} from './kv_cache.js';
export type {TransformerConfig, TransformerPolicyOptions} from './transformer_config.js';

/** Output of {@link TransformerPolicy.apply} (a {@link PolicyForward} whose `hidden` is always there). */
export interface PolicyOutput {
  /** `[batch, time, vocab]` next-token logits at every position. */
  logits: tf.Tensor3D;
  /** `[batch, time, width]` final (layer-normed) hidden states, the input of a value head. */
  hidden: tf.Tensor3D;
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
  private disposed = false;

  /** FP8 options of the block linears, or `null` for float32 (see `TransformerPolicyOptions.fp8`). */
  readonly fp8: Fp8LinearOptions | null;

  private constructor(config: Required<TransformerConfig>, weights: Map<string, tf.Variable>, trainable: boolean,
      fp8: Fp8LinearOptions | null = null) {
    this.fp8 = fp8;
    this.config = config;
    this.weights = weights;
    this.trainable = trainable;
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
    const fp8Options = fp8 === false ? null : fp8 === true ? {} : fp8;
    if (fp8Options !== null) resolveFp8LinearOptions(fp8Options, 'TransformerPolicy.create');
    assertNumber(seed, 'TransformerPolicy.create', 'seed', {integer: true, min: 0});
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

  /** Disposes a cache returned by {@link applyWithCache}. */
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
   *   vocabulary, an option is unknown (`attention_mask`), the mask's shape differs, or (a value check,
   *   one read-back the first time a mask is seen) the mask holds a value other than 0 and 1.
   */
  apply(tokens: tf.Tensor2D, options: PolicyApplyOptions = {}): PolicyOutput {
    const fn = 'TransformerPolicy.apply';
    assertKnownOptions(options, ['attentionMask'], fn);
    const {attentionMask} = options;
    this.assertLive('apply');
    assertPolicyTokens(tokens, fn, 'tokens', this.config.contextLength, this.config.vocabSize);
    if (attentionMask !== undefined) {
      assertShape(attentionMask, tokens.shape, fn, 'attentionMask', ['batch', 'time']);
      assertBinaryMaskOnce(attentionMask, fn, 'attentionMask');
    }
    return tf.tidy(() => {
      const mask = attentionMask === undefined ? tf.ones(tokens.shape) : tf.cast(attentionMask, 'float32');
      const positions = positionsFromMask(mask);
      const {logits, hidden, cache} = transformerForward(this.config, this.weights, tokens, positions, mask as tf.Tensor2D, null, this.fp8);
      disposeKvCache(cache);
      return {logits, hidden};
    });
  }

  /**
   * Incremental forward pass with a key/value cache (for sampling): the new tokens attend to the
   * cached keys and, causally, to each other. Equal to the matching slice of {@link apply}.
   *
   * @param inputs `{tokens, positions, keyMask, cache}` (see {@link PolicyCachedInputs}); `cache` is
   *   `null` for the first (prefill) call, then the cache of the previous call (not disposed).
   * @returns logits and hidden states of the new tokens and the extended cache.
   * @throws when shapes disagree or the total length exceeds the context.
   */
  applyWithCache(inputs: PolicyCachedInputs<KvCache>): PolicyCachedOutput<KvCache> & PolicyOutput {
    const fn = 'TransformerPolicy.applyWithCache';
    assertKnownInputs(inputs, ['tokens', 'positions', 'keyMask', 'cache'], fn);
    const {tokens, positions, keyMask, cache} = inputs;
    this.assertLive('applyWithCache');
    assertPolicyTokens(tokens, fn, 'tokens', this.config.contextLength, this.config.vocabSize);
    assertShape(positions, tokens.shape, fn, 'positions', ['batch', 'newTime']);
    const past = cache === null ? 0 : cache.keys[0]!.shape[2];
    const [B, Tq] = tokens.shape;
    assertShape(keyMask, [B, past + Tq], fn, 'keyMask', ['batch', 'pastTime + newTime']);
    check(past + Tq <= this.config.contextLength, fn, () =>
      `sequence length ${past + Tq} exceeds contextLength ${this.config.contextLength}`);
    return tf.tidy((() => transformerForward(this.config, this.weights, tokens, tf.cast(positions, 'int32') as tf.Tensor2D,
        tf.cast(keyMask, 'float32') as tf.Tensor2D, cache, this.fp8)) as unknown as () => tf.TensorContainer) as unknown as TransformerForwardOutput;
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

}
