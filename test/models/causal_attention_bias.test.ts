import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import {describe, expect, it} from 'vitest';
import {configureValidation} from '../../src/math/assert.js';
import {causalAttentionBias, causalAttentionBiasInModel} from '../../src/models/causal_attention_bias.js';

/** The previous formula: (1 - causal * keyMask) * -1e9. */
function reference(B: number, Tq: number, Tp: number, keyMask: tf.Tensor2D): tf.Tensor {
  const Tk = Tp + Tq;
  return tf.tidy(() => {
    const causal = new Float32Array(Tq * Tk);
    for (let i = 0; i < Tq; i++) for (let j = 0; j <= Tp + i; j++) causal[i * Tk + j] = 1;
    const allowed = tf.mul(tf.tensor4d(causal, [1, 1, Tq, Tk]), tf.reshape(keyMask, [B, 1, 1, Tk]));
    return tf.mul(tf.sub(1, allowed), -1e9);
  });
}

describe('causalAttentionBias', () => {
  it('hand-computed: causal triangle, padded keys masked, cached keys visible', () => {
    // 1 new query after 2 cached keys, key 0 padded: [[-1e9, 0, 0]]
    const m = tf.tensor2d([[0, 1, 1]]);
    expect(causalAttentionBias(1, 1, 2, m).arraySync()).toEqual([[[[-1e9, 0, 0]]]]);
    // no mask: the plain lower triangle, for every row of the batch
    expect(causalAttentionBias(2, 2, 0, null).arraySync()).toEqual([[[[0, -1e9], [0, 0]]], [[[0, -1e9], [0, 0]]]]);
    m.dispose();
  });

  it('property: exactly the values of the previous formula (0 or -1e9), and null = an all-ones mask', () => {
    fc.assert(fc.property(fc.integer({min: 1, max: 3}), fc.integer({min: 1, max: 5}), fc.integer({min: 0, max: 4}),
        fc.integer({min: 0, max: 1000}), (B, Tq, Tp, seed) => {
          const keyMask = tf.tidy(() => tf.cast(tf.greater(tf.randomUniform([B, Tp + Tq], 0, 1, 'float32', seed), 0.3), 'float32'));
          const ones = tf.ones([B, Tp + Tq]) as tf.Tensor2D;
          const [got, want, plain, allOnes] = [causalAttentionBias(B, Tq, Tp, keyMask as tf.Tensor2D), reference(B, Tq, Tp,
            keyMask as tf.Tensor2D), causalAttentionBias(B, Tq, Tp, null), causalAttentionBias(B, Tq, Tp, ones)];
          // (the old formula wrote -0 where allowed; x + -0 = x + 0)
          const values = (t: tf.Tensor) => Array.from(t.dataSync(), (v) => v + 0);
          expect(values(got)).toEqual(values(want));
          expect(values(plain)).toEqual(values(allOnes));
          expect(plain.shape).toEqual([B, 1, Tq, Tp + Tq]);
          tf.dispose([keyMask, ones, got, want, plain, allOnes]);
        }), {numRuns: 25});
  });

  it('leaks nothing and names a keyMask of the wrong shape', () => {
    const m = tf.ones([2, 3]) as tf.Tensor2D;
    const before = tf.memory().numTensors;
    causalAttentionBias(2, 2, 1, m).dispose();
    causalAttentionBias(2, 2, 1, null).dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(() => causalAttentionBias(2, 2, 0, m)).toThrow(/causalAttentionBias: 'keyMask' expected shape \[batch, pastTime \+ newTime\]=\[2,2\], got \[2,3\]/);
    m.dispose();
  });
});

describe('causalAttentionBias input checks', () => {
  it('names non-integer sizes and a non-binary keyMask (value check skipped with valueChecks off and in the model variant)', () => {
    const half = tf.tensor2d([[1, 0.5, 1]]);
    const before = tf.memory().numTensors;
    expect(() => causalAttentionBias(1, NaN, 0, null)).toThrow("causalAttentionBias: 'newTime' expected a finite number, got NaN");
    expect(() => causalAttentionBias(1, 1.5, 0, null)).toThrow("causalAttentionBias: 'newTime' expected an integer, got 1.5");
    expect(() => causalAttentionBias(0, 1, 0, null)).toThrow("causalAttentionBias: 'batch' expected >= 1, got 0");
    expect(() => causalAttentionBias(1.5, 1, 0, null)).toThrow("causalAttentionBias: 'batch' expected an integer, got 1.5");
    expect(() => causalAttentionBias(1, 1, -1, null)).toThrow("causalAttentionBias: 'pastTime' expected >= 0, got -1");
    expect(() => causalAttentionBias(1, 1, 0.5, null)).toThrow("causalAttentionBias: 'pastTime' expected an integer, got 0.5");
    expect(() => causalAttentionBias(1, 2, 1, half)).toThrow(
        "causalAttentionBias: 'keyMask' expected values in {0, 1}, got 0.5 (shape [1,3])");
    expect(() => causalAttentionBiasInModel(1, 1.5, 0, null)).toThrow("causalAttentionBias: 'newTime' expected an integer, got 1.5");
    expect(tf.memory().numTensors).toBe(before);
    causalAttentionBiasInModel(1, 2, 1, half).dispose();
    const previous = configureValidation({valueChecks: false});
    try {
      causalAttentionBias(1, 2, 1, half).dispose();
    } finally {
      configureValidation(previous);
    }
    expect(tf.memory().numTensors).toBe(before);
    half.dispose();
  });
});
