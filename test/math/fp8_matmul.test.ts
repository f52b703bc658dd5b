import * as tf from '@tensorflow/tfjs-core';
import {describe, expect, it} from 'vitest';
import {fakeQuantFp8} from '../../src/math/fake_quant_fp8.js';
import {fp8Matmul, truncateSignificand} from '../../src/math/fp8_matmul.js';

/** max |y - ref| / max |ref|. */
function relErr(y: tf.Tensor, ref: tf.Tensor): number {
  const e = tf.tidy(() => tf.div(tf.max(tf.abs(tf.sub(y, ref))), tf.max(tf.abs(ref))));
  const v = e.dataSync()[0]!;
  e.dispose();
  return v;
}

describe('truncateSignificand', () => {
  it('keeps the leading bits, toward zero', () => {
    // 2 bits: 1.75 = 1.11b -> 1.1b = 1.5; 1.9 -> 1.5; 3.5 = 1.11b * 2 -> 3; 0.75 = 1.1b * 2^-1 kept;
    // 14 bits: 1 + 2^-13 kept, 1 + 2^-14 -> 1
    const x = tf.tensor1d([1.75, 1.9, -1.9, 3.5, 0.75, 0, 2 ** -100 * 1.75, 6e37]);
    expect(Array.from(truncateSignificand(x, 2).dataSync())).toEqual(
        [1.5, 1.5, -1.5, 3, 0.75, 0, 2 ** -100 * 1.5, 2 ** 125]);
    const y = tf.tensor1d([1 + 2 ** -13, 1 + 2 ** -14, 4096 + 0.5, 4096 + 0.25]);
    expect(Array.from(truncateSignificand(y, 14).dataSync())).toEqual([1 + 2 ** -13, 1, 4096.5, 4096]);
    tf.dispose([x, y]);
  });
});

describe('fp8Matmul', () => {
  it('hand-computed: power-of-two inputs are exact', () => {
    // a: amax 1, s = 1/448, a/s = 448, 224 (on the grid); b: s = 4/448, b/s = 224, 448. 1*2 + 0.5*4 = 4
    const y = fp8Matmul(tf.tensor2d([[1, 0.5]]), tf.tensor2d([[2], [4]]));
    expect(y.dataSync()[0]).toBeCloseTo(4, 5);
    y.dispose();
  });

  it('with a float32-wide accumulator equals the matmul of the dequantized operands', () => {
    const a = tf.randomNormal([5, 300], 0, 1, 'float32', 1);
    const b = tf.randomNormal([300, 7], 0, 1, 'float32', 2);
    const deq = tf.matMul(fakeQuantFp8(a, {tile: [1, 128]}), fakeQuantFp8(b, {tile: [128, 128]}));
    const y = fp8Matmul(a, b, {accumulatorBits: 24});
    expect(relErr(y, deq)).toBeLessThan(2e-6);
    // the quantization itself costs ~1e-2 against float32
    const ref = tf.matMul(a, b);
    expect(relErr(y, ref)).toBeGreaterThan(1e-4);
    expect(relErr(y, ref)).toBeLessThan(5e-2);
    tf.dispose([a, b, deq, y, ref]);
  });

  it('promotion every 128 bounds the accumulation error; without it the error grows with K', () => {
    const errs: Record<string, number[]> = {with: [], without: []};
    for (const K of [256, 1024]) {
      const a = tf.randomUniform([2, K], 0, 1, 'float32', 3);
      const b = tf.randomUniform([K, 3], 0, 1, 'float32', 4);
      const deq = tf.matMul(fakeQuantFp8(a, {tile: [1, 128]}), fakeQuantFp8(b, {tile: [128, 128]}));
      const y1 = fp8Matmul(a, b);
      const y2 = fp8Matmul(a, b, {promotionInterval: Infinity});
      errs.with!.push(relErr(y1, deq));
      errs.without!.push(relErr(y2, deq));
      tf.dispose([a, b, deq, y1, y2]);
    }
    expect(errs.with![1]!).toBeLessThan(4e-4);                    // ~2^-13 per 4 MMAs
    expect(errs.without![1]!).toBeGreaterThan(3 * errs.with![1]!);
    expect(errs.without![1]!).toBeGreaterThan(1.5 * errs.without![0]!);
  });

  it('does not leak and rejects bad input by name', () => {
    const a = tf.ones([2, 4]);
    const b = tf.ones([4, 3]);
    const n = tf.memory().numTensors;
    fp8Matmul(a, b).dispose();
    expect(tf.memory().numTensors).toBe(n);
    expect(() => fp8Matmul(a, tf.ones([3, 3]) as tf.Tensor2D)).toThrow(/fp8Matmul: 'b' expected shape \[K=4, N\]/);
    expect(() => fp8Matmul(a, b, {accumulatorBits: 30})).toThrow(/'accumulatorBits' expected <= 24/);
    expect(() => fp8Matmul(a, b, {promotionInterval: 48})).toThrow(/'promotionInterval' expected a multiple of mmaK=32/);
    expect(() => fp8Matmul(a, b, {promotionInterval: 256})).toThrow(/'promotionInterval' expected a divisor of the K tile sizes/);
    expect(() => fp8Matmul(a, b, {format: 'e3m4' as 'e4m3'})).toThrow(/fp8Matmul: 'format'/);
    expect(() => fp8Matmul(a, b, {aTile: [0, 128]})).toThrow(/'tile\[0\]' expected >= 1/);
    expect(() => fp8Matmul(a, b, {tile: [1, 1]} as never)).toThrow(/unknown option 'tile'/);
    tf.dispose([a, b]);
  });
});
