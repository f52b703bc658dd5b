// grpoLoss / grpoLossWithStats: the fused kernels (WebAssembly SIMD and the JavaScript loop) and the
// composed ops agree on every input, including log-ratios beyond the ±20 clamp; the statistics the
// kernel computes equal the composed ones; the value checks name the same argument and position on
// both paths.
import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import {afterEach, describe, expect, it} from 'vitest';
import {configureValidation} from '../../src/math/assert.js';
import {clippedPolicyLoss} from '../../src/math/clipped_policy_loss.js';
import {
  type GrpoLossInputs, type GrpoLossOptions, type GrpoLossStats, grpoLoss, grpoLossWithStats,
} from '../../src/math/grpo_loss.js';
import {setGrpoLossSimdEnabled} from '../../src/math/fused/grpo_loss_simd.js';
import {mulberry32} from '../../src/models/mulberry32.js';

afterEach(() => {
  setGrpoLossSimdEnabled(true);
  configureValidation({valueChecks: true});
});

type Impl = 'simd' | 'js' | 'composed';
const IMPLS: Impl[] = ['simd', 'js', 'composed'];

/** Runs `f` with `impl`'s path of grpoLoss chosen through `implementation` (and the SIMD switch). */
function withImpl<T>(impl: Impl, f: (implementation: 'fused' | 'composed') => T): T {
  setGrpoLossSimdEnabled(impl !== 'js');
  try {
    return f(impl === 'composed' ? 'composed' : 'fused');
  } finally {
    setGrpoLossSimdEnabled(true);
  }
}

interface Arrays {lp: Float32Array; old: Float32Array; ref: Float32Array; adv: Float32Array; mask: Float32Array}

/** Log-probs in [-60, 0], old and ref anywhere in [-60, 0] too: |log r| up to 60, beyond the clamp. */
function wideArrays(seed: number, batch: number, time: number, perToken: boolean): Arrays {
  const r = mulberry32(seed);
  const n = batch * time;
  const lp = Float32Array.from({length: n}, () => -60 * r() ** 2);
  return {
    lp, old: lp.map((v) => Math.min(0, v + 50 * (r() - 0.5))), ref: lp.map((v) => Math.min(0, v + 4 * (r() - 0.5))),
    adv: Float32Array.from({length: perToken ? n : batch}, () => 4 * (r() - 0.5)),
    mask: Float32Array.from({length: n}, () => (r() < 0.8 ? 1 : 0)),
  };
}

function inputsOf(a: Arrays, batch: number, time: number, perToken: boolean): GrpoLossInputs {
  return {
    logProbs: tf.tensor2d(a.lp, [batch, time]), oldLogProbs: tf.tensor2d(a.old, [batch, time]),
    refLogProbs: tf.tensor2d(a.ref, [batch, time]),
    advantages: perToken ? tf.tensor2d(a.adv, [batch, time]) : tf.tensor1d(a.adv), mask: tf.tensor2d(a.mask, [batch, time]),
  };
}

const disposeAll = (i: GrpoLossInputs) => tf.dispose(Object.values(i) as tf.Tensor[]);

/** Loss and gradients w.r.t. logProbs, oldLogProbs and advantages. */
function lossAndGrads(inputs: GrpoLossInputs, options: GrpoLossOptions): {loss: number; grads: Float32Array[]} {
  const f = tf.valueAndGrads((lp: tf.Tensor, old: tf.Tensor, adv: tf.Tensor) =>
    grpoLoss({...inputs, logProbs: lp, oldLogProbs: old, advantages: adv}, options));
  const {value, grads} = f([inputs.logProbs, inputs.oldLogProbs!, inputs.advantages]);
  const out = {loss: value.dataSync()[0]!, grads: grads.map((g) => g.dataSync() as Float32Array)};
  tf.dispose([value, ...grads]);
  return out;
}

