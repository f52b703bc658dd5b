import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import {describe, expect, it} from 'vitest';
import {MissingConfigFieldError} from '../../src/models/pretrained/errors.js';
import {
  applyRope, normalizeRopeConfig, ropeCosSin, ropeInverseFrequencies, ropeSoftmaxScaleFactor, type RopeConfig,
} from '../../src/models/rope.js';
import {centralDifferences} from '../helpers/central_differences.js';
import {expectGradientClose} from '../helpers/expect_gradient_close.js';

const base = (extra: Partial<RopeConfig> = {}): RopeConfig =>
  ({type: 'default', theta: 10000, maxPositionEmbeddings: 64, partialRotaryFactor: 1, ...extra});
const close = (got: ArrayLike<number>, want: number[], digits = 6): void => {
  expect(got.length).toBe(want.length);
  want.forEach((w, i) => expect(got[i]).toBeCloseTo(w, digits));
};

describe('normalizeRopeConfig', () => {
  it('reads the 5.x rope_parameters and the original rope_scaling + rope_theta layouts alike', () => {
    const v5 = normalizeRopeConfig({max_position_embeddings: 128, rope_parameters: {
      rope_type: 'yarn', rope_theta: 5e5, factor: 4, original_max_position_embeddings: 32, beta_fast: 16,
      mscale: 1, mscale_all_dim: 0.5}});
    const legacy = normalizeRopeConfig({max_position_embeddings: 128, rope_theta: 5e5, rope_scaling: {
      type: 'yarn', factor: 4, original_max_position_embeddings: 32, beta_fast: 16, mscale: 1, mscale_all_dim: 0.5}});
    expect(v5).toEqual(legacy);
    expect(v5).toEqual({type: 'yarn', theta: 5e5, maxPositionEmbeddings: 128, partialRotaryFactor: 1, factor: 4,
      originalMaxPositionEmbeddings: 32, betaFast: 16, mscale: 1, mscaleAllDim: 0.5});
    expect(normalizeRopeConfig({max_position_embeddings: 64, rope_scaling: null})).toEqual(base());
    expect(normalizeRopeConfig({max_position_embeddings: 64, rope_parameters: {rope_type: 'default', rope_theta: 1e6}}))
        .toEqual(base({theta: 1e6}));
  });

  it('a top-level original_max_position_embeddings wins; llama3/yarn default it to max_position_embeddings', () => {
    const top = normalizeRopeConfig({max_position_embeddings: 128, original_max_position_embeddings: 16,
      rope_scaling: {type: 'yarn', factor: 2, original_max_position_embeddings: 32}});
    expect(top.originalMaxPositionEmbeddings).toBe(16);
    const dflt = normalizeRopeConfig({max_position_embeddings: 128,
      rope_scaling: {rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4}});
    expect(dflt.originalMaxPositionEmbeddings).toBe(128);
    // yarn without factor: max / original (transformers)
    const implicit = normalizeRopeConfig({max_position_embeddings: 128,
      rope_parameters: {rope_type: 'yarn', original_max_position_embeddings: 32}});
    expect(implicit.factor).toBe(4);
  });

  it('names the missing or wrong field', () => {
    expect(() => normalizeRopeConfig({rope_theta: 1})).toThrow(MissingConfigFieldError);
    expect(() => normalizeRopeConfig({rope_theta: 1})).toThrow(/'max_position_embeddings' expected an integer/);
    expect(() => normalizeRopeConfig({max_position_embeddings: 8, rope_scaling: {type: 'linear'}}))
        .toThrow(/field 'rope_scaling.factor' expected a number, got undefined/);
    expect(() => normalizeRopeConfig({max_position_embeddings: 8, rope_parameters: {rope_type: 'longrope'}}))
        .toThrow(/'rope_parameters.rope_type' expected one of default, linear, dynamic, llama3, yarn, got "longrope"/);
    expect(() => normalizeRopeConfig({max_position_embeddings: 8,
      rope_scaling: {type: 'llama3', factor: 8, low_freq_factor: 1}})).toThrow(/'rope_scaling.high_freq_factor'/);
  });
});

