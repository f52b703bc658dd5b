import * as tf from '@tensorflow/tfjs-core';
import {describe, expect, it} from 'vitest';
import {configureValidation} from '../../../src/math/assert.js';
import {mtpLoss} from '../../../src/models/mtp.js';

/** Two depths for tokens [2, 4], vocab 5: [2, 3, 5] and [2, 2, 5] logits. */
function inputs() {
  const tokens = tf.tensor2d([[0, 1, 2, 3], [4, 3, 2, 1]], undefined, 'int32');
  const mask = tf.tensor2d([[1, 1, 1, 1], [1, 1, 1, 0]]);
  const l1 = tf.randomNormal([2, 3, 5], 0, 1, 'float32', 1) as tf.Tensor3D;
  const l2 = tf.randomNormal([2, 2, 5], 0, 1, 'float32', 2) as tf.Tensor3D;
  return {tokens, mask, logits: [l1, l2], all: [tokens, mask, l1, l2]};
}

function withValueChecksOff(f: () => void): void {
  const previous = configureValidation({valueChecks: false});
  try { f(); } finally { configureValidation(previous); }
}

describe('mtpLoss', () => {
  it('hand-computed: uniform logits give lambda * log(vocab) over real targets', () => {
    const tokens = tf.tensor2d([[0, 1, 2, 3]], undefined, 'int32');
    const mask = tf.ones([1, 4]) as tf.Tensor2D;
    const l1 = tf.zeros([1, 3, 5]) as tf.Tensor3D;
    expect(mtpLoss([l1], tokens, mask, 0.5).dataSync()[0]).toBeCloseTo(0.5 * Math.log(5), 5);
    tf.dispose([tokens, mask, l1]);
  });

  it('an empty depth list (a sequence too short for any depth) gives 0, not NaN', () => {
    const tokens = tf.tensor2d([[1]], undefined, 'int32'), mask = tf.ones([1, 1]) as tf.Tensor2D;
    const out = mtpLoss([], tokens, mask, 0.3);
    expect(out.dataSync()[0]).toBe(0);
    tf.dispose([tokens, mask, out]);
  });

  it('names bad shapes, dtypes and lambda; leaks nothing, also on the error path', () => {
    const {tokens, mask, logits, all} = inputs();
    const before = tf.memory().numTensors;
    mtpLoss(logits, tokens, mask, 0.3).dispose();
    expect(tf.memory().numTensors).toBe(before);
    const f32 = tf.cast(tokens, 'float32') as tf.Tensor2D;
    const i32 = tf.cast(logits[0]!, 'int32') as tf.Tensor3D;
    const t22 = tf.tensor2d([[1, 2], [3, 4]], undefined, 'int32');
    const l3 = tf.zeros([3, 3, 5]) as tf.Tensor3D;
    const m23 = tf.ones([2, 3]) as tf.Tensor2D;
    const ones22 = tf.ones([2, 2]) as tf.Tensor2D, v6 = tf.zeros([2, 2, 6]) as tf.Tensor3D;
    const r2 = tf.zeros([2, 3]) as unknown as tf.Tensor3D, mi = tf.cast(mask, 'int32') as tf.Tensor2D;
    const before2 = tf.memory().numTensors;
    expect(() => mtpLoss(logits, f32, mask, 0.3)).toThrow("mtpLoss: 'tokens' expected dtype int32, got float32");
    expect(() => mtpLoss(logits, t22, ones22, 0.3)).toThrow(
        "mtpLoss: 'logitsPerDepth[0]' expected shape [batch, time - 1, vocab]=[2,1,5], got [2,3,5]");
    expect(() => mtpLoss([l3, logits[1]!], tokens, mask, 0.3)).toThrow(
        "mtpLoss: 'logitsPerDepth[0]' expected shape [batch, time - 1, vocab]=[2,3,5], got [3,3,5]");
    expect(() => mtpLoss([logits[0]!, v6], tokens, mask, 0.3)).toThrow(
        "mtpLoss: 'logitsPerDepth[1]' expected shape [batch, time - 2, vocab]=[2,2,5], got [2,2,6]");
    expect(() => mtpLoss([i32], tokens, mask, 0.3)).toThrow("mtpLoss: 'logitsPerDepth[0]' expected dtype float32, got int32");
    expect(() => mtpLoss([r2], tokens, mask, 0.3)).toThrow(
        "mtpLoss: 'logitsPerDepth[0]' expected shape [batch, time - k, vocab] (rank 3), got [2,3]");
    expect(() => mtpLoss(logits, tokens, m23, 0.3)).toThrow("mtpLoss: 'mask' expected the shape of 'tokens' [2,4], got [2,3]");
    expect(() => mtpLoss(logits, tokens, mi, 0.3)).toThrow(
        "mtpLoss: 'mask' expected dtype float32, got int32");
    expect(() => mtpLoss(logits, tokens, mask, NaN)).toThrow("mtpLoss: 'lambda' expected a finite number, got NaN");
    expect(() => mtpLoss(logits, tokens, mask, [] as unknown as number)).toThrow("mtpLoss: 'lambda' expected a finite number, got ");
    expect(() => mtpLoss(logits, tokens, mask, -1)).toThrow("mtpLoss: 'lambda' expected >= 0, got -1");
    expect(() => mtpLoss(logits[0]! as unknown as tf.Tensor3D[], tokens, mask, 0.3)).toThrow(
        "mtpLoss: 'logitsPerDepth' expected an array of [batch, time - k, vocab] tensors (one per depth k), " +
        'got a tf.Tensor of shape [2,3,5]; wrap it in an array');
    expect(() => mtpLoss(undefined as unknown as tf.Tensor3D[], tokens, mask, 0.3)).toThrow(
        "mtpLoss: 'logitsPerDepth' expected an array of [batch, time - k, vocab] tensors (one per depth k), got undefined");
    expect(tf.memory().numTensors).toBe(before2);
    tf.dispose([f32, i32, t22, l3, m23, ones22, v6, r2, mi]);
    tf.dispose(all);
  });

  it('value checks: a non-binary mask and a token outside the vocab', () => {
    const {tokens, mask, logits, all} = inputs();
    const half = tf.tensor2d([[1, 0.5, 1, 1], [1, 1, 1, 0]]);
    const big = tf.tensor2d([[0, 1, 9, 3], [4, 3, 2, 1]], undefined, 'int32');
    const before = tf.memory().numTensors;
    expect(() => mtpLoss(logits, tokens, half, 0.3)).toThrow("mtpLoss: 'mask' expected values in {0, 1}, got 0.5 (shape [2,4])");
    expect(() => mtpLoss(logits, big, mask, 0.3)).toThrow(
        "mtpLoss: 'tokens' expected values in [0, 5) (vocab size from 'logitsPerDepth'), got 9 at flat index 2 (shape [2,4])");
    expect(tf.memory().numTensors).toBe(before);
    withValueChecksOff(() => {
      tf.dispose([mtpLoss(logits, tokens, half, 0.3)]);
      expect(() => mtpLoss(logits, big, mask, 0.3)).not.toThrow(/expected values/);
    });
    tf.dispose([...all, half, big]);
  });
});
