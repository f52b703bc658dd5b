import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import fc from 'fast-check';
import {describe, expect, it} from 'vitest';
import {fakeQuantFp8} from '../../src/math/fake_quant_fp8.js';
import {decodeFp8, encodeFp8, FP8_FORMATS, type Fp8Format} from '../../src/math/fp8_format.js';
import fixtures from '../fixtures/fp8/fake_quant_fp8.json';

interface Case {name: string; shape: [number, number]; tile: [number, number]; format: Fp8Format;
  x: string; scales: string; expected: string}

function f32(b64: string): Float32Array {
  const buf = Buffer.from(b64, 'base64');
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}

/** Distance in float32 ulps (NaN = NaN and -0 vs +0 count as different: bits must match at 0). */
function ulps(a: number, b: number): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b) ? 0 : Infinity;
  if (Object.is(a, b)) return 0;
  if (a === 0 || b === 0 || Math.sign(a) !== Math.sign(b)) return Infinity;
  const i = new Int32Array(new Float32Array([a, b]).buffer);
  return Math.abs(i[0]! - i[1]!);
}

/** Typed-array oracle built from encodeFp8/decodeFp8 (independent of the tensor formulation). */
function oracle(x: Float32Array, [R, C]: [number, number], [tr, tc]: [number, number], format: Fp8Format): Float32Array {
  const out = new Float32Array(x.length);
  for (let i0 = 0; i0 < R; i0 += tr) for (let j0 = 0; j0 < C; j0 += tc) {
    let amax = 0;
    for (let i = i0; i < Math.min(R, i0 + tr); i++) for (let j = j0; j < Math.min(C, j0 + tc); j++) {
      amax = Number.isNaN(x[i * C + j]!) ? NaN : Math.max(amax, Math.abs(x[i * C + j]!));
    }
    const s = amax === 0 ? 1 : Math.fround(amax / FP8_FORMATS[format].max);
    for (let i = i0; i < Math.min(R, i0 + tr); i++) for (let j = j0; j < Math.min(C, j0 + tc); j++) {
      const q = decodeFp8(encodeFp8([Math.fround(x[i * C + j]! / s)], format), format)[0]!;
      out[i * C + j] = Math.fround(q * s);
    }
  }
  return out;
}

function run(x: tf.Tensor, options: Parameters<typeof fakeQuantFp8>[1]): Float32Array {
  const y = fakeQuantFp8(x, options);
  const data = y.dataSync() as Float32Array;
  y.dispose();
  return data;
}

