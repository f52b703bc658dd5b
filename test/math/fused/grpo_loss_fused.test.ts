// Fused GRPO loss kernels (typed-array path on `cpu`, and on `wasm` in the wasm project) against the
// composed tfjs ops (grpoLossComposed, the oracle) and hand-computed values.
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import {describe, expect, it} from 'vitest';
import {grpoLossComposed, type GrpoLossInputs, type ResolvedGrpoLossOptions} from '../../../src/math/grpo_loss.js';
import {fastExp} from '../../../src/math/fused/fast_exp.js';
import {
  fusedGrpoLossAvailable, grpoLossFused, useFusedGrpoLoss,
} from '../../../src/math/fused/grpo_loss_fused.js';
import {mulberry32} from '../../../src/models/mulberry32.js';
import {gridCentralDifferences} from '../../helpers/central_differences.js';
import {expectGradientClose} from '../../helpers/expect_gradient_close.js';

const BASE: ResolvedGrpoLossOptions = {
  beta: 0, klEstimator: 'k3', clipLow: 0.2, clipHigh: 0.2, dualClip: undefined, ratioLevel: 'token',
  aggregation: 'token-mean', maxLength: undefined, normalizer: undefined,
};

function opts(o: Partial<ResolvedGrpoLossOptions>): ResolvedGrpoLossOptions {
  return {...BASE, ...o};
}

/** Loss and d loss / d logProbs of `impl`. */
function lossAndGrad(impl: (i: GrpoLossInputs) => tf.Scalar, inputs: GrpoLossInputs): {loss: number; grad: number[][]} {
  const {value, grad} = tf.valueAndGrad((lp: tf.Tensor) => impl({...inputs, logProbs: lp}))(inputs.logProbs);
  const out = {loss: value.dataSync()[0]!, grad: grad.arraySync() as number[][]};
  value.dispose();
  grad.dispose();
  return out;
}

function expectClose(actual: number[][], expected: number[][], atol: number, rtol = 1e-4): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((row, i) => row.forEach((v, j) => {
    const e = expected[i]![j]!;
    expect(Math.abs(v - e), `[${i},${j}] ${v} vs ${e}`).toBeLessThanOrEqual(atol + rtol * Math.abs(e));
  }));
}

function disposeInputs(i: GrpoLossInputs): void {
  tf.dispose([i.logProbs, i.oldLogProbs, i.refLogProbs, i.advantages, i.mask].filter((t) => t !== undefined));
}

/** Deterministic pseudo-random numbers (mulberry32, the sampler's generator). */
const rng = mulberry32;

function randomInputs(seed: number, batch: number, time: number, withOld: boolean, withRef: boolean,
    perTokenAdvantages: boolean, emptyRow: boolean): GrpoLossInputs {
  const r = rng(seed);
  const n = batch * time;
  const lp = Array.from({length: n}, () => -3 * r());
  const old = lp.map((v) => v + (r() - 0.5)); // ratios in [0.61, 1.65]: both clip sides get hit
  const ref = lp.map((v) => v + 2 * (r() - 0.5));
  const mask = Array.from({length: n}, (_, k) => (emptyRow && k < time) ? 0 : r() < 0.75 ? 1 : 0);
  const adv = Array.from({length: perTokenAdvantages ? n : batch}, () => 4 * (r() - 0.5));
  return {
    logProbs: tf.tensor2d(lp, [batch, time]),
    oldLogProbs: withOld ? tf.tensor2d(old, [batch, time]) : undefined,
    refLogProbs: withRef ? tf.tensor2d(ref, [batch, time]) : undefined,
    advantages: perTokenAdvantages ? tf.tensor2d(adv, [batch, time]) : tf.tensor1d(adv),
    mask: tf.tensor2d(mask, [batch, time]),
  } as GrpoLossInputs;
}

