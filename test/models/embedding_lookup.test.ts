import * as tf from '@tensorflow/tfjs-core';
import {describe, expect, it} from 'vitest';
import {embeddingLookup} from '../../src/models/embedding_lookup.js';

describe('embeddingLookup', () => {
  it('rows of the table; gradient = scatter-add of dy into the looked-up rows (duplicates summed)', () => {
    const table = tf.tensor2d([[1, 2], [3, 4], [5, 6]]);
    const ids = tf.tensor1d([2, 0, 2], 'int32');
    const out = embeddingLookup(table, ids);
    expect(out.arraySync()).toEqual([[5, 6], [1, 2], [5, 6]]);
    const dy = tf.tensor2d([[1, 10], [100, 1000], [2, 20]]);
    // row 0 <- dy[1]; row 1 <- 0; row 2 <- dy[0] + dy[2]
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(embeddingLookup(t as tf.Tensor2D, ids), dy)))(table);
    expect(g.arraySync()).toEqual([[100, 1000], [0, 0], [3, 30]]);
    // same as the gradient through a one-hot matmul
    const g2 = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.matMul(tf.cast(tf.oneHot(ids, 3), 'float32'), t), dy)))(table);
    expect(g.arraySync()).toEqual(g2.arraySync());
    const before = tf.memory().numTensors;
    embeddingLookup(table, ids).dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(() => embeddingLookup(table, tf.tensor1d([0], 'float32'))).toThrow(/'ids' expected dtype int32/);
    tf.dispose([table, ids, out, dy, g, g2]);
  });
});
