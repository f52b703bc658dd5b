import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import {describe, expect, it} from 'vitest';
import {swigluMlp, type SwigluWeights} from '../../src/models/swiglu_mlp.js';
import {maxAbsDiff} from '../helpers/max_abs_diff.js';
import {gridCentralDifferences} from '../helpers/central_differences.js';
import {expectGradientClose} from '../helpers/expect_gradient_close.js';

/** The previous swigluMlp (tfjs autodiff through g * sigmoid(g) * u): the reference. */
function swigluAutodiff(x: tf.Tensor, w: SwigluWeights): tf.Tensor {
  return tf.tidy(() => {
    const g = tf.matMul(x, w.gate, false, true);
    const u = tf.matMul(x, w.up, false, true);
    return tf.matMul(tf.mul(tf.mul(g, tf.sigmoid(g)), u), w.down, false, true);
  });
}

function weights(D: number, I: number, seed: number): SwigluWeights {
  return {gate: tf.randomNormal([I, D], 0, 0.7, 'float32', seed) as tf.Tensor2D,
    up: tf.randomNormal([I, D], 0, 0.7, 'float32', seed + 1) as tf.Tensor2D,
    down: tf.randomNormal([D, I], 0, 0.7, 'float32', seed + 2) as tf.Tensor2D};
}

/** The output and the gradients of sum(c * f) w.r.t. x, gate, up, down. */
function valueAndGrads(f: typeof swigluMlp, x: tf.Tensor, w: SwigluWeights, c: tf.Tensor): tf.Tensor[] {
  const y = f(x, w);
  const gs = tf.grads((xx: tf.Tensor, g: tf.Tensor, u: tf.Tensor, d: tf.Tensor) =>
    tf.sum(tf.mul(f(xx, {gate: g as tf.Tensor2D, up: u as tf.Tensor2D, down: d as tf.Tensor2D}), c)))([x, w.gate, w.up, w.down]);
  return [y, ...gs];
}

describe('swigluMlp', () => {
  it('hand-computed value: W_d (silu(W_g x) * W_u x)', () => {
    // x = [1, 0], all-ones weights: g = u = 1 per unit, silu(1) = 1 / (1 + e^-1) = 0.731059; 4 units -> 2.924234
    const w = {gate: tf.ones([4, 2]) as tf.Tensor2D, up: tf.ones([4, 2]) as tf.Tensor2D, down: tf.ones([2, 4]) as tf.Tensor2D};
    const y = swigluMlp(tf.tensor2d([[1, 0]]), w);
    Array.from(y.dataSync()).forEach((v) => expect(v).toBeCloseTo(2.924234, 5));
    tf.dispose([y, w.gate, w.up, w.down]);
  });

  it('property: values and all four gradients equal the autodiff reference', () => {
    fc.assert(fc.property(fc.integer({min: 1, max: 6}), fc.integer({min: 1, max: 9}), fc.integer({min: 1, max: 20}),
        fc.integer({min: 0, max: 500}), (rows, D, I, seed) => {
          const x = tf.randomNormal([rows, D], 0, 2, 'float32', seed);
          const w = weights(D, I, seed + 10);
          const c = tf.randomNormal([rows, D], 0, 1, 'float32', seed + 20);
          const got = valueAndGrads(swigluMlp, x, w, c);
          const want = valueAndGrads(swigluAutodiff, x, w, c);
          for (let k = 0; k < got.length; k++) {
            const scale = tf.tidy(() => tf.max(tf.abs(want[k]!)).dataSync()[0]!);
            expect(maxAbsDiff(got[k]!, want[k]!)).toBeLessThan(1e-5 * Math.max(1, scale));
          }
          tf.dispose([x, w.gate, w.up, w.down, c, ...got, ...want]);
        }), {numRuns: 15});
  });

  it('gradient w.r.t. x matches central finite differences, also for large |gate| (sigmoid saturated)', () => {
    const x = tf.tensor2d([[0.5, -1.2], [3, 2.5]]);
    const w = {gate: tf.tensor2d([[1, 2], [-3, 1], [0.5, 4]]), up: tf.tensor2d([[0.2, -1], [1, 1], [-0.5, 0.3]]),
      down: tf.tensor2d([[1, -1, 0.5], [0.3, 2, -1]])} as SwigluWeights;
    const f = (xx: tf.Tensor): tf.Scalar => tf.sum(tf.square(swigluMlp(xx, w)));
    const g = tf.grad(f)(x).arraySync() as number[][];
    const xs = x.arraySync();
    const fd = gridCentralDifferences((xx) => tf.tidy(() => f(tf.tensor2d(xx)).dataSync()[0]!), xs, 1e-3);
    expectGradientClose(g, fd, {rtol: 1e-2, floor: 1});
    tf.dispose([x, w.gate, w.up, w.down]);
  });

  it('the gate backward runs 6 kernels (autodiff: 8 and 4 casts) and makes no scalar from a JS number', async () => {
    const x = tf.randomNormal([3, 4]);
    const w = weights(4, 8, 1);
    const kernels = async (f: typeof swigluMlp) => (await tf.profile(() => {
      tf.dispose(tf.grads((g: tf.Tensor, u: tf.Tensor) =>
        tf.sum(f(x, {gate: g as tf.Tensor2D, up: u as tf.Tensor2D, down: w.down})))([w.gate, w.up]));
    })).kernels.filter((k) => !['Reshape', 'Identity', 'Cast', 'swigluMlp'].includes(k.name));
    const ours = await kernels(swigluMlp);
    const before = await kernels(swigluAutodiff);
    expect(before.length - ours.length).toBe(2);
    // A rank-0 operand is a scalar made from a JS number (an upload per call on webgpu).
    const scalarOps = (ks: typeof ours) => ks.filter((k) => k.inputShapes.some((s) => s !== null && s.length === 0)).length;
    expect(scalarOps(before)).toBeGreaterThan(0);
    expect(scalarOps(ours)).toBe(0);
    const start = tf.memory().numTensors;
    tf.dispose(tf.grads((g: tf.Tensor) => tf.sum(swigluMlp(x, {...w, gate: g as tf.Tensor2D})))([w.gate]));
    expect(tf.memory().numTensors).toBe(start);
    tf.dispose([x, w.gate, w.up, w.down]);
  });
});

