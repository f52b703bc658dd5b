/**
 * The additive mask of causal decoder attention.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {assertBinaryMask, assertNumber, assertRank, check, fmtShape} from '../math/assert.js';

/**
 * Additive attention bias `[batch, 1, newTime, pastTime + newTime]` of causal decoding: query i (absolute
 * pastTime + i) may attend to key j <= pastTime + i when `keyMask[b, j]` is 1; allowed 0, masked -1e9.
 *
 * bias = keyMask[b, j] * C[i, j] - 1e9 with C = 1e9 where causal, 0 elsewhere (built on the CPU, one
 * upload): two tfjs ops (1e9 is exact in float32, so allowed entries are exactly 0). Without `keyMask`
 * (no padding) the bias is built on the CPU: no tfjs op.
 *
 * @param batch batch size.
 * @param newTime new (query) tokens.
 * @param pastTime cached keys before them.
 * @param keyMask `[batch, pastTime + newTime]` float32 1 real / 0 pad, or null for all real.
 * @returns the bias.
 * @throws when `batch` or `newTime` is not an integer >= 1, `pastTime` not an integer >= 0, or
 *   `keyMask` not `[batch, pastTime + newTime]`; value check (skipped with
 *   `configureValidation({valueChecks: false})`, one scalar read back): `keyMask` in {0, 1}. The model
 *   forwards call `causalAttentionBiasInModel` (internal), which skips the value check.
 * @example
 * causalAttentionBias(1, 2, 0, tf.ones([1, 2]) as tf.Tensor2D).arraySync(); // [[[[0, -1e9], [0, 0]]]]
 */
export function causalAttentionBias(batch: number, newTime: number, pastTime: number, keyMask: tf.Tensor2D | null):
    tf.Tensor4D {
  checkArguments(batch, newTime, pastTime, keyMask);
  if (keyMask !== null) assertBinaryMask(keyMask, 'causalAttentionBias', 'keyMask');
  return buildBias(batch, newTime, pastTime, keyMask);
}

/**
 * @internal {@link causalAttentionBias} without the value check of `keyMask` (no read-back): the call
 * of the model forwards (once per forward, and per decoding step), whose mask the policy built or
 * received; its values are the policy boundary's to check.
 */
export function causalAttentionBiasInModel(
    batch: number, newTime: number, pastTime: number, keyMask: tf.Tensor2D | null): tf.Tensor4D {
  checkArguments(batch, newTime, pastTime, keyMask);
  return buildBias(batch, newTime, pastTime, keyMask);
}

/** The sizes are integers and `keyMask` (when given) is `[batch, pastTime + newTime]`. */
function checkArguments(batch: number, newTime: number, pastTime: number, keyMask: tf.Tensor2D | null): void {
  const fn = 'causalAttentionBias';
  assertNumber(batch, fn, 'batch', {integer: true, min: 1});
  assertNumber(newTime, fn, 'newTime', {integer: true, min: 1});
  assertNumber(pastTime, fn, 'pastTime', {integer: true, min: 0});
  const Tk = pastTime + newTime;
  if (keyMask !== null) {
    assertRank(keyMask, 2, fn, 'keyMask', ['batch', 'pastTime + newTime']);
    check(keyMask.shape[0] === batch && keyMask.shape[1] === Tk, fn, () =>
      `'keyMask' expected shape [batch, pastTime + newTime]=${fmtShape([batch, Tk])}, got ${fmtShape(keyMask.shape)}`);
  }
}

/** The bias of checked arguments. */
function buildBias(batch: number, newTime: number, pastTime: number, keyMask: tf.Tensor2D | null): tf.Tensor4D {
  const Tk = pastTime + newTime;
  const rows = keyMask === null ? batch : 1;
  const bias = new Float32Array(rows * newTime * Tk);
  const [inside, outside] = keyMask === null ? [0, -1e9] : [1e9, 0];
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < newTime; i++) {
      for (let j = 0; j < Tk; j++) bias[(r * newTime + i) * Tk + j] = j <= pastTime + i ? inside : outside;
    }
  }
  if (keyMask === null) return tf.tensor4d(bias, [batch, 1, newTime, Tk]);
  return tf.tidy(() => tf.sub(tf.mul(tf.reshape(tf.cast(keyMask, 'float32'), [batch, 1, 1, Tk]),
      tf.tensor4d(bias, [1, 1, newTime, Tk])), 1e9) as tf.Tensor4D);
}
