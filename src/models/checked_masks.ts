/**
 * Value checks of attention / padding masks for the model layer, each mask read back once.
 *
 * A training step passes the same prompt mask through several forward passes (sampling, old and
 * reference log-probs, each epoch), and a forward pass hands its mask on to the policy's `apply`.
 * Tensors are immutable, so a mask whose values passed a check is remembered (a `WeakSet`, which
 * lets the tensor be collected) and not read back again; a mask built from a checked one and ones
 * (`concat([promptMask, ones])`) is marked as checked by its builder.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {assertBinaryMask, fmtShape, syncValueChecksEnabled, valueChecksEnabled} from '../math/assert.js';

/** Masks whose values are known to be in {0, 1}. */
const binaryMasks = new WeakSet<tf.Tensor>();
/** Masks known to be binary, left-padded and 1 at the last position of every row. */
const leftPaddedMasks = new WeakSet<tf.Tensor>();

/** Remembers a checked mask (a variable can be reassigned: never remembered). */
function remember(set: WeakSet<tf.Tensor>, mask: tf.Tensor): void {
  if (!(mask instanceof tf.Variable)) set.add(mask);
}

/** @internal Whether `mask`'s values are known to be in {0, 1}. */
export function isCheckedBinaryMask(mask: tf.Tensor): boolean {
  return binaryMasks.has(mask);
}

/**
 * @internal Marks `mask` as binary: the caller built it from masks that passed the check and
 * constants 0/1. Does nothing unless every source in `from` is a checked mask.
 */
export function markBinaryMask(mask: tf.Tensor, from: readonly tf.Tensor[]): void {
  if (from.every((m) => binaryMasks.has(m))) remember(binaryMasks, mask);
}

/**
 * @internal {@link assertBinaryMask} (same message) that reads a mask back only the first time it is
 * checked. A value check: skipped when synchronous value checks are off.
 */
export function assertBinaryMaskOnce(mask: tf.Tensor, fn: string, name: string): void {
  if (!syncValueChecksEnabled() || binaryMasks.has(mask)) return;
  assertBinaryMask(mask, fn, name);
  remember(binaryMasks, mask);
}

/**
 * @internal Checks the values of a `[batch, time]` left-padded mask already read back (`data`, row
 * major): every value in {0, 1} (the message of `assertBinaryMask`), no 1 followed by a 0 in a row
 * (right padding), and 1 at the last position of each row (no all-padding row). `convention` ends
 * the left-padding message (where the convention comes from). The caller decides whether value
 * checks are on.
 */
export function assertLeftPaddedMaskValues(
    data: ArrayLike<number>, shape: readonly [number, number], fn: string, name: string, convention: string): void {
  const [batch, time] = shape;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v !== 0 && v !== 1) {
      throw new Error(`${fn}: '${name}' expected values in {0, 1}, got ${v} (shape ${fmtShape(shape)})`);
    }
  }
  for (let b = 0; b < batch; b++) {
    const row = b * time;
    for (let t = 1; t < time; t++) {
      if (data[row + t - 1] === 1 && data[row + t] === 0) {
        throw new Error(`${fn}: '${name}' expected left padding (0s before 1s in each row; ${convention}), ` +
            `got a 0 after a 1 in row ${b} at time ${t} (right padding?)`);
      }
    }
    if (time > 0 && data[row + time - 1] !== 1) {
      throw new Error(`${fn}: '${name}' expected at least one 1 in each row (left padding: the last position ` +
          `is a real token), got an all-padding row ${b}`);
    }
  }
}

/**
 * @internal Asserts a `[batch, time]` mask is binary, left-padded and 1 at each row's last position,
 * with one read-back of three flags (the first time `mask` is checked); the messages of
 * {@link assertLeftPaddedMaskValues}. A value check: skipped when synchronous value checks are off.
 */
export function assertLeftPaddedMask(mask: tf.Tensor2D, fn: string, name: string, convention: string): void {
  if (!syncValueChecksEnabled() || mask.size === 0 || leftPaddedMasks.has(mask)) return;
  const [batch, time] = mask.shape;
  const flags = tf.tidy(() => {
    const m = tf.cast(mask, 'float32');
    const notBinary = tf.any(tf.logicalAnd(tf.notEqual(m, 0), tf.notEqual(m, 1)));
    // A 1 followed by a 0 (binary values): m[t-1] - m[t] > 0.
    const rightPadded = time < 2 ? tf.scalar(false, 'bool')
      : tf.any(tf.greater(tf.sub(tf.slice(m, [0, 0], [batch, time - 1]), tf.slice(m, [0, 1], [batch, time - 1])), 0));
    const lastZero = tf.any(tf.notEqual(tf.slice(m, [0, time - 1], [batch, 1]), 1));
    return tf.stack([notBinary, rightPadded, lastZero]);
  });
  const [a, b, c] = flags.dataSync();
  flags.dispose();
  if (a !== 0 || b !== 0 || c !== 0) {
    const vals = tf.tidy(() => tf.cast(mask, 'float32'));
    const data = vals.dataSync();
    vals.dispose();
    assertLeftPaddedMaskValues(data, [batch, time], fn, name, convention);
  }
  remember(leftPaddedMasks, mask);
  remember(binaryMasks, mask);
}

/** @internal Remembers a mask whose values {@link assertLeftPaddedMaskValues} checked. */
export function markLeftPaddedMask(mask: tf.Tensor): void {
  if (!valueChecksEnabled()) return;
  remember(leftPaddedMasks, mask);
  remember(binaryMasks, mask);
}
