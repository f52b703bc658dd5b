/**
 * The entry checks of {@link DeepseekV3Policy}'s forward passes (`apply`, `mtpLogits`,
 * `mtpApplyWithCache`): shapes, dtypes and keys always, mask values once per mask.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {assertKnownInputs, assertKnownOptions, assertRank, assertShape, check, describeNonTensor, fmtShape} from '../math/assert.js';
import {assertPolicyTokens} from './assert_policy_tokens.js';
import {assertBinaryMaskOnce} from './checked_masks.js';
import type {ResolvedDeepseekV3Config} from './deepseek_v3_config.js';
import type {MlaLayerCache} from './mla.js';
import type {DeepseekV3Cache} from './deepseek_v3.js';
import type {PolicyApplyOptions, PolicyCachedInputs} from './policy.js';

/** Inputs of `DeepseekV3Policy.mtpApplyWithCache`. */
export interface MtpCachedInputs {
  /** `[batch, newTime, hidden]` float32 main-model normed hidden states h_i. */
  prevHidden: tf.Tensor3D;
  /** `[batch, newTime]` int32 next tokens t_{i+1}. */
  tokens: tf.Tensor2D;
  /** `[batch, newTime]` positions of i. */
  positions: tf.Tensor2D;
  /** `[batch, pastTime + newTime]` 1 real / 0 padded key. */
  keyMask: tf.Tensor2D;
  /** The MTP layer's cache, `null` on the first call. */
  cache: MlaLayerCache | null;
}

/**
 * @internal Checks `tokens` (ids in [0, vocabSize) when given: a value check) and the options of `apply` / `mtpLogits`: an options object with only
 * `attentionMask`, a tensor of the shape of `tokens`, in {0, 1} (value check, once per mask).
 */
export function assertDeepseekApplyInputs(tokens: tf.Tensor2D, options: PolicyApplyOptions, contextLength: number, fn: string,
    vocabSize?: number): void {
  assertPolicyTokens(tokens, fn, 'tokens', contextLength, vocabSize);
  check(options !== null && typeof options === 'object' && !Array.isArray(options), fn, () =>
    `'options' expected {attentionMask?}, got ${options === null ? 'null' : describeNonTensor(options).split(';')[0]}`);
  assertKnownOptions(options, ['attentionMask'], fn);
  const {attentionMask} = options;
  if (attentionMask === undefined) return;
  assertShape(attentionMask, tokens.shape, fn, 'attentionMask', ['batch', 'time']);
  assertBinaryMaskOnce(attentionMask, fn, 'attentionMask');
}

/**
 * @internal Checks the inputs of `applyWithCache`: `tokens`, `positions` of its shape, `keyMask`
 * `[batch, pastTime + newTime]` in {0, 1} (value check, once per mask) and the context length.
 */
export function assertDeepseekCachedInputs(
    {tokens, positions, keyMask, cache}: PolicyCachedInputs<DeepseekV3Cache>, contextLength: number, fn: string,
    vocabSize?: number): void {
  assertPolicyTokens(tokens, fn, 'tokens', contextLength, vocabSize);
  assertShape(positions, tokens.shape, fn, 'positions', ['batch', 'newTime']);
  const past = cache === null ? 0 : cache.layers[0]!.latent.shape[1];
  const [B, Tq] = tokens.shape;
  assertShape(keyMask, [B, past + Tq], fn, 'keyMask', ['batch', 'pastTime + newTime']);
  assertBinaryMaskOnce(keyMask, fn, 'keyMask');
  check(past + Tq <= contextLength, fn, () => `sequence length ${past + Tq} exceeds contextLength ${contextLength}`);
}

/**
 * @internal Checks the inputs of `mtpApplyWithCache`: only the five keys, `tokens` int32
 * `[batch, newTime]`, `prevHidden` float32 `[batch, newTime, hidden]`, `positions` of the shape of
 * `tokens`, `cache` null or `{latent, ropeKey}` of the batch, `keyMask` `[batch, pastTime + newTime]`
 * in {0, 1} (value check, once per mask) and the context length. Returns `pastTime`.
 */
export function assertMtpCachedInputs(
    inputs: MtpCachedInputs, config: ResolvedDeepseekV3Config, contextLength: number, fn: string): number {
  assertKnownInputs(inputs, ['prevHidden', 'tokens', 'positions', 'keyMask', 'cache'], fn);
  const {prevHidden, tokens, positions, keyMask, cache} = inputs;
  assertPolicyTokens(tokens, fn, 'tokens', contextLength, config.vocabSize);
  const [B, T] = tokens.shape;
  const D = config.hiddenSize;
  assertRank(prevHidden, 3, fn, 'prevHidden', ['batch', 'newTime', 'hidden'], 'float32');
  assertShape(prevHidden, [B, T, D], fn, 'prevHidden', ['batch', 'newTime', 'hidden']);
  assertShape(positions, tokens.shape, fn, 'positions', ['batch', 'newTime']);
  check(cache === null || (typeof cache === 'object' && !(cache instanceof tf.Tensor)), fn, () =>
    `'cache' expected the MTP layer's cache {latent, ropeKey} or null (first call), got ${
      cache instanceof tf.Tensor ? 'a tf.Tensor' : describeNonTensor(cache).split(';')[0]}`);
  let past = 0;
  if (cache !== null) {
    assertKnownInputs(cache, ['latent', 'ropeKey'], fn, 'cache');
    assertRank(cache.latent, 3, fn, 'cache.latent', ['batch', 'pastTime', 'kvLoraRank'], 'float32');
    check(cache.latent.shape[0] === B, fn, () =>
      `'cache.latent' expected batch ${B} (the batch of 'tokens'), got shape ${fmtShape(cache.latent.shape)}`);
    past = cache.latent.shape[1]!;
  }
  assertShape(keyMask, [B, past + T], fn, 'keyMask', ['batch', 'pastTime + newTime']);
  check(past + T <= contextLength, fn, () => `sequence length ${past + T} exceeds contextLength ${contextLength}`);
  assertBinaryMaskOnce(keyMask, fn, 'keyMask');
  return past;
}