function expectClose(a: ArrayLike<number>, b: ArrayLike<number>, label: string): void {
  expect(a.length).toBe(b.length);
  for (let k = 0; k < a.length; k++) {
    expect(Math.abs(a[k]! - b[k]!), `${label} [${k}]: ${a[k]} vs ${b[k]}`).toBeLessThanOrEqual(1e-5 + 2e-5 * Math.abs(b[k]!));
  }
}

describe('grpoLoss paths agree', () => {
  it('property: fused (SIMD, JS loop) = composed with log-ratios far beyond the ±20 clamp (loss, d/dlp, d/dold, d/dA)', () => {
    fc.assert(fc.property(fc.integer({min: 0, max: 2 ** 30}), fc.integer({min: 1, max: 3}), fc.integer({min: 1, max: 11}),
        fc.boolean(), fc.constantFrom<GrpoLossOptions>(
            {}, {beta: 0.04, clipHigh: 0.28}, {dualClip: 3}, {ratioLevel: 'sequence'},
            {aggregation: 'seq-mean-token-mean', beta: 0.1, klEstimator: 'k2'}),
        (seed, batch, time, perToken, options) => {
          const a = wideArrays(seed, batch, time, perToken);
          const inputs = inputsOf(a, batch, time, perToken);
          const [simd, js, composed] = IMPLS.map((impl) =>
            withImpl(impl, (implementation) => lossAndGrads(inputs, {...options, implementation})));
          for (const [name, got] of [['simd', simd!], ['js', js!]] as const) {
            expectClose([got.loss], [composed!.loss], `${name} loss`);
            got.grads.forEach((g, i) => expectClose(g, composed!.grads[i]!, `${name} grad ${i}`));
          }
          disposeAll(inputs);
        }), {numRuns: 40});
  });

  it('a token beyond the clamp gets the clamped ratio and zero gradient on every path', () => {
    // log r = 30 and A = -1 (no clip covers A < 0 above the range): loss = e^20, gradient 0.
    // log r = -25 and A = 1: r = e^-20 (no clip below for A > 0): loss = -e^-20, gradient 0.
    const inputs: GrpoLossInputs = {
      logProbs: tf.tensor2d([[-1, -30]]), oldLogProbs: tf.tensor2d([[-31, -5]]), advantages: tf.tensor2d([[-1, 1]]),
      mask: tf.tensor2d([[1, 1]]),
    };
    for (const impl of IMPLS) {
      const {loss, grads} = withImpl(impl, (implementation) =>
        lossAndGrads(inputs, {aggregation: 'seq-mean-token-sum', implementation}));
      expect(loss / (Math.exp(20) - Math.exp(-20)) - 1, impl).toBeLessThan(1e-6);
      expect(Array.from(grads[0]!, (v) => v + 0), impl).toEqual([0, 0]);
      expect(Array.from(grads[1]!, (v) => v + 0), impl).toEqual([0, 0]);
    }
    disposeAll(inputs);
  });

  it('property: the statistics of the fused kernel equal the composed ones (every option, empty rows, beta 0 with ref)', () => {
    const keys: Array<keyof GrpoLossStats> = ['kl', 'clipFracLow', 'clipFracHigh', 'clipFracDual', 'ratioMean', 'ratioMin', 'ratioMax'];
    fc.assert(fc.property(fc.integer({min: 0, max: 2 ** 30}), fc.integer({min: 1, max: 3}), fc.integer({min: 1, max: 9}),
        fc.boolean(), fc.boolean(), fc.constantFrom<GrpoLossOptions>(
            {}, {beta: 0.04, clipHigh: 0.28}, {dualClip: 1.5, clipLow: 0.1}, {ratioLevel: 'sequence', beta: 0.1},
            {klEstimator: 'abs', beta: 0.2}),
        (seed, batch, time, perToken, withRef, options) => {
          const r = mulberry32(seed);
          const a = wideArrays(seed, batch, time, perToken);
          // ratios in [e^-0.6, e^0.6] so that every clip is hit
          a.old = a.lp.map((v) => Math.min(-1e-3, v - 1.2 * (r() - 0.5)));
          const inputs = inputsOf(a, batch, time, perToken);
          if (!withRef) delete inputs.refLogProbs;
          const o = withRef ? options : {...options, beta: 0};
          const before = tf.memory().numTensors;
          const [fused, composed] = (['fused', 'composed'] as const).map((implementation) => {
            const {loss, stats} = grpoLossWithStats(inputs, {...o, implementation});
            const values = Object.fromEntries(keys.map((k) => [k, stats[k]?.dataSync()[0]]));
            const l = loss.dataSync()[0]!;
            tf.dispose([loss, ...Object.values(stats)]);
            return {loss: l, values};
          });
          expect(tf.memory().numTensors).toBe(before);
          expectClose([fused!.loss], [composed!.loss], 'loss');
          for (const k of keys) {
            if (composed!.values[k] === undefined) expect(fused!.values[k], k).toBeUndefined();
            else expectClose([fused!.values[k]!], [composed!.values[k]!], k);
          }
          disposeAll(inputs);
        }), {numRuns: 40});
  });

  it('grpoLossWithStats honours and validates implementation; its loss differentiates like grpoLoss', () => {
    const a = wideArrays(3, 2, 5, false);
    const inputs = inputsOf(a, 2, 5, false);
    expect(() => grpoLossWithStats(inputs, {implementation: 'fast' as 'fused'}))
        .toThrow(`grpoLossWithStats: 'implementation' expected one of 'auto', 'fused', 'composed', got "fast"`);
    const grad = (implementation: 'fused' | 'composed') => {
      const g = tf.grad((lp: tf.Tensor) => grpoLossWithStats({...inputs, logProbs: lp}, {beta: 0.1, implementation}).loss)(inputs.logProbs);
      const v = g.dataSync() as Float32Array;
      g.dispose();
      return v;
    };
    expectClose(grad('fused'), grad('composed'), 'gradient');
    disposeAll(inputs);
  });
});

