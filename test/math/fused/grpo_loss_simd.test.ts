// The WebAssembly SIMD kernel of the fused GRPO loss (grpo_loss_simd.wat) against the composed tfjs
// ops (the oracle), the JavaScript loop (grpoLossCpuKernel, the fallback), and finite differences.
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import {afterEach, describe, expect, it, vi} from 'vitest';
import {grpoLossComposed, type GrpoLossInputs, type ResolvedGrpoLossOptions} from '../../../src/math/grpo_loss.js';
import {grpoLossFused} from '../../../src/math/fused/grpo_loss_fused.js';
import {type GrpoLossArrays, grpoLossCpuKernel} from '../../../src/math/fused/grpo_loss_cpu_kernel.js';
import {
  grpoLossSimdAvailable, grpoLossSimdKernel, setGrpoLossSimdEnabled,
} from '../../../src/math/fused/grpo_loss_simd.js';
import {mulberry32} from '../../../src/models/mulberry32.js';
import {tensorCentralDifferences} from '../../helpers/central_differences.js';
import {expectGradientClose} from '../../helpers/expect_gradient_close.js';

const BASE: ResolvedGrpoLossOptions = {
  beta: 0, klEstimator: 'k3', clipLow: 0.2, clipHigh: 0.2, dualClip: undefined, ratioLevel: 'token',
  aggregation: 'token-mean', maxLength: undefined, normalizer: undefined,
};
const opts = (o: Partial<ResolvedGrpoLossOptions>): ResolvedGrpoLossOptions => ({...BASE, ...o});

afterEach(() => {
  setGrpoLossSimdEnabled(true);
});

/** Deterministic pseudo-random numbers (mulberry32, the sampler's generator). */
const rng = mulberry32;

/** Random typed-array inputs; log-ratios within +-0.5 (both clip sides hit), 75 % of tokens unmasked. */
function randomArrays(seed: number, batch: number, time: number, withOld: boolean, withRef: boolean,
    perTokenAdvantages: boolean, emptyRow: boolean): GrpoLossArrays {
  const r = rng(seed);
  const n = batch * time;
  const lp = Float32Array.from({length: n}, () => -3 * r());
  return {
    logProbs: lp,
    oldLogProbs: withOld ? lp.map((v) => v + (r() - 0.5)) : undefined,
    refLogProbs: withRef ? lp.map((v) => v + 2 * (r() - 0.5)) : undefined,
    advantages: Float32Array.from({length: perTokenAdvantages ? n : batch}, () => 4 * (r() - 0.5)),
    mask: Float32Array.from({length: n}, (_, k) => (emptyRow && k < time) ? 0 : r() < 0.75 ? 1 : 0),
    batch, time, advantagesPerToken: perTokenAdvantages,
  };
}

function tensorsOf(x: GrpoLossArrays): GrpoLossInputs {
  const shape: [number, number] = [x.batch, x.time];
  return {
    logProbs: tf.tensor2d(x.logProbs as Float32Array, shape),
    oldLogProbs: x.oldLogProbs !== undefined ? tf.tensor2d(x.oldLogProbs as Float32Array, shape) : undefined,
    refLogProbs: x.refLogProbs !== undefined ? tf.tensor2d(x.refLogProbs as Float32Array, shape) : undefined,
    advantages: x.advantagesPerToken ? tf.tensor2d(x.advantages as Float32Array, shape) :
      tf.tensor1d(x.advantages as Float32Array),
    mask: tf.tensor2d(x.mask as Float32Array, shape),
  } as GrpoLossInputs;
}

function disposeInputs(i: GrpoLossInputs): void {
  tf.dispose([i.logProbs, i.oldLogProbs, i.refLogProbs, i.advantages, i.mask].filter((t) => t !== undefined));
}

/** Loss and d loss / d logProbs (flat) of `impl` through the gradient tape. */
function lossAndGrad(impl: (i: GrpoLossInputs) => tf.Scalar, inputs: GrpoLossInputs): {loss: number; grad: Float32Array} {
  const {value, grad} = tf.valueAndGrad((lp: tf.Tensor) => impl({...inputs, logProbs: lp}))(inputs.logProbs);
  const out = {loss: value.dataSync()[0]!, grad: grad.dataSync() as Float32Array};
  tf.dispose([value, grad]);
  return out;
}