describe('grpoLossFused (typed-array kernel)', () => {
  // lp = [[-1, -2], [-0.5, -3]], old = [[-1.5, -2], [-0.5, -2.9]], A = [1, -1], mask [[1, 1], [1, 0]].
  // Row 0: r = [e^0.5 = 1.6487, 1]; A = 1: token 0 is clipped at 1.2 (loss -1.2, gradient 0), token 1
  // loss -1, gradient -r A = -1. Row 1: token 0 r = 1, A = -1: loss 1, gradient 1; token 1 is padding.
  const hand = (): GrpoLossInputs => ({
    logProbs: tf.tensor2d([[-1, -2], [-0.5, -3]]),
    oldLogProbs: tf.tensor2d([[-1.5, -2], [-0.5, -2.9]]),
    advantages: tf.tensor1d([1, -1]),
    mask: tf.tensor2d([[1, 1], [1, 0]]),
  });
  it.each([
    // token-mean: (-1.2 - 1 + 1) / 3 tokens
    ['token-mean', {}, -0.4, [[0, -1 / 3], [1 / 3, 0]]],
    // token-mean with normalizer 8: (-1.2) / 8
    ['token-mean /8', {normalizer: 8}, -1.2 / 8, [[0, -1 / 8], [1 / 8, 0]]],
    // row means -1.1 and 1, mean over the 2 rows
    ['seq-mean-token-mean', {aggregation: 'seq-mean-token-mean'}, -0.05, [[0, -0.25], [0.5, 0]]],
    // row sums -2.2 and 1, mean over the 2 rows
    ['seq-mean-token-sum', {aggregation: 'seq-mean-token-sum'}, -0.6, [[0, -0.5], [0.5, 0]]],
    // Dr. GRPO: (-2.2 + 1) / (2 rows * maxLength 4)
    ['seq-mean-token-sum-norm', {aggregation: 'seq-mean-token-sum-norm', maxLength: 4}, -0.15, [[0, -1 / 8], [1 / 8, 0]]],
  ] as const)('hand-computed values: %s', (_name, o, loss, grad) => {
    const inputs = hand();
    const got = lossAndGrad((i) => grpoLossFused(i, opts(o as Partial<ResolvedGrpoLossOptions>)), inputs);
    expect(got.loss).toBeCloseTo(loss, 6);
    expectClose(got.grad, grad as unknown as number[][], 1e-6);
    disposeInputs(inputs);
  });

  it('hand-computed dual-clip and k3 KL', () => {
    // lp = 0, old = -1.2: r = e^1.2 = 3.320 > dualClip 3, A = -1: loss = -3 * A = 3, gradient 0.
    // KL k3 with d = lp - ref = 0.5: e^-0.5 + 0.5 - 1 = 0.106531, gradient 1 - e^-0.5 = 0.393469.
    // beta 0.1: loss 3 + 0.0106531, gradient 0.0393469 (one token, token-mean).
    const inputs: GrpoLossInputs = {
      logProbs: tf.tensor2d([[0]]), oldLogProbs: tf.tensor2d([[-1.2]]), refLogProbs: tf.tensor2d([[-0.5]]),
      advantages: tf.tensor1d([-1]), mask: tf.tensor2d([[1]]),
    };
    const got = lossAndGrad((i) => grpoLossFused(i, opts({dualClip: 3, beta: 0.1})), inputs);
    expect(got.loss).toBeCloseTo(3.0106531, 6);
    expect(got.grad[0]![0]).toBeCloseTo(0.0393469, 6);
    disposeInputs(inputs);
  });

  it('GSPO: the sequence ratio exp(masked mean log-ratio) is clipped per row', () => {
    // Row log-ratios [0.5, 0.1] (mask 1, 1): mean 0.3, s = e^0.3 = 1.3499 > 1.2 with A = 1: clipped,
    // loss -1.2 per token, gradient 0. Row 2: log-ratios [-0.1, x(masked)]: s = e^-0.1 = 0.9048, A = 2:
    // loss -1.8097, gradient -s A = -1.8097. token-mean over 3 tokens: (-2.4 - 1.8097) / 3 = -1.40325.
    const inputs: GrpoLossInputs = {
      logProbs: tf.tensor2d([[-1, -2], [-1, NaN]]), oldLogProbs: tf.tensor2d([[-1.5, -2.1], [-0.9, -3]]),
      advantages: tf.tensor1d([1, 2]), mask: tf.tensor2d([[1, 1], [1, 0]]),
    };
    const got = lossAndGrad((i) => grpoLossFused(i, opts({ratioLevel: 'sequence'})), inputs);
    expect(got.loss).toBeCloseTo((-2.4 - 2 * Math.exp(-0.1)) / 3, 5);
    expectClose(got.grad, [[0, 0], [-2 * Math.exp(-0.1) / 3, 0]], 1e-6);
    disposeInputs(inputs);
  });

  it('property: loss and gradient equal the composed ops (every option combination)', () => {
    fc.assert(fc.property(
        fc.integer({min: 0, max: 2 ** 31 - 1}), fc.integer({min: 1, max: 4}), fc.integer({min: 1, max: 7}),
        fc.boolean(), fc.constantFrom(0, 0.04, 0.5), fc.constantFrom('k1', 'k2', 'k3', 'abs'),
        fc.constantFrom<[number, number]>([0.2, 0.2], [0.2, 0.28], [0.1, 0.05]), fc.constantFrom(undefined, 3),
        fc.constantFrom('token', 'sequence'),
        fc.constantFrom('token-mean', 'seq-mean-token-mean', 'seq-mean-token-sum', 'seq-mean-token-sum-norm'),
        fc.constantFrom(undefined, 5), fc.boolean(), fc.boolean(), fc.boolean(),
        (seed, batch, time, withOld, beta, klEstimator, [clipLow, clipHigh], dualClip, ratioLevel, aggregation,
            normalizer, perTokenAdvantages, emptyRow, withMaxLength) => {
          const inputs = randomInputs(seed, batch, time, withOld, beta > 0 || seed % 2 === 0, perTokenAdvantages, emptyRow);
          const o = opts({
            beta, klEstimator: klEstimator as ResolvedGrpoLossOptions['klEstimator'], clipLow, clipHigh, dualClip,
            ratioLevel: ratioLevel as ResolvedGrpoLossOptions['ratioLevel'],
            aggregation: aggregation as ResolvedGrpoLossOptions['aggregation'], normalizer,
            maxLength: withMaxLength && aggregation === 'seq-mean-token-sum-norm' ? 9 : undefined,
          });
          const fused = lossAndGrad((i) => grpoLossFused(i, o), inputs);
          const composed = lossAndGrad((i) => grpoLossComposed(i, o), inputs);
          expect(Math.abs(fused.loss - composed.loss)).toBeLessThanOrEqual(1e-5 + 1e-5 * Math.abs(composed.loss));
          expectClose(fused.grad, composed.grad, 1e-6, 1e-4);
          disposeInputs(inputs);
        }), {numRuns: 50});
  });

  it('gradient matches central finite differences (h = 1e-3)', () => {
    // Ratios within the clip range and away from it by more than h, so the loss is smooth there.
    const inputs: GrpoLossInputs = {
      logProbs: tf.tensor2d([[-1.0, -2.0, -0.7], [-0.4, -1.3, -2.2]]),
      oldLogProbs: tf.tensor2d([[-1.05, -1.9, -0.7], [-0.45, -1.2, -2.3]]),
      refLogProbs: tf.tensor2d([[-1.4, -1.5, -0.2], [-0.9, -1.0, -2.0]]),
      advantages: tf.tensor1d([0.8, -1.3]),
      mask: tf.tensor2d([[1, 1, 1], [1, 1, 0]]),
    };
    for (const aggregation of ['token-mean', 'seq-mean-token-mean'] as const) {
      for (const klEstimator of ['k1', 'k2', 'k3'] as const) {
        const o = opts({beta: 0.3, klEstimator, aggregation});
        const {grad} = lossAndGrad((i) => grpoLossFused(i, o), inputs);
        const lp = inputs.logProbs.arraySync() as number[][];
        const fd = gridCentralDifferences((x) => tf.tidy(() => grpoLossFused({...inputs, logProbs: tf.tensor2d(x)}, o).dataSync()[0]!), lp, 1e-3);
        expectGradientClose(grad, fd, {rtol: 1e-2, atol: 1e-3, inclusive: true}, `${aggregation} ${klEstimator}`);
      }
    }
    disposeInputs(inputs);
  });

  it('property: padded tokens (even NaN/Infinity) change nothing and get exactly zero gradient', () => {
    fc.assert(fc.property(fc.integer({min: 0, max: 2 ** 31 - 1}), fc.constantFrom('token', 'sequence'), (seed, ratioLevel) => {
      const inputs = randomInputs(seed, 3, 5, true, true, false, false);
      const o = opts({beta: 0.1, ratioLevel: ratioLevel as 'token' | 'sequence', aggregation: 'seq-mean-token-mean'});
      const clean = lossAndGrad((i) => grpoLossFused(i, o), inputs);
      const mask = inputs.mask.arraySync() as number[][];
      const poison = (t: tf.Tensor, v: number) => tf.tensor2d((t.arraySync() as number[][]).map(
          (row, i) => row.map((x, j) => mask[i]![j] ? x : v)));
      const dirty: GrpoLossInputs = {
        ...inputs, logProbs: poison(inputs.logProbs, NaN), oldLogProbs: poison(inputs.oldLogProbs!, Infinity),
        refLogProbs: poison(inputs.refLogProbs!, -Infinity),
      };
      const got = lossAndGrad((i) => grpoLossFused(i, o), dirty);
      expect(got.loss).toBeCloseTo(clean.loss, 6);
      got.grad.forEach((row, i) => row.forEach((g, j) => {
        if (!mask[i]![j]) expect(g).toBe(0);
        else expect(g).toBeCloseTo(clean.grad[i]![j]!, 6);
      }));
      tf.dispose([dirty.logProbs, dirty.oldLogProbs!, dirty.refLogProbs!]);
      disposeInputs(inputs);
    }), {numRuns: 20});
  });

  it('property: clipped tokens get zero policy gradient', () => {
    fc.assert(fc.property(fc.integer({min: 0, max: 2 ** 31 - 1}), (seed) => {
      const inputs = randomInputs(seed, 3, 6, true, false, true, false);
      const {grad} = lossAndGrad((i) => grpoLossFused(i, opts({})), inputs);
      const lp = inputs.logProbs.arraySync() as number[][];
      const old = inputs.oldLogProbs!.arraySync() as number[][];
      const adv = inputs.advantages.arraySync() as number[][];
      lp.forEach((row, i) => row.forEach((v, j) => {
        const r = Math.exp(v - old[i]![j]!);
        const a = adv[i]![j]!;
        if ((a > 0 && r > 1.2 + 1e-5) || (a < 0 && r < 0.8 - 1e-5)) expect(grad[i]![j]).toBe(0);
      }));
      disposeInputs(inputs);
    }), {numRuns: 20});
  });

  it('scales by the upstream gradient and computes the same value with and without a tape', () => {
    const inputs = randomInputs(7, 3, 4, true, true, false, false);
    const o = opts({beta: 0.04});
    const plain = tf.tidy(() => grpoLossFused(inputs, o).dataSync()[0]!);
    const base = lossAndGrad((i) => grpoLossFused(i, o), inputs);
    const tripled = lossAndGrad((i) => tf.mul(3, grpoLossFused(i, o)) as tf.Scalar, inputs);
    expect(plain).toBeCloseTo(base.loss, 6);
    expectClose(tripled.grad, base.grad.map((row) => row.map((g) => 3 * g)), 1e-7);
    disposeInputs(inputs);
  });

  it('property: gradients w.r.t. old/ref log-probs and advantages equal the composed ones', () => {
    fc.assert(fc.property(
        fc.integer({min: 0, max: 2 ** 31 - 1}), fc.boolean(), fc.constantFrom('token', 'sequence'),
        fc.constantFrom('token-mean', 'seq-mean-token-mean'), fc.constantFrom(undefined, 3), fc.constantFrom('k2', 'k3'),
        (seed, perTokenAdvantages, ratioLevel, aggregation, dualClip, klEstimator) => {
          const inputs = randomInputs(seed, 3, 5, true, true, perTokenAdvantages, false);
          const o = opts({beta: 0.2, dualClip, klEstimator: klEstimator as 'k2' | 'k3',
            ratioLevel: ratioLevel as 'token' | 'sequence', aggregation: aggregation as 'token-mean'});
          const grads = (impl: (i: GrpoLossInputs) => tf.Scalar) => tf.tidy(() => tf.grads(
              (old: tf.Tensor, ref: tf.Tensor, adv: tf.Tensor) =>
                tf.mul(2, impl({...inputs, oldLogProbs: old, refLogProbs: ref, advantages: adv})))(
              [inputs.oldLogProbs!, inputs.refLogProbs!, inputs.advantages]).map((g) => g.arraySync()));
          const fused = grads((i) => grpoLossFused(i, o));
          const composed = grads((i) => grpoLossComposed(i, o));
          const asRows = (x: unknown) => (Array.isArray((x as unknown[])[0]) ? x : [x]) as number[][];
          for (let j = 0; j < 3; j++) expectClose(asRows(fused[j]), asRows(composed[j]), 1e-6, 1e-4);
          disposeInputs(inputs);
        }), {numRuns: 30});
  });

  it('does not leak: only the returned tensors remain', () => {
    const inputs = randomInputs(11, 4, 6, true, true, false, false);
    const o = opts({beta: 0.04, ratioLevel: 'sequence', aggregation: 'seq-mean-token-mean'});
    const before = tf.memory().numTensors;
    const loss = grpoLossFused(inputs, o);
    expect(tf.memory().numTensors).toBe(before + 1);
    loss.dispose();
    const {value, grad} = tf.valueAndGrad((lp: tf.Tensor) => grpoLossFused({...inputs, logProbs: lp}, o))(inputs.logProbs);
    expect(tf.memory().numTensors).toBe(before + 2);
    tf.dispose([value, grad]);
    expect(tf.memory().numTensors).toBe(before);
    disposeInputs(inputs);
  });

  it('accepts int32 and bool masks like the composed ops', () => {
    const inputs = randomInputs(5, 3, 4, true, false, false, false);
    const expected = lossAndGrad((i) => grpoLossComposed(i, opts({})), inputs);
    for (const dtype of ['int32', 'bool'] as const) {
      const mask = tf.cast(inputs.mask, dtype);
      const got = lossAndGrad((i) => grpoLossFused(i, opts({})), {...inputs, mask});
      expect(got.loss).toBeCloseTo(expected.loss, 6);
      expectClose(got.grad, expected.grad, 1e-6);
      mask.dispose();
    }
    disposeInputs(inputs);
  });

  it('is available on cpu and wasm, not elsewhere; implementation is validated', () => {
    expect(fusedGrpoLossAvailable()).toBe(true);
    expect(fusedGrpoLossAvailable('cpu')).toBe(true);
    expect(fusedGrpoLossAvailable('wasm')).toBe(true);
    expect(fusedGrpoLossAvailable('webgl')).toBe(false);
    const inputs = randomInputs(1, 1, 2, false, false, false, false);
    expect(useFusedGrpoLoss(undefined, inputs, 'grpoLoss')).toBe(true);
    expect(useFusedGrpoLoss('composed', inputs, 'grpoLoss')).toBe(false);
    expect(() => useFusedGrpoLoss('fast', inputs, 'grpoLoss'))
        .toThrow(`grpoLoss: 'implementation' expected one of 'auto', 'fused', 'composed', got "fast"`);
    disposeInputs(inputs);
  });
});

describe('fastExp', () => {
  it('has a relative error below 2e-8 on [-80, 80] and the right special values', () => {
    let worst = 0;
    for (let x = -80; x <= 80; x += 0.0137) worst = Math.max(worst, Math.abs(fastExp(x) / Math.exp(x) - 1));
    expect(worst).toBeLessThan(2e-8);
    expect(fastExp(0)).toBe(1);
    expect(fastExp(Infinity)).toBe(Infinity);
    expect(fastExp(-Infinity)).toBe(0);
    expect(fastExp(1000)).toBe(Infinity);
    expect(fastExp(-1000)).toBe(0);
    expect(Number.isNaN(fastExp(NaN))).toBe(true);
  });
});