describe('value checks name the argument and the position, the same on every path', () => {
  const base = (): GrpoLossInputs => ({
    logProbs: tf.tensor2d([[-1, -2, -0.5, NaN], [-0.1, -3, -1, -2]]),
    oldLogProbs: tf.tensor2d([[-1.1, -2, -0.4, Infinity], [-0.2, -2.9, -1, -2]]),
    refLogProbs: tf.tensor2d([[-1, -2, -0.5, 5], [-0.1, -3, -1, -2]]),
    advantages: tf.tensor1d([1, -1]), mask: tf.tensor2d([[1, 1, 1, 0], [1, 1, 1, 1]]),
  });
  const bad: Array<[string, (i: GrpoLossInputs) => Partial<GrpoLossInputs>, GrpoLossOptions, string]> = [
    ['mask 0.5', () => ({mask: tf.tensor2d([[1, 1, 1, 0], [1, 1, 0.5, 1]])}), {},
      "'mask' expected values in {0, 1}, got 0.5 at [1, 2] (flat index 6, shape [2,4])"],
    ['advantages NaN', () => ({advantages: tf.tensor1d([1, NaN])}), {},
      "'advantages' expected finite values, got NaN at flat index 1 (shape [2])"],
    ['per-token advantages Infinity', () => ({advantages: tf.tensor2d([[1, 1, 1, NaN], [1, Infinity, 1, 1]])}), {},
      "'advantages' expected finite values, got Infinity at flat index 5"],
    ['logProbs NaN', () => ({logProbs: tf.tensor2d([[-1, -2, -0.5, NaN], [-0.1, NaN, -1, -2]])}), {},
      "'logProbs' expected finite values on unmasked tokens, got NaN at [1, 1] (flat index 5, shape [2,4])"],
    ['oldLogProbs -Infinity', () => ({oldLogProbs: tf.tensor2d([[-1, -Infinity, -0.5, 0], [-0.1, -3, -1, -2]])}), {},
      "'oldLogProbs' expected finite values on unmasked tokens, got -Infinity at [0, 1]"],
    ['refLogProbs Infinity (beta > 0)', () => ({refLogProbs: tf.tensor2d([[-1, -2, -0.5, 0], [-0.1, -3, Infinity, -2]])}),
      {beta: 0.1}, "'refLogProbs' expected finite values on unmasked tokens, got Infinity at [1, 2]"],
    ['probabilities', () => ({logProbs: tf.tensor2d([[0.3, 0.2, 0.5, NaN], [0.1, 0.4, 0.6, 0.2]])}), {},
      "'logProbs' expected log-probabilities (<= 0.0001) on unmasked tokens, got 0.30000001192092896 at [0, 0] " +
      '(flat index 0, shape [2,4]): were probabilities passed instead of log-probabilities?'],
    ['rollout probabilities', () => ({rolloutLogProbs: tf.tensor2d([[-1, -1, -1, -1], [-1, -1, -1, 0.5]])}), {tisCap: 2},
      "'rolloutLogProbs' expected log-probabilities (<= 0.0001) on unmasked tokens, got 0.5 at [1, 3]"],
  ];

  it.each(bad)('%s: one message from the SIMD kernel, the JS loop and the composed ops; no leak', (_, override, options, message) => {
    const inputs = base();
    const extra = override(inputs);
    const all = {...inputs, ...extra};
    const before = tf.memory().numTensors;
    const messages = IMPLS.map((impl) => withImpl(impl, (implementation) => {
      const errors: string[] = [];
      for (const call of [
        () => grpoLoss(all, {...options, implementation}),
        () => tf.grad((lp: tf.Tensor) => grpoLoss({...all, logProbs: lp}, {...options, implementation}))(all.logProbs),
        () => grpoLossWithStats(all, {...options, implementation}).loss,
      ]) {
        try {
          call();
          errors.push('no error');
        } catch (e) {
          errors.push((e as Error).message);
        }
      }
      return errors;
    }));
    expect(tf.memory().numTensors).toBe(before);
    for (const [i, errors] of messages.entries()) {
      expect(errors[0], IMPLS[i]).toContain(`grpoLoss: ${message}`);
      expect(errors[1], IMPLS[i]).toBe(errors[0]);
      expect(errors[2], IMPLS[i]).toBe(errors[0]!.replace('grpoLoss:', 'grpoLossWithStats:'));
    }
    expect(messages[1]).toEqual(messages[0]);
    expect(messages[2]).toEqual(messages[0]);
    // Off: no check (the padding-only NaN/Infinity of `base` never mattered).
    configureValidation({valueChecks: false});
    tf.dispose(grpoLoss(all, {...options, implementation: 'fused'}));
    configureValidation({valueChecks: true});
    tf.dispose(Object.values(all) as tf.Tensor[]);
  });

  it('unused or padded values are not checked: refLogProbs with beta 0, NaN/Infinity/probabilities at mask 0', () => {
    const inputs = base();
    const ref = tf.tensor2d([[-1, 3, -0.5, 0], [-0.1, NaN, -1, -2]]);
    for (const implementation of ['fused', 'composed'] as const) {
      tf.dispose(grpoLoss(inputs, {implementation}));
      tf.dispose(grpoLoss({...inputs, refLogProbs: ref}, {beta: 0, implementation}));
      expect(() => grpoLoss({...inputs, refLogProbs: ref}, {beta: 0.1, implementation}))
          .toThrow("grpoLoss: 'refLogProbs' expected log-probabilities (<= 0.0001) on unmasked tokens, got 3 at [0, 1]");
    }
    tf.dispose([ref, ...Object.values(inputs) as tf.Tensor[]]);
  });

  it('clippedPolicyLoss flags probabilities and non-finite log-probs the same way', () => {
    const i = base();
    const probs = tf.tensor2d([[-1, 0.5, -1, -1], [-1, -1, -1, -1]]);
    expect(() => clippedPolicyLoss({oldLogProbs: i.oldLogProbs!, advantages: i.advantages, mask: i.mask, logProbs: probs}))
        .toThrow("clippedPolicyLoss: 'logProbs' expected log-probabilities (<= 0.0001) on unmasked tokens, got 0.5 at [0, 1]");
    tf.dispose([probs, ...Object.values(i) as tf.Tensor[]]);
  });
});