function expectArrayClose(actual: ArrayLike<number>, expected: ArrayLike<number>, atol: number, rtol: number): void {
  expect(actual.length).toBe(expected.length);
  for (let k = 0; k < actual.length; k++) {
    const e = expected[k]!;
    expect(Math.abs(actual[k]! - e), `[${k}] ${actual[k]} vs ${e}`).toBeLessThanOrEqual(atol + rtol * Math.abs(e));
  }
}

const optionArbitraries = [
  fc.integer({min: 0, max: 2 ** 31 - 1}), fc.integer({min: 1, max: 4}), fc.integer({min: 1, max: 19}),
  fc.boolean(), fc.constantFrom(0, 0.04, 0.5), fc.constantFrom('k1', 'k2', 'k3', 'abs'),
  fc.constantFrom<[number, number]>([0.2, 0.2], [0.2, 0.28], [0.1, 0.05]), fc.constantFrom(undefined, 1.5, 3),
  fc.constantFrom('token-mean', 'seq-mean-token-mean', 'seq-mean-token-sum', 'seq-mean-token-sum-norm'),
  fc.constantFrom(undefined, 5), fc.boolean(), fc.boolean(), fc.boolean(),
] as const;

describe('grpoLossSimdKernel (WebAssembly SIMD)', () => {
  it('is available in Node.js (WebAssembly SIMD) and can be switched off', () => {
    expect(grpoLossSimdAvailable()).toBe(true);
    expect(setGrpoLossSimdEnabled(false)).toBe(true);
    expect(grpoLossSimdAvailable()).toBe(false);
    const x = randomArrays(1, 2, 3, true, false, false, false);
    expect(grpoLossSimdKernel(x, opts({}), true)).toBeNull();
    expect(setGrpoLossSimdEnabled(true)).toBe(false);
    expect(grpoLossSimdKernel(x, opts({}), true)).not.toBeNull();
    // GSPO's sequence ratio needs a row pass first: the JavaScript loop serves it.
    expect(grpoLossSimdKernel(x, opts({ratioLevel: 'sequence'}), true)).toBeNull();
    // Without old log-probs the sequence ratio is 1, as the token ratio: the kernel serves it.
    expect(grpoLossSimdKernel({...x, oldLogProbs: undefined}, opts({ratioLevel: 'sequence'}), true)).not.toBeNull();
  });

  it('falls back (returns null) where WebAssembly or its SIMD proposal is missing', async () => {
    const x = randomArrays(2, 2, 3, true, true, false, false);
    const real = (globalThis as {WebAssembly?: object}).WebAssembly;
    const noSimd = {...real, Module: function Module() {
      throw new Error('CompileError: invalid SIMD opcode'); // what an engine without SIMD throws
    }};
    for (const stub of [undefined, noSimd]) {
      vi.resetModules();
      vi.stubGlobal('WebAssembly', stub);
      try {
        const fresh = await import('../../../src/math/fused/grpo_loss_simd.js');
        expect(fresh.grpoLossSimdAvailable()).toBe(false);
        expect(fresh.grpoLossSimdKernel(x, opts({beta: 0.04}), true)).toBeNull();
      } finally {
        vi.unstubAllGlobals();
      }
    }
    vi.resetModules();
  });

  it('hand-computed: token-mean with clipping and k3 (time 2, padded to 8 lanes)', () => {
    // lp = [[-1, -2], [-0.5, -3]], old = [[-1.5, -2], [-0.5, -2.9]], A = [1, -1], mask [[1, 1], [1, 0]].
    // Row 0: r = [e^0.5 = 1.6487 (clipped at 1.2: loss -1.2, gradient 0), 1 (loss -1, gradient -1)];
    // row 1: r = 1, A = -1: loss 1, gradient 1. token-mean over 3 tokens: -0.4, gradients / 3.
    const x: GrpoLossArrays = {
      logProbs: new Float32Array([-1, -2, -0.5, -3]), oldLogProbs: new Float32Array([-1.5, -2, -0.5, -2.9]),
      advantages: new Float32Array([1, -1]), mask: new Float32Array([1, 1, 1, 0]), batch: 2, time: 2,
      advantagesPerToken: false,
    };
    const got = grpoLossSimdKernel(x, opts({}), true)!;
    expect(got.loss).toBeCloseTo(-0.4, 6);
    expectArrayClose(got.grad!, [0, -1 / 3, 1 / 3, 0], 1e-7, 1e-6);
    // k3 with beta 0.1 on token [0, 1] (lp -2, ref -2.5: d = 0.5): + 0.1 (e^-0.5 - 1 + 0.5) = 0.0106531 / 3
    // to the loss, + 0.1 (1 - e^-0.5) = 0.0393469 / 3 to its gradient.
    const withKl = grpoLossSimdKernel({...x, refLogProbs: new Float32Array([-1, -2.5, -0.5, -3])},
        opts({beta: 0.1}), true)!;
    expect(withKl.loss).toBeCloseTo(-0.4 + 0.0106531 / 3, 6);
    expect(withKl.grad![1]).toBeCloseTo((-1 + 0.0393469) / 3, 6);
  });

  it('property: loss and gradient equal the composed ops and the JavaScript loop (every option)', () => {
    fc.assert(fc.property(...optionArbitraries,
        (seed, batch, time, withOld, beta, klEstimator, [clipLow, clipHigh], dualClip, aggregation, normalizer,
            perTokenAdvantages, emptyRow, withMaxLength) => {
          const x = randomArrays(seed, batch, time, withOld, beta > 0 || seed % 2 === 0, perTokenAdvantages, emptyRow);
          const o = opts({
            beta, klEstimator: klEstimator as ResolvedGrpoLossOptions['klEstimator'], clipLow, clipHigh, dualClip,
            aggregation: aggregation as ResolvedGrpoLossOptions['aggregation'], normalizer,
            maxLength: withMaxLength && aggregation === 'seq-mean-token-sum-norm' ? 23 : undefined,
          });
          const inputs = tensorsOf(x);
          const simd = lossAndGrad((i) => grpoLossFused(i, o), inputs);
          setGrpoLossSimdEnabled(false);
          const js = lossAndGrad((i) => grpoLossFused(i, o), inputs);
          setGrpoLossSimdEnabled(true);
          const composed = lossAndGrad((i) => grpoLossComposed(i, o), inputs);
          for (const [name, other] of [['composed', composed], ['javascript', js]] as const) {
            expect(Math.abs(simd.loss - other.loss), name).toBeLessThanOrEqual(1e-5 + 1e-5 * Math.abs(other.loss));
            expectArrayClose(simd.grad, other.grad, 1e-6, 1e-4);
          }
          // The forward pass alone (no tape, no gradient written) gives the same loss.
          const plain = grpoLossSimdKernel(x, o, false)!;
          expect(plain.grad).toBeNull();
          expect(plain.loss).toBe(grpoLossSimdKernel(x, o, true)!.loss);
          disposeInputs(inputs);
        }), {numRuns: 50});
  });

  it('matches the float64 JavaScript loop to float32 precision at a larger shape', () => {
    const x = randomArrays(42, 8, 300, true, true, false, false);
    for (const klEstimator of ['k1', 'k2', 'k3', 'abs'] as const) {
      const o = opts({beta: 0.04, klEstimator, clipHigh: 0.28, dualClip: 3});
      const grad = new Float32Array(8 * 300);
      const expected = grpoLossCpuKernel(x, o, grad);
      const got = grpoLossSimdKernel(x, o, true)!;
      expect(Math.abs(got.loss - expected)).toBeLessThanOrEqual(1e-6 * Math.abs(expected) + 1e-9);
      // float32 per token: a few ulps, more where the policy and KL gradients cancel
      expectArrayClose(got.grad!, grad, 1e-9, 1e-5);
    }
  });

  it('exp over the float32 range: large, tiny, infinite and NaN log-ratios', () => {
    // Through the TIS weight, whose exp is clamped only at float32's range: one token, no old
    // log-probs (r = 1), A = -1, clipLow 1, tisCap Infinity, rollout -d: loss = w = exp(lp - rollout)
    // = exp(d), gradient -r A w = w (seq-mean-token-sum over one row: weight 1).
    const logRatios = [-100, -87, -50, -10, -1e-3, 0, 1e-3, 0.3466, 1, 10, 50, 88, 88.7, 88.8, 100, Infinity, -Infinity];
    for (const d of logRatios) {
      const x: GrpoLossArrays = {
        logProbs: new Float32Array([0]), rolloutLogProbs: new Float32Array([-d]), advantages: new Float32Array([-1]),
        mask: new Float32Array([1]), batch: 1, time: 1, advantagesPerToken: false,
      };
      const {loss, grad} = grpoLossSimdKernel(x, opts({aggregation: 'seq-mean-token-sum', clipLow: 1, tisCap: Infinity}), true)!;
      const expected = Math.fround(Math.exp(-Math.fround(-d))); // of the float32 input
      if (d < -86.99) {
        expect(loss, `exp(${d})`).toBeLessThan(2.5e-38); // flushed to 0 below float32's normal range
      } else if (expected === Infinity) {
        expect(loss, `exp(${d})`).toBe(Infinity);
      } else {
        expect(Math.abs(loss / expected - 1), `exp(${d})`).toBeLessThan(3e-7);
        expect(Math.abs(grad![0]! / expected - 1), `exp(${d}) gradient`).toBeLessThan(3e-7);
      }
    }
    const nan = grpoLossSimdKernel({
      logProbs: new Float32Array([NaN]), oldLogProbs: new Float32Array([0]), advantages: new Float32Array([-1]),
      mask: new Float32Array([1]), batch: 1, time: 1, advantagesPerToken: false,
    }, opts({}), true)!;
    expect(nan.loss).toBeNaN();
  });

  it('the policy log-ratio is clamped to [-20, 20] before exp, with gradient 0 beyond (as the composed ops)', () => {
    // One token, A = -1, clipLow 1, no dual-clip: loss = r = exp(clamp(d, -20, 20)), gradient r
    // inside the clamp and 0 outside (the JavaScript loop and the composed ops alike).
    for (const d of [-50, -20.5, -20, -19.5, 0.5, 19.5, 20, 20.5, 50, 100, Infinity]) {
      const x: GrpoLossArrays = {
        logProbs: new Float32Array([0]), oldLogProbs: new Float32Array([-d]), advantages: new Float32Array([-1]),
        mask: new Float32Array([1]), batch: 1, time: 1, advantagesPerToken: false,
      };
      const o = opts({aggregation: 'seq-mean-token-sum', clipLow: 1});
      const {loss, grad} = grpoLossSimdKernel(x, o, true)!;
      const r = Math.exp(Math.max(-20, Math.min(20, d)));
      expect(Math.abs(loss / r - 1), `loss at log-ratio ${d}`).toBeLessThan(3e-7);
      if (Math.abs(d) > 20) expect(grad![0], `gradient at ${d}`).toBe(0);
      else expect(Math.abs(grad![0]! / r - 1), `gradient at ${d}`).toBeLessThan(3e-7);
      const jsGrad = new Float32Array(1);
      const js = grpoLossCpuKernel(x, o, jsGrad);
      expect(Math.abs(js / r - 1)).toBeLessThan(1e-7);
      expect(Math.abs(jsGrad[0]! - grad![0]!)).toBeLessThanOrEqual(3e-7 * r);
    }
  });

  it('property: padded tokens (NaN/Infinity) change nothing and get exactly zero gradient', () => {
    fc.assert(fc.property(fc.integer({min: 0, max: 2 ** 31 - 1}), fc.integer({min: 1, max: 13}),
        fc.constantFrom('k1', 'k2', 'k3', 'abs'), (seed, time, klEstimator) => {
          const x = randomArrays(seed, 3, time, true, true, seed % 2 === 0, false);
          const o = opts({beta: 0.1, klEstimator: klEstimator as 'k3', dualClip: 3, aggregation: 'seq-mean-token-mean'});
          const clean = grpoLossSimdKernel(x, o, true)!;
          const poison = (a: GrpoLossArrays['logProbs'], v: number) => Float32Array.from(a, (u, k) => x.mask[k] ? u : v);
          const dirty = grpoLossSimdKernel({
            ...x, logProbs: poison(x.logProbs, NaN), oldLogProbs: poison(x.oldLogProbs!, Infinity),
            refLogProbs: poison(x.refLogProbs!, -Infinity),
            advantages: x.advantagesPerToken ? poison(x.advantages, NaN) : x.advantages,
          }, o, true)!;
          expect(dirty.loss).toBe(clean.loss);
          for (let k = 0; k < x.mask.length; k++) {
            if (!x.mask[k]) expect(Object.is(dirty.grad![k], 0) || Object.is(dirty.grad![k], -0)).toBe(true);
            else expect(dirty.grad![k]).toBe(clean.grad![k]);
          }
        }), {numRuns: 30});
  });

  it('gradient matches central finite differences (h = 1e-3), rows not a multiple of 8 long', () => {
    // Log-ratios within +-0.1 (ratios inside the clip range by more than h): the loss is smooth there.
    const r = rng(3);
    const [batch, time] = [2, 11];
    const lp = Array.from({length: batch * time}, () => -2 * r());
    const inputs: GrpoLossInputs = {
      logProbs: tf.tensor2d(lp, [batch, time]),
      oldLogProbs: tf.tensor2d(lp.map((v) => v + 0.2 * (r() - 0.5)), [batch, time]),
      refLogProbs: tf.tensor2d(lp.map((v) => v + (r() - 0.5)), [batch, time]),
      advantages: tf.tensor1d([0.8, -1.3]),
      mask: tf.tensor2d(lp.map((_, k) => (k % 5 === 4 ? 0 : 1)), [batch, time]),
    };
    for (const klEstimator of ['k1', 'k2', 'k3'] as const) {
      const o = opts({beta: 0.3, klEstimator, aggregation: 'seq-mean-token-mean'});
      const {grad} = lossAndGrad((i) => grpoLossFused(i, o), inputs);
      const fd = tensorCentralDifferences((t) => grpoLossFused({...inputs, logProbs: t}, o), lp, [batch, time], 1e-3);
      expectGradientClose(grad, fd, {rtol: 1e-2, atol: 1e-3, inclusive: true}, klEstimator);
    }
    disposeInputs(inputs);
  });

  it('int32 and bool masks give the float32 mask\'s results', () => {
    const x = randomArrays(9, 3, 10, true, true, false, false);
    const o = opts({beta: 0.04});
    const expected = grpoLossSimdKernel(x, o, true)!;
    const int = grpoLossSimdKernel({...x, mask: Int32Array.from(x.mask)}, o, true)!;
    const bool = grpoLossSimdKernel({...x, mask: Uint8Array.from(x.mask)}, o, true)!;
    for (const got of [int, bool]) {
      expect(got.loss).toBe(expected.loss);
      expect(Array.from(got.grad!)).toEqual(Array.from(expected.grad!));
    }
  });

  it('falls back (returns null) past 2 GiB of kernel memory', () => {
    // 2^27 tokens need 7 arrays of 512 MiB: past the limit. Views of one small array stand in for the
    // inputs (the kernel gives up before reading them).
    const small = new Float32Array(8);
    const x = {logProbs: small, advantages: small, mask: small, batch: 2 ** 14, time: 2 ** 13, advantagesPerToken: false};
    expect(grpoLossSimdKernel(x, opts({}), true)).toBeNull();
  });

  it('reuses its memory across shapes (grows, then a smaller call is still right)', () => {
    const o = opts({beta: 0.04, aggregation: 'seq-mean-token-mean'});
    for (const [batch, time] of [[2, 5], [16, 1000], [3, 7]] as const) {
      const x = randomArrays(batch * time, batch, time, true, true, false, true);
      const grad = new Float32Array(batch * time);
      const expected = grpoLossCpuKernel(x, o, grad);
      const got = grpoLossSimdKernel(x, o, true)!;
      expect(Math.abs(got.loss - expected)).toBeLessThanOrEqual(1e-6 * Math.abs(expected) + 1e-9);
      expectArrayClose(got.grad!, grad, 1e-9, 1e-5);
    }
  });
});