describe('swigluMlp input checks', () => {
  it('names a misspelled weight key, mismatched weight shapes and dtypes; leaks nothing', () => {
    const w = weights(2, 4, 7), x = tf.ones([3, 2]);
    const up = tf.ones([4, 3]) as tf.Tensor2D, down = tf.ones([2, 3]) as tf.Tensor2D, b = tf.ones([4]) as tf.Tensor1D;
    const b3 = tf.ones([3]) as tf.Tensor1D, upI = tf.ones([4, 2], 'int32') as tf.Tensor2D, x3 = tf.ones([3, 3]);
    const before = tf.memory().numTensors;
    expect(() => swigluMlp(x, {...w, gateBais: b} as unknown as SwigluWeights)).toThrow(
        "swigluMlp: unknown key of 'weights' 'gateBais'; expected one of 'gate', 'up', 'down', 'gateBias', 'upBias', " +
        "'downBias'; did you mean 'gateBias'?");
    expect(() => swigluMlp(x, {...w, up})).toThrow(
        "swigluMlp: 'weights.up' expected shape [intermediate, hidden]=[4,2], got [4,3]");
    expect(() => swigluMlp(x, {...w, down})).toThrow(
        "swigluMlp: 'weights.down' expected shape [hidden, intermediate]=[2,4], got [2,3]");
    expect(() => swigluMlp(x, {...w, upBias: b3})).toThrow(
        "swigluMlp: 'weights.upBias' expected shape [intermediate]=[4], got [3]");
    expect(() => swigluMlp(x, {...w, downBias: b})).toThrow(
        "swigluMlp: 'weights.downBias' expected shape [hidden]=[2], got [4]");
    expect(() => swigluMlp(x, {...w, up: upI})).toThrow("swigluMlp: 'weights.up' expected dtype float32, got int32");
    expect(() => swigluMlp(x3, w)).toThrow("swigluMlp: 'x' expected shape [..., hidden=2], got [3,3]");
    expect(() => swigluMlp(x, {gate: w.gate, up: w.up} as SwigluWeights)).toThrow(
        "swigluMlp: 'weights.down' expected a tf.Tensor, got undefined; pass a tf.Tensor (is the argument missing, or its name misspelled?)");
    expect(tf.memory().numTensors).toBe(before);
    // absent biases may be passed as undefined (as the dense decoder does)
    tf.dispose(swigluMlp(x, {...w, gateBias: undefined, upBias: undefined, downBias: undefined}));
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([w.gate, w.up, w.down, x, up, down, b, b3, upI, x3]);
  });
});
