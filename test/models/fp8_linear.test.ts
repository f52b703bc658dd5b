import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import {describe, expect, it} from 'vitest';
import {fp8Matmul} from '../../src/math/fp8_matmul.js';
import {fp8Linear} from '../../src/models/fp8_linear.js';
import {TransformerPolicy} from '../../src/models/transformer_policy.js';

const same = (a: tf.Tensor, b: tf.Tensor): void => expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));

describe('fp8Linear', () => {
  it('runs Fprop, Dgrad and Wgrad as FP8 GEMMs with the Figure 6 tilings', () => {
    const x = tf.randomNormal([2, 70, 130], 0, 1, 'float32', 1);        // 140 tokens: a ragged 128-token tile
    const w = tf.variable(tf.randomNormal([130, 24], 0, 0.1, 'float32', 2));
    const dy = tf.randomNormal([2, 70, 24], 0, 1, 'float32', 3);
    const x2 = tf.reshape(x, [140, 130]) as tf.Tensor2D;
    const dy2 = tf.reshape(dy, [140, 24]) as tf.Tensor2D;
    same(fp8Linear(x, w), tf.reshape(fp8Matmul(x2, w), [2, 70, 24]));
    const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(fp8Linear(a, b as tf.Tensor2D), dy)))([x, w]);
    same(dx!, tf.reshape(fp8Matmul(dy2, tf.transpose(w) as tf.Tensor2D), [2, 70, 130]));
    same(dw!, fp8Matmul(tf.transpose(x2) as tf.Tensor2D, dy2, {aTile: [1, 128], bTile: [128, 1]}));
    // and all three are close to float32
    const [fx, fw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.matMul(tf.reshape(a, [140, 130]), b), tf.reshape(dy, [140, 24]))))([x, w]);
    const rel = (u: tf.Tensor, v: tf.Tensor) => tf.div(tf.norm(tf.sub(u, v)), tf.norm(v)).dataSync()[0]!;
    expect(rel(dx!, fx!)).toBeLessThan(5e-2);
    expect(rel(dx!, fx!)).toBeGreaterThan(1e-4);
    expect(rel(dw!, fw!)).toBeLessThan(5e-2);
    tf.dispose([x, w, dy, x2, dy2, dx!, dw!, fx!, fw!]);
  });

  it('does not leak, and rejects bad input by name', () => {
    const x = tf.ones([3, 8]);
    const w = tf.ones([8, 2]) as tf.Tensor2D;
    const n = tf.memory().numTensors;
    fp8Linear(x, w).dispose();
    tf.grad((a: tf.Tensor) => tf.sum(fp8Linear(a, w)))(x).dispose();
    expect(tf.memory().numTensors).toBe(n);
    expect(() => fp8Linear(tf.ones([3, 7]), w)).toThrow(/fp8Linear: 'x' expected shape \[\.\.\., inFeatures=8\], got \[3,7\]/);
    expect(() => fp8Linear(x, tf.ones([8]) as never)).toThrow(/fp8Linear: 'w' expected shape \[inFeatures, outFeatures\]/);
    expect(() => fp8Linear(x, w, {aTile: [1, 1]} as never)).toThrow(/the tiles are fixed/);
    expect(() => fp8Linear(x, w, {mmak: 32} as never)).toThrow(
        "fp8Linear: unknown option 'mmak'; expected one of 'format', 'accumulatorBits', 'mmaK', 'promotionInterval'; did you mean 'mmaK'?");
    expect(() => fp8Linear(x, w, {format: 'int8' as 'e4m3'})).toThrow(/fp8Linear: 'format'/);
    tf.dispose([x, w]);
  });
});

describe('TransformerPolicy with fp8', () => {
  it('stays close to the float32 model with the same weights, and copy() keeps the option', () => {
    const cfg = {vocabSize: 12, contextLength: 16, layers: 1, width: 32, heads: 2, seed: 3};
    const p32 = TransformerPolicy.create(cfg);
    const p8 = TransformerPolicy.create({...cfg, fp8: true});
    const tokens = tf.tensor2d([[1, 2, 3, 4, 5], [5, 4, 3, 2, 1]], [2, 5], 'int32');
    const a = p32.apply(tokens), b = p8.apply(tokens);
    const diff = tf.max(tf.abs(tf.sub(a.logits, b.logits))).dataSync()[0]!;
    expect(diff).toBeGreaterThan(0);
    expect(diff).toBeLessThan(5e-2);
    const c = p8.copy();
    expect(c.fp8).toEqual({});
    const cOut = c.apply(tokens);
    same(cOut.logits, b.logits);
    expect(() => TransformerPolicy.create({...cfg, fp8: {promotionInterval: 7}})).toThrow(/TransformerPolicy.create: 'promotionInterval'/);
    tf.dispose([tokens, a.logits, a.hidden, b.logits, b.hidden, cOut.logits, cOut.hidden]);
    [p32, p8, c].forEach((p) => p.dispose());
  });
});
