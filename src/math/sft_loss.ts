/**
 * Supervised fine-tuning loss: masked token cross-entropy with label smoothing and the loss
 * aggregation modes of `grpoLoss`.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {type LossAggregation, aggregateMasked, resolveAggregationOptions} from './aggregate_loss.js';
import {assertBinaryMask, assertKnownInputs, assertKnownOptions, assertNumber, assertOneOf, assertRank, assertShape, check} from './assert.js';
import {LOSS_AGGREGATIONS} from './aggregate_loss.js';
import {tokenLogProbsAs} from './token_log_probs.js';

/** Inputs of {@link sftLoss}. */
export interface SftLossInputs {
  /** `[batch, time, vocab]` float32 logits predicting each label. */
  logits: tf.Tensor3D;
  /** `[batch, time]` int32 target token ids, in [0, vocab). */
  labels: tf.Tensor2D;
  /** `[batch, time]` 1 on the tokens that are scored (completion tokens), 0 elsewhere; float32, int32 or bool. */
  mask: tf.Tensor2D;
}

/** Options of {@link sftLoss}. */
export interface SftLossOptions {
  /**
   * Label smoothing epsilon in [0, 1]: the target is (1 - eps) one-hot + eps uniform over the
   * vocabulary, as `torch.nn.functional.cross_entropy(label_smoothing=eps)`. Default `0`.
   */
  labelSmoothing?: number;
  /** Reduction over the mask tokens (see `aggregateLoss`); default `'token-mean'`. */
  aggregation?: LossAggregation;
  /** Divisor of `'seq-mean-token-sum-norm'`; default `time`. */
  maxLength?: number;
  /** Fixed denominator for gradient accumulation (see `aggregateLoss`); default this batch's count. */
  normalizer?: number;
}

const FN = 'sftLoss';
const KNOWN = ['labelSmoothing', 'aggregation', 'maxLength', 'normalizer'];

/**
 * Masked token cross-entropy of supervised fine-tuning (DeepSeek-R1's cold start, DeepSeek-AI 2025,
 * arXiv:2501.12948), with label smoothing (Szegedy et al. 2016, arXiv:1512.00567). Per token, with
 * p = softmax(logits), y the label, V the vocabulary size and eps = `labelSmoothing`:
 *
 *   l_t = (1 - eps) * (-log p_y) + eps * (1/V) * sum_v (-log p_v),
 *
 * exactly `torch.nn.functional.cross_entropy(logits, labels, label_smoothing=eps, reduction='none')`;
 * then aggregated over the mask tokens by `aggregation` as `aggregateLoss` (`'token-mean'`, torch's
 * mean over the non-ignored tokens, is the default). d l_t / d logits = p - (1 - eps) onehot(y) - eps/V.
 * The log-prob of the label is chunked (`tokenLogProbs`); the smoothing term is
 * mean(logits) - logsumexp(logits), computed only when eps > 0.
 *
 * @param inputs `{logits: [batch, time, vocab], labels: [batch, time], mask: [batch, time]}`.
 * @param options.labelSmoothing eps in [0, 1]; default `0`.
 * @param options.aggregation default `'token-mean'`.
 * @param options.maxLength `'seq-mean-token-sum-norm'` only; default `time`.
 * @param options.normalizer fixed denominator; default this batch's count.
 * @returns float32 scalar; 0 when the mask is empty.
 * @throws on wrong ranks, shapes or dtypes, labels outside the vocabulary, non-finite logits, a mask that is not 0/1,
 *   or options out of range.
 * @example
 * const logits = tf.tensor3d([[[2, 0, 0], [0, 1, 0]]]); // [1, 2, 3]
 * const labels = tf.tensor2d([[0, 1]], [1, 2], 'int32');
 * const mask = tf.tensor2d([[1, 1]]);
 * sftLoss({logits, labels, mask}); // mean(-log p_y) = (0.2395 + 0.5514) / 2 = 0.3955
 * sftLoss({logits, labels, mask}, {labelSmoothing: 0.1}); // 0.9 * 0.3955 + 0.1 * 1.3955 = 0.4955, as torch's cross_entropy(label_smoothing=0.1)
 */
export function sftLoss(inputs: SftLossInputs, options: SftLossOptions = {}): tf.Scalar {
  return sftLossChecked(inputs, options, false);
}

/** {@link SftLossOptions} with their defaults, as {@link resolveSftLossOptions} returns them. */
export interface ResolvedSftLossOptions {
  labelSmoothing: number;
  aggregation: LossAggregation;
  maxLength: number | undefined;
  normalizer: number | undefined;
}

/**
 * @internal The option checks of {@link sftLoss} (known keys, ranges), naming `fn`: a training step
 * that forwards its options calls it on entry so that the message names the step. Returns them with
 * their defaults.
 */
export function resolveSftLossOptions(options: SftLossOptions, fn: string): ResolvedSftLossOptions {
  assertKnownOptions(options, KNOWN, fn);
  const {labelSmoothing = 0, aggregation = 'token-mean'} = options;
  assertNumber(labelSmoothing, fn, 'labelSmoothing', {min: 0, max: 1});
  assertOneOf(aggregation, LOSS_AGGREGATIONS, fn, 'aggregation');
  const {maxLength, normalizer} = resolveAggregationOptions(
      {maxLength: options.maxLength, normalizer: options.normalizer}, aggregation, fn, false);
  return {labelSmoothing, aggregation, maxLength, normalizer};
}

/**
 * @internal {@link sftLoss}; with `maskChecked` the value check of `mask` is skipped (the caller
 * checked its values already: `sftStep` checks the batch's completion mask once, on entry).
 */
export function sftLossChecked(inputs: SftLossInputs, options: SftLossOptions, maskChecked: boolean): tf.Scalar {
  assertKnownInputs(inputs, ['logits', 'labels', 'mask'], FN);
  const {labelSmoothing, aggregation, maxLength, normalizer} = resolveSftLossOptions(options, FN);
  const {logits, labels, mask} = inputs;
  assertRank(logits, 3, FN, 'logits', ['batch', 'time', 'vocab'], 'float32');
  const [B, T] = logits.shape;
  assertShape(labels, [B, T], FN, 'labels', ['batch', 'time']);
  assertShape(mask, [B, T], FN, 'mask', ['batch', 'time']);
  if (!maskChecked) assertBinaryMask(mask, FN, 'mask');
  return tf.tidy(() => {
    let perToken: tf.Tensor2D = tf.neg(tokenLogProbsAs({fn: FN, tokens: 'labels'}, logits, labels));
    if (labelSmoothing > 0) {
      // -(1/V) sum_v log p_v = logsumexp(z) - mean(z)
      const uniform = tf.sub(tf.logSumExp(logits, 2), tf.mean(logits, 2));
      perToken = tf.add(tf.mul(1 - labelSmoothing, perToken), tf.mul(labelSmoothing, uniform)) as tf.Tensor2D;
    }
    return aggregateMasked(perToken, tf.cast(mask, 'bool') as tf.Tensor2D, aggregation, maxLength ?? T, normalizer);
  });
}