describe('ropeInverseFrequencies', () => {
  it('default and linear: theta^(-2i/d), divided by the factor', () => {
    const d = ropeInverseFrequencies(base(), {headDim: 4});
    close(d.inverseFrequencies, [1, 0.01]);
    expect(d.attentionFactor).toBe(1);
    expect(d.rotaryDim).toBe(4);
    close(ropeInverseFrequencies(base({type: 'linear', factor: 2}), {headDim: 4}).inverseFrequencies, [0.5, 0.005]);
    // partial rotary factor 0.5 of head 8 -> d 4
    expect(ropeInverseFrequencies(base({partialRotaryFactor: 0.5}), {headDim: 8}).rotaryDim).toBe(4);
  });

  it('dynamic NTK: unchanged up to the context, base * (f L / L0 - (f - 1))^(d/(d-2)) beyond', () => {
    const r = base({type: 'dynamic', factor: 2});
    close(ropeInverseFrequencies(r, {headDim: 4, seqLen: 10}).inverseFrequencies, [1, 0.01]);
    // L = 128 = 2 L0: base' = 1e4 * 3^2 = 9e4 -> [1, 1/300]
    close(ropeInverseFrequencies(r, {headDim: 4, seqLen: 128}).inverseFrequencies, [1, 1 / 300]);
  });

  it('llama3: high frequencies kept, low divided by factor, medium smoothed', () => {
    // inv [1, .1, .01, .001], wavelengths [6.28, 62.8, 628.3, 6283]; old 1000, low 1, high 4 -> bands 1000 / 250
    // i=2: s = (1000/628.32 - 1) / 3 = 0.197183 -> 0.802817 * 0.01 / 8 + 0.197183 * 0.01 = 0.00297535
    const r = base({type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 1000});
    close(ropeInverseFrequencies(r, {headDim: 8}).inverseFrequencies, [1, 0.1, 0.00297535, 0.000125], 7);
  });

  it('yarn: ramp over the correction range, attention factor from mscale', () => {
    // d 8, theta 1e4, factor 4, L0 64: correction dims -0.497 (beta 32) -> 0 and 1.008 (beta 1) -> 2;
    // ramp [0, .5, 1, 1]: [1, .1 * (.5/4 + .5), .01/4, .001/4]
    const r = base({type: 'yarn', factor: 4, originalMaxPositionEmbeddings: 64});
    const y = ropeInverseFrequencies(r, {headDim: 8});
    close(y.inverseFrequencies, [1, 0.0625, 0.0025, 0.00025], 7);
    expect(y.attentionFactor).toBeCloseTo(0.1 * Math.log(4) + 1, 6);
    // truncate false: hi = 1.008 -> ramp_1 = 1/1.008
    const t = ropeInverseFrequencies({...r, truncate: false}, {headDim: 8});
    expect(t.inverseFrequencies[1]).toBeCloseTo(0.1 * ((1 / 1.00800) / 4 + 1 - 1 / 1.00800), 5);
    expect(ropeInverseFrequencies({...r, mscale: 1, mscaleAllDim: 1}, {headDim: 8}).attentionFactor).toBe(1);
    expect(ropeInverseFrequencies({...r, mscale: 1, mscaleAllDim: 0.5}, {headDim: 8}).attentionFactor)
        .toBeCloseTo((0.1 * Math.log(4) + 1) / (0.05 * Math.log(4) + 1), 6);
    expect(ropeInverseFrequencies({...r, attentionFactor: 0.7}, {headDim: 8}).attentionFactor).toBe(0.7);
  });

  it('softmax scale factor of DeepSeek MLA: mscale(factor, mscale_all_dim)^2', () => {
    const r = base({type: 'yarn', factor: 40, originalMaxPositionEmbeddings: 4096, mscale: 1, mscaleAllDim: 1});
    expect(ropeSoftmaxScaleFactor(r)).toBeCloseTo((0.1 * Math.log(40) + 1) ** 2, 10);
    expect(ropeSoftmaxScaleFactor(base())).toBe(1);
    expect(ropeSoftmaxScaleFactor({...r, mscaleAllDim: 0})).toBe(1);
  });
});

