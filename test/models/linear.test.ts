import * as tf from '@tensorflow/tfjs-core';
import {describe, expect, it} from 'vitest';
import {linear} from '../../src/models/linear.js';

describe('linear', () => {
  it('hand-computed: x W^T + b with W stored [out, in]', () => {
    const x = tf.tensor2d([[1, 2]]), w = tf.tensor2d([[1, 0], [1, 1], [0, 2]]), b = tf.tensor1d([0, 0, 1]);
    const y = linear(x, w, b);
    expect(y.arraySync()).toEqual([[1, 3, 5]]);
    tf.dispose([x, w, b, y]);
  });

  it('names a non-float32 x, weight or bias, bad shapes and non-tensors; leaks nothing', () => {
    const x = tf.ones([2, 3]), w = tf.ones([4, 3]) as tf.Tensor2D, b = tf.ones([4]) as tf.Tensor1D;
    const xi = tf.ones([2, 3], 'int32'), wi = tf.ones([4, 3], 'int32') as tf.Tensor2D, bi = tf.ones([4], 'int32') as tf.Tensor1D;
    const b5 = tf.ones([5]) as tf.Tensor1D;
    const before = tf.memory().numTensors;
    expect(() => linear(xi, w)).toThrow("linear: 'x' expected dtype float32, got int32");
    expect(() => linear(x, wi)).toThrow("linear: 'weight' expected dtype float32, got int32");
    expect(() => linear(x, w, bi)).toThrow("linear: 'bias' expected dtype float32, got int32");
    expect(() => linear(x, w, b5)).toThrow("linear: 'bias' expected shape [out]=[4], got [5]");
    expect(() => linear(tf.ones([2, 2]), w)).toThrow("linear: 'x' expected shape [..., in=3], got [2,2]");
    expect(() => linear([[1, 2, 3]] as unknown as tf.Tensor, w)).toThrow(
        "linear: 'x' expected a tf.Tensor, got an array (number[][] of shape [1,3]); wrap it with tf.tensor2d");
    expect(tf.memory().numTensors).toBe(before + 1); // the tf.ones([2, 2]) above
    tf.dispose([x, w, b, xi, wi, bi, b5]);
  });
});
