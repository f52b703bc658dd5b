/**
 * The token check every policy's forward pass runs on entry.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {assertRank, check, fmtShape, syncValueChecksEnabled} from '../math/assert.js';
import {ensureWebGPUFastPaths} from '../math/fused/webgpu_fast_paths.js';

/**
 * @internal Asserts `tokens` is int32 `[batch, time]` with 1 <= time <= `contextLength` and, when
 * `vocabSize` is given and synchronous value checks run, every id in [0, vocabSize) (one read-back).
 */
export function assertPolicyTokens(
    tokens: tf.Tensor, fn: string, name: string, contextLength: number, vocabSize?: number): void {
  ensureWebGPUFastPaths(); // every policy forward passes here
  assertRank(tokens, 2, fn, name, ['batch', 'time'], 'int32');
  const T = tokens.shape[1]!;
  check(T >= 1 && T <= contextLength, fn, () =>
    `'${name}' expected 1 <= time <= contextLength=${contextLength}, got shape ${fmtShape(tokens.shape)}`);
  if (vocabSize === undefined || !syncValueChecksEnabled()) return;
  const range = tf.tidy(() => tf.stack([tf.min(tokens), tf.max(tokens)]));
  const [lo, hi] = range.dataSync();
  range.dispose();
  check(lo! >= 0 && hi! < vocabSize, fn, () =>
    `'${name}' expected ids in [0, vocabSize=${vocabSize}), got values in [${lo}, ${hi}]`);
}
