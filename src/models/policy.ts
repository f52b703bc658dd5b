/**
 * The `Policy` and `Tokenizer` interfaces every sampler and training step accepts.
 * @module
 */
import type * as tf from '@tensorflow/tfjs-core';

/** Options of {@link Policy.apply}. */
export interface PolicyApplyOptions {
  /**
   * `[batch, time]` 1 for real tokens, 0 for padding (left padding of prompts). Padded keys are never
   * attended to and positions count real tokens only. Default all ones.
   */
  attentionMask?: tf.Tensor2D;
}

/** Output of {@link Policy.apply}; the caller disposes every tensor in it. */
export interface PolicyForward {
  /** `[batch, time, vocab]` float32 next-token logits at every position. */
  logits: tf.Tensor3D;
  /** `[batch, time, width]` final normed hidden states (input of a value head), when the model exposes them. */
  hidden?: tf.Tensor3D;
  /**
   * Scalar auxiliary training loss of this forward pass, already weighted (an MoE sequence-balance
   * loss, an MTP loss), when the model has one; training steps add it to their objective.
   */
  auxLoss?: tf.Scalar;
}

/** Inputs of {@link Policy.applyWithCache}. */
export interface PolicyCachedInputs<Cache> {
  /** `[batch, newTime]` int32 new token ids. */
  tokens: tf.Tensor2D;
  /** `[batch, newTime]` int32 position ids of the new tokens (count of real tokens before them). */
  positions: tf.Tensor2D;
  /** `[batch, pastTime + newTime]` 1 for real keys, 0 for padding. */
  keyMask: tf.Tensor2D;
  /** The cache of the previous call, or `null` for the first (prefill) call. Not disposed. */
  cache: Cache | null;
}

/** Output of {@link Policy.applyWithCache}; the caller disposes the tensors and the cache. */
export interface PolicyCachedOutput<Cache> {
  /** `[batch, newTime, vocab]` logits of the new tokens. */
  logits: tf.Tensor3D;
  /** `[batch, newTime, width]` hidden states of the new tokens, when exposed. */
  hidden?: tf.Tensor3D;
  /** The cache extended by the new tokens (new tensors; the input cache is left alone). */
  cache: Cache;
}

/**
 * A causal language model the library can sample from and train: logits for tokens, an optional
 * key/value cache for incremental decoding, its trainable variables, a frozen copy for the
 * reference, and `dispose`. `TransformerPolicy`, the pretrained architectures and
 * `policyFromFunction` (any `(tokens) => logits` plus its variables) implement it.
 *
 * `Cache` is the model's own cache type (opaque to the library): multi-head attention keeps keys and
 * values, MLA keeps the compressed latent and the RoPE key.
 */
export interface Policy<Cache = unknown> {
  /** Number of token ids of the output distribution (`logits.shape[2]`). */
  readonly vocabSize: number;
  /** Longest sequence (prompt + completion) the model accepts. */
  readonly contextLength: number;
  /** Full forward pass: `tokens` int32 `[batch, time]` -> {@link PolicyForward}. */
  apply(tokens: tf.Tensor2D, options?: PolicyApplyOptions): PolicyForward;
  /**
   * Incremental forward pass with a cache, equal to the matching slice of `apply`. Optional: without
   * it, samplers re-run `apply` on the whole prefix each step.
   */
  applyWithCache?(inputs: PolicyCachedInputs<Cache>): PolicyCachedOutput<Cache>;
  /** Disposes a cache returned by `applyWithCache` (required when `applyWithCache` exists). */
  disposeCache?(cache: Cache): void;
  /** The model's variables (an optimizer updates them when they are trainable). */
  variables(): tf.Variable[];
  /** Total number of parameters held in memory. */
  numParams(): number;
  /** A copy with its own variables holding the current values; default frozen (`trainable: false`), a reference for the KL term. */
  copy(options?: {trainable?: boolean}): Policy<Cache>;
  /**
   * Called by the training steps after every optimizer update (e.g. the auxiliary-loss-free router
   * bias update of an MoE model). Returns JS-number metrics merged into the step's metrics.
   */
  afterOptimizerStep?(): Record<string, number> | void;
  /** Frees the variables; further calls throw. */
  dispose(): void;
}

/**
 * A tokenizer: text to ids and back, plus the special ids the sampler and the losses need.
 * `charTokenizer` and the Hugging Face tokenizers loaded with a checkpoint implement it.
 */
export interface Tokenizer {
  /** Number of ids (may be below the model's `vocabSize`, never above). */
  readonly vocabSize: number;
  /** Id used for padding. */
  readonly padId: number;
  /** End-of-sequence id (the default stop token of sampling). */
  readonly eosId: number;
  /** Beginning-of-sequence id prepended by `encode` when the tokenizer does so, if any. */
  readonly bosId?: number;
  /** Text to ids. */
  encode(text: string): number[];
  /** Ids to text. */
  decode(ids: ArrayLike<number>): string;
}
