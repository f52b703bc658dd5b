import * as tf from '@tensorflow/tfjs-core';
import {describe, expect, it} from 'vitest';
import {assertBinaryMask, assertFinite, assertGradientsRegistered, assertKnownOptions, assertShape, configureValidation} from '../../src/math/assert.js';

describe('assert', () => {
  it('names function, argument, expected and given shape', () => {
    const x = tf.zeros([8, 1]);
    expect(() => assertShape(x, [8], 'clippedPolicyLoss', 'advantages', ['batch']))
        .toThrow("clippedPolicyLoss: 'advantages' expected shape [batch]=[8], got [8,1]");
    x.dispose();
  });
  it('rejects a non-binary mask and reports the offending value; value checks can be turned off', () => {
    const m = tf.tensor2d([[1, 0.5]]);
    expect(() => assertBinaryMask(m, 'f')).toThrow("f: 'mask' expected values in {0, 1}, got 0.5");
    const prev = configureValidation({valueChecks: false});
    expect(() => assertBinaryMask(m, 'f')).not.toThrow();
    configureValidation(prev);
    m.dispose();
  });
  it('rejects non-finite values with their index', () => {
    const r = tf.tensor1d([1, NaN]);
    expect(() => assertFinite(r, 'groupAdvantages', 'rewards')).toThrow("'rewards' expected finite values, got NaN at flat index 1");
    r.dispose();
  });
  it('rejects unknown option names', () => {
    expect(() => assertKnownOptions({betta: 1}, ['beta'], 'grpoLoss')).toThrow("grpoLoss: unknown option 'betta'");
  });
  it('does not leak', () => {
    const m = tf.tensor2d([[1, 0]]);
    const before = tf.memory().numTensors;
    assertBinaryMask(m, 'f');
    assertFinite(m, 'f', 'm');
    expect(tf.memory().numTensors).toBe(before);
    m.dispose();
  });
});

describe('assert on empty tensors', () => {
  it('accepts an empty mask and empty values (tf.any of empty is true on wasm)', () => {
    const e = tf.zeros([2, 0]);
    expect(() => assertBinaryMask(e, 'f')).not.toThrow();
    expect(() => assertFinite(e, 'f', 'x')).not.toThrow();
    e.dispose();
  });
});

describe('assertGradientsRegistered', () => {
  it('passes when tfjs gradients are registered and names the fix when they are not', () => {
    expect(() => assertGradientsRegistered('sftStep')).not.toThrow();
    const sumGrad = tf.getGradient('Sum')!;
    tf.unregisterGradient('Sum');
    try {
      expect(() => assertGradientsRegistered('sftStep'))
          .toThrow("sftStep: tfjs gradients are not registered: import '@tensorflow/tfjs'");
    } finally {
      tf.registerGradient(sumGrad);
    }
    expect(() => assertGradientsRegistered('sftStep')).not.toThrow();
  });
});
