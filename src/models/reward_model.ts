/**
 * A learned reward model: a scalar head on a policy trunk (DeepSeek-R1 stage 4's preference model).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {assertKnownOptions, assertNumber, assertRank, assertShape, check} from '../math/assert.js';
import {assertLeftPaddedMask, markLeftPaddedMask} from './checked_masks.js';
import type {Policy, Tokenizer} from './policy.js';
import {ValueHead} from './value_head.js';

/** Options of {@link RewardModel.fromPolicy}. */
export interface RewardModelOptions {
  /** Seed of the head's initialisation; default `0`. */
  seed?: number;
}

/**
 * A reward model r(x) = h_T(x) . w + b: the last hidden state of a policy trunk through a linear
 * scalar head (a {@link ValueHead} read at the final position), as in InstructGPT's reward model
 * (Ouyang et al. 2022, arXiv:2203.02155) and TRL's `AutoModelForSequenceClassification` with one
 * label. Sequences are left-padded so the final position is the last real token. Train it with
 * `pairwiseRewardLoss` (`rewardModelStep`); use it as a reward with `rewardModelReward`.
 *
 * Owns its trunk and head (`fromPolicy` copies the policy's weights into a new trainable trunk);
 * call {@link RewardModel.dispose} when done.
 * @example
 * const tok = charTokenizer({alphabet: 'abc'});
 * const policy = TransformerPolicy.create({vocabSize: tok.vocabSize, contextLength: 8, layers: 1, width: 8, heads: 2});
 * const rm = RewardModel.fromPolicy(policy);
 * const scores = rm.scoreTexts(tok, ['abc', 'cba']); // [2]
 * scores.dispose(); rm.dispose(); policy.dispose();
 */
export class RewardModel {
  /** The trunk producing hidden states (any {@link Policy} whose `apply` returns `hidden`). */
  readonly trunk: Policy;
  /** The scalar head. */
  readonly head: ValueHead;

  /**
   * @param trunk a policy exposing `hidden` (owned from now on).
   * @param head a head of the trunk's hidden size (owned from now on).
   */
  constructor(trunk: Policy, head: ValueHead) {
    this.trunk = trunk;
    this.head = head;
  }

  /**
   * A reward model whose trunk is a trainable copy of `policy` (its weights; the policy is untouched)
   * and whose head starts at zero (every score 0 before training).
   *
   * @param policy the policy whose trunk to copy (e.g. the SFT checkpoint).
   * @param options.seed head seed; default `0`.
   * @returns a new reward model.
   * @throws when the policy returns no hidden states.
   */
  static fromPolicy(policy: Policy, options: RewardModelOptions = {}): RewardModel {
    const fn = 'RewardModel.fromPolicy';
    assertKnownOptions(options, ['seed'], fn);
    const {seed = 0} = options;
    assertNumber(seed, fn, 'seed', {integer: true});
    const width = tf.tidy(() => {
      const {hidden} = policy.apply(tf.zeros([1, 1], 'int32') as tf.Tensor2D);
      check(hidden !== undefined, fn, () => `'policy' returned no hidden states from apply; a reward head needs them`);
      return hidden.shape[2];
    });
    return new RewardModel(policy.copy({trainable: true}), new ValueHead(width, {seed, initStd: 0}));
  }

  /** The trainable variables (trunk, then head). */
  variables(): tf.Variable[] {
    return [...this.trunk.variables(), ...this.head.variables];
  }

  /** Parameters of trunk and head. */
  numParams(): number {
    return this.trunk.numParams() + this.head.hiddenSize + 1;
  }

  /**
   * Scores left-padded sequences: the head's value at the last position.
   *
   * @param tokens `[batch, time]` int32, left-padded.
   * @param mask `[batch, time]` 1 real / 0 pad, left padding (the last position is a real token).
   * @returns `[batch]` float32 scores, differentiable with respect to {@link RewardModel.variables}.
   * @throws when `tokens` is not int32 `[batch, time]`, `mask` is not of its shape, or (a value
   *   check, one read-back the first time a mask is seen) `mask` holds a value other than 0 and 1,
   *   is right-padded, or has an all-padding row.
   */
  score(tokens: tf.Tensor2D, mask: tf.Tensor2D): tf.Tensor1D {
    const fn = 'RewardModel.score';
    assertRank(tokens, 2, fn, 'tokens', ['batch', 'time'], 'int32');
    const [batch, time] = tokens.shape;
    assertShape(mask, [batch, time], fn, 'mask', ['batch', 'time']);
    assertLeftPaddedMask(mask, fn, 'mask', 'the score is read at the last position');
    return tf.tidy(() => {
      const {hidden} = this.trunk.apply(tokens, {attentionMask: mask});
      check(hidden !== undefined, fn, () => `the trunk returned no hidden states`);
      const last = tf.slice(hidden, [0, time - 1, 0], [batch, 1, hidden.shape[2]]) as tf.Tensor3D;
      return tf.reshape(this.head.apply(last), [batch]) as tf.Tensor1D;
    });
  }

  /**
   * Encodes texts (the last `contextLength` tokens of each, left-padded) and scores them.
   *
   * @param tokenizer the trunk's tokenizer.
   * @param texts at least one text (e.g. prompt + completion).
   * @returns `[texts.length]` float32 scores.
   */
  scoreTexts(tokenizer: Tokenizer, texts: readonly string[]): tf.Tensor1D {
    const {tokens, mask} = encodeLastTokens(tokenizer, texts, this.trunk.contextLength, 'RewardModel.scoreTexts');
    try {
      return this.score(tokens, mask);
    } finally {
      tf.dispose([tokens, mask]);
    }
  }

  /** Releases the trunk and the head. */
  dispose(): void {
    this.trunk.dispose();
    this.head.dispose();
  }
}

/**
 * @internal Encodes texts keeping their last `contextLength` tokens, left-padded to the longest:
 * `{tokens, mask}` `[texts.length, width]`.
 */
export function encodeLastTokens(
    tokenizer: Tokenizer, texts: readonly string[], contextLength: number, fn: string): {tokens: tf.Tensor2D; mask: tf.Tensor2D} {
  check(Array.isArray(texts) && texts.length > 0, fn, () => `'texts' expected at least one text`);
  const ids = texts.map((t) => {
    const all = tokenizer.encode(typeof t === 'string' ? t : '');
    return all.length === 0 ? [tokenizer.padId] : all.slice(-contextLength);
  });
  const width = Math.max(...ids.map((r) => r.length));
  const tokens = new Int32Array(texts.length * width).fill(tokenizer.padId);
  const mask = new Float32Array(texts.length * width);
  ids.forEach((row, b) => {
    tokens.set(row, b * width + width - row.length);
    mask.fill(1, b * width + width - row.length, (b + 1) * width);
  });
  const maskTensor = tf.tensor2d(mask, [texts.length, width]);
  markLeftPaddedMask(maskTensor); // left-padded, no empty row, by construction: score does not read it back
  return {tokens: tf.tensor2d(tokens, [texts.length, width], 'int32'), mask: maskTensor};
}