describe('fakeQuantFp8', () => {
  it('equals PyTorch float8 round trips bit for bit (fixtures: random, wide-range, outliers, zero tiles, ragged, ties)', () => {
    const cases = fixtures.cases as Case[];
    expect(cases.length).toBe(18);
    for (const c of cases) {
      const x = tf.tensor2d(f32(c.x), c.shape);
      const got = run(x, {format: c.format, tile: c.tile});
      x.dispose();
      const want = f32(c.expected);
      let worst = 0;
      want.forEach((w, i) => { worst = Math.max(worst, ulps(got[i]!, w)); });
      expect(worst, c.name).toBe(0);
    }
  });

  it('equals the typed-array oracle on random inputs with random tiles (property)', () => {
    fc.assert(fc.property(
        fc.integer({min: 1, max: 5}), fc.integer({min: 1, max: 9}), fc.integer({min: 1, max: 4}), fc.integer({min: 1, max: 5}),
        fc.constantFrom<Fp8Format>('e4m3', 'e5m2'), fc.integer({min: -30, max: 30}), fc.integer(),
        (R, C, tr, tc, format, exp, seed) => {
          const values = new Float32Array(R * C);
          let s = seed >>> 0;
          for (let i = 0; i < values.length; i++) {
            s = (s * 1664525 + 1013904223) >>> 0;
            values[i] = Math.fround(((s / 2 ** 32) - 0.5) * 2 ** (exp + ((s >>> 3) % 20) - 10));
          }
          const x = tf.tensor2d(values, [R, C]);
          const got = run(x, {format, tile: [tr, tc]});
          x.dispose();
          const want = oracle(values, [R, C], [tr, tc], format);
          want.forEach((w, i) => expect(ulps(got[i]!, w), `${i}: ${got[i]} vs ${w}`).toBe(0));
        }), {numRuns: 60});
  });

  it('hand-computed: scale 1 when amax = 448, 0.3 -> 0.3125, tiny -> 0, -0 kept', () => {
    // amax = 448, s = 1; 0.3 = 9.6 * 2^-5 -> 10 * 2^-5; 1e-4 < 2^-10 (half the smallest subnormal) -> 0
    const got = run(tf.tensor2d([[1, 0.3, -448, 1e-4, -0]]), {format: 'e4m3', tile: [1, 128]});
    expect(Array.from(got)).toEqual([1, 0.3125, -448, 0, -0]);
    expect(Object.is(got[4], -0)).toBe(true);
    // a tile of zeros stays zeros (s = 1), per-row tiles are independent: row 2 has amax 3, s = 3/448
    const y = run(tf.tensor2d([[0, 0], [3, 1]]), {tile: [1, 2]});
    expect(y[0]).toBe(0);
    expect(y[2]).toBe(3);
    // 1 / s = 149.33 -> 144 (grid step 16 in [128, 256)): 144 * s
    expect(y[3]).toBe(Math.fround(144 * Math.fround(3 / 448)));
  });

  it('treats leading axes as batch and a rank-1 input as one row; default options', () => {
    const x = tf.randomNormal([2, 3, 130], 0, 1, 'float32', 7);
    const whole = run(x, {});
    const parts = tf.unstack(x).map((m) => run(m, {}));
    expect(Array.from(whole)).toEqual([...parts[0]!, ...parts[1]!]);
    const row = tf.tensor1d([1, 2, 500]);
    expect(Array.from(run(row, {tile: [1, 2]}))).toEqual(Array.from(run(tf.reshape(row, [1, 3]), {tile: [1, 2]})));
    tf.dispose([x, row]);
  });

  it('propagates NaN and infinity to the whole tile, like PyTorch', () => {
    const got = run(tf.tensor2d([[1, NaN, 2, 3], [1, Infinity, 2, 3]]), {tile: [1, 2]});
    expect(Array.from(got).map(Number.isNaN)).toEqual([true, true, false, false, true, true, false, false]);
  });

  it('has a straight-through gradient', () => {
    const x = tf.tensor2d([[0.1, -2, 3.7], [5, 6, 1e-3]]);
    const dy = tf.tensor2d([[1, 2, 3], [4, 5, 6]]);
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(fakeQuantFp8(t, {tile: [2, 2]}), dy)))(x);
    expect(Array.from(g.dataSync())).toEqual([1, 2, 3, 4, 5, 6]);
    tf.dispose([x, dy, g]);
  });

  it('does not leak tensors and does not modify its input', () => {
    const x = tf.randomNormal([3, 200], 0, 1, 'float32', 1);
    const before = Array.from(x.dataSync());
    const n = tf.memory().numTensors;
    const y = fakeQuantFp8(x, {tile: [2, 128], format: 'e5m2'});
    expect(tf.memory().numTensors).toBe(n + 1);
    y.dispose();
    tf.grad((t: tf.Tensor) => tf.sum(fakeQuantFp8(t)))(x).dispose();
    expect(tf.memory().numTensors).toBe(n);
    expect(Array.from(x.dataSync())).toEqual(before);
    x.dispose();
  });

  it('rejects bad input by name', () => {
    const x = tf.ones([2, 2]);
    expect(() => fakeQuantFp8(x, {format: 'e3m4' as Fp8Format})).toThrow(/fakeQuantFp8: 'format' expected 'e4m3' or 'e5m2'/);
    expect(() => fakeQuantFp8(x, {tile: [0, 128]})).toThrow(/fakeQuantFp8: 'tile\[0\]' expected >= 1, got 0/);
    expect(() => fakeQuantFp8(x, {tile: [1, -3]})).toThrow(/fakeQuantFp8: 'tile\[1\]' expected >= 1/);
    expect(() => fakeQuantFp8(x, {tile: [1.5, 2]})).toThrow(/'tile\[0\]' expected an integer/);
    expect(() => fakeQuantFp8(x, {tile: [1] as unknown as [number, number]})).toThrow(/'tile' expected \[rows, cols\]/);
    expect(() => fakeQuantFp8(x, {tiles: [1, 1]} as never)).toThrow(/unknown option 'tiles'/);
    expect(() => fakeQuantFp8(tf.scalar(1))).toThrow(/'x' expected rank >= 1/);
    expect(() => fakeQuantFp8(tf.ones([2], 'int32'))).toThrow(/'x' expected dtype float32/);
    expect(() => fakeQuantFp8([1, 2] as unknown as tf.Tensor)).toThrow(/'x' expected a tf.Tensor/);
    x.dispose();
  });
});