describe('ropeCosSin / applyRope', () => {
  it('hand-computed rotation of one pair', () => {
    // d 2, inv [1]: position 1 -> angle 1; y = [x1 cos - x2 sin, x2 cos + x1 sin]
    const f = ropeInverseFrequencies(base(), {headDim: 2});
    const pos = tf.tensor2d([[0, 1]], [1, 2], 'int32');
    const {cos, sin} = ropeCosSin(pos, f);
    const x = tf.tensor4d([[[[1, 2], [1, 2]]]]);
    const y = applyRope(x, cos, sin);
    close(y.dataSync(), [1, 2, Math.cos(1) - 2 * Math.sin(1), 2 * Math.cos(1) + Math.sin(1)], 5);
    tf.dispose([pos, cos, sin, x, y]);
  });

  it('interleaved layout = rotate-half of the de-interleaved features', () => {
    const f = ropeInverseFrequencies(base(), {headDim: 4});
    const pos = tf.tensor2d([[3, 7]], [1, 2], 'int32');
    const {cos, sin} = ropeCosSin(pos, f);
    const x = tf.tensor4d([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8], [1, 1, 2, 4]);
    const perm = tf.tensor4d([0.1, 0.3, 0.2, 0.4, 0.5, 0.7, 0.6, 0.8], [1, 1, 2, 4]);
    const a = applyRope(x, cos, sin, {interleaved: true});
    const b = applyRope(perm, cos, sin);
    close(a.dataSync(), Array.from(b.dataSync()), 6);
    tf.dispose([pos, cos, sin, x, perm, a, b]);
  });

  it('property: norms preserved and q.k depends only on the position difference', () => {
    const f = ropeInverseFrequencies(base({theta: 100}), {headDim: 4});
    fc.assert(fc.property(
        fc.array(fc.double({min: -2, max: 2, noNaN: true}), {minLength: 8, maxLength: 8}),
        fc.integer({min: 0, max: 20}), fc.integer({min: 0, max: 20}), fc.integer({min: 1, max: 9}),
        (v, p, q, shift) => {
          const dot = (pp: number, qq: number): number => tf.tidy(() => {
            const {cos, sin} = ropeCosSin(tf.tensor2d([[pp, qq]], [1, 2], 'int32'), f);
            const r = applyRope(tf.tensor4d(v, [1, 1, 2, 4]), cos, sin).arraySync()[0]![0]!;
            const n0 = Math.hypot(...r[0]!), n1 = Math.hypot(...r[1]!);
            expect(n0).toBeCloseTo(Math.hypot(...v.slice(0, 4)), 4);
            expect(n1).toBeCloseTo(Math.hypot(...v.slice(4)), 4);
            return r[0]!.reduce((s, x, i) => s + x * r[1]![i]!, 0);
          });
          expect(dot(p + shift, q + shift)).toBeCloseTo(dot(p, q), 3);
        }), {numRuns: 15});
  });

  it('gradient flows through applyRope (rotation transpose) and nothing leaks', () => {
    const f = ropeInverseFrequencies(base(), {headDim: 4});
    const pos = tf.tensor2d([[2, 5]], [1, 2], 'int32');
    const {cos, sin} = ropeCosSin(pos, f);
    const x = tf.tensor4d([0.1, -0.2, 0.3, 0.4, 0.5, 0.6, -0.7, 0.8], [1, 1, 2, 4]);
    const c = tf.tensor4d([1, 0, -1, 2, 0.5, 1, 1, -1], [1, 1, 2, 4]);
    const g = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(applyRope(xx as tf.Tensor4D, cos, sin, {interleaved: true}), c)))(x);
    // d/dx <R x, c> = R^T c: check by finite differences on one coordinate per row
    const ga = g.dataSync();
    const fd = centralDifferences((xv) => tf.tidy(() =>
      tf.sum(tf.mul(applyRope(tf.tensor4d(xv, [1, 1, 2, 4]), cos, sin, {interleaved: true}), c)).dataSync()[0]!), x.dataSync(), 1e-3, [1, 6]);
    expectGradientClose([ga[1]!, ga[6]!], fd, {digits: 2});
    const before = tf.memory().numTensors;
    const cs = ropeCosSin(pos, f);
    const y = applyRope(x, cs.cos, cs.sin);
    tf.dispose([cs.cos, cs.sin, y]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([pos, cos, sin, x, c, g]);
  });

  it('rejects mismatched shapes naming the argument', () => {
    const x = tf.zeros([1, 2, 3, 4]) as tf.Tensor4D;
    const cos = tf.zeros([1, 3, 2]) as tf.Tensor3D;
    expect(() => applyRope(x, cos, cos)).toThrow(/applyRope: 'cos' expected shape \[batch, time, rotaryDim\]=\[1,3,4\], got \[1,3,2\]/);
    expect(() => ropeCosSin(tf.zeros([2, 2]) as tf.Tensor2D, ropeInverseFrequencies(base(), {headDim: 4})))
        .toThrow(/'positions' expected dtype int32/);
    tf.dispose([x, cos]);
  });

  it('rejects unknown options and a bad seqLen or interleaved', () => {
    const x = tf.zeros([1, 1, 2, 4]) as tf.Tensor4D, cos = tf.zeros([1, 2, 4]) as tf.Tensor3D;
    const before = tf.memory().numTensors;
    expect(() => applyRope(x, cos, cos, {interleave: true} as never)).toThrow(
        "applyRope: unknown option 'interleave'; expected one of 'interleaved'; did you mean 'interleaved'?");
    expect(() => applyRope(x, cos, cos, {interleaved: 1} as never)).toThrow("applyRope: 'interleaved' expected a boolean, got 1");
    expect(tf.memory().numTensors).toBe(before);
    expect(() => ropeInverseFrequencies(base(), {headDim: 4, seqlen: 8} as never)).toThrow(
        "ropeInverseFrequencies: unknown option 'seqlen'; expected one of 'headDim', 'seqLen'; did you mean 'seqLen'?");
    expect(() => ropeInverseFrequencies(base(), {headDim: 4, seqLen: NaN})).toThrow(
        "ropeInverseFrequencies: 'seqLen' expected a finite number, got NaN");
    expect(() => ropeInverseFrequencies(base(), {headDim: 4, seqLen: 1.5})).toThrow(
        "ropeInverseFrequencies: 'seqLen' expected an integer, got 1.5");
    expect(() => ropeInverseFrequencies(base(), {headDim: 4, seqLen: 0})).toThrow(
        "ropeInverseFrequencies: 'seqLen' expected >= 1, got 0");
    expect(() => ropeInverseFrequencies(base(), undefined as never)).toThrow(
        "ropeInverseFrequencies: 'headDim' expected an integer >= 2, got undefined");
    tf.dispose([x, cos]);
  });
});
